// The neural translation engine on models of both families that scripts/make-test-models
// generates with random weights in the real formats (ONNX exports with a merged decoder,
// SentencePiece tokenisers, vocab.json): the real decode loop, never a mocked engine. Random
// weights say nothing of quality; what is tested is what the loop does with any model.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "command.hpp"
#include "livedub/config.hpp"
#include "sts/apertium_mt.hpp"
#include "sts/cpu_engine.hpp"
#include "sts/glossary.hpp"
#include "sts/neural_mt.hpp"
#include "sts/service_config.hpp"

namespace livedub::sts {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class NeuralMt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::path(::testing::TempDir()) / ("neural-mt-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    const auto made = test_support::run_command(
        {"/bin/bash", std::string(LIVEDUB_SOURCE_DIR) + "/scripts/make-test-models", "--only", "mt", dir_->string()},
        {}, std::chrono::seconds(120));
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path model(const std::string& name) { return *dir_ / "mt" / name; }
  // A copy of one model to damage.
  static fs::path copy_of(const std::string& name, const std::string& as) {
    const auto to = *dir_ / "damaged" / as;
    fs::remove_all(to);
    fs::create_directories(to.parent_path());
    fs::copy(model(name), to, fs::copy_options::recursive);
    return to;
  }
  static std::string load_error(const fs::path& dir, NeuralMtOptions options = {}) {
    try {
      NeuralTranslator translator(dir, options);
    } catch (const MtModelError& e) {
      return e.what();
    }
    return "no error";
  }
  static MtRequest request(const std::string& source, std::vector<std::string> targets, const std::string& text) {
    MtRequest r;
    r.source = source;
    r.targets = std::move(targets);
    r.text = text;
    return r;
  }
  static fs::path* dir_;
};
fs::path* NeuralMt::dir_ = nullptr;

TEST_F(NeuralMt, FindsEveryModelTheScriptWrote) {
  const auto found = discover_mt_models(*dir_);
  ASSERT_THAT(found, SizeIs(4));
  EXPECT_EQ(found[0].filename(), "m2m100_418M");
  EXPECT_EQ(found[1].filename(), "opus-mt-en-de");
  EXPECT_TRUE(discover_mt_models(*dir_ / "nowhere").empty());
  EXPECT_TRUE(discover_mt_models("").empty());
}

TEST_F(NeuralMt, AMarianModelOffersItsOneDirection) {
  NeuralTranslator marian(model("opus-mt-en-es"), {});
  EXPECT_EQ(marian.engine(), "marian");
  EXPECT_EQ(marian.pairs(), (std::vector<LanguagePair>{{"en", "es"}}));
  EXPECT_EQ(marian.precision(), "int8");  // the quantised files exist; the CPU prefers them
  EXPECT_EQ(marian.describe({"en", "es"}), "marian opus-mt-en-es int8 (CPU)");
  NeuralMtOptions as_float;
  as_float.precision = kMtPrecisionFloat;
  EXPECT_EQ(NeuralTranslator(model("opus-mt-en-es"), as_float).precision(), "float");
}

TEST_F(NeuralMt, TheMultilingualModelOffersEveryPairOfItsHundredLanguages) {
  NeuralTranslator m2m(model("m2m100_418M"), {});
  EXPECT_EQ(m2m.engine(), "m2m100");
  EXPECT_THAT(m2m.tokenizer().languages(), SizeIs(100));
  EXPECT_THAT(m2m.pairs(), SizeIs(100 * 99));
  EXPECT_THAT(m2m.pairs(), Contains(LanguagePair{"en", "ja"}));
  EXPECT_THAT(m2m.pairs(), Contains(LanguagePair{"es", "pl"}));
}

TEST_F(NeuralMt, TokenisationRoundTripsRealText) {
  for (const auto* name : {"opus-mt-en-es", "m2m100_418M"}) {
    NeuralTranslator translator(model(name), {});
    const std::string text = "please enter your account number followed by the pound key";
    const auto ids = translator.tokenizer().encode(text);
    EXPECT_GT(ids.size(), 3u) << name;
    EXPECT_THAT(ids, ::testing::Not(Contains(translator.tokenizer().unk_id()))) << name;
    EXPECT_EQ(translator.tokenizer().decode(ids), text) << name;
  }
}

