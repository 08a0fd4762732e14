#include "orchestrator/supervision.hpp"

#include <algorithm>
#include <exception>

#include "livedub/logging.hpp"

namespace livedub::orchestrator {
namespace {
LogContext stream_log(const std::string& stream_id) { return LogContext{stream_id, std::nullopt}; }
}  // namespace

Millis restart_delay(const SupervisionPolicy& policy, int consecutive_failures) {
  Millis delay = policy.restart_min;
  for (int i = 1; i < consecutive_failures && delay < policy.restart_max; ++i) delay *= 2;
  return std::min(delay, policy.restart_max);
}

std::string_view to_string(WorkerState state) {
  switch (state) {
    case WorkerState::starting:
      return "starting";
    case WorkerState::running:
      return "running";
    case WorkerState::backoff:
      return "backoff";
    case WorkerState::stopping:
      return "stopping";
  }
  return "unknown";
}

std::string_view to_string(ReadyOutcome outcome) {
  switch (outcome) {
    case ReadyOutcome::started:
      return "started";
    case ReadyOutcome::start_failed:
      return "start_failed";
    case ReadyOutcome::already_supervised:
      return "already_supervised";
    case ReadyOutcome::relaunch_after_stop:
      return "relaunch_after_stop";
    case ReadyOutcome::shutting_down:
      return "shutting_down";
  }
  return "unknown";
}

std::string_view to_string(NotReadyOutcome outcome) {
  switch (outcome) {
    case NotReadyOutcome::stopping:
      return "stopping";
    case NotReadyOutcome::backoff_cancelled:
      return "backoff_cancelled";
    case NotReadyOutcome::already_stopping:
      return "already_stopping";
    case NotReadyOutcome::not_supervised:
      return "not_supervised";
  }
  return "unknown";
}

SupervisionTable::SupervisionTable(SupervisionPolicy policy, WorkerControl& control)
    : policy_(policy), control_(control) {}

bool SupervisionTable::launch(Entry& entry, StartReason reason, TimePoint now) {
  auto& status = entry.status;
  try {
    pid_t pid = control_.start_worker(status.stream_id, reason);
    status.state = WorkerState::starting;
    status.pid = pid;
    status.since = now;
    status.restart_at.reset();
    entry.worker_started_at = now;
    log_info(stream_log(status.stream_id), "worker started, pid {}", pid);
    return true;
  } catch (const std::exception& e) {
    status.pid.reset();
    schedule_restart(entry, std::string("failed to start: ") + e.what(), now);
    return false;
  }
}

void SupervisionTable::schedule_restart(Entry& entry, const std::string& reason, TimePoint now) {
  auto& status = entry.status;
  bool ran_stably = status.pid && now - entry.worker_started_at >= policy_.stable_after;
  if (ran_stably) entry.consecutive_failures = 0;
  ++entry.consecutive_failures;
  Millis delay = restart_delay(policy_, entry.consecutive_failures);
  status.state = WorkerState::backoff;
  status.pid.reset();
  status.last_exit = reason;
  status.since = now;
  status.restart_at = now + delay;
  log_warn(stream_log(status.stream_id), "worker {} while the stream is live; restart #{} in {} ms",
           reason, status.restarts + 1, delay.count());
}

void SupervisionTable::begin_stop(Entry& entry, TimePoint now) {
  control_.signal_worker(entry.status.stream_id, /*force=*/false);
  entry.status.state = WorkerState::stopping;
  entry.status.since = now;
  entry.kill_at = now + policy_.stop_grace;
  log_info(stream_log(entry.status.stream_id), "stopping worker, pid {}",
           entry.status.pid.value_or(-1));
}

ReadyOutcome SupervisionTable::stream_ready(const std::string& stream_id, TimePoint now) {
  if (shutting_down_) return ReadyOutcome::shutting_down;
  auto it = entries_.find(stream_id);
  if (it == entries_.end()) {
    Entry& entry = entries_[stream_id];
    entry.status.stream_id = stream_id;
    return launch(entry, StartReason::first_start, now) ? ReadyOutcome::started
                                                        : ReadyOutcome::start_failed;
  }
  Entry& entry = it->second;
  if (entry.status.state == WorkerState::stopping) {
    entry.live_again = true;
    return ReadyOutcome::relaunch_after_stop;
  }
  return ReadyOutcome::already_supervised;
}

NotReadyOutcome SupervisionTable::stream_not_ready(const std::string& stream_id, TimePoint now) {
  auto it = entries_.find(stream_id);
  if (it == entries_.end()) return NotReadyOutcome::not_supervised;
  Entry& entry = it->second;
  switch (entry.status.state) {
    case WorkerState::backoff:
      entries_.erase(it);
      log_info(stream_log(stream_id), "stream ended during restart backoff; restart cancelled");
      return NotReadyOutcome::backoff_cancelled;
    case WorkerState::stopping:
      entry.live_again = false;
      return NotReadyOutcome::already_stopping;
    case WorkerState::starting:
    case WorkerState::running:
      break;
  }
  begin_stop(entry, now);
  return NotReadyOutcome::stopping;
}

void SupervisionTable::worker_exited(const std::string& stream_id, const std::string& reason,
                                     TimePoint now) {
  auto it = entries_.find(stream_id);
  if (it == entries_.end() || !it->second.status.pid) return;
  Entry& entry = it->second;
  if (entry.status.state != WorkerState::stopping) {
    schedule_restart(entry, reason, now);
    return;
  }
  log_info(stream_log(stream_id), "worker stopped ({})", reason);
  if (entry.live_again && !shutting_down_) {
    // The stream was published again while the old worker stopped: a new session, so it
    // starts with a clean history rather than as a restart.
    Entry fresh;
    fresh.status.stream_id = stream_id;
    entry = fresh;
    launch(entry, StartReason::relaunch_after_stop, now);
    return;
  }
  entries_.erase(it);
}

void SupervisionTable::tick(TimePoint now) {
  for (auto& [stream_id, entry] : entries_) {
    auto& status = entry.status;
    switch (status.state) {
      case WorkerState::starting:
        if (now - entry.worker_started_at >= policy_.stable_after) {
          status.state = WorkerState::running;
          status.since = entry.worker_started_at + policy_.stable_after;
          entry.consecutive_failures = 0;
        }
        break;
      case WorkerState::backoff:
        if (status.restart_at && now >= *status.restart_at) {
          ++status.restarts;
          log_info(stream_log(stream_id), "restarting worker (restart #{}, last exit: {})",
                   status.restarts, status.last_exit.value_or("none"));
          launch(entry, StartReason::restart, now);
        }
        break;
      case WorkerState::stopping:
        if (entry.kill_at && now >= *entry.kill_at) {
          log_warn(stream_log(stream_id),
                   "worker still running {} ms after SIGTERM; sending SIGKILL",
                   policy_.stop_grace.count());
          control_.signal_worker(stream_id, /*force=*/true);
          entry.kill_at.reset();
        }
        break;
      case WorkerState::running:
        break;
    }
  }
}

std::optional<TimePoint> SupervisionTable::next_deadline() const {
  std::optional<TimePoint> earliest;
  auto consider = [&](TimePoint t) {
    if (!earliest || t < *earliest) earliest = t;
  };
  for (const auto& [stream_id, entry] : entries_) {
    switch (entry.status.state) {
      case WorkerState::starting:
        consider(entry.worker_started_at + policy_.stable_after);
        break;
      case WorkerState::backoff:
        if (entry.status.restart_at) consider(*entry.status.restart_at);
        break;
      case WorkerState::stopping:
        if (entry.kill_at) consider(*entry.kill_at);
        break;
      case WorkerState::running:
        break;
    }
  }
  return earliest;
}

void SupervisionTable::stop_all(TimePoint now) {
  shutting_down_ = true;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = it->second;
    switch (entry.status.state) {
      case WorkerState::backoff:
        it = entries_.erase(it);
        continue;
      case WorkerState::stopping:
        entry.live_again = false;
        break;
      case WorkerState::starting:
      case WorkerState::running:
        begin_stop(entry, now);
        break;
    }
    ++it;
  }
}

std::vector<StreamStatus> SupervisionTable::streams() const {
  std::vector<StreamStatus> result;
  result.reserve(entries_.size());
  for (const auto& [stream_id, entry] : entries_) result.push_back(entry.status);
  return result;
}

std::optional<StreamStatus> SupervisionTable::stream(const std::string& stream_id) const {
  auto it = entries_.find(stream_id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.status;
}

}  // namespace livedub::orchestrator
