// Speech quality on real material from Debian, with bounds set from measured figures:
// SVOX Pico's voice (intelligibility through the recogniser), Apertium's chrF/BLEU on the
// asterisk en/es parallel prompts, recognition WER on a fixed slice of the test part, and the
// glossary through real Apertium and the whole CPU engine.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "livedub/wav.hpp"
#include "sts/apertium_mt.hpp"
#include "sts/cpu_engine.hpp"
#include "sts/espeak_tts.hpp"
#include "sts/glossary.hpp"
#include "sts/pico_tts.hpp"
#include "sts/pocketsphinx_asr.hpp"
#include "sts/speech_corpus.hpp"
#include "sts/text_metrics.hpp"

namespace livedub::sts {
namespace {

using ::testing::HasSubstr;

const std::filesystem::path kModelDir = "/usr/share/pocketsphinx/model/en-us";
const std::filesystem::path kModesDir = "/usr/share/apertium/modes";

PicoSynthesizer& pico() {
  static PicoSynthesizer instance;
  return instance;
}

PocketsphinxRecognizer& recognizer() {
  static PocketsphinxRecognizer instance(locate_pocketsphinx_model(kModelDir));
  return instance;
}

// English sentences (not from any tuning set) the recogniser should hear back.
const std::vector<std::string> kSentences = {
    "good evening and welcome to the show",
    "the weather will be sunny tomorrow morning",
    "please subscribe to the channel for more videos",
    "thank you all for watching tonight",
    "the market opened higher this morning",
    "let me show you how this works",
};

WordErrors heard_back(SpeechSynthesizer& tts) {
  WordErrors total;
  for (const auto& sentence : kSentences) {
    const auto heard = recognizer().transcribe(tts.synthesize(sentence, "en", "default"));
    const auto errors = word_errors(sentence, heard);
    total.errors += errors.errors;
    total.reference_words += errors.reference_words;
    std::cout << tts.name() << ": " << heard << "\n";
  }
  return total;
}

TEST(PicoTts, FindsTheInstalledVoices) {
  const auto voices = pico_voices(kPicoDefaultLangDir);
  EXPECT_EQ(voices.at("en").tag, "en-US") << "en-US wins over en-GB";
  EXPECT_EQ(voices.at("es").tag, "es-ES");
  EXPECT_EQ(voices.size(), 5u) << "de, en (US and GB), es, fr, it: libttspico-data";
  EXPECT_EQ(pico().voice_name("es"), "es-ES_zl0");
  EXPECT_THAT(pico().languages(), ::testing::ElementsAre("de", "en", "es", "fr", "it"));
}

TEST(PicoTts, AnEmptyLingwareDirectoryIsNamed) {
  const auto dir = std::filesystem::temp_directory_path() / "livedub-no-pico";
  std::filesystem::create_directories(dir);
  try {
    PicoSynthesizer empty(dir);
    FAIL() << "no voices accepted";
  } catch (const TtsError& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir.string()));
  }
  // Damaged lingware: refused with the file's name, and what was loaded is released.
  std::ofstream(dir / "es-ES_ta.bin") << "not lingware";
  std::ofstream(dir / "es-ES_zl0_sg.bin") << "not lingware";
  try {
    PicoSynthesizer damaged(dir);
    FAIL() << "damaged lingware accepted";
  } catch (const TtsError& e) {
    EXPECT_THAT(e.what(), HasSubstr("es-ES_ta.bin"));
  }
  std::filesystem::remove_all(dir);
}

TEST(PicoTts, SpeaksSoTheRecogniserHearsTheSentenceBack) {
  // Intelligibility as a figure: the sentences spoken, then recognised by pocketsphinx.
  const auto with_pico = heard_back(pico());
  const auto with_espeak = heard_back(EspeakSynthesizer::shared());
  std::cout << "heard back: pico WER " << with_pico.rate() << ", espeak-ng WER " << with_espeak.rate() << "\n";
  EXPECT_LE(with_pico.rate(), 0.25);
}

TEST(PicoTts, ProfilesChangeSpeedAndPitchAndBadInputIsAnError) {
  const std::string text = "Esta frase se dice a dos velocidades distintas.";
  const auto fast = pico().synthesize(text, "es", "fast");
  const auto slow = pico().synthesize(text, "es", "slow");
  EXPECT_EQ(fast.format, (AudioFormat{16000, 1}));
  EXPECT_LT(static_cast<double>(fast.frames()) * 1.4, static_cast<double>(slow.frames()));
  EXPECT_GT(rms(pico().synthesize(text, "es", "male").samples), 0.02);
  EXPECT_THROW(pico().synthesize("hola", "ca", "default"), TtsError);
  EXPECT_THROW(pico().synthesize("hola", "es", "robot"), TtsError);
  EXPECT_EQ(pico().synthesize(" \n", "es", "default").frames(), 0);
  // Markup in the text is spoken as text, never obeyed.
  EXPECT_GT(pico().synthesize("<speed level=\"20\">hola</speed>", "es", "default").frames(), 0);
}