TEST_F(NeuralMt, RandomWeightsRunToTheLengthCapAndTheOutputIsDeterministic) {
  NeuralTranslator marian(model("opus-mt-en-es"), {});
  const auto r = request("en", {"es"}, "the stream starts in five minutes");
  const auto ids = marian.translate_ids(r, 12);
  ASSERT_THAT(ids, SizeIs(1));
  EXPECT_LE(ids[0].size(), 12u);
  EXPECT_GT(ids[0].size(), 0u);
  EXPECT_EQ(marian.translate_ids(r, 12), ids);
  const auto text = marian.translate(r);
  ASSERT_THAT(text, SizeIs(1));
  EXPECT_FALSE(text[0].empty());
  EXPECT_EQ(marian.translate(request("en", {"es"}, "  ")), std::vector<std::string>{""});
}

TEST_F(NeuralMt, TheKeyValueCacheGivesWhatAFullRecomputationGives) {
  for (const auto* name : {"opus-mt-en-es", "m2m100_418M"}) {
    for (const auto* precision : {kMtPrecisionFloat, kMtPrecisionInt8}) {
      NeuralMtOptions cached, uncached;
      cached.precision = uncached.precision = precision;
      uncached.kv_cache = false;
      NeuralTranslator a(model(name), cached), b(model(name), uncached);
      const auto target = std::string(name) == "m2m100_418M" ? "fr" : "es";
      const auto r = request("en", {target}, "welcome back everyone today we are building a new level");
      EXPECT_EQ(a.translate_ids(r, 16), b.translate_ids(r, 16)) << name << " " << precision;
    }
  }
}

TEST_F(NeuralMt, SeveralTargetsDecodeAsOneBatchWithTheResultsOfOneByOne) {
  // In float: int8's dynamic quantisation scales activations per tensor, across the batch, so
  // there rows nudge each other's logits (near-ties of random weights can flip).
  NeuralMtOptions as_float;
  as_float.precision = kMtPrecisionFloat;
  NeuralTranslator m2m(model("m2m100_418M"), as_float);
  const auto text = "go forward ten meters and turn left at the red door";
  const auto together = m2m.translate_ids(request("en", {"es", "fr", "de", "ja"}, text), 14);
  ASSERT_THAT(together, SizeIs(4));
  std::vector<std::vector<std::int64_t>> alone;
  for (const auto* target : {"es", "fr", "de", "ja"}) alone.push_back(m2m.translate_ids(request("en", {target}, text), 14)[0]);
  EXPECT_EQ(together, alone);
}

TEST_F(NeuralMt, ThePreviousSentenceIsContextOnlyWhenEnabled) {
  NeuralMtOptions with_context;
  with_context.context = true;
  NeuralTranslator plain(model("opus-mt-en-es"), {}), contextual(model("opus-mt-en-es"), with_context);
  auto r = request("en", {"es"}, "and turn left at the red door");
  const auto alone = plain.translate_ids(r, 10);
  r.previous_source = "go forward ten meters";
  r.previous_translations = {"sigue recto diez metros"};
  EXPECT_EQ(plain.translate_ids(r, 10), alone);  // off: the context is ignored
  const auto in_context = contextual.translate_ids(r, 10);
  EXPECT_NE(in_context, alone);
  EXPECT_LE(in_context[0].size(), 10u);  // the forced previous translation is not returned or counted
}

TEST_F(NeuralMt, UnknownLanguagesAndPairsAreClearErrors) {
  NeuralTranslator m2m(model("m2m100_418M"), {});
  try {
    m2m.translate(request("en", {"tlh"}, "hello"));
    FAIL() << "no error";
  } catch (const MtError& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not know the target language 'tlh'"));
  }
  NeuralTranslator marian(model("opus-mt-en-es"), {});
  try {
    marian.translate(request("en", {"fr"}, "hello"));
    FAIL() << "no error";
  } catch (const MtError& e) {
    EXPECT_THAT(e.what(), HasSubstr("translates en -> es only"));
  }
}

