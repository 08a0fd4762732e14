#include "dub_mixer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

using namespace livedub;
using namespace livedub::worker;
using namespace std::chrono_literals;

namespace {
constexpr int kRate = 1000;  // 1 frame = 1 ms, so ramps in ms are frame counts

AudioBuffer tone(std::int64_t frames, int channels, double amplitude, double hz = 50.0) {
  AudioBuffer a{{kRate, channels}, 0, {}};
  for (std::int64_t n = 0; n < frames; ++n) {
    const double v = amplitude * 32767.0 * std::sin(2 * std::numbers::pi * hz * static_cast<double>(n) / kRate);
    for (int c = 0; c < channels; ++c) a.samples.push_back(static_cast<std::int16_t>(std::lround(c == 0 ? v : -v)));
  }
  return a;
}
AudioBuffer constant(std::int64_t frames, int channels, std::int16_t value) {
  return AudioBuffer{{kRate, channels}, 0, std::vector<std::int16_t>(static_cast<std::size_t>(frames * channels), value)};
}
MixConfig config() {
  MixConfig c;
  c.duck_db = -20.0;  // gain 0.1
  c.ramp_down = 100ms;
  c.ramp_up = 200ms;
  c.voice_fade = 10ms;
  return c;
}
}  // namespace

TEST(DuckEnvelope, FullOutsideSpeechDuckedInsideWithRampsEitherSide) {
  const SpeechSpan region[] = {{300, 600}};
  auto g = duck_envelope(1000, region, 0.1, 100, 200, 1.0);
  EXPECT_FLOAT_EQ(g[0], 1.0f);
  EXPECT_FLOAT_EQ(g[199], 1.0f);
  EXPECT_NEAR(g[250], 0.55, 0.01) << "halfway down the 100 ms ramp";
  EXPECT_NEAR(g[300], 0.1, 1e-6);
  EXPECT_NEAR(g[599], 0.1, 1e-6);
  EXPECT_NEAR(g[700], 0.55, 0.01) << "halfway up the 200 ms ramp";
  EXPECT_FLOAT_EQ(g[999], 1.0f);
  for (std::size_t n = 1; n < g.size(); ++n) EXPECT_LE(std::abs(g[n] - g[n - 1]), 0.01f) << "smooth at " << n;
}

TEST(DuckEnvelope, StartsWhereThePreviousFragmentEnded) {
  auto g = duck_envelope(1000, {}, 0.1, 100, 200, 0.1);
  EXPECT_NEAR(g[0], 0.1, 1e-6) << "continuous with a previous fragment that ended ducked";
  EXPECT_FLOAT_EQ(g[500], 1.0f);
  for (std::size_t n = 1; n < g.size(); ++n) EXPECT_LE(std::abs(g[n] - g[n - 1]), 0.01f);
}

TEST(MixFragment, NoDubKeepsTheOriginalUntouched) {
  auto original = tone(1000, 2, 0.5);
  auto out = mix_fragment({&original, {}, nullptr, std::nullopt, 1.0}, config());
  EXPECT_EQ(out.audio.samples, original.samples) << "music without speech passes bit-exact";
  EXPECT_DOUBLE_EQ(out.end_gain, 1.0);
}

TEST(MixFragment, TheBedIsDuckedToTheConfiguredDepthUnderTheDubAndStaysStereo) {
  auto original = tone(1000, 2, 0.5);
  auto voice = constant(1000, 1, 0);
  const SpeechSpan speech[] = {{300, 700}};
  auto out = mix_fragment({&original, speech, &voice, SpeechSpan{300, 700}, 1.0}, config());
  ASSERT_EQ(out.audio.format.channels, 2);
  std::vector<std::int16_t> ducked(out.audio.samples.begin() + 400 * 2, out.audio.samples.begin() + 600 * 2);
  std::vector<std::int16_t> source(original.samples.begin() + 400 * 2, original.samples.begin() + 600 * 2);
  EXPECT_NEAR(20 * std::log10(rms(ducked) / rms(source)), -20.0, 0.1);
  EXPECT_EQ(out.audio.samples[100 * 2], original.samples[100 * 2]) << "full level well before the speech";
  EXPECT_EQ(out.audio.samples[400 * 2 + 1], -out.audio.samples[400 * 2]) << "left and right stay distinct";
}

