#include "fragment_captions.hpp"

#include <gtest/gtest.h>

namespace livedub::worker {
namespace {

// A 2 s fragment at 10 s of the output timeline, 1 kHz for easy frames, speech at 0.2-1.2 s.
ResolvedFragment dubbed_fragment() {
  ResolvedFragment f;
  f.seq = 5;
  f.outcome = FragmentOutcome::dubbed;
  f.original = AudioBuffer{{1000, 1}, 10'000, std::vector<std::int16_t>(2000)};
  f.speech = {{200, 700}, {800, 1200}};
  f.voice_span = SpeechSpan{200, 1500};
  f.texts.transcript = "good morning";
  f.texts.translation = "buenos días";
  ExtraTrack ca;
  ca.dubbed = true;
  ca.voice_span = SpeechSpan{200, 1400};
  ca.translation = "bon dia";
  f.texts.extra.push_back(ca);
  return f;
}

const CaptionCue* find(const FragmentCaptions& c, const std::string& lang) {
  for (const auto& cue : c.cues) {
    if (cue.lang == lang) return &cue;
  }
  return nullptr;
}

TEST(FragmentCaptions, SourceWhereSpokenEachTranslationWhereItsDubPlays) {
  const auto c = captions_for_fragment(dubbed_fragment(), "en", {"es", "ca"}, 21'000'000, 0);
  ASSERT_EQ(c.cues.size(), 3u);
  const auto* en = find(c, "en");
  ASSERT_TRUE(en);
  EXPECT_TRUE(en->source);
  EXPECT_EQ(en->start_ms, 10'221);  // 10 s + 200 ms + the 21 ms output shift
  EXPECT_EQ(en->end_ms, 11'221);    // the last speech span's end
  EXPECT_EQ(find(c, "es")->end_ms, 11'521);
  EXPECT_EQ(find(c, "ca")->text, "bon dia");
  EXPECT_EQ(find(c, "ca")->end_ms, 11'421);
  ASSERT_EQ(c.rtmp.size(), 2u);
  ASSERT_TRUE(c.rtmp[1]);
  EXPECT_EQ(c.rtmp[1]->start_ns, 10'200'000'000);  // the video's own timeline: no shift
  EXPECT_EQ(c.rtmp[1]->text, "bon dia");
  // A restarted worker's offset moves the cues, not the RTMP captions (its video is shifted too).
  const auto later = captions_for_fragment(dubbed_fragment(), "en", {"es", "ca"}, 21'000'000, 60'000);
  EXPECT_EQ(find(later, "es")->start_ms, 70'221);
  EXPECT_EQ(later.rtmp[0]->start_ns, 10'200'000'000);
}

TEST(FragmentCaptions, AFallbackHasNoText) {
  for (auto outcome : {FragmentOutcome::fallback_error, FragmentOutcome::fallback_timeout, FragmentOutcome::no_speech,
                       FragmentOutcome::silence}) {
    auto f = dubbed_fragment();
    f.outcome = outcome;
    f.detail = "STS answered HTTP 500: engine_error: boom";
    const auto c = captions_for_fragment(f, "en", {"es", "ca"}, 0, 0);
    EXPECT_TRUE(c.cues.empty()) << to_string(outcome);
    EXPECT_FALSE(c.rtmp[0]) << to_string(outcome);
    EXPECT_FALSE(c.rtmp[1]) << to_string(outcome);
  }
}

TEST(FragmentCaptions, ALanguageThatFellBackAloneHasNoCue) {
  auto f = dubbed_fragment();
  f.texts.extra[0].dubbed = false;
  f.texts.extra[0].detail = "STS could not dub ca (engine_error): no voice";
  const auto c = captions_for_fragment(f, "en", {"es", "ca"}, 0, 0);
  EXPECT_TRUE(find(c, "es"));
  EXPECT_FALSE(find(c, "ca"));
  EXPECT_FALSE(c.rtmp[1]);
}

TEST(FragmentCaptions, NoWordsNoCue) {
  auto f = dubbed_fragment();
  // clear()/append rather than assigning literals: GCC 12 misreports that at -O3 (-Wrestrict).
  f.texts.transcript.clear();
  f.texts.translation.assign(1, ' ');
  f.texts.extra[0].translation.clear();
  EXPECT_TRUE(captions_for_fragment(f, "en", {"es", "ca"}, 0, 0).cues.empty());
  // Without a detector the source line spans the dub.
  auto whole = dubbed_fragment();
  whole.speech.clear();
  EXPECT_EQ(find(captions_for_fragment(whole, "en", {"es"}, 0, 0), "en")->end_ms, 11'500);
}

}  // namespace
}  // namespace livedub::worker
