// Pure logic behind the speech-quality figures and the glossary: WER text normalisation,
// chrF/BLEU, the fixed tune/test split, glossary parsing and protection, whisper's prompt,
// Pico's markup and the per-language choice of TTS engine.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sts/apertium_mt.hpp"
#include "sts/glossary.hpp"
#include "sts/pico_tts.hpp"
#include "sts/speech_corpus.hpp"
#include "sts/text_metrics.hpp"
#include "sts/whisper_asr.hpp"

namespace livedub::sts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(WerNormalisation, NumbersSymbolsCaseAndPunctuation) {
  EXPECT_THAT(normalized_words("Press 1, then #."), ElementsAre("press", "one", "then", "pound"));
  EXPECT_THAT(normalized_words("dial 500 or *98"), ElementsAre("dial", "five", "hundred", "or", "star", "ninety", "eight"));
  EXPECT_THAT(normalized_words("a 28.8 kilobit modem"),
              ElementsAre("a", "twenty", "eight", "point", "eight", "kilobit", "modem"));
  EXPECT_THAT(normalized_words("3D audio"), ElementsAre("three", "d", "audio"));
  EXPECT_THAT(normalized_words("You'd say 'voice-mail' & 5%"),
              ElementsAre("you'd", "say", "voice", "mail", "and", "five", "percent"));
  EXPECT_EQ(number_words(0), "zero");
  EXPECT_EQ(number_words(1234), "one thousand two hundred thirty four");
  EXPECT_EQ(number_words(2000000), "two million");
  // The same normalisation on both sides: digits and words for the same number are no error.
  EXPECT_EQ(word_errors("Press 1 for sales", "press one for sales").errors, 0u);
}

TEST(TranslationScores, ChrfAndBleuOnHandComputedCases) {
  EXPECT_DOUBLE_EQ(corpus_chrf({"el coche rojo"}, {"el coche rojo"}), 100.0);
  EXPECT_DOUBLE_EQ(corpus_chrf({"xyz"}, {"abc"}), 0.0);
  // chars: P = 1 for n = 1, 2; R = 2/3 and 1/2 -> F2 = 5PR / (4P + R) with R = 7/12.
  EXPECT_NEAR(corpus_chrf({"ab"}, {"abc"}), 100.0 * 5 * (7.0 / 12) / (4 + 7.0 / 12), 1e-9);
  EXPECT_DOUBLE_EQ(corpus_bleu({"a b c d e"}, {"a b c d e"}), 100.0);
  // Every n-gram precision is 1; the brevity penalty is exp(1 - 6/5).
  EXPECT_NEAR(corpus_bleu({"a b c d e"}, {"a b c d e f"}), 100.0 * std::exp(-0.2), 1e-9);
  EXPECT_DOUBLE_EQ(corpus_bleu({"a b c"}, {"a b c"}), 0.0) << "no 4-gram at all";
  // Case and punctuation are tokens apart, not errors.
  EXPECT_DOUBLE_EQ(corpus_bleu({"Hola, amigo mío del alma."}, {"hola , amigo mío del alma ."}), 100.0);
  EXPECT_EQ(fold_accents("Contraseña ÁNGEL número"), "Contrasena ANGEL numero");
}

TEST(RecognitionSet, TheSplitIsFixedByIdAlone) {
  // These ids sit where they sit forever: changing the rule would mix tuning into testing.
  EXPECT_EQ(eval_part("asterisk-en/agent-pass"), eval_part("asterisk-en/agent-pass"));
  int tune = 0;
  for (int i = 0; i < 1000; ++i) tune += eval_part("item-" + std::to_string(i)) == EvalPart::kTune;
  EXPECT_GT(tune, 420);
  EXPECT_LT(tune, 580);
  EXPECT_STREQ(to_string(EvalPart::kTest), "test");
}

TEST(GlossaryFile, KeptTermsAndForcedTranslationsParse) {
  const auto g = Glossary::parse(
      "# names\nlivedub\n  OBS Studio  \n\nen-es: stream key = clave de transmisión\nen-es: live = en directo\n",
      "g.txt");
  ASSERT_EQ(g.entries().size(), 4u);
  // Longest first; equal lengths keep the file's order.
  EXPECT_EQ(g.entries()[0].source, "OBS Studio");
  EXPECT_EQ(g.entries()[1].source, "stream key");
  EXPECT_EQ(g.entries()[1].target, "clave de transmisión");
  EXPECT_EQ(g.entries()[1].source_lang, "en");
  EXPECT_EQ(g.entries()[1].target_lang, "es");
  EXPECT_EQ(g.entries()[1].line, 5);
  EXPECT_EQ(g.entries()[0].target, "OBS Studio") << "kept as written";
  EXPECT_THAT(g.recognition_hints("en"), ElementsAre("OBS Studio", "stream key", "livedub", "live"));
  EXPECT_THAT(g.recognition_hints("fr"), ElementsAre("OBS Studio", "livedub"));
}

