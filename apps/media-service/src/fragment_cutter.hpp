#pragma once
// Cuts a timestamped PCM stream into fixed-length fragments on a sample-accurate timeline.
// Pure logic: no GStreamer, no clocks. Timestamps are nanoseconds on the worker's stream
// timeline (0 = the first media buffer the worker saw).
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "livedub/audio.hpp"

namespace livedub::worker {

// A stretch of speech inside a fragment, in frames from the fragment's first frame.
struct SpeechSpan {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  bool operator==(const SpeechSpan&) const = default;
};

struct Fragment {
  std::int64_t seq = 0;
  AudioBuffer audio;               // exactly frames_per_fragment frames (last one may be shorter)
  bool synthetic_silence = false;  // no input audio covered it at all (e.g. video-only input)
  // Where speech is. The fixed-length cutter cannot tell, so a fragment with input audio is
  // one span end to end; the speech segmenter sets the real phrases. Empty: nothing to dub.
  std::vector<SpeechSpan> speech;
};

struct CutterStats {
  std::int64_t gap_frames_filled = 0;   // silence inserted for timestamp gaps
  std::int64_t overlap_frames_dropped = 0;
};

class FragmentCutter {
 public:
  // A timestamp that disagrees with the running sample count by more than `jitter_tolerance_ns`
  // is treated as a gap (filled with silence) or an overlap (dropped); within it, samples are
  // taken as contiguous so tiny container rounding never shifts audio.
  FragmentCutter(AudioFormat format, std::int64_t frames_per_fragment,
                 std::int64_t jitter_tolerance_ns = 40'000'000);

  // Adds interleaved samples whose first frame has timestamp `pts_ns`. Returns completed fragments.
  std::vector<Fragment> push(std::int64_t pts_ns, std::span<const std::int16_t> samples);
  // Declares that the stream has progressed to `pts_ns` (e.g. from video) although no audio came:
  // closes fragments ending at or before it with silence.
  std::vector<Fragment> advance_to(std::int64_t pts_ns);
  // End of stream: returns the partial last fragment, if any.
  std::optional<Fragment> flush();

  // Next frame index the cutter expects; nullopt before the first audio.
  std::optional<std::int64_t> position_frames() const;
  const CutterStats& stats() const { return stats_; }
  std::int64_t frames_per_fragment() const { return frames_per_fragment_; }

 private:
  void append(std::span<const std::int16_t> samples, bool silent, std::vector<Fragment>& out);
  void append_silence(std::int64_t frames, std::vector<Fragment>& out);
  Fragment make_fragment();  // takes pending_

  AudioFormat format_;
  std::int64_t frames_per_fragment_;
  std::int64_t jitter_tolerance_frames_;
  std::optional<std::int64_t> next_frame_;  // timeline index of the next sample to append
  std::int64_t next_seq_ = 0;
  AudioBuffer pending_;
  std::int64_t pending_real_frames_ = 0;  // frames in pending_ that came from real input
  CutterStats stats_;
};

}  // namespace livedub::worker
