#pragma once
// The voice-preserving dub's reference clip (LIVEDUB_VOICE_CLONE): the first seconds of the
// speaker alone, gathered from the stream's own phrases. A phrase counts only when the detector
// found its speech and the speech stands well above what surrounds it (no music or crowd under
// it: that would become part of the cloned voice); its speech spans are kept, nothing else.
// "What surrounds it" is the fragment's own non-speech, or for a piece of a long phrase cut
// between words (all speech) the level last measured in a fragment near it on the stream.
// Plain logic, no I/O: the worker feeds it dubbed fragments and sends the clip.
#include <cstdint>
#include <vector>

#include "fragment_cutter.hpp"
#include "livedub/audio.hpp"

namespace livedub::worker {

struct SpeakerClipOptions {
  double target_s = 6.0;     // speech to gather before the clip is sent
  double min_span_s = 0.4;   // shorter spans (a cough, a word) are skipped
  double min_snr_db = 15.0;  // speech over its fragment's non-speech, in RMS
  double min_gap_s = 0.2;    // non-speech a fragment needs so the ratio means anything
  // A fragment with less non-speech is compared with the level measured last, if that fragment
  // lies within this many seconds of it on the stream (music may start under a long phrase).
  double background_valid_s = 10.0;
};

class SpeakerClip {
 public:
  explicit SpeakerClip(SpeakerClipOptions options = {}) : options_(options) {}

  // A fragment (interleaved PCM16, any channels) and its detected speech. Returns whether its
  // speech was taken.
  bool add(const AudioBuffer& fragment, const std::vector<SpeechSpan>& speech);
  bool ready() const;
  double seconds() const;
  // What was gathered: mono PCM16 at the fragments' rate (at most target_s).
  AudioBuffer clip() const;
  // Starts over (a clip the service could not use, or a new speaker).
  void reset();

 private:
  SpeakerClipOptions options_;
  int rate_ = 0;
  std::vector<std::int16_t> mono_;
  // The non-speech level (RMS, full scale 1) last measured, and where its fragment lay.
  double background_rms_ = -1.0;  // < 0: none yet
  std::int64_t background_begin_ = 0, background_end_ = 0;  // stream frames
};

}  // namespace livedub::worker
