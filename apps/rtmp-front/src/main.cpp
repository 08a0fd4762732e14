// rtmp-front: lets rtmp://host:port/live/<id>/in work from every RTMP client on the native
// stack (see rtmp_front/rtmp.hpp), within the connection limits of rtmp_front/admission.hpp.
// Configured from the environment (.env.example).
#include <csignal>
#include <optional>
#include <thread>

#include <prometheus/registry.h>

#include "livedub/config.hpp"
#include "livedub/http_server.hpp"
#include "livedub/logging.hpp"
#include "livedub/process.hpp"
#include "proxy.hpp"

using namespace livedub;

namespace {

rtmp::ProxyConfig load_config(const EnvConfig& env) {
  rtmp::ProxyConfig c;
  c.listen_host = env.string("LIVEDUB_RTMP_HOST", c.listen_host);
  c.listen_port = static_cast<int>(env.integer("LIVEDUB_RTMP_PORT", c.listen_port, 0, 65535));
  c.upstream_port = static_cast<int>(env.integer("LIVEDUB_RTMP_INTERNAL_PORT", 0, 1, 65535));
  if (c.upstream_port == 0) throw ConfigError("LIVEDUB_RTMP_INTERNAL_PORT", "LIVEDUB_RTMP_INTERNAL_PORT (nginx-rtmp's own port) is required");
  c.admission.max_connections = static_cast<std::size_t>(
      env.integer("LIVEDUB_RTMP_MAX_CONNECTIONS", static_cast<std::int64_t>(c.admission.max_connections), 1, 1'000'000));
  c.admission.max_pending_per_address = static_cast<std::size_t>(env.integer(
      "LIVEDUB_RTMP_MAX_PENDING_PER_ADDRESS", static_cast<std::int64_t>(c.admission.max_pending_per_address), 1, 1'000'000));
  c.handshake_timeout = std::chrono::milliseconds(
      env.integer("LIVEDUB_RTMP_HANDSHAKE_TIMEOUT_MS", c.handshake_timeout.count(), 100, 600'000));
  c.start_timeout = std::chrono::milliseconds(env.integer("LIVEDUB_RTMP_START_TIMEOUT_MS", c.start_timeout.count(), 100, 600'000));
  if (c.start_timeout < c.handshake_timeout) {
    throw ConfigError("LIVEDUB_RTMP_START_TIMEOUT_MS", "LIVEDUB_RTMP_START_TIMEOUT_MS must be at least LIVEDUB_RTMP_HANDSHAKE_TIMEOUT_MS");
  }
  // At least one maximal (8 MiB) message plus a chunk of headroom.
  c.max_connection_bytes = static_cast<std::size_t>(env.integer(
      "LIVEDUB_RTMP_MAX_CONNECTION_BYTES", static_cast<std::int64_t>(c.max_connection_bytes), 9 * 1024 * 1024, std::int64_t{1} << 34));
  c.max_total_bytes = static_cast<std::size_t>(env.integer(
      "LIVEDUB_RTMP_MAX_TOTAL_BYTES", static_cast<std::int64_t>(c.max_total_bytes), static_cast<std::int64_t>(c.max_connection_bytes),
      std::int64_t{1} << 40));
  return c;
}

}  // namespace

int main() {
  block_shutdown_signals();
  rtmp::ProxyConfig config;
  int http_port = 0;
  try {
    EnvConfig env;
    logging::init("rtmp-front", env);
    config = load_config(env);
    http_port = static_cast<int>(env.integer("LIVEDUB_RTMP_FRONT_HTTP_PORT", 0, 0, 65535));
  } catch (const ConfigError& e) {
    log_error({}, "{}", e.what());
    return 2;
  }
  try {
    auto registry = std::make_shared<prometheus::Registry>();
    rtmp::Proxy proxy(config, registry);
    const int port = proxy.bind();
    log_info({}, "rtmp-front: listening on {}:{}, media server at {}:{}; at most {} connections, {} pending per address",
             config.listen_host, port, config.upstream_host, config.upstream_port, config.admission.max_connections,
             config.admission.max_pending_per_address);
    // /healthz and /metrics (connections open, pending, refused and closed by reason), on request;
    // on loopback only, whatever LIVEDUB_RTMP_HOST exposes.
    std::optional<HttpService> http;
    std::thread http_thread;
    if (http_port != 0) {
      http.emplace("rtmp-front", registry);
      log_info({}, "rtmp-front: /healthz and /metrics on 127.0.0.1:{}", http->bind("127.0.0.1", http_port));
      http_thread = std::thread([&] { http->serve(); });
    }
    std::thread serving([&] { proxy.serve(); });
    const int sig = wait_for_shutdown_signal();
    log_info({}, "rtmp-front: signal {}; stopping", sig);
    proxy.stop();
    serving.join();
    if (http) {
      http->stop();
      http_thread.join();
    }
  } catch (const std::exception& e) {
    log_error({}, "rtmp-front: {}", e.what());
    return 1;
  }
  return 0;
}
