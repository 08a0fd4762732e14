// scripts/fetch-whisper-model: the one-shot model download refuses what it cannot verify.
// A local busybox httpd plays the model host (LIVEDUB_WHISPER_MODEL_BASE_URL).
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "command.hpp"
#include "livedub/process.hpp"
#include "sts/neural_mt.hpp"
#include "sts/piper_tts.hpp"
#include "sts/pocket_tts.hpp"

namespace livedub {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

const fs::path kScript = fs::path(LIVEDUB_SOURCE_DIR) / "scripts" / "fetch-whisper-model";

using test_support::CommandResult;
using test_support::run_command;

class FetchWhisperModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("fetch-model-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "host");
    fs::create_directories(dir_ / "models");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Serves dir_/host on 127.0.0.1; returns its base URL.
  std::string serve() {
    const int port = test_support::free_loopback_port();
    server_.emplace(ChildProcess::Options{
        {"/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:" + std::to_string(port), "-h", (dir_ / "host").string()},
        {},
        (dir_ / "httpd.log").string()});
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    for (int i = 0; i < 100 && run_command({"/usr/bin/curl", "-s", "-o", "/dev/null", url + "/"}).exit_code != 0; ++i) {
      std::this_thread::sleep_for(20ms);
    }
    return url;
  }

  // The script with `args`, its model host at `base_url`, LIVEDUB_STS_MODEL_DIR unset.
  CommandResult fetch(const std::vector<std::string>& args, const std::string& base_url = "http://127.0.0.1:9") {
    std::vector<std::string> argv = {"/bin/bash", kScript.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, {{"LIVEDUB_WHISPER_MODEL_BASE_URL", base_url}, {"LIVEDUB_STS_MODEL_DIR", ""}});
  }

  fs::path dir_;
  std::optional<ChildProcess> server_;
};

TEST_F(FetchWhisperModel, UsageErrorsExit2) {
  auto no_args = fetch({});
  EXPECT_EQ(no_args.exit_code, 2) << no_args.output;
  EXPECT_THAT(no_args.output, HasSubstr("large-v3-turbo"));
  auto unknown = fetch({"huge", (dir_ / "models").string()});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("unknown model 'huge'"));
  auto no_dir = fetch({"base"});
  EXPECT_EQ(no_dir.exit_code, 2);
  EXPECT_THAT(no_dir.output, HasSubstr("LIVEDUB_STS_MODEL_DIR"));
}

TEST_F(FetchWhisperModel, AFileThatDoesNotMatchThePublishedChecksumIsNotKept) {
  std::ofstream(dir_ / "host" / "ggml-tiny.bin") << "not really a model";
  const auto url = serve();
  auto result = fetch({"tiny", (dir_ / "models").string()}, url);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("checksum mismatch for ggml-tiny.bin"));
  EXPECT_THAT(result.output, HasSubstr("want bd577a113a864445d4c299885e0cb97d4ba92b5f"));
  EXPECT_TRUE(fs::is_empty(dir_ / "models")) << "nothing unverified may be left where the service looks";
}

TEST_F(FetchWhisperModel, CheckOnlyDownloadsNothingAndAcceptsOnlyTheRealModel) {
  // A generated (random-weight) model where the demo looks: not the published file.
  fs::create_directories(dir_ / "models");
  std::ofstream(dir_ / "models" / "ggml-base.en.bin") << "random weights";
  const auto url = serve();
  auto fake = fetch({"--check", "base.en", (dir_ / "models").string()}, url);
  EXPECT_EQ(fake.exit_code, 1) << fake.output;
  EXPECT_THAT(fake.output, HasSubstr("no verified ggml-base.en.bin"));
  auto absent = fetch({"--check", "small", (dir_ / "nowhere").string()}, url);
  EXPECT_EQ(absent.exit_code, 1) << absent.output;
  EXPECT_FALSE(fs::exists(dir_ / "nowhere")) << "--check creates nothing";
  EXPECT_FALSE(fs::exists(dir_ / "models" / "ggml-base.en.bin.sha1"));
}

TEST_F(FetchWhisperModel, UnreachableHostExits1) {
  auto result = fetch({"base", (dir_ / "models").string()});
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("download failed"));
  EXPECT_FALSE(fs::exists(dir_ / "models" / "ggml-base.bin"));
}

