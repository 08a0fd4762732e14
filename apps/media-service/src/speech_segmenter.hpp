#pragma once
// Cuts the stream into fragments at pauses, from per-block voice-activity scores. Pure logic:
// blocks in, fragments out, no clocks. A fragment is one phrase (or several short ones) plus
// the pause after it (up to slot_pause, the room a longer dub may use), between min_fragment
// and max_fragment long; a phrase longer than max_fragment is cut at the quietest block
// boundary near the maximum. Audio with no speech comes out as fragments without speech
// spans: it is never sent to STS.
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "fragment_cutter.hpp"
#include "voice_detector.hpp"

namespace livedub::worker {

struct SegmenterConfig {
  float onset_threshold = 0.5f;    // a block at or above this starts speech
  float offset_threshold = 0.35f;  // speech continues while blocks stay at or above this
  std::chrono::milliseconds min_speech{250};  // shorter bursts (a cough, a click) are not speech
  std::chrono::milliseconds min_pause{300};   // a pause at least this long ends a phrase
  std::chrono::milliseconds pre_roll{200};    // audio before an onset kept with the phrase
  std::chrono::milliseconds slot_pause{800};  // pause after a phrase the fragment (and dub) may use
  std::chrono::milliseconds min_fragment{1000};
  std::chrono::milliseconds max_fragment{4000};
  std::chrono::milliseconds max_cut_search{1000};  // how far back from the maximum a cut may go
  std::chrono::milliseconds idle_flush{1000};      // speechless audio is released in pieces of this
};

// One analysis block: exactly detector_block_frames() frames (the last may be shorter).
struct AnalyzedBlock {
  AudioBuffer audio;
  BlockInfo info;
  bool synthetic = false;  // no input audio covered it (gap, video-only input)
};

class SpeechSegmenter {
 public:
  // `block_frames`: frames per analysis block at the stream rate; `sample_rate` converts times.
  SpeechSegmenter(SegmenterConfig config, AudioFormat format, std::int64_t block_frames);

  std::vector<Fragment> push(AnalyzedBlock block);
  // End of input: whatever is held, with the phrase in progress closed.
  std::vector<Fragment> flush();

  // Frames held back (not yet in a fragment): bounded by max_fragment.
  std::int64_t held_frames() const;

 private:
  enum class Phase { idle, speech, pause };
  std::int64_t blocks(std::chrono::milliseconds duration) const;
  // Emits pending_[0, count) as one fragment with the given spans (block indices).
  void emit(std::size_t count, std::vector<Fragment>& out);
  void close_phrase(std::size_t end_block);  // adds [phrase_start_, end_block) if long enough

  SegmenterConfig config_;
  AudioFormat format_;
  std::int64_t block_frames_;
  std::deque<AnalyzedBlock> pending_;
  std::vector<std::pair<std::size_t, std::size_t>> spans_;  // closed phrases in pending_ (blocks)
  Phase phase_ = Phase::idle;
  std::size_t phrase_start_ = 0;
  std::int64_t last_speech_ = -1;  // index in pending_ of the phrase's last speech block
  std::size_t pause_start_ = 0;
  bool phrase_continues_ = false;  // the phrase began in an earlier fragment (cut at max)
  std::int64_t next_seq_ = 0;
};

}  // namespace livedub::worker
