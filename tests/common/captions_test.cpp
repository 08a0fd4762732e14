#include "livedub/captions.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "livedub/stream_id.hpp"

namespace livedub {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string list_error(const std::string& text, const std::string& source = "en") {
  try {
    parse_language_list(text, source);
  } catch (const LanguageListError& e) {
    return e.what();
  }
  return "";
}

TEST(LanguageList, ParsesCommaSeparatedTags) {
  EXPECT_THAT(parse_language_list("es", "en"), ElementsAre("es"));
  EXPECT_THAT(parse_language_list("es,ca", "en"), ElementsAre("es", "ca"));
  EXPECT_THAT(parse_language_list(" es , pt-BR ", "en"), ElementsAre("es", "pt-BR"));
}

TEST(LanguageList, SaysWhatIsWrong) {
  EXPECT_THAT(list_error(""), HasSubstr("empty entry"));
  EXPECT_THAT(list_error("es,,ca"), HasSubstr("empty entry"));
  EXPECT_THAT(list_error("es,"), HasSubstr("empty entry"));
  EXPECT_THAT(list_error("es,spanish"), HasSubstr("'spanish' is not a language tag"));
  EXPECT_THAT(list_error("es,ca,es"), HasSubstr("'es' is listed twice"));
  EXPECT_THAT(list_error("es,en"), HasSubstr("source language"));
  EXPECT_THAT(list_error("es,ca,fr,it,de"), HasSubstr("at most 4"));
}

TEST(LanguageOutputs, FirstLanguageKeepsTheOutputOthersGetTheirOwn) {
  EXPECT_EQ(output_leaf_for_language("es", true), "out");
  EXPECT_EQ(output_leaf_for_language("ca", false), "out-ca");
  EXPECT_EQ(output_leaf_for_language("pt-BR", false), "out-pt-br");
  EXPECT_EQ(output_url_for_language("rtmp://h:1935/live/abc/out", "ca"), "rtmp://h:1935/live/abc/out-ca");
  EXPECT_EQ(output_url_for_language("rtmp://h/live/abc/out?user=livedub-worker&pass=x", "ca"),
            "rtmp://h/live/abc/out-ca?user=livedub-worker&pass=x");
  EXPECT_FALSE(output_url_for_language("rtmp://h/live/abc/dubbed", "ca").has_value());
  // And the media server's side reads them back as the stream's outputs.
  auto path = parse_stream_path("live/abc/out-ca");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->stream_id, "abc");
  EXPECT_EQ(path->direction, StreamDirection::out);
  EXPECT_EQ(path->output_lang, "ca");
  EXPECT_EQ(parse_stream_path("live/abc/out-pt-br")->output_lang, "pt-br");
  EXPECT_FALSE(parse_stream_path("live/abc/out-"));
  EXPECT_FALSE(parse_stream_path("live/abc/out-CA"));
  EXPECT_FALSE(parse_stream_path("live/abc/out-c"));
  EXPECT_EQ(parse_stream_path("live/abc/out")->output_lang, "");
}