TEST(PicoTts, LanguagesSynthesizeInParallel) {
  std::vector<std::thread> threads;
  std::vector<std::int64_t> frames(6);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    threads.emplace_back([&, i] {
      frames[i] = pico().synthesize("uno dos tres", i % 2 == 0 ? "es" : "it", "default").frames();
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 2; i < frames.size(); ++i) EXPECT_EQ(frames[i], frames[i % 2]) << "same text, same audio";
}

// --- translation --------------------------------------------------------------------------

ApertiumTranslator& translator() {
  static ApertiumTranslator instance(kModesDir);
  return instance;
}

// Measured (bench/mt_quality) over all 452 asterisk en/es pairs: eng-spa chrF 45.5 / BLEU 16.6,
// spa-eng chrF 46.2 / BLEU 18.4. The bounds catch a broken pipeline or format handling, which
// costs tens of points, not a dictionary update.
TEST(Translation, ApertiumScoresOnTheAsteriskParallelPrompts) {
  const struct {
    std::string source, target;
    double min_chrf, min_bleu;
  } pairs[] = {{"en", "es", 43.0, 14.5}, {"es", "en", 43.5, 16.0}};
  for (const auto& pair : pairs) {
    const auto corpus = asterisk_parallel(pair.source, pair.target);
    ASSERT_GT(corpus.size(), 400u) << "asterisk-core-sounds-en/-es installed?";
    std::vector<std::string> hypotheses, references;
    for (const auto& sentence : corpus) {
      hypotheses.push_back(translator().translate(pair.source, pair.target, sentence.source));
      references.push_back(sentence.target);
    }
    const double chrf = corpus_chrf(hypotheses, references), bleu = corpus_bleu(hypotheses, references);
    std::cout << pair.source << "->" << pair.target << ": chrF " << chrf << ", BLEU " << bleu << "\n";
    EXPECT_GE(chrf, pair.min_chrf) << pair.source << "->" << pair.target;
    EXPECT_GE(bleu, pair.min_bleu) << pair.source << "->" << pair.target;
  }
}

TEST(Translation, GlossaryTermsComeThroughApertiumIntact) {
  const auto glossary = Glossary::parse("OBS Studio\nlivedub\nen-es: stream = directo\n", "glossary.txt");
  const std::string text = "welcome to the stream, open obs studio and start livedub now";
  const auto before = translator().translate("en", "es", text);
  const auto p = glossary.protect(text, "en", "es");
  const auto after = Glossary::restore(translator().translate("en", "es", p.text), p);
  std::cout << "without glossary: " << before << "\nwith glossary:    " << after << "\n";
  EXPECT_THAT(after, HasSubstr("OBS Studio"));
  EXPECT_THAT(after, HasSubstr("livedub"));
  EXPECT_THAT(after, HasSubstr("directo"));
  EXPECT_THAT(after, ::testing::Not(HasSubstr("Zlvdbq")));
  EXPECT_THAT(before, ::testing::Not(HasSubstr("directo")));
}

// --- recognition --------------------------------------------------------------------------

TEST(Recognition, TelephoneBandSpeechIsFoldedAndWidebandSpeechIsLeftAlone) {
  auto at_16k = [](const std::filesystem::path& wav) {
    const auto audio = read_wav_file(wav.string());
    return resample_mono(resample_mono(audio.samples, audio.format.sample_rate, 48000), 48000, 16000);
  };
  const auto phone = at_16k(std::string(kAsteriskSoundsDir) + "/en_US_f_Allison/agent-pass.wav");
  const auto book = at_16k(std::string(kLibrivoxDir) + "/sense_and_sensibility_01_austen_64kb-0870.wav");
  EXPECT_TRUE(is_narrowband(phone)) << "8 kHz asterisk prompt";
  EXPECT_FALSE(is_narrowband(book)) << "16 kHz librivox recording";
  const auto folded = fold_narrowband(phone);
  ASSERT_EQ(folded.size(), phone.size());
  EXPECT_FALSE(is_narrowband(folded)) << "the empty band is filled";

  // The same book through 8 kHz is telephone speech; through a dull chain (a gentle low-pass
  // near 3 kHz, as an old broadcast or a cheap microphone) it has as little above 4.4 kHz as a
  // telephone but no wall at 4 kHz, and folding it costs words (bench/narrowband): left alone.
  const auto audio = read_wav_file(std::string(kLibrivoxDir) + "/sense_and_sensibility_01_austen_64kb-0870.wav");
  const auto phoned = resample_mono(resample_mono(audio.samples, audio.format.sample_rate, 8000), 8000, 16000);
  EXPECT_TRUE(is_narrowband(phoned));
  auto dull = resample_mono(audio.samples, audio.format.sample_rate, 16000);
  const auto taps = lowpass_taps(6, 2600.0 / 16000.0);  // 13 taps: a slow roll-off
  for (int pass = 0; pass < 3; ++pass) {
    std::vector<std::int16_t> out(dull.size());
    for (std::size_t i = 0; i < dull.size(); ++i) {
      double acc = 0;
      for (int k = -6; k <= 6; ++k) {
        const auto j = static_cast<std::ptrdiff_t>(i) + k;
        if (j >= 0 && j < static_cast<std::ptrdiff_t>(dull.size())) acc += taps[static_cast<std::size_t>(k + 6)] * dull[static_cast<std::size_t>(j)];
      }
      out[i] = static_cast<std::int16_t>(std::clamp(acc, -32768.0, 32767.0));
    }
    dull = std::move(out);
  }
  const auto levels = band_levels(dull);
  ASSERT_TRUE(levels.measured);
  EXPECT_LT(levels.high_db, -45.0) << "dull enough that a rule on the level alone folds it";
  EXPECT_LT(levels.edge_drop_db, kNarrowbandEdgeDropDb) << "but it rolls off, it has no wall";
  EXPECT_FALSE(is_narrowband(dull));
  EXPECT_FALSE(band_levels(std::vector<std::int16_t>(16000, 0)).measured) << "silence";
  EXPECT_FALSE(is_narrowband(std::vector<std::int16_t>(100, 1000))) << "too short to tell";
}

// Every 4th item of the test part (a fixed slice, so the suite stays quick under ASan), with
// the service's decoder settings (-lw 7). Measured on this slice: 301 errors in 407 words
// (74.0 %; the whole test part: 67.6 %). The bound leaves 4 points for decoder noise; a broken
// front end (no folding, wrong rate or channels) costs more than 8.
constexpr double kMaxTestSliceWer = 0.78;

TEST(Recognition, TheTestSliceOfTheRecognitionSetStaysWithinItsBound) {
  const auto test = asr_eval_set(EvalPart::kTest);
  ASSERT_GT(test.size(), 200u) << "asterisk-core-sounds-en(-wav) and pocketsphinx-testdata installed?";
  std::vector<AsrEvalItem> slice;
  for (std::size_t i = 0; i < test.size(); i += 4) slice.push_back(test[i]);
  WordErrors total;
  std::mutex mutex;
  std::vector<std::thread> threads;
  std::atomic<std::size_t> next{0};
  // Loaded one after the other: pocketsphinx's model loading is not thread-safe.
  std::vector<std::unique_ptr<PocketsphinxRecognizer>> decoders;
  for (int t = 0; t < 2; ++t) decoders.push_back(std::make_unique<PocketsphinxRecognizer>(locate_pocketsphinx_model(kModelDir)));
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto& decoder = *decoders[static_cast<std::size_t>(t)];
      for (std::size_t i = next++; i < slice.size(); i = next++) {
        auto audio = read_wav_file(slice[i].wav.string());
        audio = conform_audio(audio, {48000, 1}, audio.frames() * 48000 / audio.format.sample_rate);
        const auto errors = word_errors(slice[i].reference, decoder.transcribe(audio));
        std::lock_guard lock(mutex);
        total.errors += errors.errors;
        total.reference_words += errors.reference_words;
      }
    });
  }
  for (auto& t : threads) t.join();
  std::cout << "test slice: " << slice.size() << " items, WER " << total.errors << "/" << total.reference_words << " = "
            << total.rate() << "\n";
  EXPECT_LE(total.rate(), kMaxTestSliceWer);
}

