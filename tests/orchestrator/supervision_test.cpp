#include "orchestrator/supervision.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace livedub::orchestrator {
namespace {

using namespace std::chrono_literals;

// Records what the table asks of the process side; pids count up from 100.
class FakeWorkerControl : public WorkerControl {
 public:
  struct Start {
    std::string stream_id;
    StartReason reason;
    Millis timeline;
  };
  struct Signal {
    std::string stream_id;
    bool force;
  };

  pid_t start_worker(const std::string& stream_id, StartReason reason, Millis timeline) override {
    if (fail_starts) throw std::runtime_error("no such file");
    starts.push_back({stream_id, reason, timeline});
    return next_pid++;
  }
  void signal_worker(const std::string& stream_id, bool force) override {
    signals.push_back({stream_id, force});
  }

  std::vector<Start> starts;
  std::vector<Signal> signals;
  bool fail_starts = false;
  pid_t next_pid = 100;
};

class SupervisionTableTest : public ::testing::Test {
 protected:
  static SupervisionPolicy policy() {
    SupervisionPolicy p;
    p.restart_min = 500ms;
    p.restart_max = 4000ms;
    p.stable_after = 10s;
    p.stop_grace = 2s;
    p.max_streams = 64;  // not the host's capacity: these tests run anywhere
    return p;
  }

  WorkerState state(const std::string& id) const { return table.stream(id).value().state; }

  // Crashes the stream's current worker and returns the restart delay the table chose.
  Millis crash(const std::string& id, const std::string& reason = "exited with code 1") {
    table.worker_exited(id, reason, now);
    auto status = table.stream(id).value();
    EXPECT_EQ(status.state, WorkerState::backoff);
    return std::chrono::duration_cast<Millis>(status.restart_at.value() - now);
  }

  // Advances to the pending restart and checks it happens exactly then, not a tick earlier.
  void restart_when_due(const std::string& id) {
    auto due = table.stream(id).value().restart_at.value();
    auto starts_before = control.starts.size();
    now = due - 1ms;
    table.tick(now);
    ASSERT_EQ(control.starts.size(), starts_before) << "restarted before the backoff elapsed";
    now = due;
    table.tick(now);
    ASSERT_EQ(control.starts.size(), starts_before + 1);
    EXPECT_EQ(control.starts.back().reason, StartReason::restart);
    EXPECT_EQ(state(id), WorkerState::starting);
  }

  FakeWorkerControl control;
  SupervisionTable table{policy(), control};
  TimePoint now = TimePoint() + 1h;
};

TEST_F(SupervisionTableTest, ReadyStartsOneWorker) {
  EXPECT_EQ(table.stream_ready("demo", now), ReadyOutcome::started);
  ASSERT_EQ(control.starts.size(), 1u);
  EXPECT_EQ(control.starts[0].stream_id, "demo");
  EXPECT_EQ(control.starts[0].reason, StartReason::first_start);
  auto status = table.stream("demo").value();
  EXPECT_EQ(status.state, WorkerState::starting);
  EXPECT_EQ(status.pid, 100);
  EXPECT_EQ(status.restarts, 0);
  EXPECT_FALSE(status.last_exit.has_value());
  EXPECT_EQ(status.since, now);
}

TEST_F(SupervisionTableTest, DuplicateReadyKeepsOneWorker) {
  table.stream_ready("demo", now);
  for (int i = 0; i < 5; ++i) {
    now += 1s;
    EXPECT_EQ(table.stream_ready("demo", now), ReadyOutcome::already_supervised);
  }
  EXPECT_EQ(control.starts.size(), 1u);
  EXPECT_EQ(table.streams().size(), 1u);
}

TEST_F(SupervisionTableTest, StreamsAreIndependent) {
  table.stream_ready("b", now);
  table.stream_ready("a", now);
  EXPECT_EQ(control.starts.size(), 2u);
  auto streams = table.streams();
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0].stream_id, "a");
  EXPECT_EQ(streams[1].stream_id, "b");
  table.stream_not_ready("a", now);
  EXPECT_EQ(state("a"), WorkerState::stopping);
  EXPECT_EQ(state("b"), WorkerState::starting);
}

TEST_F(SupervisionTableTest, NotReadyForUnknownStreamDoesNothing) {
  EXPECT_EQ(table.stream_not_ready("ghost", now), NotReadyOutcome::not_supervised);
  EXPECT_TRUE(control.signals.empty());
  EXPECT_TRUE(table.empty());
}

