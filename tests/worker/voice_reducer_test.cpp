#include "voice_reducer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "dub_mixer.hpp"

using namespace livedub;
using namespace livedub::worker;

namespace {
constexpr int kRate = 48000;

// Power of `samples` (channel `c` of `channels`) at `hz`, by correlation with a sinusoid.
double tone_power(const std::vector<std::int16_t>& samples, int channels, int c, double hz, std::size_t from, std::size_t to) {
  double s = 0, k = 0;
  for (std::size_t n = from; n < to; ++n) {
    const double x = samples[n * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)];
    s += x * std::sin(2 * std::numbers::pi * hz * static_cast<double>(n) / kRate);
    k += x * std::cos(2 * std::numbers::pi * hz * static_cast<double>(n) / kRate);
  }
  return s * s + k * k;
}

// Energy above 6 kHz (first difference twice: a crude high-pass), where the voice has nothing.
double high_band(const std::vector<std::int16_t>& samples, int channels, std::size_t from, std::size_t to) {
  double e = 0;
  for (std::size_t n = from + 2; n < to; ++n) {
    const double d = samples[n * static_cast<std::size_t>(channels)] - 2.0 * samples[(n - 1) * static_cast<std::size_t>(channels)] +
                     samples[(n - 2) * static_cast<std::size_t>(channels)];
    e += d * d;
  }
  return e;
}

// 2 s of background (white noise, -30 dBFS), then 2 s of background + a "voice" (220 Hz with
// harmonics, far above the background in its bins). Stereo, voice in the centre.
AudioBuffer scene(bool with_voice_throughout = false) {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 0.0316 * 32768);
  AudioBuffer a{{kRate, 2}, 0, {}};
  for (int n = 0; n < 4 * kRate; ++n) {
    double v = 0;
    if (with_voice_throughout || n >= 2 * kRate) {
      for (int h = 1; h <= 8; ++h) v += 0.15 / h * 32768 * std::sin(2 * std::numbers::pi * 220.0 * h * n / kRate);
    }
    a.samples.push_back(static_cast<std::int16_t>(std::lround(std::clamp(noise(rng) + v, -32768.0, 32767.0))));
    a.samples.push_back(static_cast<std::int16_t>(std::lround(std::clamp(noise(rng) + v, -32768.0, 32767.0))));
  }
  return a;
}
}  // namespace

TEST(VoiceReducer, LeavesAudioUntouchedWhereNobodySpeaks) {
  VoiceReducer reducer({kRate, 2});
  const auto in = scene();
  std::vector<float> zero(static_cast<std::size_t>(in.frames()), 0.0f);
  EXPECT_EQ(reducer.process(in, zero).samples, in.samples);
  EXPECT_GT(reducer.background_frames(), 0);
}

TEST(VoiceReducer, RemovesMuchMoreVoiceThanBackgroundUnderSpeech) {
  VoiceReducer reducer({kRate, 2});
  const auto in = scene();
  std::vector<float> weight(static_cast<std::size_t>(in.frames()), 0.0f);
  std::fill(weight.begin() + 2 * kRate, weight.end(), 1.0f);
  const auto out = reducer.process(in, weight);
  const std::size_t from = 2 * kRate + kRate / 10, to = 4 * kRate;
  const double voice_db = 10 * std::log10(tone_power(out.samples, 2, 0, 220, from, to) / tone_power(in.samples, 2, 0, 220, from, to));
  const double bed_db = 10 * std::log10(high_band(out.samples, 2, from, to) / high_band(in.samples, 2, from, to));
  EXPECT_LT(voice_db, -15.0) << "the voice's fundamental";
  EXPECT_GT(bed_db, -4.0) << "the background where the voice has nothing";
  // Stereo: both channels get the same gains, so the centred voice goes from both alike.
  const double right_db = 10 * std::log10(tone_power(out.samples, 2, 1, 220, from, to) / tone_power(in.samples, 2, 1, 220, from, to));
  EXPECT_NEAR(voice_db, right_db, 1.0);
}

TEST(VoiceReducer, ReducesNothingBeforeItHasHeardTheBackground) {
  VoiceReducer reducer({kRate, 2});
  const auto in = scene(true);
  std::vector<float> one(static_cast<std::size_t>(in.frames()), 1.0f);
  const auto out = reducer.process(in, one);
  const std::size_t from = kRate, to = 3 * kRate;
  EXPECT_NEAR(10 * std::log10(tone_power(out.samples, 2, 0, 220, from, to) / tone_power(in.samples, 2, 0, 220, from, to)), 0.0, 0.1);
}

// Frames whose samples all have weight 0 are not transformed back (the blend would not use
// them). A short island of weight between them, off the frames' grid, must still be rebuilt
// from both frames that cover each of its samples: with gains that never reduce (huge
// headroom) it comes back as it went in, and so does a buffer passed alongside.
TEST(VoiceReducer, AnIslandOfSpeechBetweenFramesLeftOutIsRebuiltWhole) {
  VoiceReducer reducer({kRate, 2}, ReduceConfig{.headroom_db = 300.0});
  const auto in = scene();
  auto other = scene(true);
  const auto other_in = other.samples;
  std::vector<float> weight(static_cast<std::size_t>(in.frames()), 0.0f);
  const std::size_t from = 2 * kRate + 100, to = from + 300;
  std::fill(weight.begin() + static_cast<std::ptrdiff_t>(from), weight.begin() + static_cast<std::ptrdiff_t>(to), 1.0f);
  AudioBuffer* alongside[] = {&other};
  const auto out = reducer.process(in, weight, alongside);
  int worst = 0, worst_other = 0;
  for (std::size_t i = from * 2; i < to * 2; ++i) {
    worst = std::max(worst, std::abs(out.samples[i] - in.samples[i]));
    worst_other = std::max(worst_other, std::abs(other.samples[i] - other_in[i]));
  }
  EXPECT_LE(worst, 2) << "a frame covering the island was left out";
  EXPECT_LE(worst_other, 2) << "the buffer alongside, likewise";
  for (std::size_t i = 0; i < from * 2; ++i) ASSERT_EQ(out.samples[i], in.samples[i]) << "weight 0 keeps the input as it is";
  EXPECT_GT(reducer.background_frames(), 0);
}

TEST(MixFragment, ReduceModeDucksAndReducesTheVoiceUnderTheDub) {
  VoiceReducer reducer({kRate, 2});
  const auto in = scene();
  AudioBuffer silent_dub{{kRate, 1}, 0, std::vector<std::int16_t>(static_cast<std::size_t>(in.frames()), 0)};
  const SpeechSpan speech[] = {{2 * kRate, 4 * kRate}};
  MixConfig cfg;
  cfg.mode = BedMode::reduce;
  cfg.duck_db = -6.0;
  auto out = mix_fragment({&in, speech, &silent_dub, SpeechSpan{2 * kRate, 4 * kRate}, 1.0, &reducer}, cfg);
  const std::size_t from = 2 * kRate + kRate / 10, to = 4 * kRate;
  const double voice_db = 10 * std::log10(tone_power(out.audio.samples, 2, 0, 220, from, to) / tone_power(in.samples, 2, 0, 220, from, to));
  EXPECT_LT(voice_db, -6.0 - 15.0) << "the duck and the reduction add up";
  EXPECT_EQ(std::vector<std::int16_t>(out.audio.samples.begin(), out.audio.samples.begin() + kRate),
            std::vector<std::int16_t>(in.samples.begin(), in.samples.begin() + kRate))
      << "untouched away from speech";
}
