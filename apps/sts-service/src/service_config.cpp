#include "sts/service_config.hpp"

#include "sts/cpu_engine.hpp"
#include "sts/mock_engines.hpp"

namespace livedub::sts {

const std::vector<std::string>& known_modes() {
  static const std::vector<std::string> modes = {kModeMockPassthrough, kModeMockTone, kModeCpu};
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
  const int default_workers = config.mode == kModeCpu ? 2 : 16;
  config.workers = static_cast<int>(env.integer("LIVEDUB_STS_WORKERS", default_workers, 1, 64));
  config.queue_size = static_cast<std::size_t>(
      env.integer("LIVEDUB_STS_QUEUE_SIZE", static_cast<std::int64_t>(config.queue_size), 0, 1024));
  config.deadline = env.millis("LIVEDUB_STS_DEADLINE_MS", config.deadline, std::chrono::milliseconds(100),
                               std::chrono::milliseconds(600'000));
  if (auto token = env.raw("LIVEDUB_STS_TOKEN"); token && !token->empty()) {
    if (token->find_first_of(" \t\r\n") != std::string::npos) {
      throw ConfigError("LIVEDUB_STS_TOKEN", "must not contain whitespace");
    }
    config.token = *token;
  }
  config.asr_model_dir = env.string("LIVEDUB_STS_ASR_MODEL_DIR", config.asr_model_dir);
  config.apertium_modes_dir = env.string("LIVEDUB_STS_APERTIUM_MODES_DIR", config.apertium_modes_dir);
  config.time_fit.min_ratio = env.number("LIVEDUB_STS_STRETCH_MIN_RATIO", config.time_fit.min_ratio, 0.25, 1.0);
  config.time_fit.max_ratio = env.number("LIVEDUB_STS_STRETCH_MAX_RATIO", config.time_fit.max_ratio, 1.0, 4.0);
  config.session_ttl = std::chrono::seconds(
      env.integer("LIVEDUB_STS_SESSION_TTL_S", config.session_ttl.count(), 1, 86'400));
  return config;
}

std::shared_ptr<DubbingEngine> make_engine(const ServiceConfig& config) {
  MockOptions mock{config.mock_delay};
  if (config.mode == kModeMockPassthrough) return std::make_shared<PassthroughEngine>(mock);
  if (config.mode == kModeMockTone) return std::make_shared<ToneEngine>(config.mock_tone_hz, mock);
  if (config.mode == kModeCpu) {
    CpuEngineOptions options;
    options.asr_model_dir = config.asr_model_dir;
    options.apertium_modes_dir = config.apertium_modes_dir;
    options.recognizers = config.workers;
    options.time_fit = config.time_fit;
    return std::make_shared<CpuDubbingEngine>(options);
  }
  throw ConfigError("LIVEDUB_STS_MODE", "unknown mode '" + config.mode + "'");
}

}  // namespace livedub::sts