TEST_F(NeuralMt, ADeadlineThatPassesStopsTheDecode) {
  NeuralTranslator marian(model("opus-mt-en-es"), {});
  auto r = request("en", {"es"}, "hello there");
  r.deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  EXPECT_THROW(marian.translate(r), DeadlineExpired);
}

TEST_F(NeuralMt, AMissingOrTruncatedFileIsNamed) {
  auto dir = copy_of("opus-mt-en-es", "missing");
  fs::remove(dir / "onnx" / "decoder_model_merged_quantized.onnx");
  fs::remove(dir / "onnx" / "decoder_model_merged.onnx");
  EXPECT_THAT(load_error(dir), HasSubstr("decoder_model_merged.onnx: missing"));

  dir = copy_of("opus-mt-en-es", "truncated");
  const auto encoder = dir / "onnx" / "encoder_model_quantized.onnx";
  fs::resize_file(encoder, fs::file_size(encoder) / 2);
  EXPECT_THAT(load_error(dir), HasSubstr("encoder_model_quantized.onnx"));

  dir = copy_of("opus-mt-en-es", "no-tokenizer");
  fs::remove(dir / "target.spm");
  EXPECT_THAT(load_error(dir), HasSubstr("target.spm: missing"));

  dir = copy_of("opus-mt-en-es", "bad-spm");
  std::ofstream(dir / "source.spm") << "not a sentencepiece model";
  EXPECT_THAT(load_error(dir), HasSubstr("source.spm: not a SentencePiece model"));

  dir = copy_of("opus-mt-en-es", "bad-config");
  std::ofstream(dir / "config.json") << "{\"model_type\": \"bert\"}";
  EXPECT_THAT(load_error(dir), HasSubstr("config.json: model_type 'bert'"));

  NeuralMtOptions int8;
  int8.precision = kMtPrecisionInt8;
  dir = copy_of("opus-mt-en-es", "float-only");
  fs::remove(dir / "onnx" / "encoder_model_quantized.onnx");
  EXPECT_THAT(load_error(dir, int8), HasSubstr("no encoder_model_quantized.onnx"));
  EXPECT_EQ(NeuralTranslator(dir, {}).precision(), "float");  // auto takes what there is
}

TEST_F(NeuralMt, AnInterruptedCopyUnderTheModelDirectoryStopsTheLoad) {
  const auto root = *dir_ / "interrupted";
  fs::create_directories(root / "mt" / "opus-mt-en-it" / "onnx");
  fs::create_directories(root / "mt" / ".partial-download");  // hidden: not a model
  try {
    load_mt_models(root, {});
    FAIL() << "no error";
  } catch (const MtModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("opus-mt-en-it/config.json: missing or unreadable"));
  }
  fs::remove_all(root / "mt" / "opus-mt-en-it");
  EXPECT_TRUE(load_mt_models(root, {}).empty());
}

TEST_F(NeuralMt, FilesOfDifferentModelsAreRefusedAtLoad) {
  // The m2m100 decoder beside the Marian encoder: the files do not fit together.
  auto dir = copy_of("opus-mt-en-es", "mixed");
  fs::copy_file(model("m2m100_418M") / "onnx" / "decoder_model_merged_quantized.onnx",
                dir / "onnx" / "decoder_model_merged_quantized.onnx", fs::copy_options::overwrite_existing);
  EXPECT_THAT(load_error(dir), HasSubstr("damaged/mixed: the model does not run"));
  EXPECT_THAT(load_error(dir), HasSubstr("does not match its config.json"));

  // A config that claims other layers than the ONNX files have.
  dir = copy_of("opus-mt-en-es", "layers");
  {
    std::ifstream in(dir / "config.json");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    text.replace(text.find("\"decoder_layers\": 2"), 19, "\"decoder_layers\": 6");
    std::ofstream(dir / "config.json") << text;
  }
  EXPECT_THAT(load_error(dir), HasSubstr("the files are from different models"));

  // The multilingual model's vocabulary (more pieces than this model has) with its tokenisers.
  dir = copy_of("opus-mt-en-es", "tokenizer");
  fs::copy_file(model("m2m100_418M") / "vocab.json", dir / "vocab.json", fs::copy_options::overwrite_existing);
  EXPECT_THAT(load_error(dir), HasSubstr("vocab.json"));
}

