#include "sts/mock_engines.hpp"

#include <cmath>
#include <numbers>
#include <thread>

namespace livedub::sts {
namespace {

DubResult mock_result(const DubRequestMetadata& request, AudioBuffer audio) {
  DubResult result;
  result.audio = std::move(audio);
  result.voice = request.voice;
  result.stage_timings_ms = {{kStageAsr, 0.0}, {kStageMt, 0.0}, {kStageTts, 0.0}, {kStageStretch, 0.0}};
  return result;
}

void simulate_processing(const MockOptions& options) {
  if (options.processing_delay.count() > 0) std::this_thread::sleep_for(options.processing_delay);
}

EngineCapabilities mock_capabilities() {
  EngineCapabilities caps;
  caps.any_language_pair = true;
  caps.any_voice = true;
  caps.voices = {"default"};
  return caps;
}

}  // namespace

PassthroughEngine::PassthroughEngine(MockOptions options) : options_(options) {}

std::string PassthroughEngine::name() const { return "mock-passthrough"; }

EngineCapabilities PassthroughEngine::capabilities() const { return mock_capabilities(); }

DubResult PassthroughEngine::dub(const DubRequestMetadata& request, const AudioBuffer& input,
                                 const DubContext& /*context*/) {
  simulate_processing(options_);
  AudioBuffer out;
  out.format = input.format;
  out.start_frame = input.start_frame;
  out.samples = input.samples;
  fit_to_frames(out.samples, out.format.channels,
                frames_for_duration(request.duration_ms, out.format.sample_rate));
  return mock_result(request, std::move(out));
}

ToneEngine::ToneEngine(double frequency_hz, MockOptions options)
    : frequency_hz_(frequency_hz), options_(options) {}

std::string ToneEngine::name() const { return "mock-tone"; }

EngineCapabilities ToneEngine::capabilities() const { return mock_capabilities(); }

DubResult ToneEngine::dub(const DubRequestMetadata& request, const AudioBuffer& input,
                          const DubContext& /*context*/) {
  simulate_processing(options_);
  AudioBuffer out;
  out.format = input.format;
  out.start_frame = input.start_frame;
  const auto frames = frames_for_duration(request.duration_ms, out.format.sample_rate);
  const auto channels = static_cast<std::size_t>(out.format.channels);
  out.samples.resize(static_cast<std::size_t>(frames) * channels);
  // Phase restarts at 0 in every fragment: output depends only on the request, never on history.
  const double radians_per_frame = 2.0 * std::numbers::pi * frequency_hz_ / out.format.sample_rate;
  const double peak = kAmplitude * 32767.0;
  for (std::size_t frame = 0; frame < static_cast<std::size_t>(frames); ++frame) {
    auto value = static_cast<std::int16_t>(
        std::lround(peak * std::sin(radians_per_frame * static_cast<double>(frame))));
    for (std::size_t c = 0; c < channels; ++c) out.samples[frame * channels + c] = value;
  }
  return mock_result(request, std::move(out));
}

}  // namespace livedub::sts
