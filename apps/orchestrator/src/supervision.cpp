#include "orchestrator/supervision.hpp"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <fstream>
#include <sstream>

#include "livedub/logging.hpp"

namespace livedub::orchestrator {
namespace {
LogContext stream_log(const std::string& stream_id) { return LogContext{stream_id, std::nullopt}; }
}  // namespace

std::size_t stream_capacity(double cores) {
  return std::max<std::size_t>(1, static_cast<std::size_t>(std::floor(4 * cores + 0.5)));
}

double usable_cores(int affinity_cpus, std::string_view cgroup_cpu_max) {
  double cores = std::max(1, affinity_cpus);
  std::istringstream in{std::string(cgroup_cpu_max)};
  std::string quota;
  double period = 0;
  if (in >> quota >> period && quota != "max" && period > 0) {
    try {
      const double limited = std::stod(quota) / period;
      if (limited > 0) cores = std::min(cores, limited);
    } catch (const std::exception&) {
      // Not a number: the affinity stands.
    }
  }
  return cores;
}

double host_usable_cores() {
  static const double cores = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    const int cpus = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    std::ifstream in("/sys/fs/cgroup/cpu.max");
    std::string cpu_max;
    std::getline(in, cpu_max);
    return usable_cores(cpus, cpu_max);
  }();
  return cores;
}

std::size_t host_stream_capacity() { return stream_capacity(host_usable_cores()); }

double host_load_per_core() {
  std::ifstream in("/proc/loadavg");
  double load = 0;
  if (!(in >> load)) return 0;
  return load / host_usable_cores();
}

Millis restart_delay(const SupervisionPolicy& policy, int consecutive_failures, double load_per_core) {
  Millis delay = policy.restart_min;
  for (int i = 1; i < consecutive_failures && delay < policy.restart_max; ++i) delay *= 2;
  delay = std::min(delay, policy.restart_max);
  if (load_per_core > 1) {
    delay = Millis(static_cast<Millis::rep>(static_cast<double>(delay.count()) * std::min(load_per_core, 4.0)));
  }
  return delay;
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
    case WorkerState::failed:
      return "failed";
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
    case ReadyOutcome::new_session:
      return "new_session";
    case ReadyOutcome::too_many_streams:
      return "too_many_streams";
    case ReadyOutcome::too_many_starts:
      return "too_many_starts";
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
    case NotReadyOutcome::other_session:
      return "other_session";
  }
  return "unknown";
}

SupervisionTable::SupervisionTable(SupervisionPolicy policy, WorkerControl& control)
    : policy_(policy), control_(control) {}

