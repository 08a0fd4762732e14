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

// The status page's Content-Security-Policy. The page is one self-contained file with its
// script and style inline (so 'unsafe-inline' for those two, and nothing else may load): no
// other origin, no plugins, no frames, requests only back to the orchestrator itself. Stream
// ids and caption text reach the DOM as text (textContent), never as markup; the e2e test
// checks that with a hostile STS's captions in headless Chromium.
inline constexpr const char* kStatusPageCsp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";

// Every /v1/ route requires config.token (Authorization: Bearer, or ?token= for nginx-rtmp's
// callbacks); /healthz, /readyz and /metrics stay open. Everything referenced must outlive the
// server.
void register_orchestrator_routes(HttpService& http, const OrchestratorConfig& config,
                                  WorkerSupervisor& supervisor, OrchestratorMetrics& metrics,
                                  const StsLanguageCheck& languages);

}  // namespace livedub::orchestrator
