#pragma once
// The bed's voice-reduction stage (LIVEDUB_BED_MODE=reduce): under speech, every frequency bin
// that rises above the background's own level (learned where nobody speaks) is pulled back to
// it, so the speaker's harmonics go and music or ambience at its usual level stays. STFT with
// FFTW (1024-point sqrt-Hann frames, 50 % overlap, perfect reconstruction where nothing is
// reduced). The same gains apply to every channel, so a stereo bed keeps its image.
// Stateful (the background spectrum carries across fragments): one per stream, used in order.
#include <array>
#include <memory>
#include <span>
#include <vector>

#include "fragment_cutter.hpp"

namespace livedub::worker {

struct ReduceConfig {
  double headroom_db = 3.0;      // a bin may exceed the background by this before it is reduced
  double floor_db = -30.0;       // never reduced by more than this
  double background_seconds = 3.0;  // time constant of the background estimate
};

class VoiceReducer {
 public:
  explicit VoiceReducer(AudioFormat format, ReduceConfig config = {});
  ~VoiceReducer();
  VoiceReducer(const VoiceReducer&) = delete;
  VoiceReducer& operator=(const VoiceReducer&) = delete;

  // `weight[n]` in [0, 1]: how much of frame n is the reduced signal (1 under speech, 0 where
  // nobody speaks; ramps between). Frames with weight 0 teach the background. Returns the
  // blend, same format and frames as `audio`.
  // `alongside`: buffers of the same length (e.g. the components of `audio`, for measuring)
  // that get exactly the same gains and blend, in place; they teach the background nothing.
  AudioBuffer process(const AudioBuffer& audio, std::span<const float> weight,
                      std::span<AudioBuffer* const> alongside = {});
  // Frames of background learned so far (0: nothing to compare with yet, nothing is reduced).
  long background_frames() const { return learned_; }

 private:
  struct Fft;
  AudioFormat format_;
  ReduceConfig config_;
  std::unique_ptr<Fft> fft_;
  std::vector<double> background_;  // mean power per bin where nobody speaks
  long learned_ = 0;
};

}  // namespace livedub::worker
