// sts-service: speech-to-speech dubbing over HTTP (API v1, docs/sts-api.openapi.yaml).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "livedub/config.hpp"
#include "livedub/http_server.hpp"
#include "livedub/logging.hpp"
#include "livedub/process.hpp"
#include "sts/dub_handler.hpp"
#include "sts/http_routes.hpp"
#include "sts/service_config.hpp"

namespace {

// Bad environment or command line: distinct from runtime failures (1), restarting will not help.
constexpr int kExitConfigError = 2;

// Written to a temporary name and renamed, so a reader polling the file never sees a partial port.
void write_port_file(const std::string& path, int port) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << '\n';
    if (!out.flush()) throw std::runtime_error("cannot write port file " + temporary);
  }
  std::filesystem::rename(temporary, path);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace livedub;
  // Before any thread starts, so every thread inherits the mask and only sigwait sees them.
  block_shutdown_signals();

  sts::ServiceConfig config;
  HttpLimits http_limits;
  try {
    EnvConfig env;
    logging::init("sts-service", env);
    config = sts::load_service_config(env);
    http_limits = sts::http_limits(config, env);
  } catch (const ConfigError& e) {
    logging::write(spdlog::level::err, {}, "invalid configuration",
                   {{"variable", e.variable()}, {"error", e.what()}});
    return kExitConfigError;
  }

  // Flags override the environment, for running by hand.
  CLI::App cli{"livedub speech-to-speech dubbing service (HTTP API v1)"};
  cli.add_option("--host", config.host, "Listen address (LIVEDUB_STS_HOST)");
  cli.add_option("--port", config.port, "Listen port, 0 = any free port (LIVEDUB_STS_PORT)")
      ->check(CLI::Range(0, 65535));
  cli.add_option("--mode", config.mode, "Engine mode (LIVEDUB_STS_MODE)")
      ->check(CLI::IsMember(sts::known_modes()));
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = cli.exit(e);  // prints help or the usage error
    return rc == 0 ? 0 : kExitConfigError;
  }

  try {
    auto registry = std::make_shared<prometheus::Registry>();
    sts::DubHandler handler(config, *registry);  // declared first: outlives the server
    HttpService http("sts-service", registry, http_limits);
    sts::register_routes(http, handler);
    http.set_health([&handler, &config] {
      const auto engine = handler.engine_snapshot();
      return nlohmann::json{{"mode", config.mode}, {"engine", engine ? engine->name() : "loading"}};
    });

    const int port = http.bind(config.host, config.port);
    logging::write(spdlog::level::info, {}, "listening",
                   {{"host", config.host}, {"port", port}, {"mode", config.mode},
                    {"workers", config.workers}, {"queue_size", config.queue_size},
                    {"deadline_ms", config.deadline.count()}, {"auth", config.token.has_value()},
                    {"max_body_bytes", config.max_body_bytes}});
    std::atomic<bool> shutting_down{false};
    std::atomic<bool> serve_failed{false};
    std::thread server([&] {
      http.serve();
      if (!shutting_down) {
        // serve() returned without stop(): the listener failed. Wake the signal wait below.
        serve_failed = true;
        kill(getpid(), SIGTERM);
      }
    });
    // Engines load while /healthz already answers and /readyz says "loading".
    const auto load_started = std::chrono::steady_clock::now();
    try {
      auto engine = sts::make_engine(config);
      handler.calibrate_before_ready(engine, std::chrono::seconds(3));
      handler.set_engine(std::move(engine));
    } catch (const std::exception& e) {
      const bool config_problem = dynamic_cast<const ConfigError*>(&e) != nullptr;
      logging::write(spdlog::level::err, {}, "engines failed to load", {{"mode", config.mode}, {"error", e.what()}});
      shutting_down = true;
      http.stop();
      server.join();
      return config_problem ? kExitConfigError : 1;
    }
    const auto engine = handler.engine_snapshot();
    logging::write(spdlog::level::info, {}, "ready",
                   {{"engine", engine->name()},
                    {"load_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - load_started).count()},
                    {"asr", engine->capabilities().asr_engine},
                    {"tts", engine->capabilities().tts_engines},
                    {"pairs", handler.capabilities().body["languages"]["pairs"]}});
    // Written once ready, so whoever waits for it (scripts, tests) can send work at once.
    if (config.port_file) write_port_file(*config.port_file, port);
    const int signal_number = wait_for_shutdown_signal();
    shutting_down = true;
    if (serve_failed) {
      logging::write(spdlog::level::err, {}, "listener stopped unexpectedly");
    } else {
      logging::write(spdlog::level::info, {}, "shutting down",
                     {{"signal", signal_number}, {"drain_ms", config.drain.count()}});
    }
    // The drain is bounded: jobs still running after it are abandoned with the process.
    std::thread([drain = config.drain] {
      std::this_thread::sleep_for(drain);
      logging::write(spdlog::level::warn, {}, "drain time over; exiting with jobs still running",
                     {{"drain_ms", drain.count()}});
      std::_Exit(0);
    }).detach();
    http.stop();
    server.join();
    return serve_failed ? 1 : 0;
  } catch (const ConfigError& e) {
    logging::write(spdlog::level::err, {}, "invalid configuration",
                   {{"variable", e.variable()}, {"error", e.what()}});
    return kExitConfigError;
  } catch (const std::exception& e) {
    logging::write(spdlog::level::err, {}, "fatal error", {{"error", e.what()}});
    return 1;
  }
}
