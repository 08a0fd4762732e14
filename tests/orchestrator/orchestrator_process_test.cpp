// The real orchestrator binary against a fake worker: hooks in, processes out.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <latch>
#include <nlohmann/json.hpp>
#include <thread>

#include "livedub/http_server.hpp"
#include "orchestrator_harness.hpp"

namespace livedub::orchestrator::testing {
namespace {

using nlohmann::json;

const std::string kReady = "/v1/hooks/mediamtx/ready";
const std::string kNotReady = "/v1/hooks/mediamtx/not-ready";
const std::string kNginx = "/v1/hooks/nginx";

std::string mediamtx_body(const std::string& path) {
  return json{{"path", path}, {"source_type", "rtmpConn"}, {"source_id", "c0ffee"}, {"query", ""}}
      .dump();
}

class OrchestratorProcessTest : public ::testing::Test {
 protected:
  void start(std::map<std::string, std::string> env = {}) {
    orchestrator = std::make_unique<OrchestratorProcess>(dir.path(), std::move(env));
  }

  json get_json(const std::string& path, long expected_status = 200) {
    auto response = orchestrator->get(path);
    EXPECT_EQ(response.status, expected_status) << path << ": " << response.body;
    return json::parse(response.body);
  }

  json post_ok(const std::string& path, const std::string& body, bool form = false) {
    auto response =
        form ? orchestrator->post_form(path, body) : orchestrator->post_json(path, body);
    EXPECT_EQ(response.status, 200) << path << " " << body << ": " << response.body;
    return json::parse(response.body);
  }

  bool no_streams() { return get_json("/v1/streams") == json::array(); }

  std::string metrics() { return orchestrator->get("/metrics").body; }

  void TearDown() override {
    if (!orchestrator) return;
    if (HasFailure()) std::cerr << "orchestrator log:\n" << orchestrator->log();
    orchestrator->expect_clean_exit();
  }

  TempDir dir;
  std::unique_ptr<OrchestratorProcess> orchestrator;
};

TEST_F(OrchestratorProcessTest, ConcurrentDuplicateReadyHooksStartExactlyOneWorker) {
  start();
  constexpr int kHooks = 20;
  std::latch go(kHooks);
  std::vector<HttpResponse> responses(kHooks);
  std::vector<std::thread> threads;
  for (int i = 0; i < kHooks; ++i) {
    threads.emplace_back([&, i] {
      HttpClient client;  // one connection per hook, as media servers send them
      go.arrive_and_wait();
      responses[i] = client.post(orchestrator->url(kReady), mediamtx_body("live/demo/in"),
                                 "application/json", 10s, {std::string("Authorization: Bearer ") + kTestToken});
    });
  }
  for (auto& thread : threads) thread.join();

  int started = 0;
  for (const auto& response : responses) {
    ASSERT_EQ(response.status, 200) << response.body;
    auto outcome = json::parse(response.body).at("outcome").get<std::string>();
    if (outcome == "started") {
      ++started;
    } else {
      EXPECT_EQ(outcome, "already_supervised");
    }
  }
  EXPECT_EQ(started, 1);
  // Spawning happens inside the hook request: every worker that will exist exists now.
  EXPECT_EQ(child_processes(orchestrator->pid()).size(), 1u);

  auto worker = orchestrator->wait_for_worker_start(1);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(orchestrator->started_workers().size(), 1u);
  EXPECT_TRUE(process_alive(worker.pid));

  auto streams = get_json("/v1/streams");
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0]["stream_id"], "demo");
  EXPECT_EQ(streams[0]["pid"], worker.pid);
  EXPECT_EQ(streams[0]["state"], "starting");
  EXPECT_EQ(streams[0]["restarts"], 0);

