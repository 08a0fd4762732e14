#include "sts/work_pool.hpp"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "sts/session_store.hpp"

namespace livedub::sts {
namespace {

using namespace std::chrono_literals;
using Clock = WorkPool::Clock;

// A job that blocks until released, to hold a worker busy deterministically.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};
  void wait() {
    ++entered;
    std::unique_lock lock(mutex);
    cv.wait(lock, [this] { return open; });
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
};

void wait_for(const std::function<bool()>& condition) {
  const auto deadline = Clock::now() + 5s;
  while (!condition() && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
}

TEST(WorkPool, RunsJobsAndReportsTheirExceptions) {
  WorkPool pool(2, 4);
  int value = 0;
  auto ok = pool.submit([&] { value = 42; }, Clock::now() + 5s);
  ASSERT_NE(ok, nullptr);
  ASSERT_TRUE(ok->wait_until(Clock::now() + 5s));
  EXPECT_NO_THROW(ok->get());
  EXPECT_EQ(value, 42);
  auto failing = pool.submit([] { throw std::runtime_error("boom"); }, Clock::now() + 5s);
  ASSERT_TRUE(failing->wait_until(Clock::now() + 5s));
  EXPECT_THROW(failing->get(), std::runtime_error);
}

TEST(WorkPool, AFullQueueRefusesAtOnce) {
  Gate gate;
  WorkPool pool(1, 2);
  auto running = pool.submit([&] { gate.wait(); }, Clock::now() + 10s);
  wait_for([&] { return gate.entered == 1; });
  EXPECT_EQ(pool.busy(), 1);
  auto queued1 = pool.submit([] {}, Clock::now() + 10s);
  auto queued2 = pool.submit([] {}, Clock::now() + 10s);
  ASSERT_NE(queued1, nullptr);
  ASSERT_NE(queued2, nullptr);
  EXPECT_EQ(pool.queued(), 2u);
  EXPECT_EQ(pool.submit([] {}, Clock::now() + 10s), nullptr);  // third in queue: refused
  gate.release();
  EXPECT_TRUE(queued2->wait_until(Clock::now() + 5s));
  EXPECT_NE(pool.submit([] {}, Clock::now() + 10s), nullptr);  // room again
}

TEST(WorkPool, JobsWhoseDeadlinePassedInTheQueueAreDroppedUnrun) {
  Gate gate;
  WorkPool pool(1, 4);
  auto running = pool.submit([&] { gate.wait(); }, Clock::now() + 10s);
  wait_for([&] { return gate.entered == 1; });
  bool ran = false;
  auto late = pool.submit([&] { ran = true; }, Clock::now() + 20ms);
  std::this_thread::sleep_for(50ms);
  gate.release();
  ASSERT_TRUE(late->wait_until(Clock::now() + 5s));
  EXPECT_THROW(late->get(), DeadlineExpired);
  EXPECT_FALSE(ran);
  EXPECT_GE(late->queued_for(), 40ms);
}

TEST(WorkPool, AbandonedJobsAreNotRun) {
  Gate gate;
  WorkPool pool(1, 4);
  auto running = pool.submit([&] { gate.wait(); }, Clock::now() + 10s);
  wait_for([&] { return gate.entered == 1; });
  bool ran = false;
  auto abandoned = pool.submit([&] { ran = true; }, Clock::now() + 10s);
  abandoned->abandon();
  gate.release();
  ASSERT_TRUE(abandoned->wait_until(Clock::now() + 5s));
  EXPECT_THROW(abandoned->get(), DeadlineExpired);
  EXPECT_FALSE(ran);
}

TEST(WorkPool, WorkersRunInParallel) {
  Gate gate;
  WorkPool pool(3, 0);  // no queue: only as many jobs as workers
  std::vector<std::unique_ptr<WorkPool::Ticket>> tickets;
  for (int i = 0; i < 3; ++i) {
    tickets.push_back(pool.submit([&] { gate.wait(); }, Clock::now() + 10s));
    ASSERT_NE(tickets.back(), nullptr);
    wait_for([&] { return gate.entered == i + 1; });
  }
  EXPECT_EQ(gate.entered, 3);
  EXPECT_EQ(pool.submit([] {}, Clock::now() + 10s), nullptr);
  gate.release();
  for (auto& t : tickets) EXPECT_TRUE(t->wait_until(Clock::now() + 5s));
}

TEST(RetryAfter, CoversTheBacklogPerWorker) {
  EXPECT_EQ(retry_after_seconds(0, 0, 2, 1.0), 1);
  EXPECT_EQ(retry_after_seconds(8, 2, 2, 1.5), 8);  // 10 jobs * 1.5 s / 2 workers
  EXPECT_EQ(retry_after_seconds(3, 1, 1, 0.2), 1);
  EXPECT_EQ(retry_after_seconds(5, 1, 0, 1.0), 1);
}

// --- sessions -----------------------------------------------------------------------------

FragmentRecord fragment(std::int64_t sequence, const std::string& transcript) {
  FragmentRecord f;
  f.sequence = sequence;
  f.transcript = transcript;
  f.translation = "es:" + transcript;
  return f;
}

TEST(SessionStore, ContextIsTheDirectPredecessor) {
  SessionStore store(60s);
  const auto t0 = SessionStore::Clock::now();
  EXPECT_FALSE(store.context_for("a", 1, t0).has_previous);
  store.record("a", fragment(1, "hello there"), t0);
  auto context = store.context_for("a", 2, t0);
  EXPECT_TRUE(context.has_previous);
  EXPECT_EQ(context.previous_sequence, 1);
  EXPECT_EQ(context.previous_transcript, "hello there");
  EXPECT_EQ(context.previous_translation, "es:hello there");
  EXPECT_FALSE(store.context_for("a", 3, t0).has_previous);  // gap: fragment 2 missing
  EXPECT_FALSE(store.context_for("b", 2, t0).has_previous);  // other stream
}

TEST(SessionStore, SessionsExpireAfterTheTtl) {
  SessionStore store(10s);
  const auto t0 = SessionStore::Clock::now();
  store.record("a", fragment(1, "x"), t0);
  EXPECT_TRUE(store.fragments("a", t0 + 9s).has_value());
  store.record("a", fragment(2, "y"), t0 + 9s);  // activity keeps it alive
  EXPECT_TRUE(store.fragments("a", t0 + 18s).has_value());
  EXPECT_FALSE(store.fragments("a", t0 + 20s).has_value());
  EXPECT_EQ(store.session_count(t0 + 20s), 0u);
}

TEST(SessionStore, BoundsSessionsAndFragmentsAndKeepsSequenceOrder) {
  SessionStore store(60s, /*max_sessions=*/2, /*fragments_per_session=*/3);
  const auto t0 = SessionStore::Clock::now();
  for (std::int64_t seq : {5, 3, 4, 1, 2}) store.record("a", fragment(seq, std::to_string(seq)), t0);
  auto fragments = *store.fragments("a", t0);
  ASSERT_EQ(fragments.size(), 3u);
  EXPECT_EQ(fragments[0].sequence, 3);
  EXPECT_EQ(fragments[2].sequence, 5);
  store.record("b", fragment(1, "b"), t0 + 1s);
  store.record("c", fragment(1, "c"), t0 + 2s);  // evicts the least recently seen: "a"
  EXPECT_FALSE(store.fragments("a", t0 + 2s).has_value());
  EXPECT_TRUE(store.fragments("b", t0 + 2s).has_value());
  EXPECT_TRUE(store.fragments("c", t0 + 2s).has_value());
}

}  // namespace
}  // namespace livedub::sts
