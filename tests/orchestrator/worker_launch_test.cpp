#include "orchestrator/worker_launch.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

namespace livedub::orchestrator {
namespace {

TEST(StreamUrlTemplate, SubstitutesEveryPlaceholder) {
  EXPECT_EQ(expand_stream_url("rtmp://127.0.0.1:1935/live/{stream_id}/in", "demo"),
            "rtmp://127.0.0.1:1935/live/demo/in");
  EXPECT_EQ(
      expand_stream_url("srt://media:9000?streamid=publish:{stream_id}&tag={stream_id}", "a-1"),
      "srt://media:9000?streamid=publish:a-1&tag=a-1");
  EXPECT_EQ(expand_stream_url("{stream_id}", "x"), "x");
}

TEST(StreamUrlTemplate, LeavesOtherBracesAlone) {
  EXPECT_EQ(expand_stream_url("rtmp://h/{app}/{stream_id}/{stream_id/{}", "s"),
            "rtmp://h/{app}/s/{stream_id/{}");
  EXPECT_EQ(expand_stream_url("rtmp://h/live/in", "s"), "rtmp://h/live/in");
}

TEST(StreamUrlTemplate, RefusesInvalidIds) {
  for (const char* id : {"", "../x", "a b", "a/b", "a?b", "a&b", "{stream_id}"}) {
    EXPECT_THROW(expand_stream_url("rtmp://h/live/{stream_id}/in", id), std::invalid_argument)
        << id;
  }
  EXPECT_THROW(expand_stream_url("rtmp://h/{stream_id}", std::string(65, 'a')),
               std::invalid_argument);
}

WorkerLaunchConfig launch_config() {
  WorkerLaunchConfig config;
  config.worker_bin = "/opt/livedub/bin/stream-worker";
  config.input_url_template = "rtmp://media:1935/live/{stream_id}/in";
  config.output_url_template = "rtmp://media:1935/live/{stream_id}/out";
  return config;
}

TEST(WorkerProcessOptions, ArgvIsTheBinaryAloneAndEnvCarriesTheStream) {
  auto options = worker_process_options(launch_config(), "demo_1");
  EXPECT_EQ(options.argv, std::vector<std::string>{"/opt/livedub/bin/stream-worker"});
  EXPECT_EQ(options.env_overrides.size(), 5u);
  EXPECT_EQ(options.env_overrides.at("LIVEDUB_LOG_FILE"), "") << "not the orchestrator's log file: stderr";
  EXPECT_EQ(options.env_overrides.at("LIVEDUB_WORKER_PARENT_PID"), std::to_string(getpid()));
  EXPECT_EQ(options.env_overrides.at("LIVEDUB_STREAM_ID"), "demo_1");
  EXPECT_EQ(options.env_overrides.at("LIVEDUB_INPUT_URL"), "rtmp://media:1935/live/demo_1/in");
  EXPECT_EQ(options.env_overrides.at("LIVEDUB_OUTPUT_URL"), "rtmp://media:1935/live/demo_1/out");
  EXPECT_FALSE(options.stdout_path.has_value()) << "output is inherited without a run dir";
}

TEST(WorkerProcessOptions, OutputGoesToPerStreamLogUnderRunDir) {
  auto config = launch_config();
  config.run_dir = "/var/run/livedub";
  auto options = worker_process_options(config, "demo");
  EXPECT_EQ(options.stdout_path, "/var/run/livedub/logs/worker-demo.log");
  EXPECT_EQ(options.env_overrides.at("LIVEDUB_WORKER_EXIT_REASON_FILE"), "/var/run/livedub/logs/worker-demo.exit");
  // The logger rotates that file itself (bounded), not an ever-growing redirect.
  EXPECT_EQ(options.env_overrides.at("LIVEDUB_LOG_FILE"), "/var/run/livedub/logs/worker-demo.log");
}

TEST(WorkerProcessOptions, TheOutputUrlCarriesTheWorkerCredential) {
  auto config = launch_config();
  config.output_credential_query = "user=livedub-worker&pass=abc";
  EXPECT_EQ(worker_process_options(config, "demo").env_overrides.at("LIVEDUB_OUTPUT_URL"),
            "rtmp://media:1935/live/demo/out?user=livedub-worker&pass=abc");
  config.output_url_template = "rtmp://media:1935/live/{stream_id}/out?x=1";
  EXPECT_EQ(worker_process_options(config, "demo").env_overrides.at("LIVEDUB_OUTPUT_URL"),
            "rtmp://media:1935/live/demo/out?x=1&user=livedub-worker&pass=abc");
}

TEST(WorkerProcessOptions, RefusesInvalidIds) {
  auto config = launch_config();
  config.run_dir = "/var/run/livedub";
  for (const char* id : {"", "../../etc/passwd", "a b", "x\n"}) {
    EXPECT_THROW(worker_process_options(config, id), std::invalid_argument) << id;
  }
}

TEST(DefaultWorkerBinary, PrefersTheBinaryNextToTheOrchestrator) {
  std::set<std::filesystem::path> executables = {"/app/bin/stream-worker",
                                                 "/app/media-service/stream-worker"};
  auto probe = [&](const std::filesystem::path& p) { return executables.count(p) > 0; };
  EXPECT_EQ(default_worker_binary("/app/bin/orchestrator", probe), "/app/bin/stream-worker");
}

TEST(DefaultWorkerBinary, FallsBackToTheBuildTreeLayout) {
  auto probe = [](const std::filesystem::path& p) {
    return p == "/src/build/apps/media-service/stream-worker";
  };
  EXPECT_EQ(default_worker_binary("/src/build/apps/orchestrator/orchestrator", probe),
            "/src/build/apps/media-service/stream-worker");
}

TEST(DefaultWorkerBinary, NoneFound) {
  auto probe = [](const std::filesystem::path&) { return false; };
  EXPECT_FALSE(default_worker_binary("/app/bin/orchestrator", probe).has_value());
}

TEST(IsExecutableFile, ChecksRegularFileAndMode) {
  EXPECT_TRUE(is_executable_file("/bin/sh"));
  EXPECT_FALSE(is_executable_file("/etc/passwd"));
  EXPECT_FALSE(is_executable_file("/bin"));
  EXPECT_FALSE(is_executable_file("/nonexistent/stream-worker"));
}

}  // namespace
}  // namespace livedub::orchestrator
