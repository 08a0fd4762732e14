#pragma once
// sts-service configuration: environment variables, validated once at start-up.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "livedub/config.hpp"
#include "sts/engine.hpp"

namespace livedub::sts {

inline constexpr const char* kModeMockPassthrough = "mock-passthrough";
inline constexpr const char* kModeMockTone = "mock-tone";

// Values of LIVEDUB_STS_MODE this build can run.
const std::vector<std::string>& known_modes();

struct ServiceConfig {
  std::string host = "127.0.0.1";                        // LIVEDUB_STS_HOST
  int port = 8000;                                       // LIVEDUB_STS_PORT, 0 = any free port
  std::string mode = kModeMockPassthrough;               // LIVEDUB_STS_MODE
  std::chrono::milliseconds mock_delay{0};               // LIVEDUB_STS_MOCK_DELAY_MS
  double mock_tone_hz = 440.0;                           // LIVEDUB_STS_MOCK_TONE_HZ
  std::size_t max_body_bytes = 16 * 1024 * 1024;         // LIVEDUB_STS_MAX_BODY_BYTES
  std::optional<std::string> port_file;                  // LIVEDUB_STS_PORT_FILE
};

// Throws ConfigError naming the first invalid variable.
ServiceConfig load_service_config(const EnvConfig& env);

// The engine for config.mode; throws ConfigError (LIVEDUB_STS_MODE) for an unknown mode.
std::shared_ptr<DubbingEngine> make_engine(const ServiceConfig& config);

}  // namespace livedub::sts
