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

TEST(TimeFit, LongUtterancesAreStretchedWhole) {
  // Rubberband's output buffer holds ~32k frames; more than that from one process() call was
  // lost, which cut every utterance longer than 1.5 s at 22 kHz.
  for (double ratio : {0.75, 1.0, 1.25}) {
    const auto stretched = stretch_speech(sine(440, 22050, 3 * 22050), ratio);
    EXPECT_NEAR(static_cast<double>(stretched.frames()), 3 * 22050 * ratio, 2) << ratio;
    EXPECT_GT(rms(std::span(stretched.samples).subspan(stretched.samples.size() * 9 / 10)), 0.2) << "sound to the end";
  }
}

TEST(TimeFit, TrimmedSpeechFadesOutInsteadOfClicking) {
  auto fitted = fit_speech(sine(440, 22050, 44100), 22050, {0.75, 1.25});
  EXPECT_EQ(fitted.plan.policy, TimeFitPolicy::bound_then_trim);
  EXPECT_EQ(fitted.audio.frames(), 22050);
  EXPECT_LT(std::abs(fitted.audio.samples.back()), 200);
}

TEST(Placement, ShortDubsSlowTowardsThePhraseLongOnesUseThePauseThenCompress) {
  const SpeechSlot slot{100'000, 10'000, 40'000, 60'000};  // phrase 40k frames, 20k of pause after
  const TimeFitBounds bounds{0.75, 1.25};
  auto slower = plan_placement(36'000, slot, bounds);
  EXPECT_EQ(slower.policy, TimeFitPolicy::exact);
  EXPECT_NEAR(slower.ratio, 40.0 / 36.0, 1e-9) << "stretched to the phrase, no further";
  EXPECT_EQ(plan_placement(20'000, slot, bounds).policy, TimeFitPolicy::bound_then_pad);
  auto natural = plan_placement(55'000, slot, bounds);
  EXPECT_EQ(natural.policy, TimeFitPolicy::fits_slot) << "longer than the phrase, fits the pause: natural speed";
  EXPECT_DOUBLE_EQ(natural.ratio, 1.0);
  auto compressed = plan_placement(70'000, slot, bounds);
  EXPECT_EQ(compressed.policy, TimeFitPolicy::exact);
  EXPECT_NEAR(compressed.ratio, 60.0 / 70.0, 1e-9) << "compressed to the slot, not to the phrase";
  EXPECT_EQ(plan_placement(100'000, slot, bounds).policy, TimeFitPolicy::bound_then_trim);
  // Without a pause (slot == phrase) it is the v1 plan.
  const SpeechSlot v1{40'000, 0, 40'000, 40'000};
  for (std::int64_t n : {20'000, 36'000, 45'000, 80'000}) {
    EXPECT_EQ(plan_placement(n, v1, bounds).policy, plan_time_fit(n, 40'000, bounds).policy) << n;
  }
}

TEST(Placement, TheDubStartsWhereThePhraseStartedAndNeverLeavesTheSlot) {
  const auto speech = sine(440, 22050, 22050);  // 1 s
  // Fragment 3 s; phrase from 0.5 s for 0.8 s; the slot runs to 2.0 s.
  const SpeechSlot slot{3 * 22050, 22050 / 2, 22050 * 8 / 10, 22050 * 3 / 2};
  auto placed = place_speech(speech, slot, {0.75, 1.25});
  EXPECT_EQ(placed.audio.frames(), 3 * 22050);
  EXPECT_EQ(placed.plan.policy, TimeFitPolicy::fits_slot);
  EXPECT_EQ(placed.speech_begin, 22050 / 2);
  EXPECT_EQ(placed.speech_end, 22050 / 2 + 22050);
  EXPECT_EQ(rms(std::span(placed.audio.samples).subspan(0, 22050 / 2)), 0.0) << "silence before the phrase";
  EXPECT_GT(rms(std::span(placed.audio.samples).subspan(22050 / 2, 22050)), 0.3);
  EXPECT_EQ(rms(std::span(placed.audio.samples).subspan(22050 * 3 / 2 + 1)), 0.0) << "nothing after the dub";
  // Too long for the slot even compressed: cut at the slot's end with a fade.
  auto long_speech = sine(440, 22050, 4 * 22050);
  auto cut = place_speech(long_speech, slot, {0.75, 1.25});
  EXPECT_EQ(cut.plan.policy, TimeFitPolicy::bound_then_trim);
  EXPECT_EQ(cut.speech_end, 22050 / 2 + 22050 * 3 / 2);
  EXPECT_LT(std::abs(cut.audio.samples[static_cast<std::size_t>(cut.speech_end - 1)]), 300);
  EXPECT_EQ(rms(std::span(cut.audio.samples).subspan(static_cast<std::size_t>(cut.speech_end))), 0.0);
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
