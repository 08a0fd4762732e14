// The compose files as the Compose that runs them reads them (`docker compose config`; no engine
// needed): an unedited copy of .env.example changes nothing, every value a container gets is a
// value (never a comment), and the documented command lines parse.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "command.hpp"
#include "deploy_model.hpp"
#include "env_names.hpp"

namespace livedub::testing {
namespace {

using test_support::CommandResult;
using test_support::run_command;

// "docker compose" (the CLI plugin) or a standalone docker-compose v2; empty when neither runs.
std::vector<std::string> compose_command() {
  for (std::vector<std::string> candidate : {std::vector<std::string>{"/usr/bin/env", "docker", "compose"},
                                             std::vector<std::string>{"/usr/bin/env", "docker-compose"}}) {
    auto argv = candidate;
    argv.insert(argv.end(), {"version", "--short"});
    const auto result = run_command(argv);
    if (result.exit_code == 0 && !result.output.empty() && result.output[0] == '2') return candidate;
  }
  return {};
}

class ComposeConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    compose_ = compose_command();
    ASSERT_FALSE(compose_.empty()) << "Docker Compose v2 is not installed (scripts/setup installs it: "
                                      "scripts/fetch-docker-plugins)";
    dir_ = fs::path(::testing::TempDir()) / ("compose-config-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An env file: the two required secrets, after `base` (a file's text).
  fs::path env_file(const std::string& name, const std::string& base) {
    const auto path = dir_ / name;
    std::ofstream(path) << base << "\nLIVEDUB_ORCHESTRATOR_TOKEN=test-token-0123456789abcdef\n"
                        << "LIVEDUB_WORKER_PUBLISH_PASS=test-worker-pass-0123456789\n";
    return path;
  }

  // `compose --env-file ENV <args> config` in a clean environment (nothing of this process's
  // LIVEDUB_* variables), from the repository root.
  CommandResult config(const fs::path& env, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/env", "-i", "--chdir=" + repo_root().string(),
                                     "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir_.string()};
    argv.insert(argv.end(), compose_.begin() + 1, compose_.end());
    argv.insert(argv.end(), {"--env-file", env.string()});
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("config");
    return run_command(argv, {}, std::chrono::seconds(60));
  }

  std::vector<std::string> compose_;
  fs::path dir_;
};

const std::vector<std::vector<std::string>> kInvocations = {
    {"-f", "deploy/docker-compose.yml"},
    {"-f", "deploy/media-service/docker-compose.yml", "--profile", "local"},
    {"-f", "deploy/media-service/docker-compose.yml", "-f", "deploy/media-service/nginx-rtmp.yml", "--profile", "local"},
    {"-f", "deploy/sts-service/docker-compose.yml", "--profile", "cpu", "--profile", "gpu"},
};

TEST_F(ComposeConfig, AnUneditedCopyOfEnvExampleChangesNothing) {
  const auto plain = env_file("plain.env", "");
  const auto example = env_file("example.env", read_text(repo_root() / ".env.example"));
  for (const auto& args : kInvocations) {
    SCOPED_TRACE(args[1] + (args.size() > 3 ? " " + args[3] : ""));
    const auto without = config(plain, args);
    ASSERT_EQ(without.exit_code, 0) << without.output;
    const auto with = config(example, args);
    ASSERT_EQ(with.exit_code, 0) << with.output;
    EXPECT_EQ(with.output, without.output) << "the settings .env.example gives differ from the compose defaults";
    // A comment Compose took for a value ("KEY=   # text" gives "# text").
    std::istringstream lines(with.output);
    for (std::string line; std::getline(lines, line);) {
      EXPECT_EQ(line.find(": '#"), std::string::npos) << line;
      EXPECT_EQ(line.find(": \"#"), std::string::npos) << line;
    }
  }
}

// An edited value reaches the containers (the file is read at all, and as intended).
TEST_F(ComposeConfig, AnEditedValueReachesTheContainer) {
  const auto edited = env_file("edited.env", "LIVEDUB_TARGET_LANGS=es,ca\nLIVEDUB_STS_MODE=mock-tone\n");
  const auto result = config(edited, kInvocations[1]);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("LIVEDUB_TARGET_LANGS: es,ca"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("LIVEDUB_STS_MODE: mock-tone"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace livedub::testing
