#pragma once
// Wires the STS API v1 onto an HttpService (which already serves /healthz and /metrics).
#include "livedub/config.hpp"
#include "livedub/http_server.hpp"
#include "sts/dub_handler.hpp"

namespace livedub::sts {

// The server's limits for this service: the body limit from config, the LIVEDUB_HTTP_*
// timeouts, and enough handler threads that every request the engine pool and its queue can
// take finds one (a request beyond them is answered 503 by the pool, not left waiting).
HttpLimits http_limits(const ServiceConfig& config, const EnvConfig& env);

// Also /readyz, /v1/sessions/{stream_id}, and, when config.token is set, the bearer-token
// check on every /v1/ path (before the body is read). `handler` must outlive the server.
void register_routes(HttpService& http, DubHandler& handler);

}  // namespace livedub::sts
