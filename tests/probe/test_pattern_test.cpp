#include "test_pattern.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

using namespace livedub::probe;

namespace {
std::vector<std::int16_t> sine(double hz, double amplitude, int rate, std::size_t n) {
  std::vector<std::int16_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<std::int16_t>(std::lround(amplitude * 32767 * std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) / rate)));
  }
  return out;
}
}  // namespace

TEST(TestPattern, FrameNumberRoundTripsThroughTheCodeStrip) {
  PatternSpec spec;
  for (std::int64_t n : {0, 1, 29, 30, 1234, 999'999}) {
    auto frame = render_frame(spec, n);
    auto decoded = decode_frame_number(spec, std::span(frame).first(static_cast<std::size_t>(spec.width * spec.height)));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, n);
  }
}

TEST(TestPattern, FlashFramesAreBrightAndOthersGrey) {
  PatternSpec spec;  // flash every 1.5 s for 100 ms, 30 fps: frames 0-2, 45-47 ...
  auto luma = [&](std::int64_t n) {
    auto f = render_frame(spec, n);
    return body_luma(spec, std::span(f).first(static_cast<std::size_t>(spec.width * spec.height)));
  };
  EXPECT_GT(luma(0), 200);
  EXPECT_GT(luma(46), 200);
  EXPECT_LT(luma(3), 100);
  EXPECT_LT(luma(44), 100);
}

TEST(TestPattern, BeepsStartExactlyAtFlashInstants) {
  PatternSpec spec;
  auto audio = render_beeps(spec, 0, spec.sample_rate * 4);
  auto onsets = tone_onsets(audio, spec.sample_rate, 0, spec.beep_hz);
  ASSERT_EQ(onsets.size(), 2u);  // 1.5 s and 3.0 s; the one at 0 was already sounding
  EXPECT_NEAR(static_cast<double>(onsets[0]), 1.5e9, 5e6);
  EXPECT_NEAR(static_cast<double>(onsets[1]), 3.0e9, 5e6);
}

TEST(TestPattern, ToneEnergyFractionSeparatesToneFromOtherSounds) {
  const int rate = 48000;
  EXPECT_GT(tone_energy_fraction(sine(440, 0.3, rate, rate), rate, 440), 0.95);
  EXPECT_LT(tone_energy_fraction(sine(1000, 0.3, rate, rate), rate, 440), 0.05);
  EXPECT_EQ(tone_energy_fraction(std::vector<std::int16_t>(rate, 0), rate, 440), 0.0);
  EXPECT_NEAR(tone_amplitude(sine(440, 0.3, rate, rate), rate, 440), 0.3, 0.01);
  // A tone whose phase jumps half-way (two dubbed fragments, each starting its tone afresh) is
  // still a tone, not two halves cancelling.
  auto jumped = sine(440, 0.3, rate, 24054);  // ends 220.495 cycles in: the next starts ~180 degrees off
  const auto second = sine(440, 0.3, rate, rate - 24054);
  jumped.insert(jumped.end(), second.begin(), second.end());
  EXPECT_GT(tone_energy_fraction(jumped, rate, 440), 0.9);
}

TEST(TestPattern, PairOffsetsMatchesNearestBeep) {
  std::vector<std::int64_t> flashes{1'000'000'000, 2'500'000'000};
  std::vector<std::int64_t> beeps{1'020'000'000, 2'480'000'000, 9'000'000'000};
  auto offsets = pair_offsets(flashes, beeps);
  ASSERT_EQ(offsets.size(), 2u);
  EXPECT_EQ(offsets[0], 20'000'000);
  EXPECT_EQ(offsets[1], -20'000'000);
}

TEST(TestPattern, FlashOnsetsIgnoreAStreamThatStartsMidFlash) {
  std::vector<VideoObservation> frames;
  for (int i = 0; i < 10; ++i) frames.push_back({i * 100, i, (i < 2 || i == 6) ? 235.0 : 80.0, 0});
  auto onsets = flash_onsets(frames);
  ASSERT_EQ(onsets.size(), 1u);
  EXPECT_EQ(onsets[0], 600);
}

TEST(TestPattern, EnvelopeCorrelationToleratesSmallShiftsButNotDifferentSignals) {
  PatternSpec spec;
  auto audio = render_beeps(spec, 0, spec.sample_rate * 6);
  std::vector<std::int16_t> shifted(audio.size(), 0);
  std::copy(audio.begin(), audio.end() - 1000, shifted.begin() + 1000);  // ~21 ms later
  EXPECT_GT(envelope_correlation(shifted, audio, spec.sample_rate), 0.9);
  auto tone = sine(440, 0.3, spec.sample_rate, audio.size());
  EXPECT_LT(envelope_correlation(tone, audio, spec.sample_rate), 0.5);
}
