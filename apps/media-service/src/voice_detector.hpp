#pragma once
// Voice-activity detection for the stream worker: a detector scores 32 ms frames of 16 kHz
// mono audio (Silero VAD v5's native frame), and BlockAnalyzer turns the worker's stream-rate
// audio blocks into those frames. Detectors sit behind one small interface so Silero (ONNX),
// the energy baseline and test doubles are interchangeable.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "livedub/audio.hpp"

namespace livedub::worker {

class VoiceDetector {
 public:
  static constexpr int kSampleRate = 16000;
  static constexpr std::size_t kFrameSamples = 512;  // 32 ms

  virtual ~VoiceDetector() = default;
  // Probability in [0, 1] that `frame` (kFrameSamples floats in [-1, 1], consecutive with the
  // previous call's frame) holds speech.
  virtual float speech_probability(std::span<const float> frame) = 0;
  // Forget the stream so far (a new stream, or a gap in the input).
  virtual void reset() = 0;
  virtual std::string name() const = 0;
  // A frame passed over without a score (SparseDetector): a detector that reads across frames
  // keeps what it needs of it, so the next scored frame follows on without a seam.
  virtual void skip(std::span<const float> frame) { (void)frame; }
};

// Scores only every `stride`-th frame once the detector it wraps has heard no speech in
// `quiet_frames` scored frames in a row (below `wake`), every frame again as soon as a scored
// one reaches `wake`; a frame passed over repeats the last score. Why: the learned detector is
// most of the VAD's CPU, and most of a stream's audio is music, silence or pauses.
class SparseDetector : public VoiceDetector {
 public:
  static constexpr int kQuietFrames = 8;   // 256 ms below `wake` before frames are passed over
  static constexpr float kWake = 0.1f;     // a score at or above this brings back every frame
  SparseDetector(std::unique_ptr<VoiceDetector> inner, int stride, int quiet_frames = kQuietFrames, float wake = kWake);
  float speech_probability(std::span<const float> frame) override;
  void reset() override;
  std::string name() const override { return inner_->name(); }
  long scored_frames() const { return scored_; }  // frames the wrapped detector scored

 private:
  std::unique_ptr<VoiceDetector> inner_;
  int stride_, quiet_frames_;
  float wake_;
  int quiet_ = 0;          // scored frames below wake_, in a row
  int passed_over_ = 0;    // frames since the last scored one
  float last_ = 0;
  long scored_ = 0;
};

// Baseline: loudness alone (speech probability 1 above `threshold_dbfs`). It cannot tell
// speech from music; it is here as the reference the learned detector is measured against,
// and as the detector of builds without ONNX Runtime.
class EnergyDetector : public VoiceDetector {
 public:
  explicit EnergyDetector(double threshold_dbfs = -40.0) : threshold_dbfs_(threshold_dbfs) {}
  float speech_probability(std::span<const float> frame) override;
  void reset() override {}
  std::string name() const override { return "energy"; }

 private:
  double threshold_dbfs_;
};

// One block of stream audio, classified.
struct BlockInfo {
  float speech_probability = 0;
  double rms = 0;  // of the block at stream rate, all channels, [0, 1] of full scale
};

// The stream-rate block that maps onto one detector frame: round(rate * 32 ms) frames.
std::int64_t detector_block_frames(int sample_rate);

// Feeds consecutive stream-rate blocks (any rate and channel count) to a detector: downmix,
// anti-aliased resampling to 16 kHz with enough history that block edges leave no seams.
class BlockAnalyzer {
 public:
  BlockAnalyzer(VoiceDetector& detector, AudioFormat format);
  BlockInfo analyze(std::span<const std::int16_t> block);
  // A block with no real audio (a gap, video-only input): not shown to the detector.
  void reset();

 private:
  VoiceDetector& detector_;
  AudioFormat format_;
  std::vector<std::int16_t> history_;  // the previous block's last frames (mono, stream rate)
  std::vector<float> frame_;
};

}  // namespace livedub::worker

namespace livedub::worker {
// The detector LIVEDUB_VAD names: "silero" (model file `model`; scored every `stride`-th block
// outside speech, SparseDetector) or "energy"; nullptr for "off". `speech_floor`: the lowest
// score the segmenter still takes as speech (its offset threshold); the detector stays dense
// while scores reach it (sparse_wake). Throws std::runtime_error naming the model file when it
// cannot be loaded.
std::unique_ptr<VoiceDetector> make_voice_detector(const std::string& kind, const std::string& model, int stride = 1,
                                                   float speech_floor = SparseDetector::kWake);
// The score that wakes a SparseDetector: kWake, or the segmenter's floor when that is lower
// (LIVEDUB_VAD_THRESHOLD under 0.1), so no block it would take as speech is passed over.
float sparse_wake(float speech_floor);
}  // namespace livedub::worker
