#pragma once
// Constant-delay mapping from stream time to wall time: media with stream timestamp t is
// released to the output at anchor_wall + (t - anchor_ts) + delay. Video and audio share one
// OutputClock, so the output adds the same delay to both and keeps them in sync.
#include <chrono>
#include <cstdint>
#include <optional>

namespace livedub::worker {

class OutputClock {
 public:
  using Clock = std::chrono::steady_clock;

  explicit OutputClock(std::chrono::nanoseconds delay) : delay_(delay) {}

  // The first media buffer defines the origin; later calls are ignored.
  void anchor(Clock::time_point wall, std::int64_t stream_ts_ns) {
    if (!anchor_) anchor_ = Anchor{wall, stream_ts_ns};
  }
  bool anchored() const { return anchor_.has_value(); }
  // Stream timestamp relative to the origin (what the output carries).
  std::int64_t relative_ns(std::int64_t stream_ts_ns) const { return stream_ts_ns - anchor_->ts_ns; }
  // When output media with relative timestamp `relative_ts_ns` is due.
  Clock::time_point due(std::int64_t relative_ts_ns) const {
    return anchor_->wall + std::chrono::nanoseconds(relative_ts_ns) + delay_;
  }
  std::chrono::nanoseconds delay() const { return delay_; }

 private:
  struct Anchor {
    Clock::time_point wall;
    std::int64_t ts_ns;
  };
  std::chrono::nanoseconds delay_;
  std::optional<Anchor> anchor_;
};

}  // namespace livedub::worker
