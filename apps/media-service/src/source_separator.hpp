#pragma once
// LIVEDUB_BED_MODE=separator: under speech, the bed is the background stem of a neural source
// separator that the deployment supplies as an ONNX model (none ships with livedub).
// Model contract: one float32 input [1, channels, samples] (audio in [-1, 1] at
// LIVEDUB_BED_SEPARATOR_RATE), whose first output is the background (music, ambience) stem of
// the same shape. The model runs only on fragments with speech.
#include <filesystem>

#include "livedub/onnx.hpp"
#include "voice_reducer.hpp"

namespace livedub::worker {

class OnnxSeparator final : public BedVoiceRemover {
 public:
  // Throws onnx::OnnxError naming the file when it cannot be loaded or breaks the contract.
  OnnxSeparator(const std::filesystem::path& model, int model_rate);
  AudioBuffer process(const AudioBuffer& audio, std::span<const float> weight,
                      std::span<AudioBuffer* const> alongside = {}) override;
  // The background stem of `audio` (same format and frames).
  AudioBuffer separate(const AudioBuffer& audio);

 private:
  onnx::Session session_;
  int model_rate_;
};

}  // namespace livedub::worker
