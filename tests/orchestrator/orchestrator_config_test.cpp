#include "orchestrator/orchestrator_config.hpp"

#include <gtest/gtest.h>

#include <map>

namespace livedub::orchestrator {
namespace {

using namespace std::chrono_literals;

class OrchestratorConfigTest : public ::testing::Test {
 protected:
  OrchestratorConfig load() {
    EnvConfig env([this](const std::string& name) -> std::optional<std::string> {
      auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    });
    auto probe = [this](const std::filesystem::path& p) { return p == executable; };
    return load_orchestrator_config(env, "/app/bin/orchestrator", probe);
  }

  // The variable a bad configuration is blamed on.
  std::string blamed_variable() {
    try {
      load();
    } catch (const ConfigError& e) {
      return e.variable();
    }
    return "(no error)";
  }

  static constexpr const char* kToken = "0123456789abcdef-token";
  std::map<std::string, std::string> vars{{"LIVEDUB_ORCHESTRATOR_TOKEN", kToken}};
  std::filesystem::path executable = "/app/bin/stream-worker";
};

TEST_F(OrchestratorConfigTest, Defaults) {
  auto config = load();
  EXPECT_EQ(config.host, "127.0.0.1");
  EXPECT_EQ(config.port, 8090);
  EXPECT_FALSE(config.port_file.has_value());
  EXPECT_EQ(config.launch.worker_bin, "/app/bin/stream-worker");
  EXPECT_EQ(config.launch.input_url_template, "rtmp://127.0.0.1:1935/live/{stream_id}/in");
  EXPECT_EQ(config.launch.output_url_template, "rtmp://127.0.0.1:1935/live/{stream_id}/out");
  EXPECT_FALSE(config.launch.run_dir.has_value());
  EXPECT_EQ(config.policy.restart_min, 500ms);
  EXPECT_EQ(config.policy.restart_max, 30s);
  EXPECT_EQ(config.policy.stable_after, 10s);
  EXPECT_EQ(config.policy.stop_grace, 15s);
  EXPECT_EQ(config.policy.max_streams, host_stream_capacity());  // from the host's cores
  EXPECT_EQ(config.policy.max_starts_per_minute, 30);
  // Derived from the token when unset: 32 hex digits, not the token itself.
  EXPECT_EQ(config.credentials.worker_pass.size(), 32u);
  EXPECT_EQ(config.credentials.worker_pass.find(kToken), std::string::npos);
  EXPECT_FALSE(config.credentials.publish_pass.has_value());
}

TEST_F(OrchestratorConfigTest, TheTokenIsRequiredAndMustNotBeGuessable) {
  vars.erase("LIVEDUB_ORCHESTRATOR_TOKEN");
  EXPECT_EQ(blamed_variable(), "LIVEDUB_ORCHESTRATOR_TOKEN");
  for (const char* bad : {"short", "has space in it 0123", "with&ampersand-0123456", "query?mark-0123456789"}) {
    vars["LIVEDUB_ORCHESTRATOR_TOKEN"] = bad;
    EXPECT_EQ(blamed_variable(), "LIVEDUB_ORCHESTRATOR_TOKEN") << bad;
  }
}

TEST_F(OrchestratorConfigTest, APublishUserNeedsAPassword) {
  vars["LIVEDUB_PUBLISH_USER"] = "obs";
  EXPECT_EQ(blamed_variable(), "LIVEDUB_PUBLISH_PASS");
}

TEST_F(OrchestratorConfigTest, ReadsEveryVariable) {
  executable = "/opt/worker";
  vars = {{"LIVEDUB_ORCHESTRATOR_HOST", "0.0.0.0"},
          {"LIVEDUB_ORCHESTRATOR_PORT", "0"},
          {"LIVEDUB_ORCHESTRATOR_PORT_FILE", "/tmp/port"},
          {"LIVEDUB_WORKER_BIN", "/opt/worker"},
          {"LIVEDUB_INPUT_URL_TEMPLATE", "rtmp://mediamtx:1935/live/{stream_id}/in"},
          {"LIVEDUB_OUTPUT_URL_TEMPLATE", "rtmp://mediamtx:1935/live/{stream_id}/out"},
          {"LIVEDUB_WORKER_RESTART_MIN_MS", "100"},
          {"LIVEDUB_WORKER_RESTART_MAX_MS", "100"},
          {"LIVEDUB_WORKER_STABLE_MS", "0"},
          {"LIVEDUB_WORKER_STOP_GRACE_MS", "250"},
          {"LIVEDUB_RUN_DIR", "/run/livedub"},
          {"LIVEDUB_ORCHESTRATOR_TOKEN", kToken},
          {"LIVEDUB_WORKER_PUBLISH_PASS", "worker-pass-0123456789"},
          {"LIVEDUB_PUBLISH_USER", "obs"},
          {"LIVEDUB_PUBLISH_PASS", "publisher-secret"},
          {"LIVEDUB_MAX_STREAMS", "3"},
          {"LIVEDUB_STREAM_STARTS_PER_MINUTE", "2"}};
  auto config = load();
  EXPECT_EQ(config.token, kToken);
  EXPECT_EQ(config.credentials.worker_pass, "worker-pass-0123456789");
  EXPECT_EQ(config.launch.output_credential_query, "user=livedub-worker&pass=worker-pass-0123456789");
  EXPECT_EQ(config.credentials.publish_user, "obs");
  EXPECT_EQ(config.credentials.publish_pass, "publisher-secret");
  EXPECT_EQ(config.policy.max_streams, 3u);
  EXPECT_EQ(config.policy.max_starts_per_minute, 2);
  EXPECT_EQ(config.host, "0.0.0.0");
  EXPECT_EQ(config.port, 0);
  EXPECT_EQ(config.port_file, "/tmp/port");
  EXPECT_EQ(config.launch.worker_bin, "/opt/worker");
  EXPECT_EQ(config.launch.input_url_template, "rtmp://mediamtx:1935/live/{stream_id}/in");
  EXPECT_EQ(config.launch.output_url_template, "rtmp://mediamtx:1935/live/{stream_id}/out");
  EXPECT_EQ(config.launch.run_dir, "/run/livedub");
  EXPECT_EQ(config.policy.restart_min, 100ms);
  EXPECT_EQ(config.policy.restart_max, 100ms);
  EXPECT_EQ(config.policy.stable_after, 0ms);
  EXPECT_EQ(config.policy.stop_grace, 250ms);
}

TEST_F(OrchestratorConfigTest, FallsBackToTheBuildTreeWorker) {
  executable = "/app/media-service/stream-worker";
  EXPECT_EQ(load().launch.worker_bin, "/app/media-service/stream-worker");
}

TEST_F(OrchestratorConfigTest, MissingWorkerBinaryIsAnError) {
  executable = "/nowhere";
  EXPECT_EQ(blamed_variable(), "LIVEDUB_WORKER_BIN");
  vars["LIVEDUB_WORKER_BIN"] = "/opt/not-executable";
  EXPECT_EQ(blamed_variable(), "LIVEDUB_WORKER_BIN");
}

TEST_F(OrchestratorConfigTest, InvalidValuesNameTheirVariable) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"LIVEDUB_ORCHESTRATOR_PORT", "http"},
      {"LIVEDUB_ORCHESTRATOR_PORT", "65536"},
      {"LIVEDUB_ORCHESTRATOR_PORT", "-1"},
      {"LIVEDUB_INPUT_URL_TEMPLATE", "rtmp://127.0.0.1:1935/live/demo/in"},
      {"LIVEDUB_INPUT_URL_TEMPLATE", "live/{stream_id}/in"},
      {"LIVEDUB_OUTPUT_URL_TEMPLATE", "rtmp://127.0.0.1:1935/live/{id}/out"},
      {"LIVEDUB_WORKER_RESTART_MIN_MS", "0"},
      {"LIVEDUB_WORKER_RESTART_MIN_MS", "fast"},
      {"LIVEDUB_WORKER_RESTART_MAX_MS", "100"},  // below the default minimum of 500
      {"LIVEDUB_WORKER_STOP_GRACE_MS", "-5"},
      {"LIVEDUB_WORKER_STABLE_MS", "1.5"},
      {"LIVEDUB_MAX_STREAMS", "0"},
      {"LIVEDUB_STREAM_STARTS_PER_MINUTE", "many"},
      {"LIVEDUB_WORKER_PUBLISH_PASS", "short"},
  };
  for (const auto& [name, value] : cases) {
    vars = {{"LIVEDUB_ORCHESTRATOR_TOKEN", kToken}, {name, value}};
    EXPECT_EQ(blamed_variable(), name) << name << "=" << value;
  }
}

TEST_F(OrchestratorConfigTest, LanguagesAndTheStsToCheckThemAgainst) {
  auto config = load();
  EXPECT_EQ(config.languages.source_lang, "en");
  EXPECT_EQ(config.languages.target_langs, std::vector<std::string>{"es"});
  EXPECT_FALSE(config.sts_url.has_value()) << "unset: not checked";
  vars["LIVEDUB_TARGET_LANGS"] = "es, ca";
  vars["STS_SERVICE_URL"] = "http://a:8000, http://b:8000";
  config = load();
  EXPECT_EQ(config.languages.target_langs, (std::vector<std::string>{"es", "ca"}));
  EXPECT_EQ(config.sts_url, "http://a:8000");
  vars["LIVEDUB_TARGET_LANGS"] = "es,en";
  EXPECT_EQ(blamed_variable(), "LIVEDUB_TARGET_LANGS");
  vars["LIVEDUB_TARGET_LANGS"] = "es";
  vars["LIVEDUB_SOURCE_LANG"] = "English";
  EXPECT_EQ(blamed_variable(), "LIVEDUB_SOURCE_LANG");
}

}  // namespace
}  // namespace livedub::orchestrator
