#pragma once
// How a stream worker is launched: executable, environment, log file. Everything that goes into
// the command line or the environment is derived from a validated stream id.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "livedub/process.hpp"

namespace livedub::orchestrator {

inline constexpr std::string_view kStreamIdPlaceholder = "{stream_id}";

struct WorkerLaunchConfig {
  std::filesystem::path worker_bin;
  std::string input_url_template;   // contains {stream_id}
  std::string output_url_template;  // contains {stream_id}
  // Appended to the output URL's query: the credential that lets the worker, and only it,
  // publish live/<id>/out ("user=livedub-worker&pass=..."). Empty: none.
  std::string output_credential_query;
  // Worker output goes to <run_dir>/logs/worker-<id>.log; inherited when unset.
  std::optional<std::filesystem::path> run_dir;
};

// Replaces every {stream_id} in `url_template`. Throws std::invalid_argument for an invalid
// id: a template must never be filled with unvalidated text.
std::string expand_stream_url(std::string_view url_template, std::string_view stream_id);

std::filesystem::path worker_log_path(const std::filesystem::path& run_dir,
                                      std::string_view stream_id);
// Where the worker writes why it refused its input (kWorkerExitUnsupportedInput).
std::filesystem::path worker_exit_reason_path(const std::filesystem::path& run_dir,
                                              std::string_view stream_id);

// The worker's caption journal (livedub/captions.hpp), served as WebVTT by the orchestrator.
std::filesystem::path worker_captions_path(const std::filesystem::path& run_dir, std::string_view stream_id);
// The worker's /healthz body, rewritten every second: the status page's view of the worker.
std::filesystem::path worker_status_path(const std::filesystem::path& run_dir, std::string_view stream_id);

// argv [worker_bin]; environment overrides LIVEDUB_STREAM_ID, LIVEDUB_INPUT_URL,
// LIVEDUB_OUTPUT_URL (with the credential query), LIVEDUB_WORKER_EXIT_REASON_FILE (when run_dir
// is set) and LIVEDUB_WORKER_PARENT_PID (the worker dies with the orchestrator: a restarted
// orchestrator never finds an orphan publishing the stream), LIVEDUB_CAPTIONS_FILE and
// LIVEDUB_WORKER_STATUS_FILE (when run_dir is set); stdout+stderr to the log file when run_dir
// is set.
// Throws std::invalid_argument for an invalid id.
ChildProcess::Options worker_process_options(const WorkerLaunchConfig& config,
                                             const std::string& stream_id);

using ExecutableProbe = std::function<bool(const std::filesystem::path&)>;
bool is_executable_file(const std::filesystem::path& path);

// The default worker binary: "stream-worker" next to the orchestrator (installed layout), else
// ../media-service/stream-worker (build tree layout); nullopt when neither is executable.
std::optional<std::filesystem::path> default_worker_binary(const std::filesystem::path& self_exe,
                                                           const ExecutableProbe& is_executable);

}  // namespace livedub::orchestrator
