// Piper's pure parts: the voice config, clause punctuation, language-switch marks, Unicode
// decomposition, the phoneme-id layout Piper trains on, pace and output level.
#include "sts/piper_voice.hpp"

#include <cmath>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace livedub::sts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A Piper config with the fields real voices carry (a trimmed phoneme map).
std::string config_json(const std::string& extra = "", const std::string& map =
                            R"("_":[0],"^":[1],"$":[2]," ":[3],"!":[4],",":[8],".":[10],"?":[13],"a":[14],"c":[16],"l":[25],"o":[27],"s":[31],"ˈ":[120],"̧":[140])") {
  return R"({"audio":{"sample_rate":22050,"quality":"medium"},"espeak":{"voice":"es"},"language":{"code":"es_ES"},)"
         R"("inference":{"noise_scale":0.667,"length_scale":1,"noise_w":0.8},"phoneme_type":"espeak",)"
         R"("num_symbols":256,"num_speakers":1,"speaker_id_map":{},)" +
         extra + R"("phoneme_id_map":{)" + map + "}}";
}

std::string parse_error(const std::string& json) {
  try {
    parse_piper_config(json, "voices/x.onnx.json");
  } catch (const VoiceModelError& e) {
    return e.what();
  }
  return "no error";
}

TEST(PiperConfig, ReadsWhatARealVoiceConfigCarries) {
  const auto c = parse_piper_config(config_json(), "x.onnx.json");
  EXPECT_EQ(c.language, "es");
  EXPECT_EQ(c.espeak_voice, "es");
  EXPECT_EQ(c.sample_rate, 22050);
  EXPECT_FLOAT_EQ(c.noise_scale, 0.667f);
  EXPECT_FLOAT_EQ(c.length_scale, 1.0f);
  EXPECT_FLOAT_EQ(c.noise_w, 0.8f);
  EXPECT_EQ(c.num_speakers, 1);
  EXPECT_THAT(c.phoneme_id_map.at(U'ˈ'), ElementsAre(120));
  EXPECT_THAT(c.phoneme_id_map.at(U'\u0327'), ElementsAre(140));
}

TEST(PiperConfig, TheLanguageComesFromTheEspeakVoiceWhenTheCodeIsMissing) {
  const auto json = R"({"audio":{"sample_rate":16000},"espeak":{"voice":"pt-br"},"phoneme_id_map":{"_":[0],"^":[1],"$":[2]}})";
  EXPECT_EQ(parse_piper_config(json, "x").language, "pt");
}

TEST(PiperConfig, EveryBrokenFieldIsNamedWithTheFile) {
  EXPECT_THAT(parse_error("{not json"), HasSubstr("voices/x.onnx.json: not a JSON object"));
  EXPECT_THAT(parse_error(R"({"audio":{"sample_rate":22050},"phoneme_id_map":{"_":[0]}})"), HasSubstr("espeak.voice"));
  EXPECT_THAT(parse_error(R"({"espeak":{"voice":"es"},"phoneme_id_map":{"_":[0],"^":[1],"$":[2]}})"),
              HasSubstr("audio.sample_rate"));
  EXPECT_THAT(parse_error(config_json(R"("phoneme_type":"text",)")), HasSubstr("phoneme_type"));
  EXPECT_THAT(parse_error(config_json("", R"("_":[0],"^":[1])")), HasSubstr("lacks the symbol '$'"));
  EXPECT_THAT(parse_error(config_json("", R"("_":[0],"^":[1],"$":[2],"a":[300])")), HasSubstr("outside 0..255"));
  EXPECT_THAT(parse_error(config_json("", R"("_":[0],"^":[1],"$":[2],"a":"x")")), HasSubstr("not a list of ids"));
  EXPECT_THAT(parse_error(config_json(R"("num_speakers":"two",)")), HasSubstr("num_speakers is not a whole number"));
  std::string bad_scale = config_json();
  bad_scale.replace(bad_scale.find("\"noise_w\":0.8"), 13, "\"noise_w\":-1");
  EXPECT_THAT(parse_error(bad_scale), HasSubstr("inference.noise_w"));
}

TEST(ClauseTerminator, IsThePunctuationThatEndedTheClauseInWhatEspeakRead) {
  // What espeak-ng 1.51 consumes per clause: the clause, its closing quotes, and (but for the
  // last clause) the first character of the next one.
  EXPECT_EQ(clause_terminator("Hola, b"), ',');
  EXPECT_EQ(clause_terminator("uenos días. ¿"), '.');
  EXPECT_EQ(clause_terminator("Dijo: \""), ':');
  EXPECT_EQ(clause_terminator("¿Vienes?\""), '?');
  EXPECT_EQ(clause_terminator(" y se fue\xE2\x80\xA6 V"), '.');
  EXPECT_EQ(clause_terminator("Ça va? «"), '?');
  EXPECT_EQ(clause_terminator(" Oui », d"), ',');
  EXPECT_EQ(clause_terminator("it-il."), '.');
  EXPECT_EQ(clause_terminator("Wait... w"), '.');
  EXPECT_EQ(clause_terminator("Всё хорошо! Д"), '!');
  EXPECT_EQ(clause_terminator("好\xEF\xBC\x8C"), ',');
  EXPECT_EQ(clause_terminator("a very long clause without a mark"), 0);
  EXPECT_EQ(clause_terminator("  "), 0);
  EXPECT_EQ(clause_terminator(""), 0);
}

