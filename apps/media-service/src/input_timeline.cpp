#include "input_timeline.hpp"

#include <algorithm>
#include <cstdlib>

namespace livedub::worker {

namespace {
// A frame's worth, for buffers without a duration: the next one starts after the last.
constexpr std::int64_t kDefaultStepNs = 20'000'000;
}  // namespace

InputTimeline::Mapped InputTimeline::map(Kind kind, std::int64_t raw_ns, std::int64_t duration_ns) {
  auto& t = track(kind);
  Mapped out;
  if (!t.seen) {
    // A kind that starts after the other one jumped starts on the repaired timeline too.
    if (last_jump_ && last_jump_->kind != kind) t.offset = last_jump_->correction;
    t.seen = true;
  } else {
    const auto step = raw_ns - t.last_raw;
    if (step > max_forward_ || step < -max_backward_) {
      out.jump_ns = step;
      ++discontinuities_;
      const bool other_jumped_alike = last_jump_ && last_jump_->kind != kind &&
                                      std::llabs(last_jump_->raw_step - step) <= max_forward_;
      if (other_jumped_alike) {
        t.offset = last_jump_->correction;  // the same repair keeps A/V where the publisher had them
        last_jump_.reset();
      } else {
        // Continue where this kind left off.
        t.offset = t.last_end - raw_ns;
        last_jump_ = Jump{kind, step, t.offset};
      }
    }
  }
  t.last_raw = raw_ns;
  out.ts_ns = raw_ns + t.offset;
  t.last_end = out.ts_ns + (duration_ns > 0 ? duration_ns : kDefaultStepNs);
  return out;
}

}  // namespace livedub::worker
