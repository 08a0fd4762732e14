// Piper voices that scripts/make-test-models generates with random weights in Piper's own files
// (NAME.onnx with its ONNX contract, NAME.onnx.json), phonemised by the real espeak-ng: the
// whole synthesis path, never a mocked engine. Random weights say nothing of how a voice sounds;
// what is tested is what the engine does with any voice.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "command.hpp"
#include "livedub/config.hpp"
#include "livedub/files.hpp"
#include "sts/cpu_engine.hpp"
#include "sts/espeak_tts.hpp"
#include "sts/piper_tts.hpp"
#include "sts/service_config.hpp"

namespace livedub::sts {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string read(const fs::path& file) { return read_whole_file(file).value_or(""); }
void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

class PiperTts : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::path(::testing::TempDir()) / ("piper-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    const auto made = test_support::run_command(
        {"/bin/bash", std::string(LIVEDUB_SOURCE_DIR) + "/scripts/make-test-models", "--only", "tts", dir_->string()}, {},
        std::chrono::seconds(120));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    synth_ = new PiperSynthesizer(*dir_, {});
  }
  static void TearDownTestSuite() {
    delete synth_;
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path voices() { return *dir_ / "tts" / "piper"; }
  // A model directory holding copies of some of the generated voices, to damage or extend.
  static fs::path copy_of(const std::string& as, const std::vector<std::string>& names) {
    const auto to = *dir_ / "copies" / as;
    fs::remove_all(to);
    fs::create_directories(to / "tts" / "piper");
    for (const auto& name : names) {
      fs::copy(voices() / (name + ".onnx"), to / "tts" / "piper" / (name + ".onnx"));
      fs::copy(voices() / (name + ".onnx.json"), to / "tts" / "piper" / (name + ".onnx.json"));
    }
    return to;
  }
  static std::string load_error(const fs::path& model_dir, const PiperOptions& options = {}) {
    try {
      PiperSynthesizer synth(model_dir, options);
    } catch (const VoiceModelError& e) {
      return e.what();
    }
    return "no error";
  }
  static double seconds(const AudioBuffer& a) { return static_cast<double>(a.frames()) / a.format.sample_rate; }
  static fs::path* dir_;
  static PiperSynthesizer* synth_;
};
fs::path* PiperTts::dir_ = nullptr;
PiperSynthesizer* PiperTts::synth_ = nullptr;

TEST_F(PiperTts, EveryGeneratedVoiceLoadsOneVoicePerLanguage) {
  EXPECT_THAT(synth_->languages(), ElementsAre("ca", "de", "en", "es", "fr", "it", "nl", "pl", "pt", "ru"));
  EXPECT_EQ(synth_->voice_name("es"), "es_ES-test-small");
  EXPECT_EQ(synth_->voice_name("pt"), "pt_BR-test-small");
  EXPECT_EQ(synth_->sample_rate("es"), 16000);
  EXPECT_TRUE(discover_piper_voices(*dir_ / "nowhere").empty());
  EXPECT_TRUE(discover_piper_voices("").empty());
}

TEST_F(PiperTts, RealEspeakPhonemesOfEveryLanguageMapToTheVoicesSymbols) {
  const std::map<std::string, std::string> text{
      {"ca", "Bona tarda, com estàs? Molt bé, gràcies."},
      {"de", "Ich möchte über die Straße gehen. Natürlich!"},
      {"en", "The quick brown fox jumps over the lazy dog, doesn't it? Yes."},
      {"es", "¿Qué tal? Mañana vamos al cañón, señor."},
      {"fr", "Ça va très bien, merci. Où est le garçon?"},
      {"it", "Buongiorno, come stai? Perché non andiamo già?"},
      {"nl", "Goedemorgen, hoe gaat het? Het is prachtig weer."},
      {"pl", "Dzień dobry, jak się masz? Źródło wiedzy."},
      {"pt", "Não, obrigado. A informação está ótima."},
      {"ru", "Здравствуйте, как дела? Всё хорошо."}};
  for (const auto& [language, sentence] : text) {
    const auto config =
        parse_piper_config(read(voices() / (synth_->voice_name(language) + ".onnx.json")), language);
    const auto clauses = EspeakSynthesizer::shared().phonemize(sentence, config.espeak_voice);
    ASSERT_GE(clauses.size(), 2u) << language;
    const auto ids = piper_phoneme_ids(clauses, config);
    EXPECT_EQ(ids.unknown, 0u) << language << ": espeak-ng produced a symbol Piper's set lacks";
    EXPECT_EQ(ids.sentences.size(), 2u) << language;
  }
}

