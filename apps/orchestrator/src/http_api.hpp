#pragma once
// The orchestrator's HTTP routes: media-server hooks and the stream status API.
#include "language_check.hpp"
#include "livedub/http_server.hpp"
#include "orchestrator/orchestrator_config.hpp"
#include "orchestrator_metrics.hpp"
#include "worker_supervisor.hpp"

namespace livedub::orchestrator {

// Hook bodies are a few hundred bytes; anything near this is not a hook.
inline constexpr std::size_t kMaxHookBodyBytes = 64 * 1024;

// Every /v1/ route requires config.token (Authorization: Bearer, or ?token= for nginx-rtmp's
// callbacks); /healthz, /readyz and /metrics stay open. Everything referenced must outlive the
// server.
void register_orchestrator_routes(HttpService& http, const OrchestratorConfig& config,
                                  WorkerSupervisor& supervisor, OrchestratorMetrics& metrics,
                                  const StsLanguageCheck& languages);

}  // namespace livedub::orchestrator
