// deploy/media-service/mediamtx/hooks/notify-orchestrator.sh run the way MediaMTX runs it,
// against the real orchestrator.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "orchestrator_harness.hpp"

namespace livedub::orchestrator::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class HookScriptTest : public ::testing::Test {
 protected:
  // Runs the hook script with the environment MediaMTX gives it plus `env`.
  test_support::CommandResult run_hook(const std::vector<std::string>& args,
                        std::map<std::string, std::string> env,
                        const std::optional<fs::path>& shell = std::nullopt) {
    std::vector<std::string> argv;
    if (shell) argv.push_back(shell->string());
    argv.push_back(NOTIFY_ORCHESTRATOR_SCRIPT);
    argv.insert(argv.end(), args.begin(), args.end());
    std::map<std::string, std::string> hook_env = {{"MTX_PATH", ""},
                                                   {"MTX_SOURCE_TYPE", "rtmpConn"},
                                                   {"MTX_SOURCE_ID", "6f1c2d"},
                                                   {"MTX_QUERY", ""},
                                                   {"LIVEDUB_HOOK_ATTEMPTS", "3"},
                                                   {"LIVEDUB_ORCHESTRATOR_TOKEN", kTestToken}};
    if (orchestrator) hook_env["LIVEDUB_ORCHESTRATOR_URL"] = orchestrator->url("");
    for (auto& [name, value] : env) hook_env[name] = value;
    return test_support::run_command(argv, hook_env);
  }

  void start_orchestrator() { orchestrator = std::make_unique<OrchestratorProcess>(dir.path()); }

  json streams() { return json::parse(orchestrator->get("/v1/streams").body); }

  void TearDown() override {
    if (orchestrator) orchestrator->expect_clean_exit();
  }

  TempDir dir;
  std::unique_ptr<OrchestratorProcess> orchestrator;
};

TEST_F(HookScriptTest, ReadyStartsAndNotReadyStopsTheWorker) {
  start_orchestrator();
  auto ready = run_hook({"ready"}, {{"MTX_PATH", "live/demo/in"}, {"MTX_QUERY", "token=abc"}});
  ASSERT_EQ(ready.exit_code, 0) << ready.output;
  auto worker = orchestrator->wait_for_worker_start(1);
  EXPECT_EQ(worker.fields["stream_id"], "demo");
  EXPECT_EQ(streams().size(), 1u);

  auto not_ready = run_hook({"not-ready"}, {{"MTX_PATH", "live/demo/in"}});
  ASSERT_EQ(not_ready.exit_code, 0) << not_ready.output;
  EXPECT_TRUE(wait_until([&] { return !process_alive(worker.pid); }, 5s));
  EXPECT_TRUE(wait_until([&] { return streams().empty(); }, 5s));
}

TEST_F(HookScriptTest, HostileValuesStillMakeValidJson) {
  start_orchestrator();
  auto result =
      run_hook({"ready"}, {{"MTX_PATH", "live/demo/in"},
                           {"MTX_SOURCE_TYPE", "rtmp\"Conn"},
                           {"MTX_SOURCE_ID", "a\\\"},\"path\":\"live/evil/in"},
                           {"MTX_QUERY", "q=\"x\"\\y\n\t\x01$(touch pwned)`id`%s\xc3\xa9"}});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto worker = orchestrator->wait_for_worker_start(1);
  EXPECT_EQ(worker.fields["stream_id"], "demo") << "injected JSON must not change the path";
  EXPECT_FALSE(fs::exists(dir.path() / "pwned"));
  auto list = streams();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["stream_id"], "demo");
}

TEST_F(HookScriptTest, OutputPathIsAcceptedAndIgnored) {
  start_orchestrator();
  auto result = run_hook({"ready"}, {{"MTX_PATH", "live/demo/out"}});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(streams().empty());
}

TEST_F(HookScriptTest, RejectedPathFailsAtOnceWithTheReason) {
  start_orchestrator();
  auto result = run_hook({"ready"}, {{"MTX_PATH", "live/../x/in"}});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("HTTP 400"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("invalid_hook"), std::string::npos) << result.output;
  EXPECT_TRUE(orchestrator->started_workers().empty());
}

TEST_F(HookScriptTest, UnreachableOrchestratorFailsAfterRetries) {
  // A port that was free a moment ago: connections are refused.
  const std::string url = "http://127.0.0.1:" + std::to_string(test_support::free_loopback_port());

  auto result = run_hook({"ready"}, {{"MTX_PATH", "live/demo/in"},
                                     {"LIVEDUB_ORCHESTRATOR_URL", url},
                                     {"LIVEDUB_HOOK_ATTEMPTS", "2"}});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("not delivered"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("after 2 attempt(s)"), std::string::npos) << result.output;
}

TEST_F(HookScriptTest, AWrongOrMissingTokenIsReportedAndStartsNothing) {
  start_orchestrator();
  auto wrong = run_hook({"ready"}, {{"MTX_PATH", "live/demo/in"}, {"LIVEDUB_ORCHESTRATOR_TOKEN", "not-the-token-0123456"}});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("HTTP 401"), std::string::npos) << wrong.output;
  EXPECT_EQ(wrong.output.find("not-the-token"), std::string::npos) << "the token was echoed: " << wrong.output;
  auto missing = run_hook({"ready"}, {{"MTX_PATH", "live/demo/in"}, {"LIVEDUB_ORCHESTRATOR_TOKEN", ""}});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("LIVEDUB_ORCHESTRATOR_TOKEN"), std::string::npos) << missing.output;
  EXPECT_EQ(streams(), json::array());
  EXPECT_EQ(orchestrator->log().find("not-the-token"), std::string::npos) << "the orchestrator logged the token";
}

TEST_F(HookScriptTest, WrongUsageExitsWithTwo) {
  EXPECT_EQ(run_hook({}, {{"MTX_PATH", "live/demo/in"}}).exit_code, 2);
  EXPECT_EQ(run_hook({"started"}, {{"MTX_PATH", "live/demo/in"}}).exit_code, 2);
  auto no_path = run_hook({"ready"}, {});
  EXPECT_EQ(no_path.exit_code, 2);
  EXPECT_NE(no_path.output.find("MTX_PATH"), std::string::npos) << no_path.output;
}

// The MediaMTX image has busybox and curl only: run the script with nothing else on PATH.
TEST_F(HookScriptTest, WorksWithBusyboxAlone) {
  const fs::path busybox = "/usr/bin/busybox";
  if (!fs::exists(busybox)) GTEST_SKIP() << "busybox not installed";
  const fs::path bin = dir.path() / "busybox-bin";
  fs::create_directories(bin);
  for (const char* applet : {"sh", "tr", "sed", "tail", "sleep", "printf"}) {
    fs::create_symlink(busybox, bin / applet);
  }
  fs::create_symlink("/usr/bin/curl", bin / "curl");

  start_orchestrator();
  auto result =
      run_hook({"ready"},
               {{"PATH", bin.string()}, {"MTX_PATH", "live/bb/in"}, {"MTX_QUERY", "a=\"1\"\\2\n"}},
               bin / "sh");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(orchestrator->wait_for_worker_start(1).fields["stream_id"], "bb");
}

}  // namespace
}  // namespace livedub::orchestrator::testing
