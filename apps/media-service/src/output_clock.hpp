#pragma once
// Constant-delay mapping from stream time to wall time: media with stream timestamp t is
// released to the output at anchor_wall + (t - anchor_ts) + delay. Video and audio share one
// OutputClock, so the output adds the same delay to both and keeps them in sync.
#include <chrono>
#include <cstdint>
#include <algorithm>
#include <optional>

namespace livedub::worker {

class OutputClock {
 public:
  using Clock = std::chrono::steady_clock;

  // `max_reanchor`: how far observe() may move the anchor in total (bounds a start-up burst).
  explicit OutputClock(std::chrono::nanoseconds delay,
                       std::chrono::nanoseconds max_reanchor = std::chrono::seconds(2))
      : delay_(delay), max_reanchor_(max_reanchor) {}

  // The first media buffer defines the timestamp origin; later calls are ignored.
  void anchor(Clock::time_point wall, std::int64_t stream_ts_ns) {
    if (!anchor_) anchor_ = Anchor{wall, stream_ts_ns, wall};
  }
  // When media with this relative timestamp would arrive from a real-time source that
  // delivered the first buffer on time. An input well ahead of this is faster than live.
  Clock::time_point real_time(std::int64_t relative_ts_ns) const {
    return anchor_->first_wall + std::chrono::nanoseconds(relative_ts_ns);
  }
  std::chrono::nanoseconds max_reanchor() const { return max_reanchor_; }
  // Media that arrives at `wall` with relative timestamp `relative_ts_ns` proves the input is
  // at least that fresh. A connection often starts with a burst of older media; until the
  // first output is released, the wall anchor moves earlier to the freshest arrival seen, so
  // the delay is counted from live, not from the burst. Returns how far it moved.
  std::chrono::nanoseconds observe(Clock::time_point wall, std::int64_t relative_ts_ns) {
    if (!anchor_ || locked_) return std::chrono::nanoseconds(0);
    const auto implied = std::max(wall - std::chrono::nanoseconds(relative_ts_ns),
                                  anchor_->first_wall - max_reanchor_);
    if (implied >= anchor_->wall) return std::chrono::nanoseconds(0);
    const auto shift = anchor_->wall - implied;
    anchor_->wall = implied;
    return shift;
  }
  // Called when output starts: from then on the mapping never changes.
  void lock() { locked_ = true; }
  bool locked() const { return locked_; }
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
    Clock::time_point first_wall;  // arrival of the first buffer; never moves
  };
  std::chrono::nanoseconds delay_;
  std::chrono::nanoseconds max_reanchor_;
  std::optional<Anchor> anchor_;
  bool locked_ = false;
};

}  // namespace livedub::worker
