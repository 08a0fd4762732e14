#include "source_separator.hpp"

#include <algorithm>
#include <cmath>

namespace livedub::worker {

OnnxSeparator::OnnxSeparator(const std::filesystem::path& model, int model_rate)
    : session_(model), model_rate_(model_rate) {
  if (session_.input_names().size() != 1 || session_.output_names().empty()) {
    throw onnx::OnnxError(model.string() + " does not follow the separator contract: one input [1, channels, samples], "
                          "the background stem as the first output");
  }
}

AudioBuffer OnnxSeparator::separate(const AudioBuffer& audio) {
  const int channels = audio.format.channels;
  const int rate = audio.format.sample_rate;
  // Planar float at the model's rate.
  std::vector<std::vector<std::int16_t>> planar(static_cast<std::size_t>(channels));
  for (std::int64_t n = 0; n < audio.frames(); ++n) {
    for (int c = 0; c < channels; ++c) planar[static_cast<std::size_t>(c)].push_back(audio.samples[static_cast<std::size_t>(n * channels + c)]);
  }
  std::vector<float> input;
  std::int64_t model_frames = 0;
  for (const auto& ch : planar) {
    const auto resampled = resample_mono(ch, rate, model_rate_);
    model_frames = static_cast<std::int64_t>(resampled.size());
    for (auto s : resampled) input.push_back(static_cast<float>(s) / 32768.0f);
  }
  auto tensor = onnx::Tensor::floats(input, {1, channels, model_frames});
  const auto outputs = session_.run({&tensor});
  const auto stem = outputs.at(0).to_floats();
  if (static_cast<std::int64_t>(stem.size()) != channels * model_frames) {
    throw onnx::OnnxError("the separator's first output has " + std::to_string(stem.size()) + " values, expected " +
                          std::to_string(channels * model_frames) + " (the input's shape)");
  }
  AudioBuffer out{audio.format, audio.start_frame, std::vector<std::int16_t>(audio.samples.size())};
  for (int c = 0; c < channels; ++c) {
    std::vector<std::int16_t> ch(static_cast<std::size_t>(model_frames));
    for (std::int64_t i = 0; i < model_frames; ++i) {
      const float v = stem[static_cast<std::size_t>(c * model_frames + i)];
      ch[static_cast<std::size_t>(i)] = static_cast<std::int16_t>(std::lround(std::clamp(v, -1.0f, 1.0f) * 32767.0f));
    }
    auto back = resample_mono(ch, model_rate_, rate);
    back.resize(static_cast<std::size_t>(audio.frames()), 0);
    for (std::int64_t n = 0; n < audio.frames(); ++n) out.samples[static_cast<std::size_t>(n * channels + c)] = back[static_cast<std::size_t>(n)];
  }
  return out;
}

AudioBuffer OnnxSeparator::process(const AudioBuffer& audio, std::span<const float> weight,
                                   std::span<AudioBuffer* const> /*alongside: a model is not linear*/) {
  if (std::none_of(weight.begin(), weight.end(), [](float w) { return w > 0.0f; })) return audio;
  const auto stem = separate(audio);
  AudioBuffer out = audio;
  const auto channels = static_cast<std::size_t>(audio.format.channels);
  for (std::size_t n = 0; n < static_cast<std::size_t>(audio.frames()); ++n) {
    const float w = std::clamp(weight[n], 0.0f, 1.0f);
    for (std::size_t c = 0; c < channels; ++c) {
      auto& s = out.samples[n * channels + c];
      s = static_cast<std::int16_t>(std::lround((1.0f - w) * s + w * stem.samples[n * channels + c]));
    }
  }
  return out;
}

}  // namespace livedub::worker