// scripts/fetch-mt-model against a local hub: a generated model (random weights, the real
// layout) served where the hub keeps the tokenisers and the ONNX export.
class FetchMtModel : public FetchWhisperModel {
 protected:
  void SetUp() override {
    FetchWhisperModel::SetUp();
    const auto made = run_command({"/bin/bash", (fs::path(LIVEDUB_SOURCE_DIR) / "scripts" / "make-test-models").string(),
                                   "--only", "mt", (dir_ / "generated").string()},
                                  {}, std::chrono::seconds(120));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    const auto model = dir_ / "generated" / "mt" / "opus-mt-en-es";
    const auto tokenizers = dir_ / "host" / "Helsinki-NLP" / "opus-mt-en-es" / "resolve" / "main";
    const auto onnx = dir_ / "host" / "Xenova" / "opus-mt-en-es" / "resolve" / "main" / "onnx";
    fs::create_directories(tokenizers);
    fs::create_directories(onnx);
    for (const auto* f : {"config.json", "tokenizer_config.json", "vocab.json", "source.spm", "target.spm"}) {
      fs::copy_file(model / f, tokenizers / f);
    }
    std::ofstream(tokenizers / "generation_config.json") << "{}\n";
    fs::copy(model / "onnx", onnx);
  }

  CommandResult fetch_mt(const std::vector<std::string>& args, const std::string& base_url = "http://127.0.0.1:9") {
    std::vector<std::string> argv = {"/bin/bash", (fs::path(LIVEDUB_SOURCE_DIR) / "scripts" / "fetch-mt-model").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, {{"LIVEDUB_MT_MODEL_BASE_URL", base_url}, {"LIVEDUB_STS_MODEL_DIR", ""}},
                       std::chrono::seconds(60));
  }
};

TEST_F(FetchMtModel, UsageErrorsExit2) {
  auto unknown = fetch_mt({"opus-mt-en-xx", (dir_ / "models").string()});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("unknown model 'opus-mt-en-xx'"));
  EXPECT_THAT(unknown.output, HasSubstr("m2m100_418M"));
  auto no_dir = fetch_mt({"opus-mt-en-es"});
  EXPECT_EQ(no_dir.exit_code, 2);
  EXPECT_THAT(no_dir.output, HasSubstr("LIVEDUB_STS_MODEL_DIR"));
  EXPECT_EQ(fetch_mt({"--precision", "fp8", "opus-mt-en-es", (dir_ / "models").string()}).exit_code, 2);
}

TEST_F(FetchMtModel, FetchesTheLayoutTheServiceLoadsAndRecordsItsChecksums) {
  const auto url = serve();
  auto result = fetch_mt({"opus-mt-en-es", (dir_ / "models").string()}, url);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto target = dir_ / "models" / "mt" / "opus-mt-en-es";
  for (const auto* f : {"config.json", "source.spm", "target.spm", "vocab.json", "onnx/encoder_model_quantized.onnx",
                        "onnx/decoder_model_merged.onnx", "SHA256SUMS"}) {
    EXPECT_TRUE(fs::is_regular_file(target / f)) << f;
  }
  sts::NeuralTranslator translator(target, {});
  EXPECT_EQ(translator.pairs(), (std::vector<sts::LanguagePair>{{"en", "es"}}));

  auto again = fetch_mt({"opus-mt-en-es", (dir_ / "models").string()}, "http://127.0.0.1:9");
  EXPECT_EQ(again.exit_code, 0) << again.output;  // present and verified: nothing downloaded
  EXPECT_THAT(again.output, HasSubstr("already present and verified"));
  EXPECT_EQ(fetch_mt({"--check", "opus-mt-en-es", (dir_ / "models").string()}).exit_code, 0);

  // A damaged file fails the check.
  std::ofstream(target / "onnx" / "encoder_model_quantized.onnx", std::ios::app) << "x";
  auto damaged = fetch_mt({"--check", "opus-mt-en-es", (dir_ / "models").string()});
  EXPECT_EQ(damaged.exit_code, 1) << damaged.output;
  EXPECT_THAT(damaged.output, HasSubstr("does not match"));
}

TEST_F(FetchMtModel, AGeneratedModelIsNotAFetchedOne) {
  auto result = fetch_mt({"--check", "opus-mt-en-es", (dir_ / "generated").string()});
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("no SHA256SUMS"));
}

