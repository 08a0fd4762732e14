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
#include <string>
#include <vector>

#include "fragment_cutter.hpp"

namespace livedub::worker {

// What takes the voice out of the bed under speech, for LIVEDUB_BED_MODE=reduce (VoiceReducer,
// spectral, CPU) or =separator (OnnxSeparator, a model the deployment supplies).
class BedVoiceRemover {
 public:
  virtual ~BedVoiceRemover() = default;
  // `weight[n]` in [0, 1]: how much of frame n is the voice-free signal (1 under speech, 0
  // where nobody speaks; ramps between). Returns the blend, same format and frames as `audio`.
  // `alongside`: buffers of the same length (e.g. the components of `audio`, for measuring)
  // that get exactly the same treatment, in place, where the method allows (else unchanged).
  virtual AudioBuffer process(const AudioBuffer& audio, std::span<const float> weight,
                              std::span<AudioBuffer* const> alongside = {}) = 0;
};

struct ReduceConfig {
  double headroom_db = 3.0;      // a bin may exceed the background by this before it is reduced
  double floor_db = -30.0;       // never reduced by more than this
  double background_seconds = 3.0;  // time constant of the background estimate
};

class VoiceReducer final : public BedVoiceRemover {
 public:
  explicit VoiceReducer(AudioFormat format, ReduceConfig config = {});
  ~VoiceReducer();
  VoiceReducer(const VoiceReducer&) = delete;
  VoiceReducer& operator=(const VoiceReducer&) = delete;

  // Frames with weight 0 teach the background; `alongside` buffers get the same gains and
  // teach it nothing.
  AudioBuffer process(const AudioBuffer& audio, std::span<const float> weight,
                      std::span<AudioBuffer* const> alongside = {}) override;
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

namespace livedub::worker {
// The remover LIVEDUB_BED_MODE needs: VoiceReducer (reduce), OnnxSeparator over `separator_model`
// (separator), nullptr otherwise. Throws std::runtime_error naming LIVEDUB_BED_SEPARATOR_MODEL
// when the model cannot be used.
enum class BedMode;
std::unique_ptr<BedVoiceRemover> make_voice_remover(BedMode mode, AudioFormat format, const std::string& separator_model,
                                                    int separator_rate);
}  // namespace livedub::worker
