// stream-worker: dubs one live stream. Configured entirely from the environment
// (see .env.example); started by the orchestrator, one process per stream id.
#include <gst/gst.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <iostream>
#include <thread>

#include "livedub/config.hpp"
#include "livedub/http_server.hpp"
#include "livedub/logging.hpp"
#include "livedub/process.hpp"
#include "stream_worker.hpp"
#include "sts_client.hpp"

using namespace livedub;

int main(int argc, char** argv) {
  if (argc > 1 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << "usage: stream-worker\n"
                 "Dubs one live stream. Configuration comes from the environment:\n"
                 "  LIVEDUB_STREAM_ID, LIVEDUB_INPUT_URL, LIVEDUB_OUTPUT_URL (required),\n"
                 "  LIVEDUB_EXTRA_OUTPUT_URL, STS_SERVICE_URL, LIVEDUB_FRAGMENT_MS, LIVEDUB_MAX_IN_FLIGHT,\n"
                 "  LIVEDUB_OUTPUT_DELAY_MS, LIVEDUB_SOURCE_LANG, LIVEDUB_TARGET_LANGS, LIVEDUB_VOICE ...\n"
                 "See .env.example for every variable and its default.\n";
    return 0;
  }
  EnvConfig env;
  // Started by an orchestrator: die with it. A restarted orchestrator starts this stream's
  // worker afresh; an orphan still publishing the output would refuse that worker for good.
  if (auto parent = env.raw("LIVEDUB_WORKER_PARENT_PID")) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (std::to_string(::getppid()) != *parent) {
      std::cerr << "stream-worker: the orchestrator (pid " << *parent << ") is gone; exiting\n";
      return 1;
    }
  }
  worker::WorkerConfig config;
  try {
    logging::init("stream-worker", env);
    config = worker::load_worker_config(env);
  } catch (const ConfigError& e) {
    std::cerr << "stream-worker: " << e.what() << "\n";
    return 2;
  }
  block_shutdown_signals();
  gst_init(&argc, &argv);
  LogContext log{config.stream_id, std::nullopt};
  if (!config.output_delay_from_env) worker::plan_output_delay(config, log);

  auto registry = std::make_shared<prometheus::Registry>();
  int exit_code = 1;
  try {
    worker::StreamWorker worker(config, *registry);
    HttpLimits http_limits = load_http_limits(env);
    http_limits.handler_threads = 1;  // health and metrics run on the I/O thread
    HttpService http("stream-worker", registry, http_limits);
    http.set_health([&] { return worker.health(); });
    int port = http.bind(config.http_host, config.http_port);
    log_info(log, "health and metrics on http://{}:{}", config.http_host, port);
    std::thread http_thread([&] { http.serve(); });
    std::atomic<bool> exiting{false};
    std::thread signal_thread([&] {
      while (true) {
        int sig = wait_for_shutdown_signal();
        if (exiting) return;
        log_info(log, "signal {} received: stopping (a second signal stops without draining)", sig);
        worker.request_stop();
      }
    });
    exit_code = worker.run();
    http.stop();
    http_thread.join();
    exiting = true;
    pthread_kill(signal_thread.native_handle(), SIGTERM);  // wakes the signal thread
    signal_thread.join();
  } catch (const std::exception& e) {
    log_error(log, "fatal: {}", e.what());
    return 1;
  }
  return exit_code;
}