TEST_F(FetchMtModel, AMissingFileOnTheHubFailsTheFetch) {
  fs::remove(dir_ / "host" / "Xenova" / "opus-mt-en-es" / "resolve" / "main" / "onnx" / "decoder_model_merged.onnx");
  const auto url = serve();
  auto result = fetch_mt({"opus-mt-en-es", (dir_ / "models").string()}, url);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("download failed"));
  EXPECT_FALSE(fs::exists(dir_ / "models" / "mt" / "opus-mt-en-es" / "SHA256SUMS"));
  EXPECT_EQ(fetch_mt({"--precision", "int8", "opus-mt-en-es", (dir_ / "models").string()}, url).exit_code, 0);
}

// scripts/fetch-voice against a local hub holding a generated Piper voice where
// rhasspy/piper-voices keeps it.
class FetchVoice : public FetchWhisperModel {
 protected:
  void SetUp() override {
    FetchWhisperModel::SetUp();
    const auto remote = dir_ / "host" / "rhasspy" / "piper-voices" / "resolve" / "v1.0.0" / "de" / "de_DE" / "thorsten" / "medium";
    fs::create_directories(remote);
    const auto made = run_command({"/usr/bin/python3", (fs::path(LIVEDUB_SOURCE_DIR) / "tools" / "tts-model-gen" / "make_piper_voice.py").string(),
                                   "--language", "de_DE", "--espeak-voice", "de", (remote / "de_DE-thorsten-medium.onnx").string()},
                                  {}, std::chrono::seconds(60));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    std::ofstream(remote / "MODEL_CARD") << "# Model card for thorsten (medium)\n\n* License: CC0\n";
  }
  CommandResult fetch_voice(const std::vector<std::string>& args, const std::string& base_url = "http://127.0.0.1:9") {
    std::vector<std::string> argv = {"/bin/bash", (fs::path(LIVEDUB_SOURCE_DIR) / "scripts" / "fetch-voice").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, {{"LIVEDUB_VOICE_BASE_URL", base_url}, {"LIVEDUB_STS_MODEL_DIR", ""}}, std::chrono::seconds(60));
  }
};

TEST_F(FetchVoice, UsageErrorsExit2) {
  auto bad = fetch_voice({"thorsten", (dir_ / "models").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("neither a Piper voice name"));
  EXPECT_EQ(fetch_voice({"de_DE-thorsten-medium/../x-low", (dir_ / "models").string()}).exit_code, 2);
  auto no_dir = fetch_voice({"de_DE-thorsten-medium"});
  EXPECT_EQ(no_dir.exit_code, 2);
  EXPECT_THAT(no_dir.output, HasSubstr("LIVEDUB_STS_MODEL_DIR"));
}

TEST_F(FetchVoice, FetchesTheLayoutTheServiceLoadsWithItsLicence) {
  const auto url = serve();
  auto result = fetch_voice({"de_DE-thorsten-medium", (dir_ / "models").string()}, url);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("License: CC0"));
  const auto target = dir_ / "models" / "tts" / "piper";
  for (const auto* f : {"de_DE-thorsten-medium.onnx", "de_DE-thorsten-medium.onnx.json", "de_DE-thorsten-medium.MODEL_CARD",
                        "de_DE-thorsten-medium.SHA256SUMS"}) {
    EXPECT_TRUE(fs::is_regular_file(target / f)) << f;
  }
  sts::PiperSynthesizer voice(dir_ / "models", {});
  EXPECT_EQ(voice.voice_name("de"), "de_DE-thorsten-medium");

  auto again = fetch_voice({"de_DE-thorsten-medium", (dir_ / "models").string()});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("already present and verified"));
  EXPECT_EQ(fetch_voice({"--check", "de_DE-thorsten-medium", (dir_ / "models").string()}).exit_code, 0);
  std::ofstream(target / "de_DE-thorsten-medium.onnx.json", std::ios::app) << " ";
  auto damaged = fetch_voice({"--check", "de_DE-thorsten-medium", (dir_ / "models").string()});
  EXPECT_EQ(damaged.exit_code, 1) << damaged.output;
  EXPECT_THAT(damaged.output, HasSubstr("does not match"));
}

