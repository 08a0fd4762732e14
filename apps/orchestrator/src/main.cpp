// orchestrator: turns media-server hooks into exactly one supervised stream-worker process per
// live stream. Configured from the environment only (see deploy/media-service/orchestrator).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "http_api.hpp"
#include "language_check.hpp"
#include "media_status_poller.hpp"
#include "livedub/config.hpp"
#include "livedub/logging.hpp"
#include "livedub/process.hpp"
#include "orchestrator/orchestrator_config.hpp"
#include "orchestrator_metrics.hpp"
#include "worker_supervisor.hpp"

namespace fs = std::filesystem;
using namespace livedub;
using namespace livedub::orchestrator;

namespace {

// Written via rename so a reader polling the file never sees a partial number.
void write_port_file(const fs::path& path, int port) {
  fs::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) {
      throw ConfigError("LIVEDUB_ORCHESTRATOR_PORT_FILE", "cannot write " + temporary.string());
    }
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) {
    throw ConfigError("LIVEDUB_ORCHESTRATOR_PORT_FILE",
                      "cannot create " + path.string() + ": " + ec.message());
  }
}

void prepare_run_dir(const WorkerLaunchConfig& launch) {
  if (!launch.run_dir) return;
  for (const char* sub : {"logs", "captions"}) {
    std::error_code ec;
    fs::create_directories(*launch.run_dir / sub, ec);
    if (ec) {
      throw ConfigError("LIVEDUB_RUN_DIR", "cannot create " + (*launch.run_dir / sub).string() + ": " + ec.message());
    }
  }
}

}  // namespace

int main() {
  // Before any thread exists, so every thread inherits the blocked shutdown signals and only
  // wait_for_shutdown_signal() receives them.
  block_shutdown_signals();

  EnvConfig env;
  OrchestratorConfig config;
  HttpLimits http_limits;
  http_limits.max_body_bytes = kMaxHookBodyBytes;
  try {
    logging::init("orchestrator", env);
    config = load_orchestrator_config(env, fs::read_symlink("/proc/self/exe"));
    http_limits = load_http_limits(env, http_limits);
    prepare_run_dir(config.launch);
  } catch (const ConfigError& e) {
    log_error({}, "{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    log_error({}, "cannot start: {}", e.what());
    return 1;
  }

  // In the background: the API listens at once whatever the STS does (/readyz tells).
  StsLanguageCheck languages(config);
  auto registry = std::make_shared<prometheus::Registry>();
  OrchestratorMetrics metrics(*registry);
  WorkerSupervisor supervisor(config.policy, config.launch, metrics);
  HttpService http("orchestrator", registry, http_limits);
  register_orchestrator_routes(http, config, supervisor, metrics, languages);

  int port = 0;
  try {
    port = http.bind(config.host, config.port);
    if (config.port_file) write_port_file(*config.port_file, port);
  } catch (const std::exception& e) {
    log_error({}, "{}", e.what());
    return 1;
  }
  log_info({}, "listening on {}:{}; worker binary {}", config.host, port,
           config.launch.worker_bin.string());

  std::atomic<bool> stopping{false};
  std::atomic<bool> server_failed{false};
  std::thread server_thread([&] {
    http.serve();
    // The server ending on its own is fatal: wake the main thread as a signal would.
    if (!stopping) {
      server_failed = true;
      log_error({}, "HTTP server stopped unexpectedly");
      ::kill(::getpid(), SIGTERM);
    }
  });

  std::optional<MediaStatusPoller> poller;
  if (config.media_status_url) {
    poller.emplace(*config.media_status_url, config.reconcile_interval, supervisor);
    log_info({}, "reconciling streams with the media server every {} ms", config.reconcile_interval.count());
  }

  int signal_number = wait_for_shutdown_signal();
  stopping = true;
  poller.reset();  // no adoption while shutting down
  log_info({}, "received signal {}; shutting down", signal_number);
  // In parallel: the HTTP server stops at once, the workers drain their output meanwhile.
  std::thread worker_stopper([&] { supervisor.shutdown(); });
  http.stop();
  server_thread.join();
  worker_stopper.join();
  log_info({}, "stopped");
  return server_failed ? 1 : 0;
}