TEST(MixFragment, TheVoiceSitsInTheCentreMatchedToTheSpeakersLoudness) {
  auto original = constant(1000, 2, 0);
  // The speaker (the original in the span) at 0.2 rms; the dub at 0.05: +12 dB needed.
  auto speaker = tone(1000, 2, 0.2 * std::sqrt(2.0));
  original = speaker;
  auto voice = tone(1000, 1, 0.05 * std::sqrt(2.0), 80.0);
  const SpeechSpan speech[] = {{200, 800}};
  auto cfg = config();
  cfg.duck_db = -60;
  cfg.max_voice_gain_db = 20;
  auto out = mix_fragment({&original, speech, &voice, SpeechSpan{200, 800}, 1.0}, cfg);
  EXPECT_NEAR(out.voice_gain_db, 12.04, 0.2);
  EXPECT_NEAR(out.audio.samples[500 * 2], out.audio.samples[500 * 2 + 1], 40) << "same voice in both channels";
  cfg.max_voice_gain_db = 6;
  out = mix_fragment({&original, speech, &voice, SpeechSpan{200, 800}, 1.0}, cfg);
  EXPECT_NEAR(out.voice_gain_db, 6.0, 0.01) << "boost capped";
}

TEST(MixFragment, NoClickAtTheEdgesOrAtJoinsWithAFallback) {
  auto original = constant(1000, 1, 10000);
  auto voice = constant(1000, 1, 8000);  // a dub that runs to the very end (cut at the maximum)
  const SpeechSpan speech[] = {{0, 1000}};
  auto cfg = config();
  cfg.match_loudness = false;
  auto dubbed = mix_fragment({&original, speech, &voice, SpeechSpan{0, 1000}, 1.0}, cfg);
  // Start: the bed eases down from full, the voice fades in: the first sample is the original.
  EXPECT_NEAR(dubbed.audio.samples.front(), 10000, 1);
  EXPECT_NEAR(dubbed.audio.samples.back(), 1000, 50) << "ends on the ducked bed, voice faded out";
  EXPECT_NEAR(dubbed.end_gain, 0.1, 1e-6);
  // The next fragment fell back to the original: it starts at the gain this one ended on.
  auto fallback = mix_fragment({&original, speech, nullptr, std::nullopt, dubbed.end_gain}, cfg);
  EXPECT_LE(std::abs(fallback.audio.samples.front() - dubbed.audio.samples.back()), 50);
  for (std::size_t n = 1; n < fallback.audio.samples.size(); ++n) {
    ASSERT_LE(std::abs(fallback.audio.samples[n] - fallback.audio.samples[n - 1]), 200) << n;
  }
  for (std::size_t n = 1; n < dubbed.audio.samples.size(); ++n) {
    ASSERT_LE(std::abs(dubbed.audio.samples[n] - dubbed.audio.samples[n - 1]), 1000) << n;
  }
}

TEST(MixFragment, OffModeIsTheDubAlone) {
  auto original = constant(100, 2, 1000);
  auto voice = constant(100, 1, 7);
  auto cfg = config();
  cfg.mode = BedMode::off;
  auto out = mix_fragment({&original, {}, &voice, std::nullopt, 1.0}, cfg);
  EXPECT_EQ(out.audio.samples, std::vector<std::int16_t>(200, 7));
  EXPECT_EQ(mix_fragment({&original, {}, nullptr, std::nullopt, 1.0}, cfg).audio.samples, original.samples);
}

TEST(BedMode, ParsesItsNames) {
  EXPECT_EQ(parse_bed_mode("duck"), BedMode::duck);
  EXPECT_EQ(parse_bed_mode("off"), BedMode::off);
  EXPECT_FALSE(parse_bed_mode("loud"));
}

