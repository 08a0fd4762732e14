#pragma once
// A fixed number of engine worker threads fed from a bounded queue. A full queue refuses work
// at once (the service answers 503 + Retry-After) instead of buffering without limit; a job
// whose deadline has passed by the time a worker is free is dropped unrun.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "sts/engine.hpp"  // DeadlineExpired

namespace livedub::sts {

class WorkPool {
 public:
  using Clock = std::chrono::steady_clock;

  // Ticket for a submitted job: wait for it, or give up on it.
  class Ticket {
   public:
    // True once the job ran (or was dropped) and its outcome is available.
    bool wait_until(Clock::time_point deadline);
    // Rethrows the job's exception (DeadlineExpired when dropped). Only after wait_until -> true.
    void get();
    // The caller stops waiting: a job still queued is dropped unrun.
    void abandon();
    // How long the job waited in the queue before a worker took it (0 until then).
    std::chrono::milliseconds queued_for() const;

   private:
    friend class WorkPool;
    struct State;
    std::shared_ptr<State> state_;
  };

  WorkPool(int workers, std::size_t queue_capacity);
  ~WorkPool();  // finishes running jobs; queued ones are failed with DeadlineExpired
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `job` unless queue_capacity jobs already wait with no idle worker for them (then
  // returns nullptr). Capacity 0: accepted only when a worker is free.
  // Jobs report their result through their own captures; an exception they throw is kept.
  std::unique_ptr<Ticket> submit(std::function<void()> job, Clock::time_point deadline);

  int workers() const { return static_cast<int>(threads_.size()); }
  std::size_t queue_capacity() const { return capacity_; }
  std::size_t queued() const;
  int busy() const;

 private:
  void run();

  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Ticket::State>> queue_;
  int busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Seconds a client refused for overload should wait: the time the pool needs to work off
// what is queued and running, at `seconds_per_job` each; at least 1.
int retry_after_seconds(std::size_t queued, int busy, int workers, double seconds_per_job);

}  // namespace livedub::sts
