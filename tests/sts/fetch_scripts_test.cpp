// scripts/fetch-whisper-model: the one-shot model download refuses what it cannot verify.
// A local busybox httpd plays the model host (LIVEDUB_WHISPER_MODEL_BASE_URL).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "livedub/process.hpp"

namespace livedub {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

const fs::path kScript = fs::path(LIVEDUB_SOURCE_DIR) / "scripts" / "fetch-whisper-model";

struct Run {
  int exit_code = -1;
  std::string output;
};

Run run(const std::string& command) {
  Run result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

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
    const int port = free_port();
    server_.emplace(ChildProcess::Options{
        {"/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:" + std::to_string(port), "-h", (dir_ / "host").string()},
        {},
        (dir_ / "httpd.log").string()});
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    for (int i = 0; i < 100 && run("curl -s -o /dev/null " + url + "/").exit_code != 0; ++i) std::this_thread::sleep_for(20ms);
    return url;
  }

  std::string fetch(const std::string& args, const std::string& base_url = "http://127.0.0.1:9") {
    return "LIVEDUB_WHISPER_MODEL_BASE_URL=" + base_url + " LIVEDUB_STS_MODEL_DIR= " + kScript.string() + " " + args;
  }

  fs::path dir_;
  std::optional<ChildProcess> server_;
};

TEST_F(FetchWhisperModel, UsageErrorsExit2) {
  auto no_args = run(fetch(""));
  EXPECT_EQ(no_args.exit_code, 2) << no_args.output;
  EXPECT_THAT(no_args.output, HasSubstr("large-v3-turbo"));
  auto unknown = run(fetch("huge " + (dir_ / "models").string()));
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("unknown model 'huge'"));
  auto no_dir = run(fetch("base"));
  EXPECT_EQ(no_dir.exit_code, 2);
  EXPECT_THAT(no_dir.output, HasSubstr("LIVEDUB_STS_MODEL_DIR"));
}

TEST_F(FetchWhisperModel, AFileThatDoesNotMatchThePublishedChecksumIsNotKept) {
  std::ofstream(dir_ / "host" / "ggml-tiny.bin") << "not really a model";
  const auto url = serve();
  auto result = run(fetch("tiny " + (dir_ / "models").string(), url));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("checksum mismatch for ggml-tiny.bin"));
  EXPECT_THAT(result.output, HasSubstr("want bd577a113a864445d4c299885e0cb97d4ba92b5f"));
  EXPECT_TRUE(fs::is_empty(dir_ / "models")) << "nothing unverified may be left where the service looks";
}

TEST_F(FetchWhisperModel, UnreachableHostExits1) {
  auto result = run(fetch("base " + (dir_ / "models").string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("download failed"));
  EXPECT_FALSE(fs::exists(dir_ / "models" / "ggml-base.bin"));
}

}  // namespace
}  // namespace livedub