namespace {
// A dubbed voice: `value` inside [begin, end), silence elsewhere.
AudioBuffer voice_at(std::int64_t begin, std::int64_t end, std::int16_t value) {
  auto v = constant(1000, 1, 0);
  for (auto n = begin; n < end; ++n) v.samples[static_cast<std::size_t>(n)] = value;
  return v;
}

// Counts its calls and zeroes whatever it is weighted to reduce: "the voice removed".
class CountingRemover final : public BedVoiceRemover {
 public:
  int calls = 0;
  AudioBuffer process(const AudioBuffer& audio, std::span<const float> weight, std::span<AudioBuffer* const>) override {
    ++calls;
    AudioBuffer out = audio;
    const auto channels = static_cast<std::size_t>(audio.format.channels);
    for (std::size_t n = 0; n < weight.size(); ++n) {
      for (std::size_t c = 0; c < channels; ++c) {
        auto& s = out.samples[n * channels + c];
        s = static_cast<std::int16_t>(std::lround(s * (1.0 - weight[n])));
      }
    }
    return out;
  }
};
}  // namespace

TEST(MixLanguages, OneBedForEveryLanguageEachWithItsOwnVoice) {
  auto original = tone(1000, 2, 0.5);
  auto spanish = voice_at(300, 700, 3000);
  auto catalan = voice_at(300, 650, -3000);
  const SpeechSpan speech[] = {{300, 700}};
  const LanguageVoice voices[] = {{&spanish, SpeechSpan{300, 700}}, {&catalan, SpeechSpan{300, 650}}};
  std::vector<double> gains{1.0, 1.0};
  CountingRemover remover;
  auto c = config();
  c.match_loudness = false;
  auto out = mix_languages(original, speech, voices, gains, &remover, c);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(remover.calls, 1) << "the voice remover runs once per fragment, whatever the languages";
  // Where nobody speaks both are the same bed; under speech each carries its own voice.
  EXPECT_EQ(out[0].audio.samples[50 * 2], out[1].audio.samples[50 * 2]);
  EXPECT_EQ(out[0].audio.samples[500 * 2], 3000) << "Spanish voice over the removed voice";
  EXPECT_EQ(out[1].audio.samples[500 * 2], -3000);
  EXPECT_NEAR(gains[0], out[0].end_gain, 1e-9);
}

TEST(MixLanguages, ALanguageThatFellBackAlonePlaysTheOriginal) {
  auto original = tone(1000, 2, 0.5);
  auto spanish = voice_at(300, 1000, 3000);  // runs to the fragment's end: it ends ducked
  const SpeechSpan speech[] = {{300, 700}};
  const LanguageVoice voices[] = {{&spanish, SpeechSpan{300, 1000}}, {nullptr, std::nullopt}};
  std::vector<double> gains{1.0, 1.0};
  CountingRemover remover;
  auto out = mix_languages(original, speech, voices, gains, &remover, config());
  EXPECT_EQ(out[1].audio.samples, original.samples) << "the Catalan output hears the speaker, unreduced";
  EXPECT_DOUBLE_EQ(gains[1], 1.0);
  EXPECT_LT(gains[0], 0.5) << "Spanish ends its fragment ducked";
  // Next fragment nobody is dubbed: Spanish eases back from its own duck, Catalan stays at 1.
  auto next = tone(1000, 2, 0.5);
  const LanguageVoice none[] = {{nullptr, std::nullopt}, {nullptr, std::nullopt}};
  auto after = mix_languages(next, {}, none, gains, &remover, config());
  EXPECT_EQ(remover.calls, 2) << "the remover still hears every fragment (it learns the background)";
  EXPECT_LT(std::abs(after[0].audio.samples[1 * 2]), std::abs(next.samples[1 * 2]) + 1);
  EXPECT_EQ(after[1].audio.samples, next.samples);
}

TEST(MixLanguages, NeedsOneGainPerLanguage) {
  auto original = tone(100, 2, 0.5);
  const LanguageVoice voices[] = {{nullptr, std::nullopt}};
  std::vector<double> gains;
  EXPECT_THROW(mix_languages(original, {}, voices, gains, nullptr, config()), std::invalid_argument);
}
