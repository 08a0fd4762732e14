// rtmp-front: lets rtmp://host:port/live/<id>/in work from every RTMP client on the native
// stack (see rtmp_front/rtmp.hpp). Configured from the environment (.env.example).
#include <csignal>
#include <thread>

#include "livedub/config.hpp"
#include "livedub/logging.hpp"
#include "livedub/process.hpp"
#include "proxy.hpp"

using namespace livedub;

int main() {
  block_shutdown_signals();
  rtmp::ProxyConfig config;
  try {
    EnvConfig env;
    logging::init("rtmp-front", env);
    config.listen_host = env.string("LIVEDUB_RTMP_HOST", config.listen_host);
    config.listen_port = static_cast<int>(env.integer("LIVEDUB_RTMP_PORT", 1935, 0, 65535));
    config.upstream_port = static_cast<int>(env.integer("LIVEDUB_RTMP_INTERNAL_PORT", 0, 1, 65535));
    if (config.upstream_port == 0) throw ConfigError("LIVEDUB_RTMP_INTERNAL_PORT", "LIVEDUB_RTMP_INTERNAL_PORT (nginx-rtmp's own port) is required");
  } catch (const ConfigError& e) {
    log_error({}, "{}", e.what());
    return 2;
  }
  try {
    rtmp::Proxy proxy(config);
    const int port = proxy.bind();
    log_info({}, "rtmp-front: listening on {}:{}, media server at {}:{}", config.listen_host, port,
             config.upstream_host, config.upstream_port);
    std::thread serving([&] { proxy.serve(); });
    const int sig = wait_for_shutdown_signal();
    log_info({}, "rtmp-front: signal {}; stopping", sig);
    proxy.stop();
    serving.join();
  } catch (const std::exception& e) {
    log_error({}, "rtmp-front: {}", e.what());
    return 1;
  }
  return 0;
}
