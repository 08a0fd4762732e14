#pragma once
// Silero VAD v5 (MIT; model file from scripts/fetch-onnxruntime) on ONNX Runtime. One
// instance per stream: the model is recurrent, its state carries from frame to frame.
#include <array>
#include <filesystem>
#include <vector>

#include "livedub/onnx.hpp"
#include "voice_detector.hpp"

namespace livedub::worker {

class SileroVad : public VoiceDetector {
 public:
  // Throws onnx::OnnxError when the file is missing or is not a Silero v5 model.
  explicit SileroVad(const std::filesystem::path& model);
  float speech_probability(std::span<const float> frame) override;
  void reset() override;
  std::string name() const override { return "silero-v5"; }
  void skip(std::span<const float> frame) override;

 private:
  static constexpr std::size_t kContext = 64;  // samples of the previous frame the model sees
  onnx::Session session_;
  std::vector<float> input_;                   // kContext + kFrameSamples
  std::array<float, 2 * 1 * 128> state_{};
  std::array<std::int64_t, 1> rate_{kSampleRate};
};

}  // namespace livedub::worker
