#include "sts/service_config.hpp"

#include "sts/mock_engines.hpp"

namespace livedub::sts {

const std::vector<std::string>& known_modes() {
  static const std::vector<std::string> modes = {kModeMockPassthrough, kModeMockTone};
  return modes;
}

ServiceConfig load_service_config(const EnvConfig& env) {
  ServiceConfig config;
  config.host = env.string("LIVEDUB_STS_HOST", config.host);
  config.port = static_cast<int>(env.integer("LIVEDUB_STS_PORT", config.port, 0, 65535));
  config.mode = env.one_of("LIVEDUB_STS_MODE", config.mode, known_modes());
  config.mock_delay = env.millis("LIVEDUB_STS_MOCK_DELAY_MS", config.mock_delay,
                                 std::chrono::milliseconds(0), std::chrono::milliseconds(60'000));
  config.mock_tone_hz = env.number("LIVEDUB_STS_MOCK_TONE_HZ", config.mock_tone_hz, 1.0, 20'000.0);
  // Small minimum so tests can provoke 413 cheaply; 1 GiB cap keeps a typo from disabling it.
  config.max_body_bytes = static_cast<std::size_t>(
      env.integer("LIVEDUB_STS_MAX_BODY_BYTES", static_cast<std::int64_t>(config.max_body_bytes),
                  1024, std::int64_t{1} << 30));
  config.port_file = env.raw("LIVEDUB_STS_PORT_FILE");
  return config;
}

std::shared_ptr<DubbingEngine> make_engine(const ServiceConfig& config) {
  MockOptions mock{config.mock_delay};
  if (config.mode == kModeMockPassthrough) return std::make_shared<PassthroughEngine>(mock);
  if (config.mode == kModeMockTone) return std::make_shared<ToneEngine>(config.mock_tone_hz, mock);
  throw ConfigError("LIVEDUB_STS_MODE", "unknown mode '" + config.mode + "'");
}

}  // namespace livedub::sts