TEST_F(PiperTts, SpeaksSentencesWithPiperPausesAtTheVoicesRateNeverClipped) {
  const auto one = synth_->synthesize("Hola, buenos días", "es", "default");
  const auto two = synth_->synthesize("Hola, buenos días. ¿Qué tal?", "es", "default");
  EXPECT_EQ(two.format.sample_rate, 16000);
  EXPECT_EQ(two.format.channels, 1);
  EXPECT_GT(seconds(one), 0.3);
  // A second sentence comes after 0.2 s of silence.
  std::size_t longest_zero_run = 0;
  for (std::size_t i = 0, run = 0; i < two.samples.size(); ++i) {
    run = two.samples[i] == 0 ? run + 1 : 0;
    longest_zero_run = std::max(longest_zero_run, run);
  }
  EXPECT_GE(longest_zero_run, 3200u);
  std::int16_t peak = 0;
  for (const auto s : two.samples) peak = std::max<std::int16_t>(peak, static_cast<std::int16_t>(std::abs(s)));
  EXPECT_NEAR(peak, 0.891 * 32767, 2);
}

TEST_F(PiperTts, TheProfilesRateSetsThePace) {
  const std::string text = "Bienvenidos de nuevo, hoy construimos un nivel nuevo para todos vosotros";
  const auto slow = seconds(synth_->synthesize(text, "es", "slow"));
  const auto fast = seconds(synth_->synthesize(text, "es", "fast"));
  // The rates alone give 170/130 over 170/220 = 1.69. The generated voice's symbols last one or
  // two 16 ms frames, so the ceiling on each symbol's frames flattens that to about 1.46, and its
  // duration noise (noise_w) moves it: 1.36-1.55 over 300 runs (1.4 failed one CI run in ~20).
  // Without the rate the ratio is 1.
  EXPECT_GT(slow, fast * 1.25);
}

TEST_F(PiperTts, MarkupAndControlCharactersAreReadAsTextNeverObeyed) {
  const auto plain = seconds(synth_->synthesize("hola", "es", "default"));
  const auto marked =
      synth_->synthesize("<speak>hola<break time=\"10s\"/></speak>\x01\x07[[a]]\x1b[2J", "es", "default");
  EXPECT_GT(seconds(marked), plain);  // the markup's characters are spoken
  EXPECT_LT(seconds(marked), 8.0);    // and the 10 s break is not taken
}

TEST_F(PiperTts, VeryLongTextIsSpokenSentenceBySentence) {
  std::string text;
  for (int i = 0; i < 60; ++i) text += "Esta es la frase número " + std::to_string(i) + ". ";
  const auto audio = synth_->synthesize(text, "es", "default");
  EXPECT_GT(seconds(audio), 60 * 0.2 + 60 * 0.5);
}

TEST_F(PiperTts, EmptyTextUnknownLanguageOrProfile) {
  EXPECT_TRUE(synth_->synthesize(" \n", "es", "default").samples.empty());
  EXPECT_TRUE(synth_->synthesize("...", "es", "default").samples.empty());
  EXPECT_THROW(synth_->synthesize("hola", "xx", "default"), TtsError);
  EXPECT_THROW(synth_->synthesize("hola", "es", "whisper"), TtsError);
  EXPECT_EQ(synth_->voice_name("xx"), "");
}

TEST_F(PiperTts, AMultiSpeakerVoiceTakesItsSpeakerId) {
  const auto dir = copy_of("multi", {});
  const auto made = test_support::run_command(
      {"/usr/bin/python3", std::string(LIVEDUB_SOURCE_DIR) + "/tools/tts-model-gen/make_piper_voice.py", "--language",
       "en_GB", "--espeak-voice", "en-gb-x-rp", "--speakers", "3", (dir / "tts/piper/en_GB-multi-small.onnx").string()},
      {}, std::chrono::seconds(60));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  PiperSynthesizer synth(dir, {});
  EXPECT_GT(seconds(synth.synthesize("Good evening, everyone.", "en", "default")), 0.3);
}

TEST_F(PiperTts, TheConfiguredVoiceOfALanguageIsTheOneUsed) {
  const auto dir = copy_of("choice", {"es_ES-test-small", "fr_FR-test-small"});
  fs::copy(voices() / "es_ES-test-small.onnx", dir / "tts/piper/es_MX-other-small.onnx");
  write(dir / "tts/piper/es_MX-other-small.onnx.json", read(voices() / "es_ES-test-small.onnx.json"));
  EXPECT_EQ(PiperSynthesizer(dir, {}).voice_name("es"), "es_ES-test-small");  // first in name order
  PiperOptions options;
  options.voices = parse_voice_choices("es=es_MX-other-small");
  PiperSynthesizer chosen(dir, options);
  EXPECT_EQ(chosen.voice_name("es"), "es_MX-other-small");
  EXPECT_EQ(chosen.voice_name("fr"), "fr_FR-test-small");
  options.voices = parse_voice_choices("es=es_ES-davefx-medium");
  EXPECT_THAT(load_error(dir, options), HasSubstr("LIVEDUB_STS_TTS_VOICES: no voice es_ES-davefx-medium for 'es'"));
  EXPECT_THROW(parse_voice_choices("es"), TtsError);
  EXPECT_THROW(parse_voice_choices("es=../x"), TtsError);
  EXPECT_THAT(parse_voice_choices(" es=a , fr=b,"), ::testing::SizeIs(2));
}