TEST_F(SupervisionTableTest, WorkerBecomesRunningAfterStablePeriod) {
  table.stream_ready("demo", now);
  TimePoint started = now;
  now += 10s - 1ms;
  table.tick(now);
  EXPECT_EQ(state("demo"), WorkerState::starting);
  now += 1ms;
  table.tick(now);
  EXPECT_EQ(state("demo"), WorkerState::running);
  EXPECT_EQ(table.stream("demo")->since, started + 10s);
}

TEST_F(SupervisionTableTest, NotReadySendsSigtermThenSigkillAfterGrace) {
  table.stream_ready("demo", now);
  EXPECT_EQ(table.stream_not_ready("demo", now), NotReadyOutcome::stopping);
  ASSERT_EQ(control.signals.size(), 1u);
  EXPECT_FALSE(control.signals[0].force);
  EXPECT_EQ(state("demo"), WorkerState::stopping);

  EXPECT_EQ(table.stream_not_ready("demo", now), NotReadyOutcome::already_stopping);
  EXPECT_EQ(control.signals.size(), 1u);

  now += 2s - 1ms;
  table.tick(now);
  EXPECT_EQ(control.signals.size(), 1u);
  now += 1ms;
  table.tick(now);
  ASSERT_EQ(control.signals.size(), 2u);
  EXPECT_TRUE(control.signals[1].force);
  now += 10s;
  table.tick(now);
  EXPECT_EQ(control.signals.size(), 2u) << "SIGKILL is sent once";

  table.worker_exited("demo", "killed by signal 9", now);
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(control.starts.size(), 1u) << "a stopped stream is not restarted";
}

TEST_F(SupervisionTableTest, WorkerExitingOnSigtermIsNotRestarted) {
  table.stream_ready("demo", now);
  table.stream_not_ready("demo", now);
  now += 100ms;
  table.worker_exited("demo", "exited with code 0", now);
  EXPECT_TRUE(table.empty());
  now += 1h;
  table.tick(now);
  EXPECT_EQ(control.starts.size(), 1u);
  EXPECT_EQ(control.signals.size(), 1u);
}

TEST_F(SupervisionTableTest, ReadyWhileStoppingRelaunchesOnceTheOldWorkerExited) {
  table.stream_ready("demo", now);
  crash("demo");
  restart_when_due("demo");
  table.stream_not_ready("demo", now);
  EXPECT_EQ(table.stream_ready("demo", now), ReadyOutcome::relaunch_after_stop);
  EXPECT_EQ(table.stream_ready("demo", now), ReadyOutcome::relaunch_after_stop);
  EXPECT_EQ(control.starts.size(), 2u) << "never two workers at once";

  now += 50ms;
  table.worker_exited("demo", "exited with code 0", now);
  ASSERT_EQ(control.starts.size(), 3u);
  EXPECT_EQ(control.starts.back().reason, StartReason::relaunch_after_stop);
  auto status = table.stream("demo").value();
  EXPECT_EQ(status.state, WorkerState::starting);
  EXPECT_EQ(status.restarts, 0) << "a new publish starts a fresh history";
  EXPECT_FALSE(status.last_exit.has_value());
}

TEST_F(SupervisionTableTest, ReadyThenNotReadyWhileStoppingEndsStopped) {
  table.stream_ready("demo", now);
  table.stream_not_ready("demo", now);
  table.stream_ready("demo", now);
  EXPECT_EQ(table.stream_not_ready("demo", now), NotReadyOutcome::already_stopping);
  table.worker_exited("demo", "exited with code 0", now);
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(control.starts.size(), 1u);
}

TEST_F(SupervisionTableTest, CrashWhileLiveRestartsWithDoublingCappedBackoff) {
  table.stream_ready("demo", now);
  const std::vector<Millis> expected = {500ms, 1000ms, 2000ms, 4000ms, 4000ms, 4000ms};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    now += 1s;  // well below the stable period
    EXPECT_EQ(crash("demo", "killed by signal 9 (Killed)"), expected[i]) << "failure " << i + 1;
    auto status = table.stream("demo").value();
    EXPECT_FALSE(status.pid.has_value());
    EXPECT_EQ(status.last_exit, "killed by signal 9 (Killed)");
    EXPECT_EQ(status.restarts, static_cast<int>(i));
    restart_when_due("demo");
    EXPECT_EQ(table.stream("demo")->restarts, static_cast<int>(i + 1));
  }
}

