#include "sts/mock_engines.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <gtest/gtest.h>

#include "test_audio.hpp"

namespace livedub::sts {
namespace {

using fixtures::sine_audio;
using fixtures::zero_crossings;

DubRequestMetadata request_for(double duration_ms) {
  DubRequestMetadata request;
  request.stream_id = "demo";
  request.sequence = 1;
  request.duration_ms = duration_ms;
  return request;
}

TEST(FramesForDuration, RoundsToNearestFrame) {
  EXPECT_EQ(frames_for_duration(1000, 48000), 48000);
  EXPECT_EQ(frames_for_duration(10, 44100), 441);
  EXPECT_EQ(frames_for_duration(22.675, 44100), 1000);  // 999.97 frames
  EXPECT_EQ(frames_for_duration(0.0625, 8000), 1);      // exactly half a frame rounds up
  EXPECT_EQ(frames_for_duration(60000, 192000), 11'520'000);
}

TEST(PassthroughEngine, SameDurationReturnsInputSamples) {
  PassthroughEngine engine;
  auto input = sine_audio(16000, 1, 1000);
  auto result = engine.dub(request_for(62.5), input);
  EXPECT_EQ(result.audio.format, input.format);
  EXPECT_EQ(result.audio.samples, input.samples);
  EXPECT_EQ(engine.name(), "mock-passthrough");
}

TEST(PassthroughEngine, TruncatesToRequestedDuration) {
  PassthroughEngine engine;
  auto input = sine_audio(16000, 1, 1000);
  auto result = engine.dub(request_for(31.25), input);
  ASSERT_EQ(result.audio.frames(), 500);
  EXPECT_TRUE(std::equal(result.audio.samples.begin(), result.audio.samples.end(),
                         input.samples.begin()));
}

TEST(PassthroughEngine, PadsWithSilenceToRequestedDuration) {
  PassthroughEngine engine;
  auto input = sine_audio(16000, 1, 1000);
  auto result = engine.dub(request_for(125), input);
  ASSERT_EQ(result.audio.frames(), 2000);
  EXPECT_TRUE(std::equal(input.samples.begin(), input.samples.end(), result.audio.samples.begin()));
  EXPECT_TRUE(std::all_of(result.audio.samples.begin() + 1000, result.audio.samples.end(),
                          [](std::int16_t s) { return s == 0; }));
}

TEST(PassthroughEngine, StereoKeepsInterleavingAndExactFrames) {
  PassthroughEngine engine;
  auto input = sine_audio(44100, 2, 4410);
  auto result = engine.dub(request_for(50), input);  // 2205 frames
  EXPECT_EQ(result.audio.format, (AudioFormat{44100, 2}));
  ASSERT_EQ(result.audio.frames(), 2205);
  EXPECT_TRUE(std::equal(result.audio.samples.begin(), result.audio.samples.end(),
                         input.samples.begin()));
}

TEST(PassthroughEngine, ReportsZeroStageTimingsAndTheVoice) {
  PassthroughEngine engine;
  auto request = request_for(10);
  request.voice = "alice";
  auto result = engine.dub(request, sine_audio(8000, 1, 80));
  for (const char* stage : {kStageAsr, kStageMt, kStageTts, kStageStretch}) {
    ASSERT_TRUE(result.stage_timings_ms.contains(stage)) << stage;
    EXPECT_EQ(result.stage_timings_ms.at(stage), 0.0);
  }
  EXPECT_EQ(result.voice, "alice");
  // Deterministic text from the request alone: captions flow without engines.
  EXPECT_EQ(result.transcript, "fragment " + std::to_string(request.sequence));
  EXPECT_EQ(result.translation, "es: fragment " + std::to_string(request.sequence));
  EXPECT_DOUBLE_EQ(result.stretch_ratio, 1.0);
}

TEST(ToneEngine, ProducesRequestedFrequencyAndDuration) {
  ToneEngine engine;  // 440 Hz
  auto result = engine.dub(request_for(1000), sine_audio(48000, 1, 100));
  EXPECT_EQ(result.audio.format, (AudioFormat{48000, 1}));
  ASSERT_EQ(result.audio.frames(), 48000);
  // Two zero crossings per cycle.
  EXPECT_NEAR(zero_crossings(result.audio.samples, 1, 0), 880, 2);
  auto [lowest, highest] = std::minmax_element(result.audio.samples.begin(), result.audio.samples.end());
  EXPECT_NEAR(*highest, ToneEngine::kAmplitude * 32767, 2);
  EXPECT_NEAR(*lowest, -ToneEngine::kAmplitude * 32767, 2);
  EXPECT_EQ(engine.name(), "mock-tone");
}

TEST(ToneEngine, ConfigurableFrequency) {
  ToneEngine engine(1000.0);
  auto result = engine.dub(request_for(500), sine_audio(16000, 1, 10));
  ASSERT_EQ(result.audio.frames(), 8000);
  EXPECT_NEAR(zero_crossings(result.audio.samples, 1, 0), 1000, 2);
}

TEST(ToneEngine, StereoChannelsCarryTheSameTone) {
  ToneEngine engine;
  auto result = engine.dub(request_for(100), sine_audio(44100, 2, 10));
  EXPECT_EQ(result.audio.format, (AudioFormat{44100, 2}));
  ASSERT_EQ(result.audio.frames(), 4410);
  for (std::size_t i = 0; i < result.audio.samples.size(); i += 2) {
    ASSERT_EQ(result.audio.samples[i], result.audio.samples[i + 1]) << i;
  }
  EXPECT_NEAR(zero_crossings(result.audio.samples, 2, 1), 88, 2);
}

TEST(ToneEngine, IsDeterministicAndIgnoresInputContent) {
  ToneEngine engine;
  auto first = engine.dub(request_for(20), sine_audio(16000, 1, 320, 300.0));
  auto second = engine.dub(request_for(20), sine_audio(16000, 1, 5, 1234.0));
  EXPECT_EQ(first.audio.samples, second.audio.samples);
}

TEST(SpeechLayout, SpansAndSlotInFramesWithTheV1Default) {
  auto request = request_for(2000);
  auto whole = speech_layout(request, 16000);
  EXPECT_EQ(whole.total_frames, 32000);
  ASSERT_EQ(whole.spans.size(), 1u);
  EXPECT_EQ(whole.first(), 0);
  EXPECT_EQ(whole.last(), 32000);
  EXPECT_EQ(whole.slot_end, 32000);
  request.speech = {{250, 1000}, {1200, 1500}};
  request.slot_end_ms = 1800;
  auto spans = speech_layout(request, 16000);
  EXPECT_EQ(spans.first(), 4000);
  EXPECT_EQ(spans.last(), 24000);
  EXPECT_EQ(spans.slot_end, 28800);
}

TEST(ToneEngine, SoundsOnlyOverTheSpeechItIsSent) {
  ToneEngine engine;
  auto request = request_for(2000);
  request.speech = {{500, 1500}};
  auto result = engine.dub(request, sine_audio(16000, 1, 32000));
  EXPECT_EQ(result.speech_begin, 8000);
  EXPECT_EQ(result.speech_end, 24000);
  const std::span<const std::int16_t> out(result.audio.samples);
  EXPECT_EQ(rms(out.subspan(0, 8000)), 0.0);
  EXPECT_GT(rms(out.subspan(8000, 16000)), 0.2);
  EXPECT_EQ(rms(out.subspan(24000)), 0.0);
}

TEST(PassthroughEngine, ReportsTheSpeechWhereItWasSent) {
  PassthroughEngine engine;
  auto request = request_for(1000);
  request.speech = {{100, 300}, {600, 900}};
  auto input = sine_audio(16000, 1, 16000);
  auto result = engine.dub(request, input);
  EXPECT_EQ(result.audio.samples, input.samples);
  EXPECT_EQ(result.speech_begin, 1600);
  EXPECT_EQ(result.speech_end, 14400);
}

TEST(MockEngines, AcceptAnyLanguagePair) {
  PassthroughEngine passthrough;
  ToneEngine tone;
  EXPECT_TRUE(passthrough.supports("en", "es"));
  EXPECT_TRUE(tone.supports("pt-BR", "yue"));
}

TEST(MockEngines, ProcessingDelayIsApplied) {
  using namespace std::chrono;
  PassthroughEngine engine(MockOptions{milliseconds(60)});
  const auto started = steady_clock::now();
  engine.dub(request_for(10), sine_audio(8000, 1, 80));
  EXPECT_GE(steady_clock::now() - started, milliseconds(60));
}

}  // namespace
}  // namespace livedub::sts
