// Embedded CPU speech stages: espeak-ng synthesis and librubberband time-fit.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "sts/espeak_tts.hpp"
#include "sts/time_fit.hpp"

using namespace livedub;
using namespace livedub::sts;

namespace {

EspeakSynthesizer& tts() {
  static EspeakSynthesizer& instance = EspeakSynthesizer::shared();
  return instance;
}

AudioBuffer sine(double hz, int rate, std::int64_t frames) {
  AudioBuffer a{{rate, 1}, 0, {}};
  for (std::int64_t i = 0; i < frames; ++i) {
    a.samples.push_back(static_cast<std::int16_t>(std::lround(0.5 * 32767 * std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) / rate))));
  }
  return a;
}

// Estimated frequency from upward zero crossings; survives stretching if pitch is preserved.
double frequency(const AudioBuffer& a) {
  int crossings = 0;
  for (std::size_t i = 1; i < a.samples.size(); ++i) crossings += (a.samples[i - 1] < 0 && a.samples[i] >= 0);
  return crossings / (static_cast<double>(a.frames()) / a.format.sample_rate);
}

}  // namespace

TEST(TimeFitPlan, StretchesExactlyWithinTheBounds) {
  auto plan = plan_time_fit(100'000, 110'000, {});
  EXPECT_EQ(plan.policy, TimeFitPolicy::exact);
  EXPECT_DOUBLE_EQ(plan.ratio, 1.1);
}

TEST(TimeFitPlan, StopsAtTheBoundsAndSaysWhatItDidInstead) {
  auto too_short = plan_time_fit(50'000, 100'000, {0.8, 1.2});
  EXPECT_EQ(too_short.policy, TimeFitPolicy::bound_then_pad);
  EXPECT_DOUBLE_EQ(too_short.ratio, 1.2);
  auto too_long = plan_time_fit(200'000, 100'000, {0.8, 1.2});
  EXPECT_EQ(too_long.policy, TimeFitPolicy::bound_then_trim);
  EXPECT_DOUBLE_EQ(too_long.ratio, 0.8);
  EXPECT_EQ(plan_time_fit(0, 100'000, {}).policy, TimeFitPolicy::silence);
  EXPECT_THROW(plan_time_fit(1, 1, {1.2, 1.5}), std::invalid_argument);
}

TEST(TimeFit, OutputHasExactlyTheTargetLengthAndKeepsThePitch) {
  const auto speech = sine(440, 22050, 22050);  // 1 s
  for (std::int64_t target : {22050 * 9 / 10, 22050 * 6 / 5, 22050 * 3, 22050 / 3}) {
    auto fitted = fit_speech(speech, target, {0.75, 1.25});
    EXPECT_EQ(fitted.audio.frames(), target);
    EXPECT_EQ(fitted.audio.format, speech.format);
  }
  auto slower = fit_speech(speech, 22050 * 6 / 5, {0.75, 1.25});
  EXPECT_EQ(slower.plan.policy, TimeFitPolicy::exact);
  EXPECT_NEAR(frequency(slower.audio), 440, 15) << "time-stretching must not change pitch";
  EXPECT_GT(rms(slower.audio.samples), 0.2);
}

TEST(TimeFit, TrimmedSpeechFadesOutInsteadOfClicking) {
  auto fitted = fit_speech(sine(440, 22050, 44100), 22050, {0.75, 1.25});
  EXPECT_EQ(fitted.plan.policy, TimeFitPolicy::bound_then_trim);
  EXPECT_EQ(fitted.audio.frames(), 22050);
  EXPECT_LT(std::abs(fitted.audio.samples.back()), 200);
}

TEST(EspeakTts, SpeaksSpanishIntoMemory) {
  ASSERT_TRUE(tts().has_language("es"));
  ASSERT_TRUE(tts().has_language("en"));
  auto audio = tts().synthesize("Hola, bienvenidos a la demostración.", "es", "default");
  EXPECT_EQ(audio.format.sample_rate, tts().sample_rate());
  const double seconds = static_cast<double>(audio.frames()) / audio.format.sample_rate;
  EXPECT_GT(seconds, 1.0);
  EXPECT_LT(seconds, 5.0);
  EXPECT_GT(rms(audio.samples), 0.02) << "speech must not be silent";
}

TEST(EspeakTts, VoiceProfilesChangeRate) {
  const std::string text = "Esta frase se dice a dos velocidades distintas.";
  auto fast = tts().synthesize(text, "es", "fast");
  auto slow = tts().synthesize(text, "es", "slow");
  EXPECT_LT(static_cast<double>(fast.frames()) * 1.3, static_cast<double>(slow.frames()));
  EXPECT_GT(tts().synthesize(text, "es", "female").frames(), 0);
}

TEST(EspeakTts, RejectsUnknownLanguagesAndProfilesAndAcceptsEmptyText) {
  EXPECT_THROW(tts().synthesize("hola", "xx", "default"), TtsError);
  EXPECT_THROW(tts().synthesize("hola", "es", "robot"), TtsError);
  EXPECT_EQ(tts().synthesize("   ", "es", "default").frames(), 0);
}
