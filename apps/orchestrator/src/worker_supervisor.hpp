#pragma once
// Runs the SupervisionTable against real processes: one ChildProcess per live worker, a thread
// that reaps exited workers and drives the table's timers, and one mutex that serializes hooks,
// reaping and timers so concurrent or duplicate hooks can never yield two workers for a stream.
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "livedub/process.hpp"
#include "orchestrator/supervision.hpp"
#include "orchestrator/worker_launch.hpp"
#include "orchestrator_metrics.hpp"

namespace livedub::orchestrator {

class WorkerSupervisor : private WorkerControl {
 public:
  WorkerSupervisor(SupervisionPolicy policy, WorkerLaunchConfig launch,
                   OrchestratorMetrics& metrics);
  ~WorkerSupervisor() override;
  WorkerSupervisor(const WorkerSupervisor&) = delete;
  WorkerSupervisor& operator=(const WorkerSupervisor&) = delete;

  ReadyOutcome stream_ready(const std::string& stream_id, const std::string& session = {});
  NotReadyOutcome stream_not_ready(const std::string& stream_id, const std::string& session = {});
  std::vector<StreamStatus> streams() const;
  std::optional<StreamStatus> stream(const std::string& stream_id) const;
  // Why a stream that is not supervised was refused lately (SupervisionTable::refusal).
  std::optional<std::string> refusal(const std::string& stream_id) const;
  std::size_t worker_count() const;

  // Stops every worker (SIGTERM, SIGKILL after the grace period), waits until all have exited
  // and ends the supervision thread. Idempotent.
  void shutdown();

 private:
  pid_t start_worker(const std::string& stream_id, StartReason reason, Millis timeline) override;
  void signal_worker(const std::string& stream_id, bool force) override;

  void supervise();
  void reap_exited_workers(TimePoint now);  // mutex_ held

  WorkerLaunchConfig launch_;
  OrchestratorMetrics& metrics_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  SupervisionTable table_;
  std::map<std::string, ChildProcess> workers_;
  bool shutting_down_ = false;
  std::thread thread_;  // last: starts after everything it uses exists
};

}  // namespace livedub::orchestrator