  auto text = metrics();
  EXPECT_NE(
      text.find(
          R"(livedub_orchestrator_hook_events_total{kind="ready",outcome="started",source="mediamtx"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(livedub_orchestrator_hook_events_total{kind="ready",outcome="already_supervised",source="mediamtx"} 19)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("livedub_orchestrator_worker_starts_total 1"), std::string::npos);
  EXPECT_NE(text.find("livedub_orchestrator_workers_running 1"), std::string::npos);
}

TEST_F(OrchestratorProcessTest, WorkerGetsTheLaunchContract) {
  start({{"LIVEDUB_INPUT_URL_TEMPLATE", "rtmp://media.example:1935/live/{stream_id}/in"},
         {"LIVEDUB_OUTPUT_URL_TEMPLATE",
          "rtmp://media.example:1935/live/{stream_id}/out?s={stream_id}"}});
  post_ok(kReady, mediamtx_body("live/Cam_01-a/in"));
  auto worker = orchestrator->wait_for_worker_start(1);
  EXPECT_EQ(worker.fields["argc"], "0");
  EXPECT_EQ(worker.fields["stream_id"], "Cam_01-a");
  EXPECT_EQ(worker.fields["input_url"], "rtmp://media.example:1935/live/Cam_01-a/in");
  // The credential that lets this worker, and only a worker, publish the output.
  const std::string output = worker.fields["output_url"];
  const std::string expected_prefix = "rtmp://media.example:1935/live/Cam_01-a/out?s=Cam_01-a&user=livedub-worker&pass=";
  EXPECT_EQ(output.substr(0, expected_prefix.size()), expected_prefix);
  EXPECT_EQ(output.size(), expected_prefix.size() + 32) << output;
  EXPECT_EQ(output.find(kTestToken), std::string::npos) << "the orchestrator token itself reached the worker";

  auto log_file = dir.path() / "run" / "logs" / "worker-Cam_01-a.log";
  EXPECT_TRUE(
      wait_until([&] { return read_file(log_file).find("fake worker") != std::string::npos; }, 5s))
      << "worker output is appended to " << log_file;
  EXPECT_NE(read_file(log_file).find("fake worker " + std::to_string(worker.pid) + " for Cam_01-a"),
            std::string::npos);

  // The orchestrator's listening and client sockets must not leak into workers.
  for (const auto& fd :
       std::filesystem::directory_iterator("/proc/" + std::to_string(worker.pid) + "/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(fd.path(), ec).string();
    EXPECT_EQ(target.find("socket:"), std::string::npos) << fd.path() << " -> " << target;
  }
}

TEST_F(OrchestratorProcessTest, DefaultUrlTemplatesPointAtTheLocalMediaServer) {
  start();
  post_ok(kReady, mediamtx_body("live/demo/in"));
  auto worker = orchestrator->wait_for_worker_start(1);
  EXPECT_EQ(worker.fields["input_url"], "rtmp://127.0.0.1:1935/live/demo/in");
  EXPECT_EQ(worker.fields["output_url"].substr(0, worker.fields["output_url"].find('?')),
            "rtmp://127.0.0.1:1935/live/demo/out");
}

TEST_F(OrchestratorProcessTest, NotReadyStopsTheWorker) {
  start();
  post_ok(kReady, mediamtx_body("live/demo/in"));
  auto worker = orchestrator->wait_for_worker_start(1);
  ASSERT_TRUE(process_alive(worker.pid));

  auto reply = post_ok(kNotReady, mediamtx_body("live/demo/in"));
  EXPECT_EQ(reply["outcome"], "stopping");
  EXPECT_TRUE(wait_until([&] { return !process_alive(worker.pid); }, 5s));
  EXPECT_TRUE(wait_until([&] { return no_streams(); }, 5s));
  get_json("/v1/streams/demo", 404);
  EXPECT_TRUE(child_processes(orchestrator->pid()).empty());

  EXPECT_EQ(post_ok(kNotReady, mediamtx_body("live/demo/in"))["outcome"], "not_supervised");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(orchestrator->started_workers().size(), 1u) << "a stopped stream is not restarted";
}

TEST_F(OrchestratorProcessTest, WorkerIgnoringSigtermIsKilledAfterTheGracePeriod) {
  start({{"LIVEDUB_WORKER_STOP_GRACE_MS", "1000"}});
  orchestrator->make_workers_ignore_sigterm();
  post_ok(kReady, mediamtx_body("live/demo/in"));
  auto worker = orchestrator->wait_for_worker_start(1);

  auto stop_sent = std::chrono::steady_clock::now();
  post_ok(kNotReady, mediamtx_body("live/demo/in"));
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(process_alive(worker.pid))
      << "SIGTERM is ignored; SIGKILL waits for the grace period";
  EXPECT_EQ(get_json("/v1/streams/demo")["state"], "stopping");
  ASSERT_TRUE(wait_until([&] { return !process_alive(worker.pid); }, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - stop_sent, 1000ms);
  EXPECT_TRUE(wait_until([&] { return no_streams(); }, 5s));
}

TEST_F(OrchestratorProcessTest, KilledWorkerIsRestartedWithBackoff) {
  start({{"LIVEDUB_WORKER_RESTART_MIN_MS", "300"}, {"LIVEDUB_WORKER_RESTART_MAX_MS", "1000"}});
  post_ok(kReady, mediamtx_body("live/demo/in"));
  auto first = orchestrator->wait_for_worker_start(1);

  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(first.pid, SIGKILL), 0);
  auto second = orchestrator->wait_for_worker_start(2, 300ms + 5s);
  auto restart_took = std::chrono::steady_clock::now() - killed_at;
  EXPECT_NE(second.pid, first.pid);
  EXPECT_GE(restart_took, 300ms) << "restart before the minimum backoff";
  EXPECT_EQ(second.fields["stream_id"], "demo");

  auto status = get_json("/v1/streams/demo");
  EXPECT_EQ(status["restarts"], 1);
  EXPECT_EQ(status["pid"], second.pid);
  EXPECT_NE(status["last_exit"].get<std::string>().find("killed by signal 9"), std::string::npos)
      << status;
  EXPECT_NE(metrics().find("livedub_orchestrator_worker_restarts_total 1"), std::string::npos);
  EXPECT_NE(orchestrator->log().find("killed by signal 9"), std::string::npos)
      << "the restart is logged with the exit reason";

  // A second failure without a stable run doubles the delay.
  killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(second.pid, SIGKILL), 0);
  orchestrator->wait_for_worker_start(3, 600ms + 5s);
  EXPECT_GE(std::chrono::steady_clock::now() - killed_at, 600ms);
  EXPECT_EQ(get_json("/v1/streams/demo")["restarts"], 2);
  EXPECT_EQ(child_processes(orchestrator->pid()).size(), 1u);
}

TEST_F(OrchestratorProcessTest, NotReadyDuringBackoffCancelsTheRestart) {
  start({{"LIVEDUB_WORKER_RESTART_MIN_MS", "2500"}, {"LIVEDUB_WORKER_RESTART_MAX_MS", "2500"}});
  post_ok(kReady, mediamtx_body("live/demo/in"));
  auto worker = orchestrator->wait_for_worker_start(1);
  ::kill(worker.pid, SIGKILL);
  ASSERT_TRUE(wait_until([&] { return get_json("/v1/streams/demo")["state"] == "backoff"; }, 5s));
  EXPECT_EQ(post_ok(kNotReady, mediamtx_body("live/demo/in"))["outcome"], "backoff_cancelled");
  std::this_thread::sleep_for(3s);  // past the moment the restart was due
  EXPECT_EQ(orchestrator->started_workers().size(), 1u);
  EXPECT_TRUE(no_streams());
}

TEST_F(OrchestratorProcessTest, InvalidStreamIdsAreRejectedWithoutStartingWorkers) {
  start();
  const std::vector<std::string> mediamtx_bodies = {
      mediamtx_body("live/../x/in"),
      mediamtx_body("live/a b/in"),
      mediamtx_body("live/" + std::string(65, 'a') + "/in"),
      mediamtx_body("live/demo"),
      mediamtx_body("vod/demo/in"),
      R"({"path": 1})",
      R"({"source_type":"rtmpConn"})",
      "{not json",
      ""};
  for (const auto& path : {kReady, kNotReady}) {
    for (const auto& body : mediamtx_bodies) {
      auto response = orchestrator->post_json(path, body);
      EXPECT_EQ(response.status, 400) << path << " " << body;
      EXPECT_EQ(json::parse(response.body)["error"]["code"], "invalid_hook") << response.body;
    }
  }
  for (const std::string body :
       {"call=publish&app=live&name=..%2Fx%2Fin", "call=publish&app=live&name=a+b%2Fin",
        "call=publish&app=live&name=demo%2", "call=publish&app=live", "app=live&name=demo%2Fin",
        "call=publish&app=live&name=demo%2Fother"}) {
    auto response = orchestrator->post_form(kNginx, body);
    EXPECT_EQ(response.status, 400) << body;
    EXPECT_EQ(json::parse(response.body)["error"]["code"], "invalid_hook") << response.body;
  }

  get_json("/v1/streams/a%20b", 400);
  get_json("/v1/streams/%2E%2E%2Fx", 400);  // percent-encoded so curl keeps it as sent
  get_json("/v1/streams/" + std::string(65, 'a'), 400);
  get_json("/v1/streams/unknown", 404);

  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(orchestrator->started_workers().empty());
  EXPECT_TRUE(child_processes(orchestrator->pid()).empty());
  EXPECT_TRUE(no_streams());
  EXPECT_NE(metrics().find(R"(kind="publish",outcome="rejected",source="nginx"})"),
            std::string::npos);
}

TEST_F(OrchestratorProcessTest, NginxCallbacksStartAndStopTheWorker) {
  start();
  auto reply = post_ok(kNginx,
                       "app=live&flashver=FMLE%2F3.0&swfurl=&tcurl=rtmp%3A%2F%2F127.0.0.1%2Flive"
                       "&pageurl=&addr=127.0.0.1&clientid=1&call=publish&name=demo%2Fin&type=live",
                       true);
  EXPECT_EQ(reply["outcome"], "started");
  auto worker = orchestrator->wait_for_worker_start(1);
  EXPECT_EQ(worker.fields["stream_id"], "demo");

  EXPECT_EQ(post_ok(kNginx, "call=publish&app=live%2Fdemo&name=in%3Fkey%3D1", true)["outcome"],
            "already_supervised");
  // The output: only with the worker's credential (from its output URL).
  const std::string output_url = worker.fields["output_url"];
  const std::string query = output_url.substr(output_url.find('?') + 1);
  EXPECT_EQ(post_ok(kNginx, "call=publish&app=live&name=demo%2Fout&" + query, true)["outcome"], "authorized");
  auto hijack = orchestrator->post_form(kNginx, "call=publish&app=live&name=demo%2Fout");
  EXPECT_EQ(hijack.status, 403) << hijack.body;
  auto guess = orchestrator->post_form(kNginx, "call=publish&app=live&name=demo%2Fout&user=livedub-worker&pass=x");
  EXPECT_EQ(guess.status, 403) << guess.body;
  EXPECT_EQ(post_ok(kNginx, "call=play&app=live&name=demo%2Fout", true)["outcome"], "ignored");
  EXPECT_EQ(post_ok(kNginx, "call=update&app=live&name=demo%2Fin", true)["outcome"], "ignored");
  EXPECT_EQ(post_ok(kReady, mediamtx_body("live/demo/out"))["outcome"], "ignored");
  EXPECT_EQ(child_processes(orchestrator->pid()).size(), 1u);

  EXPECT_EQ(post_ok(kNginx, "call=publish_done&app=live&name=demo%2Fin", true)["outcome"],
            "stopping");
  EXPECT_TRUE(wait_until([&] { return !process_alive(worker.pid); }, 5s));
  EXPECT_TRUE(wait_until([&] { return no_streams(); }, 5s));
}

TEST_F(OrchestratorProcessTest, StreamsAreSupervisedIndependently) {
  start();
  post_ok(kReady, mediamtx_body("live/a/in"));
  post_ok(kNginx, "call=publish&app=live&name=b%2Fin", true);
  orchestrator->wait_for_worker_start(2);
  auto streams = get_json("/v1/streams");
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0]["stream_id"], "a");
  EXPECT_EQ(streams[1]["stream_id"], "b");
  for (const auto& stream : streams) {
    for (const char* field : {"state", "pid", "restarts", "last_exit", "since"}) {
      EXPECT_TRUE(stream.contains(field)) << field;
    }
  }
  post_ok(kNotReady, mediamtx_body("live/a/in"));
  EXPECT_TRUE(wait_until([&] { return get_json("/v1/streams").size() == 1; }, 5s));
  EXPECT_EQ(get_json("/v1/streams/b")["stream_id"], "b");
}