TEST(CueTiming, CueSpansThePlacedPhraseOnTheOutputTimeline) {
  // A fragment at 10 s on the output; the dub plays from frame 4800 to 52800 at 48 kHz.
  auto cue = cue_for_placed_phrase(7, "es", false, " hola mundo ", 10'000'000'000, 4800, 52800, 48000, 0);
  ASSERT_TRUE(cue);
  EXPECT_EQ(cue->seq, 7);
  EXPECT_EQ(cue->start_ms, 10'100);
  EXPECT_EQ(cue->end_ms, 11'100);
  EXPECT_EQ(cue->text, "hola mundo");
  EXPECT_FALSE(cue->source);
  // A restarted worker's offset moves it with the output's timestamps.
  EXPECT_EQ(cue_for_placed_phrase(7, "es", false, "hola", 10'000'000'000, 4800, 52800, 48000, 60'000)->start_ms, 70'100);
  // Rounded to the nearest ms, not truncated.
  EXPECT_EQ(cue_for_placed_phrase(1, "es", false, "x", 0, 47, 100, 48000, 0)->start_ms, 1);
}

// A hostile or broken STS sent 100,000 characters for one phrase.
TEST(CueTiming, AHugeTextIsCutOnACharacterBoundary) {
  std::string huge;
  for (int i = 0; i < 50'000; ++i) huge += "\xc3\xa9";  // "é" x 50,000: 100,000 bytes
  const auto cue = cue_for_placed_phrase(1, "es", false, huge, 0, 0, 48000, 48000, 0);
  ASSERT_TRUE(cue);
  EXPECT_LE(cue->text.size(), kMaxCaptionCueBytes);
  EXPECT_EQ(cue->text.substr(cue->text.size() - 3), "\xe2\x80\xa6");  // "…"
  EXPECT_EQ(cue->text.substr(0, 4), "\xc3\xa9\xc3\xa9");
  EXPECT_TRUE(nlohmann::json::accept(to_json(*cue).dump()));  // whole characters only
  EXPECT_EQ(cue_for_placed_phrase(1, "es", false, std::string(kMaxCaptionCueBytes, 'a'), 0, 0, 48000, 48000, 0)->text,
            std::string(kMaxCaptionCueBytes, 'a'));
}

TEST(CueTiming, NoSpeechOrNoTextMakesNoCue) {
  EXPECT_FALSE(cue_for_placed_phrase(1, "es", false, "", 0, 0, 48000, 48000, 0));
  EXPECT_FALSE(cue_for_placed_phrase(1, "es", false, "  \n ", 0, 0, 48000, 48000, 0));
  EXPECT_FALSE(cue_for_placed_phrase(1, "es", false, "hola", 0, 4800, 4800, 48000, 0));
  EXPECT_FALSE(cue_for_placed_phrase(1, "es", false, "hola", 0, 4800, 100, 48000, 0));
}

TEST(WebVtt, TimestampsAndEscaping) {
  EXPECT_EQ(format_vtt_timestamp(0), "00:00:00.000");
  EXPECT_EQ(format_vtt_timestamp(3'723'004), "01:02:03.004");
  EXPECT_EQ(format_vtt_timestamp(100 * 3'600'000LL + 5), "100:00:00.005");
  EXPECT_EQ(format_vtt_timestamp(-5), "00:00:00.000");
  EXPECT_EQ(escape_vtt_text("a < b & c > d"), "a &lt; b &amp; c &gt; d");
  EXPECT_EQ(escape_vtt_text("one\n\ntwo --> three\x01"), "one two --&gt; three");
  EXPECT_EQ(escape_vtt_text("<b>bold</b>"), "&lt;b&gt;bold&lt;/b&gt;");
  EXPECT_EQ(escape_vtt_text("¿Qué tal?"), "¿Qué tal?");
}

TEST(WebVtt, FileOfOneLanguageInStartOrder) {
  std::vector<CaptionCue> cues{{2, "es", false, 3000, 4500, "segunda"},
                               {1, "en", true, 1000, 2000, "first"},
                               {1, "es", false, 1100, 2500, "primera <línea>"},
                               {3, "es", false, 5000, 5000, "instant"}};
  EXPECT_EQ(format_webvtt(cues, "es"),
            "WEBVTT\n\n"
            "1\n00:00:01.100 --> 00:00:02.500\nprimera &lt;línea&gt;\n\n"
            "2\n00:00:03.000 --> 00:00:04.500\nsegunda\n\n"
            "3\n00:00:05.000 --> 00:00:05.001\ninstant\n\n");
  EXPECT_EQ(format_webvtt(cues, "en"), "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nfirst\n\n");
  EXPECT_EQ(format_webvtt(cues, "ca"), "WEBVTT\n\n");
}

TEST(CaptionJournal, RoundTripsAndSkipsTornLines) {
  const CaptionCue cue{4, "ca", false, 1200, 2300, "bon dia \"amics\""};
  const auto line = to_json(cue).dump();
  std::size_t skipped = 0;
  const auto cues = parse_caption_journal(line + "\n{\"seq\":5,\"lang\":\"ca\"\n\nnot json\n" + line, &skipped);
  ASSERT_EQ(cues.size(), 2u);
  EXPECT_EQ(cues[0], cue);
  EXPECT_EQ(skipped, 2u);
  EXPECT_THROW(cue_from_json(nlohmann::json{{"seq", 1}, {"lang", "../x"}, {"kind", "source"}, {"start_ms", 0},
                                            {"end_ms", 1}, {"text", "x"}}),
               std::invalid_argument);
  EXPECT_THROW(cue_from_json(nlohmann::json{{"seq", 1}, {"lang", "es"}, {"kind", "source"}, {"start_ms", 5},
                                            {"end_ms", 1}, {"text", "x"}}),
               std::invalid_argument);
}

TEST(CaptionJournal, RecentCuesAreTheRollingWindow) {
  std::vector<CaptionCue> cues{{1, "es", false, 0, 1000, "a"},
                               {2, "es", false, 20'000, 21'000, "b"},
                               {3, "en", true, 90'000, 91'000, "other language"},
                               {4, "es", false, 40'000, 41'000, "c"}};
  const auto recent = recent_cues(cues, "es", 30'000);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].text, "b");
  EXPECT_EQ(recent[1].text, "c");
  EXPECT_TRUE(recent_cues(cues, "fr", 30'000).empty());
}

}  // namespace
}  // namespace livedub
