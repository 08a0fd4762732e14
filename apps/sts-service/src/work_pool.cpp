#include "sts/work_pool.hpp"

#include <algorithm>
#include <cmath>

namespace livedub::sts {

struct WorkPool::Ticket::State {
  std::function<void()> job;
  Clock::time_point deadline;
  Clock::time_point submitted = Clock::now();
  std::mutex mutex;
  std::condition_variable done_signal;
  bool done = false;
  bool abandoned = false;
  std::chrono::milliseconds queued_for{0};
  std::exception_ptr error;

  void finish(std::exception_ptr e) {
    {
      std::lock_guard lock(mutex);
      error = std::move(e);
      done = true;
      job = nullptr;  // release captures (buffers) as soon as possible
    }
    done_signal.notify_all();
  }
};

bool WorkPool::Ticket::wait_until(Clock::time_point deadline) {
  std::unique_lock lock(state_->mutex);
  return state_->done_signal.wait_until(lock, deadline, [this] { return state_->done; });
}

void WorkPool::Ticket::get() {
  std::lock_guard lock(state_->mutex);
  if (state_->error) std::rethrow_exception(state_->error);
}

void WorkPool::Ticket::abandon() {
  std::lock_guard lock(state_->mutex);
  state_->abandoned = true;
}

std::chrono::milliseconds WorkPool::Ticket::queued_for() const {
  std::lock_guard lock(state_->mutex);
  return state_->queued_for;
}

WorkPool::WorkPool(int workers, std::size_t queue_capacity) : capacity_(queue_capacity) {
  for (int i = 0; i < std::max(1, workers); ++i) threads_.emplace_back([this] { run(); });
}

WorkPool::~WorkPool() {
  std::deque<std::shared_ptr<Ticket::State>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  wake_.notify_all();
  for (auto& state : dropped) {
    state->finish(std::make_exception_ptr(DeadlineExpired("service shutting down")));
  }
  for (auto& t : threads_) t.join();
}

std::unique_ptr<WorkPool::Ticket> WorkPool::submit(std::function<void()> job, Clock::time_point deadline) {
  auto state = std::make_shared<Ticket::State>();
  state->job = std::move(job);
  state->deadline = deadline;
  {
    std::lock_guard lock(mutex_);
    // Jobs an idle worker is about to take are not waiting: they do not count against capacity.
    const auto idle = static_cast<std::size_t>(static_cast<int>(threads_.size()) - busy_);
    if (stopping_ || queue_.size() >= capacity_ + idle) return nullptr;
    queue_.push_back(state);
  }
  wake_.notify_one();
  auto ticket = std::make_unique<Ticket>();
  ticket->state_ = std::move(state);
  return ticket;
}

std::size_t WorkPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

int WorkPool::busy() const {
  std::lock_guard lock(mutex_);
  return busy_;
}

void WorkPool::run() {
  for (;;) {
    std::shared_ptr<Ticket::State> state;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      state = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    bool skip = false;
    std::function<void()> job;
    {
      std::lock_guard lock(state->mutex);
      const auto now = Clock::now();
      state->queued_for = std::chrono::duration_cast<std::chrono::milliseconds>(now - state->submitted);
      skip = state->abandoned || now >= state->deadline;
      job = std::move(state->job);
    }
    if (skip) {
      state->finish(std::make_exception_ptr(DeadlineExpired("deadline passed while queued")));
    } else {
      try {
        job();
        state->finish(nullptr);
      } catch (...) {
        state->finish(std::current_exception());
      }
    }
    std::lock_guard lock(mutex_);
    --busy_;
  }
}

int retry_after_seconds(std::size_t queued, int busy, int workers, double seconds_per_job) {
  if (workers <= 0 || !(seconds_per_job > 0)) return 1;
  const double backlog = static_cast<double>(queued) + static_cast<double>(busy);
  return std::max(1, static_cast<int>(std::ceil(backlog * seconds_per_job / workers)));
}

}  // namespace livedub::sts
