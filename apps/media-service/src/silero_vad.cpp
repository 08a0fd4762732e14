#include "silero_vad.hpp"

#include <algorithm>

namespace livedub::worker {

SileroVad::SileroVad(const std::filesystem::path& model)
    : session_(model), input_(kContext + kFrameSamples, 0.0f) {
  const std::vector<std::string> inputs{"input", "state", "sr"};
  const std::vector<std::string> outputs{"output", "stateN"};
  if (session_.input_names() != inputs || session_.output_names() != outputs) {
    throw onnx::OnnxError(model.string() + " is not a Silero VAD v5 model (expected inputs input, state, sr and "
                          "outputs output, stateN)");
  }
}

void SileroVad::reset() {
  state_.fill(0.0f);
  std::fill(input_.begin(), input_.end(), 0.0f);
}

void SileroVad::skip(std::span<const float> frame) {
  // Only the context carries: the next frame is preceded by this one's last samples, as heard.
  const auto n = std::min(frame.size(), kContext);
  std::copy(frame.end() - static_cast<std::ptrdiff_t>(n), frame.end(), input_.end() - static_cast<std::ptrdiff_t>(n));
}

float SileroVad::speech_probability(std::span<const float> frame) {
  // v5 expects each 512-sample frame preceded by the last 64 samples of the one before.
  std::copy(input_.end() - kContext, input_.end(), input_.begin());
  std::fill(input_.begin() + kContext, input_.end(), 0.0f);
  std::copy_n(frame.begin(), std::min(frame.size(), kFrameSamples), input_.begin() + kContext);
  auto audio = onnx::Tensor::floats(input_, {1, static_cast<std::int64_t>(input_.size())});
  auto state = onnx::Tensor::floats(state_, {2, 1, 128});
  auto rate = onnx::Tensor::int64s(rate_, {1});
  auto out = session_.run({&audio, &state, &rate});
  const auto next_state = out[1].to_floats();
  std::copy_n(next_state.begin(), std::min(next_state.size(), state_.size()), state_.begin());
  const auto probability = out[0].to_floats();
  return probability.empty() ? 0.0f : probability[0];
}

}  // namespace livedub::worker
