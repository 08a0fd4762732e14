#pragma once
// The decisions of worker supervision, free of threads and processes: one entry per stream id,
// its state, restart backoff and stop escalation. Process work goes through WorkerControl, and
// time is an argument, so tests drive both. Not thread-safe: WorkerSupervisor serializes calls.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace livedub::orchestrator {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using Millis = std::chrono::milliseconds;

// Streams a host with `cores` usable cores runs at defaults with room to spare: 4 per core.
// Measured (bench/relay_cpu.sh, 720p30 H.264 + AAC, mock STS): a worker takes 10-13 % of one
// core, so 4 per core use about half the CPU, leaving the rest for start-up bursts, reconnects
// and the STS engines on the same host; at 8 per core (16 on 2 cores) the CPU was 0 % idle
// and every stream degraded. At least 1.
std::size_t stream_capacity(double cores);
// Usable cores: the CPUs this process may run on (`affinity_cpus`), lowered by a cgroup v2
// CPU quota (`cgroup_cpu_max`, the text of /sys/fs/cgroup/cpu.max: "max 100000" or
// "200000 100000"; empty when absent), as `docker run --cpus` sets it.
double usable_cores(int affinity_cpus, std::string_view cgroup_cpu_max);
// usable_cores(...) of this host, and stream_capacity of that; read once.
double host_usable_cores();
std::size_t host_stream_capacity();
// The 1-minute load average per usable core (/proc/loadavg); 0 when unreadable.
double host_load_per_core();

