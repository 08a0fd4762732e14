// The voice-preserving dub's reference clip: which phrases a stream's speaker is learnt from.
#include <cmath>

#include <gtest/gtest.h>

#include "speaker_clip.hpp"

namespace livedub::worker {
namespace {

constexpr int kRate = 16000;

// A 2 s stereo fragment: a "voice" (220 Hz at `speech_level`) in [begin_s, end_s), `bed_level`
// of another tone everywhere.
AudioBuffer fragment(double begin_s, double end_s, double speech_level, double bed_level) {
  AudioBuffer out{{kRate, 2}, 0, std::vector<std::int16_t>(2 * 2 * kRate)};
  for (int i = 0; i < 2 * kRate; ++i) {
    const double t = static_cast<double>(i) / kRate;
    double v = bed_level * std::sin(2 * M_PI * 97 * t);
    if (t >= begin_s && t < end_s) v += speech_level * std::sin(2 * M_PI * 220 * t);
    const auto s = static_cast<std::int16_t>(std::lround(32767 * v));
    out.samples[2 * static_cast<std::size_t>(i)] = s;
    out.samples[2 * static_cast<std::size_t>(i) + 1] = s;
  }
  return out;
}

// A 2 s stereo piece of a long phrase, all speech, starting `at_s` into the stream: "words" of
// 180 ms with 40 ms stops between them (speech falls to what is under it there), over `bed_level`.
AudioBuffer piece_of_phrase(double at_s, double speech_level, double bed_level) {
  auto out = fragment(0.0, 0.0, 0.0, bed_level);
  out.start_frame = static_cast<std::int64_t>(at_s * kRate);
  for (int i = 0; i < 2 * kRate; ++i) {
    const double t = static_cast<double>(i) / kRate;
    if (std::fmod(t, 0.22) >= 0.18) continue;
    const auto s = static_cast<std::int16_t>(out.samples[2 * static_cast<std::size_t>(i)] +
                                             std::lround(32767 * speech_level * std::sin(2 * M_PI * 220 * t)));
    out.samples[2 * static_cast<std::size_t>(i)] = s;
    out.samples[2 * static_cast<std::size_t>(i) + 1] = s;
  }
  return out;
}

SpeechSpan span(double begin_s, double end_s) {
  return {static_cast<std::int64_t>(begin_s * kRate), static_cast<std::int64_t>(end_s * kRate)};
}

TEST(SpeakerClip, GathersCleanSpeechUntilTheTarget) {
  SpeakerClip clip({.target_s = 3.0});
  EXPECT_TRUE(clip.add(fragment(0.2, 1.8, 0.3, 0.001), {span(0.2, 1.8)}));
  EXPECT_FALSE(clip.ready());
  EXPECT_NEAR(clip.seconds(), 1.6, 0.001);
  EXPECT_TRUE(clip.add(fragment(0.1, 1.9, 0.3, 0.001), {span(0.1, 1.9)}));
  ASSERT_TRUE(clip.ready());
  const auto audio = clip.clip();
  EXPECT_EQ(audio.format.sample_rate, kRate);
  EXPECT_EQ(audio.format.channels, 1);
  EXPECT_EQ(audio.frames(), 3 * kRate);  // capped at the target: never more of the speaker than asked
  // Complete: later fragments change nothing.
  EXPECT_FALSE(clip.add(fragment(0.2, 1.8, 0.3, 0.001), {span(0.2, 1.8)}));
  EXPECT_EQ(clip.clip().frames(), 3 * kRate);
}

TEST(SpeakerClip, SkipsPhrasesWithMusicUnderThem) {
  SpeakerClip clip;
  // The bed at -16 dB under the voice: 10 dB apart, below the 15 dB asked.
  EXPECT_FALSE(clip.add(fragment(0.2, 1.8, 0.3, 0.1), {span(0.2, 1.8)}));
  EXPECT_EQ(clip.seconds(), 0.0);
}

TEST(SpeakerClip, NeedsTheDetectorsSpansAndRoomAroundThem) {
  SpeakerClip clip;
  EXPECT_FALSE(clip.add(fragment(0.2, 1.8, 0.3, 0.0), {}));  // no speech found
  // One span over the whole fragment (the fixed cutter, no detector): nothing to compare with.
  EXPECT_FALSE(clip.add(fragment(0.0, 2.0, 0.3, 0.0), {span(0.0, 2.0)}));
  // A span too short to say anything about a voice.
  EXPECT_FALSE(clip.add(fragment(0.5, 0.7, 0.3, 0.0), {span(0.5, 0.7)}));
  EXPECT_EQ(clip.seconds(), 0.0);
}

// A long phrase cut between words at the fragment maximum: its middle pieces are speech from
// end to end, with nothing of their own to compare with. They are judged by the level measured
// in a fragment near them (before or after: fragments complete out of order) and by their own
// stops between words, where music that began under the phrase since shows.
TEST(SpeakerClip, PiecesOfALongPhraseAreJudgedByTheBackgroundMeasuredNearThem) {
  SpeakerClip clip({.target_s = 20.0});
  const auto whole = std::vector<SpeechSpan>{span(0.0, 2.0)};
  // No level measured yet: nothing to judge the piece by.
  EXPECT_FALSE(clip.add(piece_of_phrase(2.0, 0.3, 0.001), whole));
  // The phrase's start, quiet before it.
  auto start = fragment(0.5, 2.0, 0.3, 0.001);
  start.start_frame = 0;
  ASSERT_TRUE(clip.add(start, {span(0.5, 2.0)}));
  EXPECT_NEAR(clip.seconds(), 1.5, 0.001);
  EXPECT_TRUE(clip.add(piece_of_phrase(2.0, 0.3, 0.001), whole));
  EXPECT_NEAR(clip.seconds(), 3.5, 0.001);
  // Music under the next piece (10 dB under the voice): its stops between words show it.
  EXPECT_FALSE(clip.add(piece_of_phrase(4.0, 0.3, 0.1), whole));
  // Long after the measurement: the surroundings may have changed.
  EXPECT_FALSE(clip.add(piece_of_phrase(30.0, 0.3, 0.001), whole));
  EXPECT_NEAR(clip.seconds(), 3.5, 0.001);
  // The measurement may come after the piece on the stream (the piece's dub came back first).
  auto later = fragment(0.0, 1.0, 0.3, 0.001);
  later.start_frame = 40 * kRate;
  EXPECT_TRUE(clip.add(later, {span(0.0, 1.0)}));
  EXPECT_TRUE(clip.add(piece_of_phrase(38.0, 0.3, 0.001), whole));
  EXPECT_NEAR(clip.seconds(), 6.5, 0.001);
}

TEST(SpeakerClip, KeepsOnlyTheSpeechSpans) {
  SpeakerClip clip({.target_s = 10.0, .min_snr_db = 5.0});
  ASSERT_TRUE(clip.add(fragment(0.5, 1.5, 0.3, 0.0), {span(0.5, 1.0), span(1.1, 1.5)}));
  EXPECT_NEAR(clip.seconds(), 0.9, 0.001);  // 0.5 + 0.4 s: the 0.1 s between them is left out
  clip.reset();
  EXPECT_EQ(clip.seconds(), 0.0);
  EXPECT_FALSE(clip.ready());
}

}  // namespace
}  // namespace livedub::worker