// --- the whole engine ---------------------------------------------------------------------

TEST(CpuEngineVoices, PicoSpeaksSpanishAndTheResponseSaysSo) {
  const auto glossary_file = std::filesystem::temp_directory_path() / "livedub-glossary-test.txt";
  std::ofstream(glossary_file) << "# the speaker's words\nen-es: young man = muchacho\n";
  CpuEngineOptions options;
  options.glossary = Glossary::load(glossary_file);
  CpuDubbingEngine engine(options);
  EXPECT_EQ(engine.capabilities().tts_engines.at("es"), "pico es-ES_zl0");
  const auto recording = read_wav_file(std::string(kLibrivoxDir) + "/sense_and_sensibility_01_austen_64kb-0880.wav");
  const auto input = conform_audio(recording, {48000, 2}, recording.frames() * 3);
  const auto result = engine.dub(DubRequestMetadata{"s", 1, "en", "es", "default", 3000}, input);
  EXPECT_EQ(result.tts_engine, "pico es-ES_zl0");
  EXPECT_THAT(result.transcript, HasSubstr("young man"));
  EXPECT_THAT(result.translation, HasSubstr("muchacho")) << "the glossary's forced translation";
  EXPECT_GT(rms(result.audio.samples), 0.01);
  std::filesystem::remove(glossary_file);

  CpuEngineOptions espeak_options;
  espeak_options.tts_engine = kTtsEspeak;
  CpuDubbingEngine espeak_engine(espeak_options);
  EXPECT_EQ(espeak_engine.capabilities().tts_engines.at("es"), "espeak-ng es");
  EXPECT_EQ(espeak_engine.dub(DubRequestMetadata{"s", 1, "en", "es", "default", 3000}, input).tts_engine, "espeak-ng es");
}

}  // namespace
}  // namespace livedub::sts
