#pragma once
// Cuts the stream into fragments at pauses, from per-block voice-activity scores. Pure logic:
// blocks in, fragments out, no clocks. A fragment is one phrase (or several short ones) plus
// the pause after it (up to slot_pause, the room a longer dub may use), between min_fragment
// and max_fragment long; a phrase longer than max_fragment is cut near the maximum between two
// words (set_word_gaps), or at the quietest block boundary when no word timings are known. Audio with no speech comes out as fragments without speech
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
  // The output delay is at least this plus what is left once a phrase ends (the worker streams
  // the phrase as it is spoken): 2.5 s keeps a CPU engine under 4 s behind live.
  std::chrono::milliseconds max_fragment{2500};
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
  // The sequence number the held audio will have once emitted, while it holds speech (a
  // phrase began and its fragment is not out yet); nullopt while only silence or music is held.
  // What the worker streams to STS as the speaker talks.
  std::optional<std::int64_t> open_fragment_seq() const;
  // The held audio from `from_frame` on (frames from the held fragment's first frame).
  AudioBuffer held_audio(std::int64_t from_frame) const;
  // Where the recogniser heard the held fragment `seq`'s words end and the next begin (frames
  // from its first frame; begin == end where two words touch). A phrase longer than
  // max_fragment is then cut in the quietest such pause (a block or longer) of the search window
  // instead of at the quietest block anywhere, which may lie inside a word.
  void set_word_gaps(std::int64_t seq, std::vector<SpeechSpan> gaps);
  // How the last phrases longer than max_fragment were cut (for logs and benchmarks).
  struct CutStats {
    std::int64_t at_word_gap = 0;
    std::int64_t at_quietest_block = 0;
  };
  const CutStats& cut_stats() const { return cut_stats_; }

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
  std::vector<SpeechSpan> word_gaps_;  // of fragment next_seq_, frames from pending_'s start
  CutStats cut_stats_;
  // The quietest block boundary (index into pending_) at a word gap in [first, n); nullopt
  // when none is.
  std::optional<std::size_t> word_gap_cut(std::size_t first, std::size_t n) const;
};

}  // namespace livedub::worker