TEST_F(PiperTts, AMissingTruncatedOrMismatchedVoiceFileIsNamedAtLoad) {
  auto dir = copy_of("no-json", {"es_ES-test-small"});
  fs::remove(dir / "tts/piper/es_ES-test-small.onnx.json");
  EXPECT_THAT(load_error(dir), HasSubstr("es_ES-test-small.onnx.json: missing or unreadable"));

  dir = copy_of("truncated", {"es_ES-test-small"});
  const auto onnx_file = dir / "tts/piper/es_ES-test-small.onnx";
  fs::resize_file(onnx_file, fs::file_size(onnx_file) / 2);
  EXPECT_THAT(load_error(dir), HasSubstr("es_ES-test-small.onnx: not a loadable ONNX model"));

  // A config from a voice with a larger symbol set than the model's embedding.
  dir = copy_of("ids", {"es_ES-test-small"});
  auto json = read(dir / "tts/piper/es_ES-test-small.onnx.json");
  json.replace(json.find("\"num_symbols\": 256"), 18, "\"num_symbols\": 512");
  json.replace(json.find("\"a\": ["), 6, "\"a\": [400, ");
  write(dir / "tts/piper/es_ES-test-small.onnx.json", json);
  EXPECT_THAT(load_error(dir), HasSubstr("es_ES-test-small.onnx does not match es_ES-test-small.onnx.json"));

  dir = copy_of("speakers", {"es_ES-test-small"});
  json = read(dir / "tts/piper/es_ES-test-small.onnx.json");
  json.replace(json.find("\"num_speakers\": 1"), 17, "\"num_speakers\": 4");
  write(dir / "tts/piper/es_ES-test-small.onnx.json", json);
  EXPECT_THAT(load_error(dir), HasSubstr("num_speakers 4 does not match es_ES-test-small.onnx"));

  // Any other ONNX model (here: a translation model's encoder) is not a voice.
  dir = copy_of("other", {});
  const auto made = test_support::run_command(
      {"/usr/bin/python3", std::string(LIVEDUB_SOURCE_DIR) + "/tools/mt-model-gen/make_mt_model.py", "--family",
       "marian", "--pair", "en-es", "--no-float", "--no-tokenizer", (dir / "mt").string()},
      {}, std::chrono::seconds(60));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  fs::copy(dir / "mt/onnx/encoder_model_quantized.onnx", dir / "tts/piper/es_ES-x-small.onnx");
  fs::copy(voices() / "es_ES-test-small.onnx.json", dir / "tts/piper/es_ES-x-small.onnx.json");
  EXPECT_THAT(load_error(dir), HasSubstr("es_ES-x-small.onnx: not a Piper voice"));
}

TEST_F(PiperTts, TheCpuEngineSpeaksWithPiperWhereAVoiceIsInstalled) {
  CpuEngineOptions options;
  options.model_dir = *dir_;
  CpuDubbingEngine engine(options);
  const auto engines = engine.tts_engines();
  EXPECT_EQ(engines.at("es"), "piper es_ES-test-small");
  EXPECT_EQ(engines.at("ca"), "piper ca_ES-test-small");
  EXPECT_EQ(engine.capabilities().tts_engines.at("es"), "piper es_ES-test-small");
  options.tts_engine = kTtsPico;
  EXPECT_EQ(CpuDubbingEngine(options).tts_engines().at("es").substr(0, 5), "pico ");
  options.model_dir = *dir_ / "nowhere";
  options.tts_engine = kTtsAuto;
  EXPECT_EQ(CpuDubbingEngine(options).tts_engines().at("es").substr(0, 5), "pico ");
  // A voice named for a language is never ignored, even with no voice installed at all.
  options.piper.voices = {{"es", "es_ES-davefx-medium"}};
  EXPECT_THROW(CpuDubbingEngine engine_without_the_voice(options), VoiceModelError);
}

TEST_F(PiperTts, ConfigurationIsCheckedAtStartNamingTheVariable) {
  const auto load = [](std::map<std::string, std::string> vars) {
    vars.emplace("LIVEDUB_STS_MODE", "cpu");
    return load_service_config(EnvConfig(env_from_map(vars)));
  };
  try {
    load({{"LIVEDUB_STS_TTS_ENGINE", "piper"}});
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("LIVEDUB_STS_TTS_ENGINE"));
    EXPECT_THAT(e.what(), HasSubstr("no voice under tts/piper"));
  }
  EXPECT_THROW(load({{"LIVEDUB_STS_TTS_VOICES", "es"}}), ConfigError);
  EXPECT_THROW(load({{"LIVEDUB_STS_TTS_THREADS", "0"}}), ConfigError);
  const auto config = load({{"LIVEDUB_STS_MODEL_DIR", dir_->string()}, {"LIVEDUB_STS_TTS_ENGINE", "piper"},
                            {"LIVEDUB_STS_TTS_VOICES", "es=es_ES-test-small"}, {"LIVEDUB_STS_TTS_THREADS", "2"}});
  EXPECT_EQ(config.tts_engine, "piper");
  EXPECT_EQ(config.tts_threads, 2);
}

}  // namespace
}  // namespace livedub::sts
