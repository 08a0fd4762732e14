#pragma once
// Orchestrator settings from the environment, validated at start-up.
#include <filesystem>
#include <optional>
#include <string>

#include "livedub/config.hpp"
#include "orchestrator/supervision.hpp"
#include "orchestrator/worker_launch.hpp"

namespace livedub::orchestrator {

struct OrchestratorConfig {
  std::string host = "127.0.0.1";
  int port = 8090;                                 // 0: any free port
  std::optional<std::filesystem::path> port_file;  // receives the bound port
  WorkerLaunchConfig launch;
  SupervisionPolicy policy;
};

inline constexpr const char* kDefaultInputUrlTemplate = "rtmp://127.0.0.1:1935/live/{stream_id}/in";
inline constexpr const char* kDefaultOutputUrlTemplate =
    "rtmp://127.0.0.1:1935/live/{stream_id}/out";

// Throws ConfigError naming the offending variable. `self_exe` locates the default worker
// binary when LIVEDUB_WORKER_BIN is unset.
OrchestratorConfig load_orchestrator_config(
    const EnvConfig& env, const std::filesystem::path& self_exe,
    const ExecutableProbe& is_executable = is_executable_file);

}  // namespace livedub::orchestrator
