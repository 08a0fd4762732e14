#pragma once
// Polls the media server's list of publishers (LIVEDUB_MEDIA_STATUS_URL) and reconciles the
// supervised streams with it: a publisher nobody supervises gets its worker (hooks lost while
// the orchestrator was down), a stream without a publisher is stopped (its stop hook was lost,
// e.g. the media server died). An unreachable media server changes nothing.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "orchestrator/media_status.hpp"
#include "worker_supervisor.hpp"

namespace livedub::orchestrator {

class MediaStatusPoller {
 public:
  MediaStatusPoller(std::string url, std::chrono::milliseconds interval, WorkerSupervisor& supervisor);
  ~MediaStatusPoller();  // stops the thread
  MediaStatusPoller(const MediaStatusPoller&) = delete;
  MediaStatusPoller& operator=(const MediaStatusPoller&) = delete;

 private:
  void run();
  void poll_once();

  std::string url_;
  std::chrono::milliseconds interval_;
  WorkerSupervisor& supervisor_;
  Reconciler reconciler_;
  bool reachable_ = true;  // for logging an outage once
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last
};

}  // namespace livedub::orchestrator