TEST_F(SupervisionTableTest, BackoffResetsAfterAStableRun) {
  table.stream_ready("demo", now);
  for (Millis expected : {500ms, 1000ms, 2000ms}) {
    now += 1s;
    EXPECT_EQ(crash("demo"), expected);
    restart_when_due("demo");
  }
  now += 10s;
  table.tick(now);
  EXPECT_EQ(state("demo"), WorkerState::running);
  now += 1h;
  EXPECT_EQ(crash("demo"), 500ms);
}

TEST_F(SupervisionTableTest, BackoffResetsOnStableUptimeEvenWithoutATickInBetween) {
  table.stream_ready("demo", now);
  for (Millis expected : {500ms, 1000ms}) {
    now += 1s;
    EXPECT_EQ(crash("demo"), expected);
    restart_when_due("demo");
  }
  now += 10s;  // exit noticed before any tick promoted the worker
  EXPECT_EQ(crash("demo"), 500ms);
}

TEST_F(SupervisionTableTest, NotReadyDuringBackoffCancelsTheRestart) {
  table.stream_ready("demo", now);
  crash("demo");
  EXPECT_EQ(table.stream_not_ready("demo", now), NotReadyOutcome::backoff_cancelled);
  EXPECT_TRUE(table.empty());
  EXPECT_TRUE(control.signals.empty()) << "no process to signal during backoff";
  now += 1h;
  table.tick(now);
  EXPECT_EQ(control.starts.size(), 1u);
}

TEST_F(SupervisionTableTest, DuplicateReadyDuringBackoffWaitsForTheRestart) {
  table.stream_ready("demo", now);
  crash("demo");
  EXPECT_EQ(table.stream_ready("demo", now), ReadyOutcome::already_supervised);
  EXPECT_EQ(control.starts.size(), 1u);
  restart_when_due("demo");
}

TEST_F(SupervisionTableTest, FailedStartIsRetriedWithBackoff) {
  control.fail_starts = true;
  EXPECT_EQ(table.stream_ready("demo", now), ReadyOutcome::start_failed);
  auto status = table.stream("demo").value();
  EXPECT_EQ(status.state, WorkerState::backoff);
  EXPECT_EQ(status.last_exit, "failed to start: no such file");
  EXPECT_EQ(status.restart_at, now + 500ms);

  now += 500ms;
  table.tick(now);  // fails again: the backoff grows
  EXPECT_EQ(table.stream("demo")->restart_at, now + 1000ms);
  EXPECT_EQ(table.stream("demo")->restarts, 1);

  control.fail_starts = false;
  now += 1000ms;
  table.tick(now);
  EXPECT_EQ(state("demo"), WorkerState::starting);
  EXPECT_EQ(table.stream("demo")->restarts, 2);
  ASSERT_EQ(control.starts.size(), 1u);
  EXPECT_EQ(control.starts[0].reason, StartReason::restart);
}

TEST_F(SupervisionTableTest, ExitOfUnknownStreamIsIgnored) {
  table.worker_exited("ghost", "exited with code 0", now);
  EXPECT_TRUE(table.empty());
}

TEST_F(SupervisionTableTest, NextDeadlineIsTheEarliestPendingTimer) {
  EXPECT_FALSE(table.next_deadline().has_value());
  table.stream_ready("a", now);  // becomes running at now + 10s
  EXPECT_EQ(table.next_deadline(), now + 10s);
  table.stream_ready("b", now);
  table.worker_exited("b", "exited with code 1", now);  // restart at now + 500ms
  EXPECT_EQ(table.next_deadline(), now + 500ms);
  table.stream_not_ready("b", now);
  table.stream_not_ready("a", now);  // SIGKILL due at now + 2s
  EXPECT_EQ(table.next_deadline(), now + 2s);
  table.tick(now + 2s);
  EXPECT_FALSE(table.next_deadline().has_value());
}

