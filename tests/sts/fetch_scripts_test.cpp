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

}  // namespace
}  // namespace livedub