TEST(GlossaryFile, BadLinesAreNamedWithFileAndLine) {
  auto error_of = [](const std::string& text) {
    try {
      Glossary::parse(text, "/etc/livedub/glossary.txt");
    } catch (const GlossaryError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error_of("ok\nstream = directo\n"),
            "/etc/livedub/glossary.txt:2: a forced translation needs its language pair: 'en-es: source = target'");
  EXPECT_THAT(error_of("english-spanish: a = b"), HasSubstr("glossary.txt:1: 'english-spanish' is not a language pair"));
  EXPECT_THAT(error_of("\n\nen-es: stream key"), HasSubstr(":3: a forced translation needs 'source = target'"));
  EXPECT_THAT(error_of("en-es: = directo"), HasSubstr(":1: both sides of '=' must name a term"));
  EXPECT_THAT(error_of("ok\n\xff\xfe bad"), HasSubstr(":2: not valid UTF-8"));
  EXPECT_THAT(error_of("(parenthesised)"), HasSubstr(":1: a term must start and end with a letter or digit"));
  EXPECT_THAT(error_of(std::string(300, 'a')), HasSubstr("longer than 200 bytes"));
  try {
    Glossary::load("/nonexistent/glossary.txt");
    FAIL() << "a missing file was accepted";
  } catch (const GlossaryError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/glossary.txt: cannot be read");
  }
}

TEST(GlossaryProtection, MatchesWholeWordsCaseInsensitivelyAndRestoresTheGlossarySpelling) {
  const auto g = Glossary::parse("OBS Studio\nOBS\nen-es: stream = directo\n", "g");
  const auto p = g.protect("open obs studio and obs then start the stream streaming", "en", "es");
  EXPECT_EQ(p.text, "open Zlvdbqa and Zlvdbqb then start the Zlvdbqc streaming") << "longest first, whole words";
  // As MT would move them about.
  EXPECT_EQ(Glossary::restore("abre Zlvdbqa y Zlvdbqb, empieza el Zlvdbqc", p), "abre OBS Studio y OBS, empieza el directo");
  EXPECT_TRUE(Glossary::starts_with_term("Zlvdbqa y", p));
  EXPECT_FALSE(Glossary::starts_with_term("Abre Zlvdbqa", p));
  // A forced translation belongs to its pair only.
  EXPECT_EQ(g.protect("the stream", "en", "ca").text, "the stream");
  EXPECT_EQ(Glossary{}.protect("anything", "en", "es").text, "anything");
  // Many placeholders: two-letter ones never collide with one-letter prefixes.
  std::string many;
  for (int i = 0; i < 30; ++i) many += "obs ";
  const auto pm = g.protect(many, "en", "es");
  ASSERT_EQ(pm.placeholders.size(), 30u);
  EXPECT_EQ(Glossary::restore(pm.text, pm), "OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS "
                                            "OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS OBS ");
}

TEST(WhisperPrompt, GlossaryTermsThenThePreviousFragment) {
  EXPECT_EQ(whisper_prompt({"en", "", {}}), "");
  EXPECT_EQ(whisper_prompt({"en", "and so we began", {}}), "and so we began");
  EXPECT_EQ(whisper_prompt({"en", "and so we began", {"OBS Studio", "livedub"}}), "OBS Studio, livedub. and so we began");
  const auto long_prompt = whisper_prompt({"en", std::string(2000, 'x'), std::vector<std::string>(200, "term")});
  EXPECT_LE(long_prompt.size(), 900u);
  EXPECT_THAT(long_prompt, HasSubstr("term, term"));
  EXPECT_THAT(long_prompt, HasSubstr("xxxx"));
}

TEST(ApertiumModes, EngCatsMultiwordTokenizerIsAKnownStage) {
  // apertium-eng-cat runs lsx-proc between pretransfer and the bilingual lookup.
  EXPECT_EQ(null_flush_pipeline("apertium-pretransfer | lsx-proc '/x/eng-cat.autosep.bin' | lt-proc $1 '/x/gen.bin'"),
            "apertium-pretransfer -z | lsx-proc -z '/x/eng-cat.autosep.bin' | lt-proc -z -n '/x/gen.bin'");
}

TEST(PicoMarkup, EscapesMarkupAndCarriesTheProfile) {
  VoiceProfile profile;
  profile.pico_pitch = 80;
  profile.pico_speed = 120;
  EXPECT_EQ(pico_markup("a <b> c", profile), "<pitch level=\"80\"><speed level=\"120\">a  b  c</speed></pitch>");
}

class FakeSynthesizer final : public SpeechSynthesizer {
 public:
  FakeSynthesizer(std::string name, std::vector<std::string> languages)
      : name_(std::move(name)), languages_(std::move(languages)) {}
  std::string name() const override { return name_; }
  std::vector<std::string> languages() const override { return languages_; }
  std::string voice_name(const std::string& language) const override { return language + "-voice"; }
  AudioBuffer synthesize(const std::string&, const std::string&, const std::string&) override { return {}; }

 private:
  std::string name_;
  std::vector<std::string> languages_;
};

TEST(VoiceSelection, EachLanguageGoesToTheFirstEngineThatSpeaksIt) {
  const VoiceSelection voices({std::make_shared<FakeSynthesizer>("piper", std::vector<std::string>{"fr", "es"}),
                               std::make_shared<FakeSynthesizer>("pico", std::vector<std::string>{"en", "es"}),
                               std::make_shared<FakeSynthesizer>("espeak-ng", std::vector<std::string>{"ca", "es", "fr"})});
  EXPECT_THAT(voices.languages(), ElementsAre("ca", "en", "es", "fr"));
  EXPECT_EQ(voices.describe("es"), "piper es-voice");
  EXPECT_EQ(voices.describe("fr"), "piper fr-voice");
  EXPECT_EQ(voices.describe("en"), "pico en-voice");
  EXPECT_EQ(voices.describe("ca"), "espeak-ng ca-voice");
  EXPECT_THROW(voices.for_language("de"), TtsError);
  const VoiceSelection only({nullptr, nullptr, std::make_shared<FakeSynthesizer>("espeak-ng", std::vector<std::string>{"es"})});
  EXPECT_EQ(only.describe("es"), "espeak-ng es-voice");
}

}  // namespace
}  // namespace livedub::sts
