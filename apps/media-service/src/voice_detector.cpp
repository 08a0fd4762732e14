#include "voice_detector.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#if LIVEDUB_HAVE_ONNXRUNTIME
#include "silero_vad.hpp"
#endif

namespace livedub::worker {
namespace {
// Stream-rate frames of history resampled along with each block: covers the anti-aliasing
// filter's reach at every supported rate, so each block's 16 kHz frame is seamless.
constexpr std::int64_t kHistoryMs = 4;
}  // namespace

float EnergyDetector::speech_probability(std::span<const float> frame) {
  double sum = 0;
  for (float s : frame) sum += static_cast<double>(s) * s;
  const double level = frame.empty() ? 0 : std::sqrt(sum / static_cast<double>(frame.size()));
  return 20.0 * std::log10(std::max(level, 1e-9)) > threshold_dbfs_ ? 1.0f : 0.0f;
}

SparseDetector::SparseDetector(std::unique_ptr<VoiceDetector> inner, int stride, int quiet_frames, float wake)
    : inner_(std::move(inner)), stride_(std::max(1, stride)), quiet_frames_(std::max(0, quiet_frames)), wake_(wake) {}

float SparseDetector::speech_probability(std::span<const float> frame) {
  if (quiet_ >= quiet_frames_ && ++passed_over_ < stride_) {
    inner_->skip(frame);
    return last_;
  }
  passed_over_ = 0;
  last_ = inner_->speech_probability(frame);
  ++scored_;
  quiet_ = last_ < wake_ ? quiet_ + 1 : 0;
  return last_;
}

void SparseDetector::reset() {
  inner_->reset();
  quiet_ = passed_over_ = 0;
  last_ = 0;
}

std::int64_t detector_block_frames(int sample_rate) {
  return (static_cast<std::int64_t>(sample_rate) * static_cast<std::int64_t>(VoiceDetector::kFrameSamples) +
          VoiceDetector::kSampleRate / 2) /
         VoiceDetector::kSampleRate;
}

BlockAnalyzer::BlockAnalyzer(VoiceDetector& detector, AudioFormat format)
    : detector_(detector), format_(format), frame_(VoiceDetector::kFrameSamples) {}

void BlockAnalyzer::reset() {
  history_.clear();
  detector_.reset();
}

BlockInfo BlockAnalyzer::analyze(std::span<const std::int16_t> block) {
  BlockInfo info;
  info.rms = rms(block);
  auto mono = downmix_to_mono(block, format_.channels);
  const auto history_frames = static_cast<std::int64_t>(format_.sample_rate) * kHistoryMs / 1000;
  std::vector<std::int16_t> padded(static_cast<std::size_t>(history_frames) - std::min(history_.size(), static_cast<std::size_t>(history_frames)), 0);
  padded.insert(padded.end(), history_.begin(), history_.end());
  padded.insert(padded.end(), mono.begin(), mono.end());
  auto resampled = resample_mono(padded, format_.sample_rate, VoiceDetector::kSampleRate);
  const auto skip = static_cast<std::size_t>(history_frames * VoiceDetector::kSampleRate / format_.sample_rate);
  for (std::size_t i = 0; i < VoiceDetector::kFrameSamples; ++i) {
    const auto at = skip + i;
    frame_[i] = at < resampled.size() ? static_cast<float>(resampled[at]) / 32768.0f : 0.0f;
  }
  const auto keep = std::min<std::size_t>(mono.size(), static_cast<std::size_t>(history_frames));
  history_.assign(mono.end() - static_cast<std::ptrdiff_t>(keep), mono.end());
  info.speech_probability = detector_.speech_probability(frame_);
  return info;
}

float sparse_wake(float speech_floor) { return std::min(SparseDetector::kWake, speech_floor); }

std::unique_ptr<VoiceDetector> make_voice_detector(const std::string& kind, const std::string& model, int stride,
                                                   float speech_floor) {
  if (kind == "off") return nullptr;
  if (kind == "energy") return std::make_unique<EnergyDetector>();
  if (kind == "silero") {
#if LIVEDUB_HAVE_ONNXRUNTIME
    try {
      auto silero = std::make_unique<SileroVad>(model);
      if (stride > 1) {
        return std::make_unique<SparseDetector>(std::move(silero), stride, SparseDetector::kQuietFrames, sparse_wake(speech_floor));
      }
      return silero;
    } catch (const onnx::OnnxError& e) {
      throw std::runtime_error(std::string("LIVEDUB_VAD_MODEL: ") + e.what());
    }
#else
    throw std::runtime_error("LIVEDUB_VAD=silero: this build has no ONNX Runtime (scripts/fetch-onnxruntime)");
#endif
  }
  throw std::runtime_error("LIVEDUB_VAD: unknown detector '" + kind + "'");
}

}  // namespace livedub::worker
