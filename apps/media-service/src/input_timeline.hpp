#pragma once
// Repairs jumps in the input's timestamps before anything else sees them. A publisher whose
// clock jumps (an encoder restart behind a relay, a wrapped or rebased timestamp, a spliced
// source) would otherwise freeze the output: +1 h looks like media due in an hour, so the
// worker waited an hour for it (measured: the output stopped for the rest of the stream).
//
// Each kind (audio, video) is checked against its own previous timestamp: a step beyond
// `max_forward` or back beyond `max_backward` is a discontinuity. That kind's timestamps are
// then offset so it continues where it left off (its last end). When the other kind jumps by
// about the same amount, it gets the same offset, so audio and video stay as aligned as the
// publisher had them. Pure logic: the worker passes timestamps in, gets repaired ones back.
#include <array>
#include <cstdint>
#include <optional>

namespace livedub::worker {

class InputTimeline {
 public:
  enum class Kind { audio = 0, video = 1 };
  struct Mapped {
    std::int64_t ts_ns = 0;
    std::optional<std::int64_t> jump_ns;  // set when this buffer was a discontinuity: the raw step
  };

  explicit InputTimeline(std::int64_t max_forward_ns = 5'000'000'000, std::int64_t max_backward_ns = 1'000'000'000)
      : max_forward_(max_forward_ns), max_backward_(max_backward_ns) {}

  // `duration_ns`: the buffer's duration when known (0 otherwise).
  Mapped map(Kind kind, std::int64_t raw_ns, std::int64_t duration_ns);

  // What is added to this kind's raw timestamps now (for a video buffer's PTS, say).
  std::int64_t offset(Kind kind) const { return track(kind).offset; }
  int discontinuities() const { return discontinuities_; }

 private:
  struct Track {
    bool seen = false;
    std::int64_t last_raw = 0;
    std::int64_t last_end = 0;  // mapped
    std::int64_t offset = 0;
  };
  struct Jump {
    Kind kind;
    std::int64_t raw_step;
    std::int64_t correction;
  };
  Track& track(Kind kind) { return tracks_[static_cast<std::size_t>(kind)]; }
  const Track& track(Kind kind) const { return tracks_[static_cast<std::size_t>(kind)]; }

  std::int64_t max_forward_;
  std::int64_t max_backward_;
  std::array<Track, 2> tracks_{};
  std::optional<Jump> last_jump_;
  int discontinuities_ = 0;
};

}  // namespace livedub::worker