TEST_F(SupervisionTableTest, StopAllStopsEveryWorkerAndRefusesNewStreams) {
  table.stream_ready("a", now);
  table.stream_ready("b", now);
  table.stream_ready("c", now);
  table.worker_exited("c", "exited with code 1", now);  // in backoff
  table.stream_not_ready("b", now);
  table.stream_ready("b", now);  // would relaunch after the stop

  table.stop_all(now);
  EXPECT_EQ(table.stream_ready("d", now), ReadyOutcome::shutting_down);
  EXPECT_FALSE(table.stream("c").has_value()) << "pending restart cancelled";
  EXPECT_EQ(state("a"), WorkerState::stopping);
  ASSERT_EQ(control.signals.size(), 2u);
  EXPECT_EQ(control.signals[1].stream_id, "a");

  table.worker_exited("a", "exited with code 0", now);
  table.worker_exited("b", "exited with code 0", now);
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(control.starts.size(), 3u) << "nothing relaunched during shutdown";
}

TEST_F(SupervisionTableTest, AStopForAnotherPublisherSessionStopsNothing) {
  table.stream_ready("demo", now, "7");
  EXPECT_EQ(table.stream("demo").value().session, "7");
  // A forged or late stop naming another session.
  EXPECT_EQ(table.stream_not_ready("demo", now, "8"), NotReadyOutcome::other_session);
  EXPECT_TRUE(control.signals.empty());
  EXPECT_EQ(state("demo"), WorkerState::starting);
  // The session that started it can stop it.
  EXPECT_EQ(table.stream_not_ready("demo", now, "7"), NotReadyOutcome::stopping);
}

TEST_F(SupervisionTableTest, ANewSessionRestartsABackedOffWorkerAtOnce) {
  table.stream_ready("demo", now, "7");
  now += 20s;
  table.tick(now);
  crash("demo", "input gone");  // e.g. the media server went away with the publisher
  table.tick(now);
  EXPECT_EQ(state("demo"), WorkerState::backoff);
  // The same session once more: the backoff runs its course.
  EXPECT_EQ(table.stream_ready("demo", now, "7"), ReadyOutcome::already_supervised);
  EXPECT_EQ(control.starts.size(), 1u);
  // The publisher is back as a new session (media server restarted): no waiting.
  EXPECT_EQ(table.stream_ready("demo", now, "12"), ReadyOutcome::new_session);
  ASSERT_EQ(control.starts.size(), 2u);
  EXPECT_EQ(state("demo"), WorkerState::starting);
  EXPECT_EQ(table.stream("demo").value().session, "12");
  // The old session's stop, arriving late, no longer applies.
  EXPECT_EQ(table.stream_not_ready("demo", now, "7"), NotReadyOutcome::other_session);
}

TEST_F(SupervisionTableTest, StartHooksAreBoundedInTotalAndPerStream) {
  SupervisionPolicy p = policy();
  p.max_streams = 2;
  p.max_starts_per_minute = 3;
  SupervisionTable bounded(p, control);
  EXPECT_EQ(bounded.stream_ready("a", now), ReadyOutcome::started);
  EXPECT_EQ(bounded.stream_ready("b", now), ReadyOutcome::started);
  EXPECT_EQ(bounded.stream_ready("c", now), ReadyOutcome::too_many_streams);
  EXPECT_FALSE(bounded.stream("c").has_value());
  // The reason stays on record for /v1/streams/c, for ten minutes.
  now += 3s;
  EXPECT_EQ(bounded.refusal("c", now),
            "refused 3 s ago: 2 streams are supervised already, the host's capacity (LIVEDUB_MAX_STREAMS=2)");
  EXPECT_FALSE(bounded.refusal("a", now));
  EXPECT_FALSE(bounded.refusal("c", now + 10min));
  // A flapping stream: start, stop, start... at most 3 first starts a minute.
  auto flap = [&] {
    bounded.stream_not_ready("a", now);
    bounded.worker_exited("a", "terminated by signal 15", now);
    return bounded.stream_ready("a", now);
  };
  EXPECT_EQ(flap(), ReadyOutcome::started);
  EXPECT_EQ(flap(), ReadyOutcome::started);
  EXPECT_EQ(flap(), ReadyOutcome::too_many_starts);
  now += 61s;
  EXPECT_EQ(bounded.stream_ready("a", now), ReadyOutcome::started);
}

