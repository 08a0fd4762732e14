#pragma once
// Orchestrator settings from the environment, validated at start-up.
#include <filesystem>
#include <optional>
#include <string>

#include "livedub/config.hpp"
#include "orchestrator/hook_events.hpp"
#include "orchestrator/stream_outputs.hpp"
#include "orchestrator/supervision.hpp"
#include "orchestrator/worker_launch.hpp"

namespace livedub::orchestrator {

struct OrchestratorConfig {
  std::string host = "127.0.0.1";
  int port = 8090;                                 // 0: any free port
  std::optional<std::filesystem::path> port_file;  // receives the bound port
  WorkerLaunchConfig launch;
  SupervisionPolicy policy;
  // Required on every /v1/ call: "Authorization: Bearer <token>", or "?token=<token>" in the
  // URL for nginx-rtmp's callbacks (which cannot send headers).
  std::string token;
  PublishCredentials credentials;
  // The media server's publisher list (nginx-rtmp rtmp_stat, or MediaMTX /v3/paths/list),
  // polled every reconcile_interval; unset: hooks alone drive the streams.
  std::optional<std::string> media_status_url;
  std::chrono::milliseconds reconcile_interval{3000};
  // What the workers dub into (the same variables the workers read), checked at start against
  // the STS service at sts_url (STS_SERVICE_URL's first endpoint; unset: not checked).
  LanguageSettings languages;
  std::optional<std::string> sts_url;
  std::optional<std::string> sts_token;
};

// The shortest LIVEDUB_ORCHESTRATOR_TOKEN accepted: a guessable token is no credential.
inline constexpr std::size_t kMinTokenLength = 16;

inline constexpr const char* kDefaultInputUrlTemplate = "rtmp://127.0.0.1:1935/live/{stream_id}/in";
inline constexpr const char* kDefaultOutputUrlTemplate =
    "rtmp://127.0.0.1:1935/live/{stream_id}/out";

// Throws ConfigError naming the offending variable. `self_exe` locates the default worker
// binary when LIVEDUB_WORKER_BIN is unset.
OrchestratorConfig load_orchestrator_config(
    const EnvConfig& env, const std::filesystem::path& self_exe,
    const ExecutableProbe& is_executable = is_executable_file);

}  // namespace livedub::orchestrator