bool SupervisionTable::launch(Entry& entry, StartReason reason, TimePoint now) {
  auto& status = entry.status;
  try {
    const Millis timeline = entry.first_started_at
                                ? std::chrono::duration_cast<Millis>(now - *entry.first_started_at)
                                : Millis(0);
    pid_t pid = control_.start_worker(status.stream_id, reason, timeline);
    if (!entry.first_started_at) entry.first_started_at = now;
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
  Millis delay = restart_delay(policy_, entry.consecutive_failures, load_per_core_);
  status.state = WorkerState::backoff;
  status.pid.reset();
  status.last_exit = reason;
  status.since = now;
  // One restart per slot across all streams (restart_spacing).
  const auto at = std::max(now + delay, next_restart_slot_);
  next_restart_slot_ = at + policy_.restart_spacing;
  status.restart_at = at;
  log_warn(stream_log(status.stream_id), "worker {} while the stream is live; restart #{} in {} ms{}",
           reason, status.restarts + 1, std::chrono::duration_cast<Millis>(at - now).count(),
           load_per_core_ > 1 ? fmt::format(" (host load {:.1f} per core)", load_per_core_) : std::string());
}

void SupervisionTable::begin_stop(Entry& entry, TimePoint now) {
  control_.signal_worker(entry.status.stream_id, /*force=*/false);
  entry.status.state = WorkerState::stopping;
  entry.status.since = now;
  entry.kill_at = now + policy_.stop_grace;
  log_info(stream_log(entry.status.stream_id), "stopping worker, pid {}",
           entry.status.pid.value_or(-1));
}

namespace {
constexpr std::size_t kMaxRefusalsKept = 256;
constexpr Millis kRefusalMemory{600'000};
}  // namespace

void SupervisionTable::remember_refusal(const std::string& stream_id, std::string reason, TimePoint now) {
  std::erase_if(refusals_, [&](const auto& r) { return now - r.second.at >= kRefusalMemory; });
  if (refusals_.size() >= kMaxRefusalsKept && !refusals_.contains(stream_id)) {
    refusals_.erase(std::min_element(refusals_.begin(), refusals_.end(),
                                     [](const auto& a, const auto& b) { return a.second.at < b.second.at; }));
  }
  refusals_[stream_id] = Refused{std::move(reason), now};
}

std::optional<std::string> SupervisionTable::refusal(const std::string& stream_id, TimePoint now) const {
  auto it = refusals_.find(stream_id);
  if (it == refusals_.end() || now - it->second.at >= kRefusalMemory || entries_.contains(stream_id)) return std::nullopt;
  return fmt::format("refused {} s ago: {}", std::chrono::duration_cast<std::chrono::seconds>(now - it->second.at).count(),
                     it->second.reason);
}

bool SupervisionTable::start_allowed(const std::string& stream_id, TimePoint now) {
  constexpr Millis kWindow{60'000};
  // Old timestamps are dropped for every id, so the map stays bounded by recent activity.
  for (auto it = recent_starts_.begin(); it != recent_starts_.end();) {
    auto& times = it->second;
    std::erase_if(times, [&](TimePoint t) { return now - t >= kWindow; });
    it = times.empty() ? recent_starts_.erase(it) : std::next(it);
  }
  auto& times = recent_starts_[stream_id];
  if (static_cast<int>(times.size()) >= policy_.max_starts_per_minute) return false;
  times.push_back(now);
  return true;
}

ReadyOutcome SupervisionTable::stream_ready(const std::string& stream_id, TimePoint now,
                                            const std::string& session) {
  if (shutting_down_) return ReadyOutcome::shutting_down;
  auto it = entries_.find(stream_id);
  if (it == entries_.end()) {
    if (entries_.size() >= policy_.max_streams) {
      auto why = fmt::format("{} streams are supervised already, the host's capacity (LIVEDUB_MAX_STREAMS={})",
                             entries_.size(), policy_.max_streams);
      log_warn(stream_log(stream_id), "refusing stream: {}", why);
      remember_refusal(stream_id, std::move(why), now);
      return ReadyOutcome::too_many_streams;
    }
    if (!start_allowed(stream_id, now)) {
      auto why = fmt::format("started {} times within a minute already (LIVEDUB_STREAM_STARTS_PER_MINUTE)",
                             policy_.max_starts_per_minute);
      log_warn(stream_log(stream_id), "refusing stream: {}", why);
      remember_refusal(stream_id, std::move(why), now);
      return ReadyOutcome::too_many_starts;
    }
    refusals_.erase(stream_id);
    Entry& entry = entries_[stream_id];
    entry.status.stream_id = stream_id;
    entry.status.session = session;
    return launch(entry, StartReason::first_start, now) ? ReadyOutcome::started
                                                        : ReadyOutcome::start_failed;
  }
  Entry& entry = it->second;
  if (entry.status.state == WorkerState::stopping) {
    entry.live_again = true;
    entry.next_session = session;
    return ReadyOutcome::relaunch_after_stop;
  }
  if (session.empty() || session == entry.status.session) return ReadyOutcome::already_supervised;
  // The publisher came back as a new session without a stop we saw (e.g. the media server
  // restarted): the stream is the new session's now, and a worker waiting out its restart
  // backoff starts at once, since what it waited for is there again.
  log_info(stream_log(stream_id), "new publisher session {} (was {})", session,
           entry.status.session.empty() ? "unknown" : entry.status.session);
  entry.status.session = session;
  if (entry.status.state == WorkerState::backoff || entry.status.state == WorkerState::failed) {
    entry.consecutive_failures = 0;
    launch(entry, StartReason::restart, now);
  }
  return ReadyOutcome::new_session;
}

NotReadyOutcome SupervisionTable::stream_not_ready(const std::string& stream_id, TimePoint now,
                                                   const std::string& session) {
  auto it = entries_.find(stream_id);
  if (it == entries_.end()) return NotReadyOutcome::not_supervised;
  Entry& entry = it->second;
  if (!session.empty() && !entry.status.session.empty() && session != entry.status.session &&
      !(entry.live_again && session == entry.next_session)) {
    log_warn(stream_log(stream_id), "ignoring stop for publisher session {}: the stream belongs to session {}",
             session, entry.status.session);
    return NotReadyOutcome::other_session;
  }
  switch (entry.status.state) {
    case WorkerState::backoff:
    case WorkerState::failed:
      entries_.erase(it);
      log_info(stream_log(stream_id), "stream ended while no worker ran; entry removed");
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
                                     TimePoint now, bool permanent) {
  auto it = entries_.find(stream_id);
  if (it == entries_.end() || !it->second.status.pid) return;
  Entry& entry = it->second;
  if (entry.status.state != WorkerState::stopping && permanent) {
    // Restarting cannot help: the same input would be refused again.
    entry.status.state = WorkerState::failed;
    entry.status.pid.reset();
    entry.status.last_exit = reason;
    entry.status.since = now;
    entry.status.restart_at.reset();
    log_error(stream_log(stream_id), "worker refused the stream, not restarting: {}", reason);
    return;
  }
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
    fresh.status.session = entry.next_session;
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
      case WorkerState::failed:
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
      case WorkerState::failed:
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
      case WorkerState::failed:
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