TEST_F(SupervisionTableTest, AWorkerRefusingItsInputIsNotRestartedUntilANewPublish) {
  table.stream_ready("demo", now, "7");
  table.worker_exited("demo", "unsupported input: no H.264 video", now, /*permanent=*/true);
  auto status = table.stream("demo").value();
  EXPECT_EQ(status.state, WorkerState::failed);
  EXPECT_EQ(status.last_exit, "unsupported input: no H.264 video");
  EXPECT_FALSE(table.next_deadline().has_value());
  now += 1h;
  table.tick(now);
  EXPECT_EQ(control.starts.size(), 1u);
  // The publisher's next session may bring other media: that one is tried.
  EXPECT_EQ(table.stream_ready("demo", now, "8"), ReadyOutcome::new_session);
  EXPECT_EQ(control.starts.size(), 2u);
  // And a stop clears a failed entry.
  table.worker_exited("demo", "unsupported input", now, true);
  EXPECT_EQ(table.stream_not_ready("demo", now, "8"), NotReadyOutcome::backoff_cancelled);
  EXPECT_TRUE(table.empty());
}

TEST_F(SupervisionTableTest, ARestartedWorkerContinuesTheOutputTimeline) {
  table.stream_ready("demo", now);
  EXPECT_EQ(control.starts[0].timeline, 0ms);
  now += 42s;
  table.tick(now);
  crash("demo");
  restart_when_due("demo");
  // The restart began 42.5 s after the first start: its output continues from there.
  EXPECT_EQ(control.starts[1].timeline, 42500ms);
}

TEST(RestartDelay, DoublesFromMinimumAndCapsAtMaximum) {
  SupervisionPolicy policy;
  policy.restart_min = 500ms;
  policy.restart_max = 30s;
  EXPECT_EQ(restart_delay(policy, 1), 500ms);
  EXPECT_EQ(restart_delay(policy, 2), 1s);
  EXPECT_EQ(restart_delay(policy, 3), 2s);
  EXPECT_EQ(restart_delay(policy, 6), 16s);
  EXPECT_EQ(restart_delay(policy, 7), 30s);
  EXPECT_EQ(restart_delay(policy, 1'000'000), 30s);
}

TEST(RestartDelay, AnOverloadedHostStretchesTheDelayUpToFourTimes) {
  SupervisionPolicy policy;
  policy.restart_min = 500ms;
  EXPECT_EQ(restart_delay(policy, 1, 0.7), 500ms);
  EXPECT_EQ(restart_delay(policy, 1, 2.0), 1000ms);
  EXPECT_EQ(restart_delay(policy, 2, 9.0), 4000ms);
}

TEST_F(SupervisionTableTest, WorkersFailingTogetherComeBackOneByOne) {
  for (const auto* id : {"a", "b", "c", "d"}) table.stream_ready(id, now);
  for (const auto* id : {"a", "b", "c", "d"}) table.worker_exited(id, "exited with status 1", now);
  EXPECT_EQ(table.stream("a")->restart_at, now + 500ms);
  EXPECT_EQ(table.stream("b")->restart_at, now + 750ms);
  EXPECT_EQ(table.stream("d")->restart_at, now + 1250ms);
  // And on a host whose load is 3 per core, later failures wait three times as long.
  table.set_load_per_core(3.0);
  table.stream_ready("e", now);
  table.worker_exited("e", "exited with status 1", now);
  EXPECT_EQ(table.stream("e")->restart_at, now + 1500ms);
}

TEST(StreamCapacity, FourStreamsPerUsableCore) {
  EXPECT_EQ(stream_capacity(2), 8u);
  EXPECT_EQ(stream_capacity(16), 64u);
  EXPECT_EQ(stream_capacity(0.1), 1u);
  EXPECT_EQ(usable_cores(16, ""), 16);
  EXPECT_EQ(usable_cores(16, "max 100000"), 16);
  EXPECT_EQ(usable_cores(16, "150000 100000"), 1.5);  // docker run --cpus 1.5
  EXPECT_EQ(usable_cores(2, "800000 100000"), 2);
  EXPECT_EQ(usable_cores(4, "garbage"), 4);
  EXPECT_GE(host_stream_capacity(), 4u);
}

TEST(RestartDelay, CapBelowDoubledMinimum) {
  SupervisionPolicy policy;
  policy.restart_min = 700ms;
  policy.restart_max = 1000ms;
  EXPECT_EQ(restart_delay(policy, 1), 700ms);
  EXPECT_EQ(restart_delay(policy, 2), 1000ms);
  policy.restart_max = 700ms;
  EXPECT_EQ(restart_delay(policy, 5), 700ms);
}

}  // namespace
}  // namespace livedub::orchestrator
