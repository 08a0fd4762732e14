#include "worker_supervisor.hpp"

#include <signal.h>

#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "livedub/logging.hpp"
#include "livedub/worker_protocol.hpp"

namespace livedub::orchestrator {

namespace {
// How often exited workers are noticed; timers (restarts, SIGKILL) may wake the thread sooner.
constexpr Millis kPollInterval{50};
// A stream's output timeline restarts from 0 only when its origin is older than this: RTMP
// timestamps are 32-bit milliseconds (24.8 days).
constexpr std::chrono::hours kTimelineReset{24 * 20};

// The stream's output timeline origin (wall clock), kept in the run dir so that it survives an
// orchestrator restart: a worker started by the next orchestrator continues the timeline the
// players that stayed connected are on. Returns how far the timeline has got.
Millis timeline_from_origin_file(const std::filesystem::path& file) {
  const auto now = std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch());
  std::int64_t origin = 0;
  {
    std::ifstream in(file);
    in >> origin;
  }
  if (origin > 0 && now.count() >= origin && now - Millis(origin) < kTimelineReset) return now - Millis(origin);
  std::ofstream(file, std::ios::trunc) << now.count() << "\n";
  return Millis(0);
}
}  // namespace

WorkerSupervisor::WorkerSupervisor(SupervisionPolicy policy, WorkerLaunchConfig launch,
                                   OrchestratorMetrics& metrics)
    : launch_(std::move(launch)),
      metrics_(metrics),
      table_(policy, *this),
      thread_([this] { supervise(); }) {}

WorkerSupervisor::~WorkerSupervisor() { shutdown(); }

ReadyOutcome WorkerSupervisor::stream_ready(const std::string& stream_id, const std::string& session) {
  std::lock_guard lock(mutex_);
  return table_.stream_ready(stream_id, SteadyClock::now(), session);
}

NotReadyOutcome WorkerSupervisor::stream_not_ready(const std::string& stream_id,
                                                   const std::string& session) {
  std::lock_guard lock(mutex_);
  return table_.stream_not_ready(stream_id, SteadyClock::now(), session);
}

std::vector<StreamStatus> WorkerSupervisor::streams() const {
  std::lock_guard lock(mutex_);
  return table_.streams();
}

std::optional<std::string> WorkerSupervisor::refusal(const std::string& stream_id) const {
  std::lock_guard lock(mutex_);
  return table_.refusal(stream_id, SteadyClock::now());
}

std::optional<StreamStatus> WorkerSupervisor::stream(const std::string& stream_id) const {
  std::lock_guard lock(mutex_);
  return table_.stream(stream_id);
}

std::size_t WorkerSupervisor::worker_count() const {
  std::lock_guard lock(mutex_);
  return workers_.size();
}

void WorkerSupervisor::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (!shutting_down_) {
      shutting_down_ = true;
      if (!workers_.empty()) log_info({}, "stopping {} worker(s)", workers_.size());
      table_.stop_all(SteadyClock::now());
    }
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

pid_t WorkerSupervisor::start_worker(const std::string& stream_id, StartReason reason, Millis timeline) {
  try {
    ChildProcess::Options options = worker_process_options(launch_, stream_id);
    if (launch_.run_dir) {
      std::filesystem::create_directories(*launch_.run_dir / "logs");
      timeline = timeline_from_origin_file(*launch_.run_dir / "logs" / ("worker-" + stream_id + ".origin"));
    }
    if (timeline.count() > 0) {
      options.env_overrides["LIVEDUB_OUTPUT_TIMESTAMP_OFFSET_MS"] = std::to_string(timeline.count());
    }
    if (launch_.run_dir) {
      std::error_code ignored;  // a reason left by an earlier worker is no longer true
      std::filesystem::remove(worker_exit_reason_path(*launch_.run_dir, stream_id), ignored);
    }
    ChildProcess child(options);
    pid_t pid = child.pid();
    workers_.insert_or_assign(stream_id, std::move(child));
    metrics_.worker_starts.Increment();
    if (reason == StartReason::restart) metrics_.worker_restarts.Increment();
    metrics_.workers_running.Set(static_cast<double>(workers_.size()));
    return pid;
  } catch (const std::exception& e) {
    metrics_.worker_start_failures.Increment();
    log_error(LogContext{stream_id, std::nullopt}, "cannot start worker {}: {}",
              launch_.worker_bin.string(), e.what());
    throw;
  }
}

void WorkerSupervisor::signal_worker(const std::string& stream_id, bool force) {
  auto it = workers_.find(stream_id);
  // An exited worker is left for reaping; only an unreaped pid is sure to still be ours.
  if (it == workers_.end() || it->second.poll()) return;
  // ChildProcess made the worker a process-group leader: signal the group so helpers it
  // spawned stop with it.
  ::kill(-it->second.pid(), force ? SIGKILL : SIGTERM);
}

void WorkerSupervisor::reap_exited_workers(TimePoint now) {
  std::vector<std::pair<std::string, int>> exited;
  for (auto it = workers_.begin(); it != workers_.end();) {
    auto status = it->second.poll();
    if (!status) {
      ++it;
      continue;
    }
    it->second.terminate();  // already exited: only kills leftovers in its process group
    exited.emplace_back(it->first, *status);
    it = workers_.erase(it);
  }
  metrics_.workers_running.Set(static_cast<double>(workers_.size()));
  // Reported after the loop: the table may start a replacement, which inserts into workers_.
  for (const auto& [stream_id, status] : exited) {
    const bool refused = WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitUnsupportedInput;
    std::string reason = describe_wait_status(status);
    if (refused) {
      std::string why;
      if (launch_.run_dir) {
        std::ifstream in(worker_exit_reason_path(*launch_.run_dir, stream_id));
        std::getline(in, why);
      }
      why = why.substr(0, 300);
      // The worker's own line usually says it already.
      reason = why.rfind("unsupported input", 0) == 0 ? why
                                                      : "unsupported input: " + (why.empty() ? "see the worker log" : why);
    }
    table_.worker_exited(stream_id, reason, now, refused);
  }
}

void WorkerSupervisor::supervise() {
  std::unique_lock lock(mutex_);
  while (true) {
    TimePoint now = SteadyClock::now();
    reap_exited_workers(now);
    table_.set_load_per_core(host_load_per_core());
    table_.tick(now);
    if (shutting_down_ && table_.empty()) break;
    TimePoint wake_at = now + kPollInterval;
    if (auto deadline = table_.next_deadline()) wake_at = std::min(wake_at, *deadline);
    wake_.wait_until(lock, wake_at);
  }
}

}  // namespace livedub::orchestrator
