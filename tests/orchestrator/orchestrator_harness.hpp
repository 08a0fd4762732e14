#pragma once
// Runs the real orchestrator binary on 127.0.0.1 with a free port, and a fake stream worker
// (a shell script) that records its launch contract in the test's temporary directory.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "livedub/http_client.hpp"
#include "livedub/process.hpp"

namespace livedub::orchestrator::testing {

using namespace std::chrono_literals;

// The orchestrator's credential in these tests (LIVEDUB_ORCHESTRATOR_TOKEN).
inline constexpr const char* kTestToken = "test-token-0123456789abcdef";

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Polls `condition` every 20 ms until it holds or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

bool process_alive(pid_t pid);
// Live (not yet reaped) children of `parent`, from /proc.
std::vector<pid_t> child_processes(pid_t parent);
std::string read_file(const std::filesystem::path& path);

// One launch of the fake worker, as it recorded it.
struct WorkerRecord {
  pid_t pid = 0;
  std::map<std::string, std::string> fields;  // argc, stream_id, input_url, output_url
};

class OrchestratorProcess {
 public:
  // Writes the fake worker into `dir` and starts the orchestrator with it; `env` adds to or
  // replaces the test defaults (port 0, fast backoff).
  OrchestratorProcess(const std::filesystem::path& dir,
                      std::map<std::string, std::string> env = {});
  ~OrchestratorProcess();

  int port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  std::string url(const std::string& path) const;
  std::string log() const;

  // get/post_* send kTestToken (get in the query, posts as a bearer header).
  HttpResponse get(const std::string& path);
  HttpResponse post_json(const std::string& path, const std::string& body);
  HttpResponse post_form(const std::string& path, const std::string& body);
  // With exactly these headers: no credential unless one is among them.
  HttpResponse post_form_as(const std::string& path, const std::string& body,
                            const std::vector<std::string>& headers);

  // Fake workers started so far, in start order.
  std::vector<WorkerRecord> started_workers() const;
  // Waits until `count` workers have started and returns the last one.
  WorkerRecord wait_for_worker_start(std::size_t count, std::chrono::milliseconds timeout = 10s);
  // Makes fake workers started from now on exit at once as a worker refusing its input does.
  void make_workers_refuse_their_input();
  // Makes fake workers started from now on ignore SIGTERM.
  void make_workers_ignore_sigterm();

  // Closes our connection, sends SIGTERM and returns the wait status.
  int stop(std::chrono::milliseconds grace = 15s);
  // Stops the orchestrator and fails the current test unless it exited with 0 and logged no
  // sanitizer report (in the Asan build every test thereby checks the binary too).
  void expect_clean_exit();

 private:
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> process_;
  // Closed before stopping: the server's stop() waits out idle keep-alive connections.
  std::unique_ptr<HttpClient> http_ = std::make_unique<HttpClient>();
  int port_ = 0;
};

}  // namespace livedub::orchestrator::testing
