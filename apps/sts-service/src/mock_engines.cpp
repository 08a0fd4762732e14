#include "sts/mock_engines.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <thread>

#include "sts/pocket_tts.hpp"

namespace livedub::sts {
namespace {

DubResult mock_result(const DubRequestMetadata& request, AudioBuffer audio) {
  DubResult result;
  result.audio = std::move(audio);
  result.voice = request.voice;
  // Deterministic text, so captions (WebVTT, CEA-608) flow end to end without engines.
  result.transcript = "fragment " + std::to_string(request.sequence);
  result.translation = request.target_lang + ": fragment " + std::to_string(request.sequence);
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

EngineCapabilities PassthroughEngine::capabilities() const {
  auto caps = mock_capabilities();
  if (options_.voice_clone) {
    caps.clone_engine = "mock";
    caps.clone_languages = {"any"};
  }
  return caps;
}

std::shared_ptr<const PocketVoice> PassthroughEngine::encode_speaker(const AudioBuffer& clip) {
  if (!options_.voice_clone) return nullptr;
  auto voice = std::make_shared<PocketVoice>();
  voice->count = std::max<std::int64_t>(1, clip.frames() * kPocketSampleRate / clip.format.sample_rate / kPocketFrameSamples);
  voice->dim = 1;
  voice->frames.assign(static_cast<std::size_t>(voice->count), 0.0f);
  return voice;
}

DubResult PassthroughEngine::dub(const DubRequestMetadata& request, const AudioBuffer& input,
                                 const DubContext& context) {
  simulate_processing(options_);
  AudioBuffer out;
  out.format = input.format;
  out.start_frame = input.start_frame;
  out.samples = input.samples;
  const auto layout = speech_layout(request, out.format.sample_rate);
  fit_to_frames(out.samples, out.format.channels, layout.total_frames);
  auto result = mock_result(request, std::move(out));
  if (context.speaker) result.voice = kCloneVoice;
  // The "dub" is the source speech itself, so it sits exactly where the speaker spoke.
  result.speech_begin = layout.first();
  result.speech_end = layout.last();
  return result;
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
  const auto layout = speech_layout(request, out.format.sample_rate);
  const auto channels = static_cast<std::size_t>(out.format.channels);
  out.samples.resize(static_cast<std::size_t>(layout.total_frames) * channels);
  // The tone plays from the first speech span's start to the last one's end, like a dub
  // placed on the phrase. Phase restarts at 0 there: output depends only on the request.
  const double radians_per_frame = 2.0 * std::numbers::pi * frequency_hz_ / out.format.sample_rate;
  const double peak = kAmplitude * 32767.0;
  for (auto frame = layout.first(); frame < layout.last(); ++frame) {
    auto value = static_cast<std::int16_t>(
        std::lround(peak * std::sin(radians_per_frame * static_cast<double>(frame - layout.first()))));
    for (std::size_t c = 0; c < channels; ++c) out.samples[static_cast<std::size_t>(frame) * channels + c] = value;
  }
  auto result = mock_result(request, std::move(out));
  result.speech_begin = layout.first();
  result.speech_end = layout.last();
  return result;
}

}  // namespace livedub::sts