TEST_F(NeuralMt, TheGpuIsAClearErrorWhereTheRuntimeHasNone) {
  NeuralMtOptions gpu;
  gpu.device = "gpu";
  const auto error = load_error(model("opus-mt-en-es"), gpu);
  if (error == "no error") GTEST_SKIP() << "this ONNX Runtime has the CUDA provider and a GPU answered";
  EXPECT_THAT(error, HasSubstr("on the GPU"));
  NeuralMtOptions automatic;
  automatic.device = "auto";
  EXPECT_EQ(NeuralTranslator(model("opus-mt-en-es"), automatic).device(), "CPU");  // auto falls back
}

// Apertium and the neural models behind one router, as the STS builds it.
MtRouter router(const fs::path& model_dir, const std::string& preferred = kMtAuto, const std::string& pairs = "") {
  std::vector<std::shared_ptr<Translator>> translators;
  for (auto& m : load_mt_models(model_dir, {})) translators.push_back(std::move(m));
  translators.push_back(std::make_shared<ApertiumEngine>("/usr/share/apertium/modes", std::chrono::seconds(10)));
  return MtRouter(std::move(translators), preferred, pairs);
}

TEST_F(NeuralMt, TheRouterSendsEachTargetToItsEngineInOneRequest) {
  const auto mt = router(*dir_);
  EXPECT_EQ(mt.engine_for("en", "es"), "marian");
  EXPECT_EQ(mt.engine_for("en", "it"), "m2m100");
  EXPECT_EQ(mt.engine_for("en", "ja"), "m2m100");
  EXPECT_EQ(mt.describe("en", "it"), "m2m100 m2m100_418M int8 (CPU)");
  const auto out = mt.translate(request("en", {"es", "it", "fr", "ja"}, "thank you for watching"));
  ASSERT_THAT(out, SizeIs(4));
  for (const auto& text : out) EXPECT_FALSE(text.empty());
  const auto apertium = router(*dir_, kMtApertium);
  EXPECT_EQ(apertium.engine_for("en", "es"), "apertium");
  EXPECT_EQ(apertium.translate(request("en", {"es"}, "thank you")).front(), "gracias");
}

TEST_F(NeuralMt, GlossaryTermsSurviveSubwordTokenisationIntact) {
  const auto glossary = Glossary::parse("Xylophonix\nOBS Studio\nen-es: stream key = clave de transmisión\n", "g.txt");
  const auto mt = router(*dir_);
  NeuralTranslator marian(model("opus-mt-en-es"), {});
  ASSERT_GT(marian.tokenizer().encode("Xylophonix").size(), 2u);  // the tokeniser splits the name
  MtRequest r = request("en", {"es", "fr", "it"}, "welcome to xylophonix with obs studio and your stream key");
  const auto out = translate_with_glossary(mt, glossary, r);
  ASSERT_THAT(out, SizeIs(3));
  for (const auto& text : out) {
    EXPECT_THAT(text, HasSubstr("Xylophonix")) << text;
    EXPECT_THAT(text, HasSubstr("OBS Studio")) << text;
  }
  EXPECT_THAT(out[0], HasSubstr("clave de transmisión"));
  // Apertium keeps taking placeholders, in place.
  const auto apertium = translate_with_glossary(router(*dir_, kMtApertium), glossary,
                                                request("en", {"es"}, "welcome to xylophonix"));
  EXPECT_EQ(apertium.front(), "Bienvenido a Xylophonix");
}