TEST_F(OrchestratorProcessTest, ShutdownStopsAllWorkers) {
  start();
  post_ok(kReady, mediamtx_body("live/a/in"));
  post_ok(kReady, mediamtx_body("live/b/in"));
  orchestrator->wait_for_worker_start(2);
  auto workers = orchestrator->started_workers();

  int status = orchestrator->stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_wait_status(status);
  for (const auto& worker : workers) EXPECT_FALSE(process_alive(worker.pid)) << worker.pid;
}

TEST_F(OrchestratorProcessTest, HealthAndMetricsAreServed) {
  start();
  auto health = get_json("/healthz");
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["workers"], 0);
  auto text = metrics();
  EXPECT_NE(text.find("livedub_orchestrator_workers_running 0"), std::string::npos) << text;
  EXPECT_NE(text.find("livedub_orchestrator_worker_restarts_total 0"), std::string::npos);
}

TEST_F(OrchestratorProcessTest, HooksAndTheApiNeedTheCredential) {
  start();
  HttpClient anonymous;
  const std::string publish = "call=publish&app=live&name=demo%2Fin&clientid=1";
  // As the issue's attacker did: no credential.
  auto forged = anonymous.post(orchestrator->url(kNginx), publish, "application/x-www-form-urlencoded", 5s);
  EXPECT_EQ(forged.status, 401) << forged.body;
  auto forged_stop = anonymous.post(orchestrator->url(kNginx), "call=publish_done&app=live&name=demo%2Fin",
                                    "application/x-www-form-urlencoded", 5s);
  EXPECT_EQ(forged_stop.status, 401);
  auto wrong = anonymous.post(orchestrator->url(kNginx) + "?token=guessed-token-0123456789", publish,
                              "application/x-www-form-urlencoded", 5s);
  EXPECT_EQ(wrong.status, 401);
  auto wrong_bearer = anonymous.post(orchestrator->url(kReady), mediamtx_body("live/demo/in"), "application/json", 5s,
                                     {"Authorization: Bearer guessed-token-0123456789"});
  EXPECT_EQ(wrong_bearer.status, 401);
  EXPECT_EQ(anonymous.get(orchestrator->url("/v1/streams"), 5s).status, 401);
  EXPECT_TRUE(orchestrator->started_workers().empty());
  // Probes stay open.
  EXPECT_EQ(anonymous.get(orchestrator->url("/healthz"), 5s).status, 200);
  EXPECT_EQ(anonymous.get(orchestrator->url("/metrics"), 5s).status, 200);
  EXPECT_NE(metrics().find("livedub_orchestrator_unauthorized_requests_total 5"), std::string::npos) << metrics();
  // nginx-rtmp's way: the token in the callback URL.
  EXPECT_EQ(anonymous.post(orchestrator->url(kNginx) + "?token=" + kTestToken, publish,
                           "application/x-www-form-urlencoded", 5s).status,
            200);
  orchestrator->wait_for_worker_start(1);
  const std::string log = orchestrator->log();
  EXPECT_EQ(log.find("guessed-token"), std::string::npos) << "a refused credential was logged";
  EXPECT_EQ(log.find(kTestToken), std::string::npos) << "the token was logged";
  EXPECT_NE(log.find("refused POST /v1/hooks/nginx: wrong credential"), std::string::npos) << log;

  // A flood of refused requests with long paths on one keep-alive connection writes a bounded
  // log (measured before: 64 MB in 5 s): paths cut, lines rate-limited with a count of the rest.
  const auto before = log.size();
  const std::string long_path = "/v1/streams/" + std::string(7000, 'x');
  for (int i = 0; i < 1500; ++i) {
    // Refused for its length (414) before its credential is even looked at.
    ASSERT_EQ(anonymous.get(orchestrator->url(long_path), 5s, {"Authorization: Bearer wrong"}).status, 414);
  }
  const std::string long_enough = "/v1/streams/" + std::string(900, 'x');  // under the path bound
  for (int i = 0; i < 1500; ++i) {
    ASSERT_EQ(anonymous.get(orchestrator->url(long_enough), 5s, {"Authorization: Bearer wrong"}).status, 401);
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(anonymous.get(orchestrator->url("/v1/streams"), 5s).status, 401);  // carries the count
  const auto flood_log = orchestrator->log().substr(before);
  // At info and above (debug, this test's level, is the operator's explicit choice: not limited).
  std::size_t limited_bytes = 0;
  std::istringstream lines(flood_log);
  for (std::string line; std::getline(lines, line);) limited_bytes += line.find(" debug ") == std::string::npos ? line.size() + 1 : 0;
  EXPECT_LT(limited_bytes, 100'000u);
  EXPECT_EQ(flood_log.find(std::string(300, 'x')), std::string::npos) << "a path was logged whole";
  EXPECT_NE(flood_log.find("suppressed"), std::string::npos) << flood_log.substr(0, 2000);
}

TEST_F(OrchestratorProcessTest, OnlyThePublisherSessionThatStartedAStreamCanStopIt) {
  start();
  EXPECT_EQ(post_ok(kNginx, "call=publish&app=live&name=demo%2Fin&clientid=5", true)["outcome"], "started");
  auto worker = orchestrator->wait_for_worker_start(1);
  EXPECT_EQ(post_ok(kNginx, "call=publish_done&app=live&name=demo%2Fin&clientid=6", true)["outcome"],
            "other_session");
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(process_alive(worker.pid));
  EXPECT_EQ(get_json("/v1/streams/demo")["publisher_session"], "5");
  EXPECT_EQ(post_ok(kNginx, "call=publish_done&app=live&name=demo%2Fin&clientid=5", true)["outcome"], "stopping");
  EXPECT_TRUE(wait_until([&] { return no_streams(); }, 5s));
}

TEST_F(OrchestratorProcessTest, StartHooksAreBounded) {
  start({{"LIVEDUB_MAX_STREAMS", "2"}, {"LIVEDUB_STREAM_STARTS_PER_MINUTE", "2"}});
  post_ok(kReady, mediamtx_body("live/a/in"));
  post_ok(kReady, mediamtx_body("live/b/in"));
  auto third = orchestrator->post_json(kReady, mediamtx_body("live/c/in"));
  EXPECT_EQ(third.status, 429) << third.body;
  EXPECT_NE(third.body.find("too_many_streams"), std::string::npos);
  orchestrator->wait_for_worker_start(2);
  EXPECT_EQ(get_json("/v1/streams").size(), 2u);
  // Stream a flapping: its second stop/start in a minute still starts, the third does not.
  post_ok(kNotReady, mediamtx_body("live/a/in"));
  EXPECT_TRUE(wait_until([&] { return get_json("/v1/streams").size() == 1; }, 5s));
  post_ok(kReady, mediamtx_body("live/a/in"));
  post_ok(kNotReady, mediamtx_body("live/a/in"));
  EXPECT_TRUE(wait_until([&] { return get_json("/v1/streams").size() == 1; }, 5s));
  auto flapping = orchestrator->post_json(kReady, mediamtx_body("live/a/in"));
  EXPECT_EQ(flapping.status, 429) << flapping.body;
  EXPECT_NE(flapping.body.find("too_many_starts"), std::string::npos);
}

TEST_F(OrchestratorProcessTest, AWorkerRefusingItsInputIsShownAndNotRestarted) {
  start();
  orchestrator->make_workers_refuse_their_input();
  post_ok(kNginx, "call=publish&app=live&name=demo%2Fin&clientid=3", true);
  orchestrator->wait_for_worker_start(1);
  ASSERT_TRUE(wait_until([&] { return get_json("/v1/streams/demo")["state"] == "failed"; }, 5s));
  auto status = get_json("/v1/streams/demo");
  EXPECT_EQ(status["last_exit"], "unsupported input: no video track, as told by the test");
  std::this_thread::sleep_for(1500ms);  // several restart backoffs (300 ms minimum here)
  EXPECT_EQ(orchestrator->started_workers().size(), 1u) << "restarted a worker that refused its input";
  EXPECT_EQ(get_json("/v1/streams/demo")["restarts"], 0);
  EXPECT_NE(orchestrator->log().find("not restarting"), std::string::npos);
  // The publisher stopping clears it.
  post_ok(kNginx, "call=publish_done&app=live&name=demo%2Fin&clientid=3", true);
  EXPECT_TRUE(no_streams());
}

TEST(OrchestratorStartup, InvalidConfigurationExitsNamingTheVariable) {
  TempDir dir;
  ChildProcess::Options options;
  options.argv = {ORCHESTRATOR_BIN};
  options.env_overrides = {{"LIVEDUB_WORKER_BIN", "/bin/true"},
                           {"LIVEDUB_ORCHESTRATOR_PORT", "0"},
                           {"LIVEDUB_INPUT_URL_TEMPLATE", "rtmp://h/live/fixed/in"}};
  options.stdout_path = (dir.path() / "log").string();
  ChildProcess process(options);
  ASSERT_TRUE(wait_until([&] { return !process.running(); }, 10s));
  int status = process.poll().value();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << describe_wait_status(status);
  EXPECT_NE(read_file(dir.path() / "log").find("LIVEDUB_INPUT_URL_TEMPLATE"), std::string::npos);
}

TEST_F(OrchestratorProcessTest, CaptionsAreServedAsWebVttAndTheStatusPageIsOpen) {
  start({{"LIVEDUB_TARGET_LANGS", "es,ca"}});
  const auto journal = dir.path() / "run" / "captions" / "cap1.jsonl";
  std::ofstream(journal) << R"({"seq":1,"lang":"en","kind":"source","start_ms":1000,"end_ms":2500,"text":"good <morning>"})" "\n"
                         << R"({"seq":1,"lang":"es","kind":"translation","start_ms":1000,"end_ms":2700,"text":"buenos días"})" "\n"
                         << R"({"seq":2,"lang":"es","kind":"translation","start_ms":90000,"end_ms":91000,"text":"adiós"})" "\n"
                         << R"({"seq":3,"lang":"es","kind":"trans)";  // a torn last line, as a crash leaves it
  auto vtt = orchestrator->get("/v1/streams/cap1/captions/es.vtt");
  ASSERT_EQ(vtt.status, 200) << vtt.body;
  EXPECT_EQ(vtt.content_type.rfind("text/vtt", 0), 0u) << vtt.content_type;
  EXPECT_EQ(vtt.body,
            "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.700\nbuenos días\n\n2\n00:01:30.000 --> 00:01:31.000\nadiós\n\n");
  auto source = orchestrator->get("/v1/streams/cap1/captions/en.vtt");
  EXPECT_NE(source.body.find("good &lt;morning&gt;"), std::string::npos) << source.body;
  // The rolling form: the last 30 s of captions only.
  auto live = orchestrator->get("/v1/streams/cap1/captions/es/live.vtt");
  ASSERT_EQ(live.status, 200);
  EXPECT_EQ(live.body.find("buenos"), std::string::npos) << live.body;
  EXPECT_NE(live.body.find("adiós"), std::string::npos) << live.body;
  auto recent = get_json("/v1/streams/cap1/captions");
  EXPECT_EQ(recent["recent"]["es"].size(), 1u) << recent;
  EXPECT_EQ(recent["languages"].size(), 3u);
  EXPECT_EQ(recent["languages"][2]["path"], "live/cap1/out-ca");
  EXPECT_EQ(orchestrator->get("/v1/streams/cap1/captions/fr.vtt").status, 404) << "not one of the stream's languages";
  EXPECT_EQ(orchestrator->get("/v1/streams/nope/captions/es.vtt").status, 404);
  EXPECT_EQ(orchestrator->get("/v1/streams/bad%20id/captions/es.vtt").status, 400);
  HttpClient http;
  EXPECT_EQ(http.get(orchestrator->url("/v1/streams/cap1/captions/es.vtt"), 5s).status, 401) << "captions need the token";
  auto page = http.get(orchestrator->url("/"), 5s);
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type.rfind("text/html", 0), 0u);
  EXPECT_NE(page.body.find("<title>livedub status</title>"), std::string::npos);
  // The whole policy, as the README states it: inline script and style only, requests to itself.
  EXPECT_EQ(page.headers["content-security-policy"],
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:");
  EXPECT_EQ(page.headers["x-frame-options"], "DENY");
  EXPECT_EQ(page.headers["referrer-policy"], "no-referrer");
  // A supervised stream lists every output.
  post_ok("/v1/hooks/mediamtx/ready", mediamtx_body("live/cap1/in"));
  auto stream = get_json("/v1/streams/cap1");
  ASSERT_EQ(stream["outputs"].size(), 3u) << stream;
  EXPECT_EQ(stream["outputs"][1]["path"], "live/cap1/out");
  EXPECT_EQ(stream["outputs"][2]["captions"], "/v1/streams/cap1/captions/ca.vtt");
}

// An STS service that offers en->es only, for the start-up language check.
class FakeSts {
 public:
  FakeSts() : http_("fake-sts", std::make_shared<prometheus::Registry>()) {
    http_.route("GET", "/v1/capabilities", [](const HttpRequest&, HttpReply& res) {
      send_json(res, 200, json::parse(R"({"languages":{"any_pair":false,"pairs":[{"source":"en","target":"es"}]}})"));
    });
    port_ = http_.bind("127.0.0.1", 0);
    thread_ = std::thread([this] { http_.serve(); });
  }
  ~FakeSts() {
    http_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  HttpService http_;
  int port_ = 0;
  std::thread thread_;
};

json readiness(OrchestratorProcess& orchestrator) {
  HttpClient anonymous;  // /readyz is open, like /healthz
  auto reply = anonymous.get(orchestrator.url("/readyz"), 5s);
  auto body = json::parse(reply.body);
  body["http_status"] = reply.status;
  return body;
}

TEST(OrchestratorStartup, ATargetLanguageTheStsCannotDubIsReportedNotFatal) {
  FakeSts sts;
  TempDir dir;
  OrchestratorProcess orchestrator(dir.path(), {{"STS_SERVICE_URL", sts.url()}, {"LIVEDUB_TARGET_LANGS", "es,ca"}});
  json ready;
  ASSERT_TRUE(wait_until([&] { return (ready = readiness(orchestrator))["sts_languages"]["state"] == "unsupported"; }, 10s))
      << ready;
  EXPECT_EQ(ready["http_status"], 503);
  EXPECT_EQ(ready["reason"], "languages_unsupported");
  EXPECT_EQ(ready["sts_languages"]["missing"], json::array({"en->ca"}));
  const auto log = orchestrator.log();
  EXPECT_NE(log.find("LIVEDUB_TARGET_LANGS"), std::string::npos) << log;
  EXPECT_NE(log.find("en->ca"), std::string::npos) << log;
  // Alive and serving: a stream still starts (its ca output carries the original audio).
  EXPECT_EQ(orchestrator.get("/healthz").status, 200);
  EXPECT_EQ(orchestrator.post_json("/v1/hooks/mediamtx/ready", mediamtx_body("live/lang1/in")).status, 200);
  orchestrator.wait_for_worker_start(1);

  // The pair it has: ready.
  TempDir other;
  OrchestratorProcess accepted(other.path(), {{"STS_SERVICE_URL", sts.url()}, {"LIVEDUB_TARGET_LANGS", "es"}});
  ASSERT_TRUE(wait_until([&] { return (ready = readiness(accepted))["http_status"] == 200; }, 10s)) << ready;
  EXPECT_EQ(ready["sts_languages"]["state"], "ok");
}

// An STS that accepts connections and never answers (a cold GPU pod, a wrong proxy) must not
// hold up the orchestrator: it listens and is healthy at once, /readyz says what it waits for.
TEST(OrchestratorStartup, ASilentStsNeverDelaysTheStart) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 16), 0);
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string silent = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  TempDir dir;
  const auto started = std::chrono::steady_clock::now();
  OrchestratorProcess orchestrator(dir.path(), {{"STS_SERVICE_URL", silent}});
  EXPECT_EQ(orchestrator.get("/healthz").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s) << "the orchestrator waited for the STS";
  const auto ready = readiness(orchestrator);
  EXPECT_EQ(ready["http_status"], 503) << ready;
  EXPECT_EQ(ready["reason"], "waiting_for_sts");
  EXPECT_EQ(ready["sts_languages"]["state"], "waiting");
  // Hooks work meanwhile.
  EXPECT_EQ(orchestrator.post_json("/v1/hooks/mediamtx/ready", mediamtx_body("live/silent1/in")).status, 200);
  orchestrator.wait_for_worker_start(1);
  // After the first 3 s request timeout, the failure is logged as such.
  ASSERT_TRUE(wait_until([&] { return orchestrator.log().find("languages_unchecked") != std::string::npos; }, 10s))
      << orchestrator.log();
  ::close(listener);
}

}  // namespace
}  // namespace livedub::orchestrator::testing