TEST_F(FetchVoice, AFailedDownloadLeavesNoVoiceForTheServiceToLoad) {
  fs::remove(dir_ / "host" / "rhasspy" / "piper-voices" / "resolve" / "v1.0.0" / "de" / "de_DE" / "thorsten" / "medium" /
             "de_DE-thorsten-medium.onnx");
  const auto url = serve();
  auto result = fetch_voice({"de_DE-thorsten-medium", (dir_ / "models").string()}, url);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("download failed"));
  EXPECT_TRUE(sts::discover_piper_voices(dir_ / "models").empty());
  auto check = fetch_voice({"--check", "de_DE-thorsten-medium", (dir_ / "models").string()});
  EXPECT_EQ(check.exit_code, 1);
}

// scripts/fetch-voice pocket-tts against a local hub holding a generated (random-weight) Pocket
// TTS export where KevinAHM/pocket-tts-onnx keeps it.
class FetchPocketVoice : public FetchVoice {
 protected:
  void SetUp() override {
    FetchWhisperModel::SetUp();
    remote_ = dir_ / "host" / "KevinAHM" / "pocket-tts-onnx" / "resolve" / "main";
    const auto made = run_command({"/usr/bin/python3", (fs::path(LIVEDUB_SOURCE_DIR) / "tools" / "tts-model-gen" / "make_pocket_tts.py").string(),
                                   "--shape", "small", remote_.string()},
                                  {}, std::chrono::seconds(60));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    std::ofstream(remote_ / "README.md") << "---\nlicense: cc-by-4.0\nbase_model: kyutai/pocket-tts\n---\n";
  }
  fs::path remote_;
};

TEST_F(FetchPocketVoice, FetchesTheExportTheCloningEngineLoads) {
  const auto url = serve();
  auto result = fetch_voice({"pocket-tts", (dir_ / "models").string()}, url);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("license: cc-by-4.0"));
  const auto target = dir_ / "models" / "tts" / "pocket" / "pocket-tts";
  for (const auto* f : {"tokenizer.model", "onnx/text_conditioner.onnx", "onnx/mimi_encoder.onnx", "onnx/flow_lm_main.onnx",
                        "onnx/flow_lm_flow.onnx", "onnx/mimi_decoder.onnx", "MODEL_CARD", "SHA256SUMS"}) {
    EXPECT_TRUE(fs::is_regular_file(target / f)) << f;
  }
  for (const auto& entry : fs::recursive_directory_iterator(target)) {
    EXPECT_EQ(entry.path().string().find(".partial"), std::string::npos) << entry.path();
    EXPECT_EQ(entry.path().string().find(".headers"), std::string::npos) << entry.path();
  }
  sts::PocketTts tts(target);
  std::vector<std::int16_t> tone(16000);
  for (std::size_t i = 0; i < tone.size(); ++i) tone[i] = static_cast<std::int16_t>((i / 40) % 2 ? 6000 : -6000);
  const auto voice = tts.encode_voice(sts::pocket_reference_audio(tone, 16000));
  EXPECT_FALSE(tts.synthesize("Hello there.", voice, 1, 1.0).empty());

  EXPECT_THAT(fetch_voice({"pocket-tts", (dir_ / "models").string()}).output, HasSubstr("already present and verified"));
  EXPECT_EQ(fetch_voice({"--check", "pocket-tts", (dir_ / "models").string()}).exit_code, 0);
  std::ofstream(target / "onnx" / "flow_lm_flow.onnx", std::ios::app) << " ";
  auto damaged = fetch_voice({"--check", "pocket-tts", (dir_ / "models").string()});
  EXPECT_EQ(damaged.exit_code, 1) << damaged.output;
  EXPECT_THAT(damaged.output, HasSubstr("does not match"));
}

TEST_F(FetchPocketVoice, AFileMissingOnTheHubLeavesNoModelToLoad) {
  fs::remove(remote_ / "onnx" / "flow_lm_main.onnx");
  const auto url = serve();
  auto result = fetch_voice({"pocket-tts", (dir_ / "models").string()}, url);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("download failed"));
  const auto target = dir_ / "models" / "tts" / "pocket" / "pocket-tts";
  EXPECT_FALSE(fs::exists(target / "SHA256SUMS"));
  EXPECT_FALSE(fs::exists(target / "onnx" / "mimi_decoder.onnx")) << "nothing is renamed into place before every file is in";
  EXPECT_THROW(sts::PocketTts{target}, sts::VoiceModelError);
  EXPECT_EQ(fetch_voice({"--check", "pocket-tts", (dir_ / "models").string()}).exit_code, 1);
}

}  // namespace
}  // namespace livedub