TEST(LanguageSwitches, AreRemovedAndNothingElse) {
  EXPECT_EQ(strip_language_switches("(en)fˈʊtbɔːl(es) ɡol"), "fˈʊtbɔːl ɡol");
  EXPECT_EQ(strip_language_switches("a (b c) (en-us)d"), "a (b c) d");
  EXPECT_EQ(strip_language_switches("unclosed (en"), "unclosed (en");
}

TEST(Decompose, SplitsPrecomposedLettersAsPiperMapsThem) {
  EXPECT_EQ(decompose("ç"), std::u32string(U"c\u0327"));
  EXPECT_EQ(decompose("ɐ̃ʊ̃"), std::u32string(U"ɐ\u0303ʊ\u0303"));
  EXPECT_EQ(decompose("ab"), std::u32string(U"ab"));
  EXPECT_THROW(decompose("\xC3"), TtsError);
}

TEST(PhonemeIds, BosPadAfterEverySymbolEos) {
  const auto c = parse_piper_config(config_json(), "x");
  const auto ids = piper_phoneme_ids({{"ˈola", '.'}}, c);
  ASSERT_EQ(ids.sentences.size(), 1u);
  // ^ _ ˈ _ o _ l _ a _ . _ $
  EXPECT_THAT(ids.sentences[0], ElementsAre(1, 0, 120, 0, 27, 0, 25, 0, 14, 0, 10, 0, 2));
  EXPECT_EQ(ids.unknown, 0u);
}

TEST(PhonemeIds, SentencesEndAtFullStopsCommasStayInside) {
  const auto c = parse_piper_config(config_json(), "x");
  const auto ids = piper_phoneme_ids({{" ola", ','}, {"ola ", '?'}, {"sol", 0}, {"", '.'}, {"", 0}}, c);
  ASSERT_EQ(ids.sentences.size(), 2u);
  // "ola, ola?" then "sol.": a comma keeps its space, the question mark ends the sentence.
  EXPECT_THAT(ids.sentences[0], ElementsAre(1, 0, 27, 0, 25, 0, 14, 0, 8, 0, 3, 0, 27, 0, 25, 0, 14, 0, 13, 0, 2));
  EXPECT_THAT(ids.sentences[1], ElementsAre(1, 0, 31, 0, 27, 0, 25, 0, 10, 0, 2));
}

TEST(PhonemeIds, UnknownSymbolsAreSkippedAndCounted) {
  const auto c = parse_piper_config(config_json(), "x");
  const auto ids = piper_phoneme_ids({{"oχo", 0}}, c);
  ASSERT_EQ(ids.sentences.size(), 1u);
  EXPECT_THAT(ids.sentences[0], ElementsAre(1, 0, 27, 0, 27, 0, 2));
  EXPECT_EQ(ids.unknown, 1u);
  EXPECT_TRUE(piper_phoneme_ids({}, c).sentences.empty());
  EXPECT_TRUE(piper_phoneme_ids({{"  ", 0}}, c).sentences.empty());
  EXPECT_TRUE(piper_phoneme_ids({{"", '.'}, {" ", '?'}}, c).sentences.empty());
}

TEST(PiperPace, FollowsTheProfileRateAroundTheVoicesOwnScale) {
  auto c = parse_piper_config(config_json(), "x");
  EXPECT_FLOAT_EQ(piper_length_scale(c, voice_profile("default")), 1.0f);
  EXPECT_LT(piper_length_scale(c, voice_profile("fast")), 0.8f);
  EXPECT_GT(piper_length_scale(c, voice_profile("slow")), 1.2f);
  c.length_scale = 1.9f;
  EXPECT_FLOAT_EQ(piper_length_scale(c, voice_profile("slow")), 2.0f);  // clamped
}

TEST(PiperLevel, PeakAtMinusOneDbNeverClippedSilenceNotBlownUp) {
  const float loud[] = {0.0f, 2.0f, -4.0f, 1.0f};
  const auto pcm = normalized_pcm16(loud, 4);
  ASSERT_EQ(pcm.size(), 4u);
  EXPECT_EQ(pcm[0], 0);
  EXPECT_NEAR(pcm[2], -0.891 * 32767, 2);  // the peak, at -1 dBFS
  EXPECT_NEAR(pcm[1], 0.891 * 32767 / 2, 2);
  EXPECT_NEAR(pcm[3], 0.891 * 32767 / 4, 2);
  const float quiet[] = {0.001f, -0.002f, std::numeric_limits<float>::quiet_NaN()};
  const auto q = normalized_pcm16(quiet, 3);
  EXPECT_NEAR(std::abs(q[1]), 0.002 * 89.1 * 32767, 2);  // gain at most 89x: -15 dBFS, not full scale
  EXPECT_EQ(q[2], 0);
}

}  // namespace
}  // namespace livedub::sts
