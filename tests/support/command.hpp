#pragma once
// Test helpers for child processes and ports.
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace livedub::test_support {

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal (or stopped for running past the timeout)
  std::string output;  // stdout and stderr together
};

// Runs argv (argv[0] a path) with `env` added to this process's environment and waits for it.
// A command still running after `timeout` fails the current test and is terminated.
CommandResult run_command(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A TCP port on 127.0.0.1 that was free a moment ago (the OS's pick for port 0).
int free_loopback_port();

}  // namespace livedub::test_support