TEST_F(NeuralMt, TheServiceConfigurationChoosesEnginesAndChecksThem) {
  auto load = [](std::map<std::string, std::string> vars) {
    vars.emplace("LIVEDUB_STS_MODE", "cpu");
    return load_service_config(EnvConfig(env_from_map(vars)));
  };
  const auto config = load({{"LIVEDUB_STS_MODEL_DIR", dir_->string()},
                            {"LIVEDUB_STS_MT_ENGINE", "m2m100"},
                            {"LIVEDUB_STS_MT_PRECISION", "float"},
                            {"LIVEDUB_STS_MT_MAX_TOKENS", "40"},
                            {"LIVEDUB_STS_MT_CONTEXT", "true"}});
  EXPECT_EQ(config.mt_engine, "m2m100");
  EXPECT_EQ(config.neural_mt.precision, "float");
  EXPECT_EQ(config.neural_mt.max_tokens, 40);
  EXPECT_TRUE(config.neural_mt.context);
  auto variable_of = [&](std::map<std::string, std::string> vars) {
    try {
      load(std::move(vars));
    } catch (const ConfigError& e) {
      return e.variable();
    }
    return std::string("no error");
  };
  EXPECT_EQ(variable_of({{"LIVEDUB_STS_MT_ENGINE", "marian"}}), "LIVEDUB_STS_MT_ENGINE");  // no model dir
  EXPECT_EQ(variable_of({{"LIVEDUB_STS_MT_ENGINE", "deepl"}}), "LIVEDUB_STS_MT_ENGINE");
  EXPECT_EQ(variable_of({{"LIVEDUB_STS_MT_PRECISION", "fp4"}}), "LIVEDUB_STS_MT_PRECISION");
  EXPECT_EQ(variable_of({{"LIVEDUB_STS_MT_DEVICE", "tpu"}}), "LIVEDUB_STS_MT_DEVICE");
  EXPECT_EQ(variable_of({{"LIVEDUB_STS_MT_MAX_TOKENS", "0"}}), "LIVEDUB_STS_MT_MAX_TOKENS");
}

TEST_F(NeuralMt, TheCpuEngineOffersNeuralPairsAndNamesTheEngineOfEachDub) {
  CpuEngineOptions options;
  options.model_dir = *dir_;
  options.tts_engine = kTtsEspeak;
  CpuDubbingEngine engine(options);
  const auto caps = engine.capabilities();
  EXPECT_THAT(caps.pairs, Contains(LanguagePair{"en", "fr"}));
  EXPECT_THAT(caps.pairs, Contains(LanguagePair{"en", "pl"}));
  EXPECT_EQ(caps.mt_engines.at("en-es"), "marian");
  EXPECT_EQ(caps.mt_engines.at("en-pl"), "m2m100");
  EXPECT_EQ(caps.mt_engines.at("en-ca"), "m2m100");

  DubRequestMetadata request;
  request.stream_id = "s";
  request.source_lang = "en";
  request.target_lang = "pl";
  request.voice = "default";
  request.duration_ms = 1000;
  AudioBuffer silence{{16000, 1}, 0, std::vector<std::int16_t>(16000, 0)};
  DubContext context;
  context.known_transcript = "welcome back everyone";
  context.also_translate_into = {"it", "nl"};
  const auto result = engine.dub(request, silence, context);
  EXPECT_EQ(result.mt_engine, "m2m100 m2m100_418M int8 (CPU)");
  EXPECT_FALSE(result.translation.empty());
  // The further languages were translated in the same call, ready for their own dubs.
  ASSERT_EQ(result.extra_translations.size(), 2u);
  EXPECT_FALSE(result.extra_translations.at("it").empty());
  EXPECT_FALSE(result.extra_translations.at("nl").empty());
  context.known_translation = result.extra_translations.at("it");
  context.also_translate_into.clear();
  request.target_lang = "it";
  EXPECT_EQ(engine.dub(request, silence, context).translation, result.extra_translations.at("it"));
}

}  // namespace
}  // namespace livedub::sts
