#include "livedub/audio.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

namespace livedub {
namespace {

constexpr std::int64_t kSecondsPerCentury = 100LL * 365 * 86400;

TEST(Timestamps, ExactAtCommonRates) {
  EXPECT_EQ(samples_to_ns(48000, 48000), kNanosPerSecond);
  EXPECT_EQ(samples_to_ns(44100, 44100), kNanosPerSecond);
  EXPECT_EQ(samples_to_ns(3, 48000), 62'500);
  EXPECT_EQ(samples_to_ns(1, 48000), 20'833);  // 20833.33 rounds down
  EXPECT_EQ(samples_to_ns(1, 44100), 22'676);  // 22675.74 rounds up
  EXPECT_EQ(samples_to_ns(-1, 44100), -22'676);  // symmetric rounding
  EXPECT_EQ(ns_to_samples(kNanosPerSecond, 44100), 44100);
  EXPECT_EQ(ns_to_samples(22'676, 44100), 1);
  EXPECT_EQ(ns_to_samples(11'337, 44100), 0);  // 0.49996 samples
  EXPECT_EQ(ns_to_samples(11'338, 44100), 1);  // 0.50001 samples
  EXPECT_EQ(ns_to_samples(-kNanosPerSecond, 48000), -48000);
}

TEST(Timestamps, LargeIndicesDoNotOverflow) {
  // A century of samples: index * 1e9 is far beyond int64, the results are not.
  EXPECT_EQ(samples_to_ns(48000 * kSecondsPerCentury, 48000), kSecondsPerCentury * kNanosPerSecond);
  EXPECT_EQ(samples_to_ns(44100 * kSecondsPerCentury, 44100), kSecondsPerCentury * kNanosPerSecond);
  EXPECT_EQ(ns_to_samples(kSecondsPerCentury * kNanosPerSecond, 44100), 44100 * kSecondsPerCentury);
  EXPECT_EQ(ns_to_samples(kSecondsPerCentury * kNanosPerSecond, 48000), 48000 * kSecondsPerCentury);
  // One frame past a whole second at a century still resolves to the right nanosecond.
  EXPECT_EQ(samples_to_ns(44100 * kSecondsPerCentury + 1, 44100),
            kSecondsPerCentury * kNanosPerSecond + 22'676);
}

TEST(Timestamps, SampleIndexSurvivesRoundTrip) {
  for (int rate : {8000, 16000, 44100, 48000, 96000}) {
    for (std::int64_t index : {std::int64_t{0}, std::int64_t{1}, std::int64_t{44099},
                               std::int64_t{1} << 33, (std::int64_t{1} << 40) + 1,
                               -std::int64_t{12345}}) {
      EXPECT_EQ(ns_to_samples(samples_to_ns(index, rate), rate), index) << rate << " " << index;
    }
  }
}

TEST(AudioBuffer, FramesAndDuration) {
  AudioBuffer audio;
  audio.format = AudioFormat{48000, 2};
  audio.start_frame = 48000;
  audio.samples.assign(2 * 24000, 0);
  EXPECT_EQ(audio.frames(), 24000);
  EXPECT_EQ(audio.end_frame(), 72000);
  EXPECT_EQ(audio.start_ns(), kNanosPerSecond);
  EXPECT_EQ(audio.duration_ns(), kNanosPerSecond / 2);
}

TEST(Resample, OutputLengthIsRoundedRatio) {
  EXPECT_EQ(resample_mono_linear(std::vector<std::int16_t>(1600), 16000, 48000).size(), 4800u);
  EXPECT_EQ(resample_mono_linear(std::vector<std::int16_t>(441), 44100, 16000).size(), 160u);
  EXPECT_EQ(resample_mono_linear(std::vector<std::int16_t>(1000), 48000, 44100).size(), 919u);  // 918.75
  EXPECT_EQ(resample_mono_linear(std::vector<std::int16_t>(1), 48000, 44100).size(), 1u);
  EXPECT_TRUE(resample_mono_linear({}, 16000, 48000).empty());
}

TEST(Resample, SameRateIsIdentityAndConstantsStayConstant) {
  std::vector<std::int16_t> ramp = {1, 2, 3, 4, 5};
  EXPECT_EQ(resample_mono_linear(ramp, 16000, 16000), ramp);
  auto flat = resample_mono_linear(std::vector<std::int16_t>(300, -1234), 44100, 48000);
  for (auto s : flat) ASSERT_EQ(s, -1234);
}

TEST(Resample, UpsampledRampInterpolates) {
  std::vector<std::int16_t> ramp = {0, 100, 200, 300};
  auto out = resample_mono_linear(ramp, 8000, 16000);
  ASSERT_EQ(out.size(), 8u);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 50);
  EXPECT_EQ(out[2], 100);
  EXPECT_EQ(out[5], 250);
}

namespace {
// Amplitude of `hz` in `x` (Goertzel), relative to full scale.
double tone_level(const std::vector<std::int16_t>& x, double hz, int rate) {
  const double w = 2 * std::numbers::pi * hz / rate;
  double s1 = 0, s2 = 0;
  for (auto v : x) {
    const double s0 = v / 32768.0 + 2 * std::cos(w) * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return 2 * std::sqrt(s1 * s1 + s2 * s2 - 2 * std::cos(w) * s1 * s2) / static_cast<double>(x.size());
}
}  // namespace

TEST(Resample, UpsamplingKeepsTheToneInPlaceAndLeavesNoImages) {
  // 1 kHz at 16 kHz (a TTS voice's rate) to 48 kHz: its image sits at 16 - 1 = 15 kHz.
  std::vector<std::int16_t> tone(16000);
  for (std::size_t i = 0; i < tone.size(); ++i) {
    tone[i] = static_cast<std::int16_t>(std::lround(16000 * std::sin(2 * std::numbers::pi * 1000 * static_cast<double>(i) / 16000)));
  }
  const auto clean = resample_mono(tone, 16000, 48000);
  const auto linear = resample_mono_linear(tone, 16000, 48000);
  ASSERT_EQ(clean.size(), 48000u);
  const double signal = tone_level(clean, 1000, 48000);
  EXPECT_NEAR(20 * std::log10(signal / (16000 / 32768.0)), 0.0, 0.2);
  const double image_db = 20 * std::log10(tone_level(clean, 15000, 48000) / signal);
  const double linear_image_db = 20 * std::log10(tone_level(linear, 15000, 48000) / tone_level(linear, 1000, 48000));
  std::cout << "image at 15 kHz: band-limited " << image_db << " dB, linear " << linear_image_db << " dB\n";
  EXPECT_LT(image_db, -70.0);
  EXPECT_GT(linear_image_db, -50.0) << "the measurement sees linear interpolation's image";
  // No delay: the converted wave lines up with the original's phase.
  for (std::size_t i = 3000; i < 3100; ++i) ASSERT_NEAR(clean[i], linear[i], 400) << i;
}

// The downsampler filters only where the interpolation reads: the result must be the same,
// sample for sample, as low-passing every input sample and then interpolating linearly.
TEST(Resample, DownsamplingMatchesFilteringEverySampleThenInterpolating) {
  std::vector<std::int16_t> noise(4801);
  std::uint32_t seed = 12345;
  for (auto& x : noise) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<std::int16_t>(static_cast<std::int32_t>(seed >> 16) - 32768);
  }
  noise[100] = 32767;  // full-scale steps: the clamp to 16 bits is part of the result
  noise[101] = -32768;
  for (const auto& [in_rate, out_rate] : {std::pair{48000, 16000}, {44100, 16000}, {22050, 16000}, {48000, 8000}}) {
    const auto taps = lowpass_taps(31, 0.45 * out_rate / in_rate);
    std::vector<std::int16_t> filtered(noise.size());
    const auto n = static_cast<std::ptrdiff_t>(noise.size());
    for (std::ptrdiff_t i = 0; i < n; ++i) {
      double acc = 0;
      for (int k = -31; k <= 31; ++k) acc += taps[static_cast<std::size_t>(k + 31)] * noise[static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(i + k, 0, n - 1))];
      filtered[static_cast<std::size_t>(i)] = static_cast<std::int16_t>(std::clamp(std::lround(acc), -32768L, 32767L));
    }
    EXPECT_EQ(resample_mono(noise, in_rate, out_rate), resample_mono_linear(filtered, in_rate, out_rate))
        << in_rate << " -> " << out_rate;
  }
}

// The inlined rounding must give std::lround's result everywhere the audio code uses it:
// halves (away from zero), the values just either side of them, and noise across 16 bits.
TEST(RoundHalfAway, MatchesLround) {
  std::vector<double> values = {0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 32767.5, -32768.5, 1e-300, -1e-300,
                                4503599627370495.5, 4503599627370497.0, -4503599627370497.0, 1e18, -1e18};
  for (double h = -40000.5; h <= 40000.5; h += 1.0) {
    values.push_back(h);
    values.push_back(std::nextafter(h, 0.0));
    values.push_back(std::nextafter(h, h > 0 ? 1e9 : -1e9));
    values.push_back(static_cast<double>(static_cast<float>(h) + 0.25f));
  }
  std::uint32_t seed = 7;
  for (int i = 0; i < 100000; ++i) {
    seed = seed * 1664525u + 1013904223u;
    values.push_back((static_cast<double>(seed) / 4294967296.0 - 0.5) * 70000.0);
  }
  for (double v : values) ASSERT_EQ(round_half_away(v), std::lround(v)) << std::hexfloat << v;
  static_assert(round_half_away(2.5) == 3 && round_half_away(-2.5) == -3 && round_half_away(2.4999) == 2);
}

TEST(FitToFrames, TruncatesAndPadsWholeFrames) {
  std::vector<std::int16_t> stereo = {1, -1, 2, -2, 3, -3};
  fit_to_frames(stereo, 2, 2);
  EXPECT_EQ(stereo, (std::vector<std::int16_t>{1, -1, 2, -2}));
  fit_to_frames(stereo, 2, 4);
  EXPECT_EQ(stereo, (std::vector<std::int16_t>{1, -1, 2, -2, 0, 0, 0, 0}));
}

TEST(Downmix, AveragesChannels) {
  EXPECT_EQ(downmix_to_mono(std::vector<std::int16_t>{100, 300, -32768, -32768}, 2),
            (std::vector<std::int16_t>{200, -32768}));
  std::vector<std::int16_t> mono = {5, 6};
  EXPECT_EQ(downmix_to_mono(mono, 1), mono);
}

TEST(Rms, FullScaleAndSilence) {
  EXPECT_DOUBLE_EQ(rms({}), 0.0);
  EXPECT_DOUBLE_EQ(rms(std::vector<std::int16_t>(10, 0)), 0.0);
  EXPECT_NEAR(rms(std::vector<std::int16_t>{-32768, -32768}), 1.0, 1e-9);
  std::vector<std::int16_t> sine(48000);
  for (std::size_t i = 0; i < sine.size(); ++i) {
    const double t = static_cast<double>(i) / 48000.0;
    sine[i] = static_cast<std::int16_t>(std::lround(16384 * std::sin(2 * std::numbers::pi * 440 * t)));
  }
  EXPECT_NEAR(rms(sine), 0.5 / std::sqrt(2.0), 1e-3);
}

}  // namespace
}  // namespace livedub
