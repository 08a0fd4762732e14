#include "orchestrator_harness.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace livedub::orchestrator::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "livedub-orchestrator-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0; }

std::vector<pid_t> child_processes(pid_t parent) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream stat_file(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last
    // ')'.
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != "Z") children.push_back(std::stoi(name));
  }
  return children;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

namespace {

void write_executable(const fs::path& path, const std::string& text) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  }
  fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
}

std::string fake_worker_script(const fs::path& dir) {
  std::string script = R"(#!/bin/sh
# Fake stream worker: records its launch contract, then idles until signalled.
# The trap comes first: a test may signal the worker as soon as it sees the record.
if [ -e '@DIR@/ignore-sigterm' ]; then trap '' TERM; fi
record='@DIR@/workers/'$$
{
  echo "argc=$#"
  echo "stream_id=$LIVEDUB_STREAM_ID"
  echo "input_url=$LIVEDUB_INPUT_URL"
  echo "output_url=$LIVEDUB_OUTPUT_URL"
} > "$record.tmp"
mv "$record.tmp" "$record.started"
echo "fake worker $$ for $LIVEDUB_STREAM_ID"
if [ -e '@DIR@/refuse-input' ]; then
  echo "no video track, as told by the test" > "$LIVEDUB_WORKER_EXIT_REASON_FILE"
  exit 65
fi
exec sleep 3600
)";
  const std::string placeholder = "@DIR@";
  for (auto at = script.find(placeholder); at != std::string::npos; at = script.find(placeholder)) {
    script.replace(at, placeholder.size(), dir.string());
  }
  return script;
}

}  // namespace

OrchestratorProcess::OrchestratorProcess(const fs::path& dir,
                                         std::map<std::string, std::string> env)
    : dir_(dir) {
  fs::create_directories(dir_ / "workers");
  write_executable(dir_ / "fake-worker.sh", fake_worker_script(dir_));
  std::map<std::string, std::string> full_env = {
      {"LIVEDUB_ORCHESTRATOR_HOST", "127.0.0.1"},
      {"LIVEDUB_ORCHESTRATOR_PORT", "0"},
      {"LIVEDUB_ORCHESTRATOR_PORT_FILE", (dir_ / "port").string()},
      {"LIVEDUB_WORKER_BIN", (dir_ / "fake-worker.sh").string()},
      {"LIVEDUB_WORKER_RESTART_MIN_MS", "300"},
      {"LIVEDUB_WORKER_RESTART_MAX_MS", "1000"},
      {"LIVEDUB_WORKER_STABLE_MS", "60000"},
      {"LIVEDUB_WORKER_STOP_GRACE_MS", "3000"},
      {"LIVEDUB_RUN_DIR", (dir_ / "run").string()},
      {"LIVEDUB_LOG_LEVEL", "debug"},
      {"LIVEDUB_LOG_FORMAT", "text"},
      {"LIVEDUB_ORCHESTRATOR_TOKEN", kTestToken},
  };
  for (auto& [name, value] : env) full_env[name] = value;

  ChildProcess::Options options;
  options.argv = {ORCHESTRATOR_BIN};
  options.env_overrides = full_env;
  options.stdout_path = (dir_ / "orchestrator.log").string();
  process_ = std::make_unique<ChildProcess>(options);

  const fs::path port_file = dir_ / "port";
  bool started = wait_until([&] { return fs::exists(port_file) || !process_->running(); }, 15s);
  if (!started || !fs::exists(port_file)) {
    throw std::runtime_error("orchestrator did not start; its log:\n" + log());
  }
  port_ = std::stoi(read_file(port_file));
}

OrchestratorProcess::~OrchestratorProcess() { stop(); }

std::string OrchestratorProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::string OrchestratorProcess::log() const { return read_file(dir_ / "orchestrator.log"); }

HttpResponse OrchestratorProcess::get(const std::string& path) {
  if (!http_) throw std::logic_error("orchestrator already stopped");
  // As nginx-rtmp's callbacks send it: in the query.
  return http_->get(url(path) + (path.find('?') == std::string::npos ? "?" : "&") + "token=" + kTestToken, 10s);
}

HttpResponse OrchestratorProcess::post_json(const std::string& path, const std::string& body) {
  if (!http_) throw std::logic_error("orchestrator already stopped");
  return http_->post(url(path), body, "application/json", 10s, {std::string("Authorization: Bearer ") + kTestToken});
}

HttpResponse OrchestratorProcess::post_form(const std::string& path, const std::string& body) {
  if (!http_) throw std::logic_error("orchestrator already stopped");
  return http_->post(url(path), body, "application/x-www-form-urlencoded", 10s,
                     {std::string("Authorization: Bearer ") + kTestToken});
}

HttpResponse OrchestratorProcess::post_form_as(const std::string& path, const std::string& body,
                                               const std::vector<std::string>& headers) {
  if (!http_) throw std::logic_error("orchestrator already stopped");
  return http_->post(url(path), body, "application/x-www-form-urlencoded", 10s, headers);
}

std::vector<WorkerRecord> OrchestratorProcess::started_workers() const {
  std::vector<std::pair<fs::file_time_type, WorkerRecord>> found;
  for (const auto& entry : fs::directory_iterator(dir_ / "workers")) {
    if (entry.path().extension() != ".started") continue;
    WorkerRecord record;
    record.pid = std::stoi(entry.path().stem().string());
    std::istringstream lines(read_file(entry.path()));
    for (std::string line; std::getline(lines, line);) {
      auto eq = line.find('=');
      if (eq != std::string::npos) record.fields[line.substr(0, eq)] = line.substr(eq + 1);
    }
    found.emplace_back(entry.last_write_time(), record);
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<WorkerRecord> records;
  for (auto& [time, record] : found) records.push_back(record);
  return records;
}

WorkerRecord OrchestratorProcess::wait_for_worker_start(std::size_t count,
                                                        std::chrono::milliseconds timeout) {
  if (!wait_until([&] { return started_workers().size() >= count; }, timeout)) {
    throw std::runtime_error("worker #" + std::to_string(count) +
                             " did not start; orchestrator log:\n" + log());
  }
  return started_workers().back();
}

void OrchestratorProcess::make_workers_refuse_their_input() {
  std::ofstream(dir_ / "refuse-input") << "1\n";
}

void OrchestratorProcess::make_workers_ignore_sigterm() {
  std::ofstream(dir_ / "ignore-sigterm") << "1\n";
}

int OrchestratorProcess::stop(std::chrono::milliseconds grace) {
  http_.reset();
  return process_->terminate(grace);
}

void OrchestratorProcess::expect_clean_exit() {
  int status = stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "orchestrator " << describe_wait_status(status) << "; its log:\n"
      << log();
  const std::string text = log();
  for (const char* report : {"AddressSanitizer", "LeakSanitizer", "runtime error:"}) {
    EXPECT_EQ(text.find(report), std::string::npos) << report << " in the orchestrator log:\n"
                                                    << text;
  }
}

}  // namespace livedub::orchestrator::testing
