#include "orchestrator/worker_launch.hpp"

#include <unistd.h>

#include <stdexcept>

#include "livedub/stream_id.hpp"

namespace livedub::orchestrator {

namespace fs = std::filesystem;

namespace {
void require_valid_stream_id(std::string_view stream_id) {
  if (!is_valid_stream_id(stream_id)) throw std::invalid_argument("invalid stream id");
}
}  // namespace

std::string expand_stream_url(std::string_view url_template, std::string_view stream_id) {
  require_valid_stream_id(stream_id);
  std::string url;
  while (true) {
    auto at = url_template.find(kStreamIdPlaceholder);
    url += url_template.substr(0, at);
    if (at == std::string_view::npos) break;
    url += stream_id;
    url_template.remove_prefix(at + kStreamIdPlaceholder.size());
  }
  return url;
}

fs::path worker_log_path(const fs::path& run_dir, std::string_view stream_id) {
  require_valid_stream_id(stream_id);
  return run_dir / "logs" / ("worker-" + std::string(stream_id) + ".log");
}

fs::path worker_exit_reason_path(const fs::path& run_dir, std::string_view stream_id) {
  require_valid_stream_id(stream_id);
  return run_dir / "logs" / ("worker-" + std::string(stream_id) + ".exit");
}

fs::path worker_captions_path(const fs::path& run_dir, std::string_view stream_id) {
  require_valid_stream_id(stream_id);
  return run_dir / "captions" / (std::string(stream_id) + ".jsonl");
}

fs::path worker_status_path(const fs::path& run_dir, std::string_view stream_id) {
  require_valid_stream_id(stream_id);
  return run_dir / "logs" / ("worker-" + std::string(stream_id) + ".status.json");
}

ChildProcess::Options worker_process_options(const WorkerLaunchConfig& config,
                                             const std::string& stream_id) {
  ChildProcess::Options options;
  options.argv = {config.worker_bin.string()};
  std::string output_url = expand_stream_url(config.output_url_template, stream_id);
  if (!config.output_credential_query.empty()) {
    output_url += (output_url.find('?') == std::string::npos ? "?" : "&") + config.output_credential_query;
  }
  options.env_overrides = {
      {"LIVEDUB_STREAM_ID", stream_id},
      {"LIVEDUB_INPUT_URL", expand_stream_url(config.input_url_template, stream_id)},
      {"LIVEDUB_OUTPUT_URL", output_url},
      {"LIVEDUB_WORKER_PARENT_PID", std::to_string(::getpid())},
      // Never the orchestrator's own log file: several processes rotating one file lose lines.
      {"LIVEDUB_LOG_FILE", ""},
  };
  if (config.run_dir) {
    options.stdout_path = worker_log_path(*config.run_dir, stream_id).string();
    // The worker's logger writes (and rotates, LIVEDUB_LOG_MAX_BYTES x LIVEDUB_LOG_FILES) the
    // same file its stdout and stderr append to: what only the process prints (a crash, a
    // GStreamer critical) still lands there, and the log's size stays bounded.
    options.env_overrides["LIVEDUB_LOG_FILE"] = *options.stdout_path;
    options.env_overrides["LIVEDUB_WORKER_EXIT_REASON_FILE"] =
        worker_exit_reason_path(*config.run_dir, stream_id).string();
    options.env_overrides["LIVEDUB_CAPTIONS_FILE"] = worker_captions_path(*config.run_dir, stream_id).string();
    options.env_overrides["LIVEDUB_WORKER_STATUS_FILE"] = worker_status_path(*config.run_dir, stream_id).string();
  }
  return options;
}

bool is_executable_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<fs::path> default_worker_binary(const fs::path& self_exe,
                                              const ExecutableProbe& is_executable) {
  const fs::path dir = self_exe.parent_path();
  for (const fs::path& candidate :
       {dir / "stream-worker", dir.parent_path() / "media-service" / "stream-worker"}) {
    if (is_executable(candidate)) return candidate;
  }
  return std::nullopt;
}

}  // namespace livedub::orchestrator
