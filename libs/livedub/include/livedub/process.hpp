#pragma once
// Child processes and shutdown signals.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace livedub {

// A spawned child in its own process group, with stdio and no other descriptors of ours.
// The destructor terminates it (RAII).
class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;                    // argv[0] is the executable path
    std::map<std::string, std::string> env_overrides;  // added to (or replacing) our environment
    std::optional<std::string> stdout_path;            // append output here; else inherit
    // Pipes to the child's stdin / from its stdout (for long-lived filters); our ends are
    // close-on-exec and owned by the ChildProcess. Overrides stdout_path for stdout.
    bool pipe_stdin = false;
    bool pipe_stdout = false;
  };

  explicit ChildProcess(const Options& options);  // throws std::system_error on spawn failure
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  pid_t pid() const { return pid_; }
  // Our ends of the pipes asked for in Options, else -1.
  int stdin_fd() const { return stdin_fd_; }
  int stdout_fd() const { return stdout_fd_; }
  // Closes our end of the stdin pipe: the child sees end of input.
  void close_stdin();
  // Non-blocking: returns the exit status (as from waitpid) once the child has exited.
  std::optional<int> poll();
  bool running() { return !poll().has_value(); }
  // SIGTERM to the group, then SIGKILL after `grace`. Returns the wait status.
  int terminate(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));

 private:
  void close_pipes();

  pid_t pid_ = -1;
  std::optional<int> status_;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
};

// Human-readable "exited with code 1" / "killed by signal 9".
std::string describe_wait_status(int status);

// Blocks SIGINT/SIGTERM/SIGHUP in this thread (call before creating threads so they inherit
// it), then wait_for_shutdown_signal() returns the signal that arrived.
void block_shutdown_signals();
int wait_for_shutdown_signal();

// Raises this process's soft limit on open descriptors to the hard one (often 1024 soft): each
// connection is a descriptor, and the service's own connection caps, not the soft limit,
// should decide when clients are refused.
void raise_open_files_limit();

}  // namespace livedub