struct SupervisionPolicy {
  Millis restart_min{500};
  Millis restart_max{30'000};
  // A worker up this long counts as running, and its restart backoff starts over.
  Millis stable_after{10'000};
  // Between SIGTERM and SIGKILL when a stream stops.
  Millis stop_grace{15'000};  // a stopping worker drains its delayed output first
  // Start hooks are bounded: streams supervised at once, and new streams per id per minute
  // (a publisher flapping, or hooks forged by someone holding the credential).
  std::size_t max_streams = host_stream_capacity();
  int max_starts_per_minute = 30;
  // Restarts of different streams are at least this far apart: when many workers fail at once
  // (an overloaded host, a media-server restart) they come back one by one, not as a storm.
  Millis restart_spacing{250};
};


// Delay before the restart that follows `consecutive_failures` (>= 1) failures without a stable
// run: restart_min, doubling each time, capped at restart_max; then, on a host busier than
// its cores (`load_per_core`: the 1-minute load average per core), stretched by that ratio (up
// to 4x): a worker that failed because the host was overloaded would only fail again.
Millis restart_delay(const SupervisionPolicy& policy, int consecutive_failures, double load_per_core = 0);

// starting: spawned, not yet up for stable_after; running: up at least that long;
// backoff: died while the stream is live, restart pending; stopping: stream ended, worker
// signalled and not yet exited.
// failed: the worker refused its input (unsupported media): no restart until a new publish.
enum class WorkerState { starting, running, backoff, stopping, failed };
std::string_view to_string(WorkerState state);

enum class StartReason { first_start, restart, relaunch_after_stop };

class WorkerControl {
 public:
  virtual ~WorkerControl() = default;
  // Starts the worker of a validated stream id and returns its pid. Throws std::exception on
  // failure; the message becomes the stream's last_exit. `timeline` is how far the stream's
  // output timeline has got since its first worker started (0 for a first start): a restarted
  // worker continues from there.
  virtual pid_t start_worker(const std::string& stream_id, StartReason reason, Millis timeline) = 0;
  // Sends SIGTERM, or SIGKILL when `force`, to the stream's running worker.
  virtual void signal_worker(const std::string& stream_id, bool force) = 0;
};

struct StreamStatus {
  std::string stream_id;
  WorkerState state = WorkerState::starting;
  std::optional<pid_t> pid;  // absent in backoff
  int restarts = 0;          // restarts after the worker died while the stream was live
  std::optional<std::string> last_exit;
  TimePoint since;                      // when `state` was entered
  std::optional<TimePoint> restart_at;  // backoff only
  std::string session;                  // the publisher session that started it ("" unknown)
};

enum class ReadyOutcome {
  started,
  start_failed,         // restart scheduled with backoff
  already_supervised,   // duplicate ready: still one worker
  relaunch_after_stop,  // ready while the previous worker stops: relaunched once it has exited
  new_session,          // a new publisher session of a supervised stream: a waiting restart runs now
  too_many_streams,     // SupervisionPolicy::max_streams reached
  too_many_starts,      // SupervisionPolicy::max_starts_per_minute reached for this id
  shutting_down,
};
// other_session: the stop names a publisher session other than the stream's current one (a
// late or forged stop): nothing is stopped.
enum class NotReadyOutcome { stopping, backoff_cancelled, already_stopping, not_supervised, other_session };
std::string_view to_string(ReadyOutcome outcome);
std::string_view to_string(NotReadyOutcome outcome);

class SupervisionTable {
 public:
  SupervisionTable(SupervisionPolicy policy, WorkerControl& control);

  // `session` identifies the publisher (empty: unknown, matches any).
  ReadyOutcome stream_ready(const std::string& stream_id, TimePoint now,
                            const std::string& session = {});
  NotReadyOutcome stream_not_ready(const std::string& stream_id, TimePoint now,
                                   const std::string& session = {});
  // The stream's worker exited; `reason` as from describe_wait_status. `permanent`: it refused
  // its input, so it is not restarted (state failed) until the stream is published again.
  void worker_exited(const std::string& stream_id, const std::string& reason, TimePoint now,
                     bool permanent = false);
  // Time-driven transitions: promotes stable workers, restarts after backoff, escalates stops
  // to SIGKILL.
  void tick(TimePoint now);
  // When tick() next has something to do; nullopt when nothing is pending.
  std::optional<TimePoint> next_deadline() const;
  // Stops every worker, cancels pending restarts and refuses new streams from now on.
  void stop_all(TimePoint now);
  // The host's load (1-minute load average per core), for restart delays.
  void set_load_per_core(double load) { load_per_core_ = load; }
  // Why the stream was last refused (too many streams or starts), when it is not supervised
  // and was refused within the last 10 minutes.
  std::optional<std::string> refusal(const std::string& stream_id, TimePoint now) const;

  std::vector<StreamStatus> streams() const;  // ordered by stream id
  std::optional<StreamStatus> stream(const std::string& stream_id) const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    StreamStatus status;
    int consecutive_failures = 0;
    TimePoint worker_started_at;
    std::optional<TimePoint> first_started_at;  // the output timeline's origin
    std::optional<TimePoint> kill_at;  // stopping, SIGKILL not yet sent
    bool live_again = false;           // stopping, and a new ready arrived meanwhile
    std::string next_session;          // live_again: the session that asked
  };

  bool launch(Entry& entry, StartReason reason, TimePoint now);
  void schedule_restart(Entry& entry, const std::string& reason, TimePoint now);
  void begin_stop(Entry& entry, TimePoint now);

  SupervisionPolicy policy_;
  WorkerControl& control_;
  bool start_allowed(const std::string& stream_id, TimePoint now);

  std::map<std::string, Entry> entries_;
  // First starts per stream id within the last minute (the rate bound).
  std::map<std::string, std::vector<TimePoint>> recent_starts_;
  struct Refused {
    std::string reason;
    TimePoint at;
  };
  std::map<std::string, Refused> refusals_;  // bounded: kMaxRefusalsKept, oldest dropped
  void remember_refusal(const std::string& stream_id, std::string reason, TimePoint now);
  TimePoint next_restart_slot_{};
  double load_per_core_ = 0;
  bool shutting_down_ = false;
};

}  // namespace livedub::orchestrator
