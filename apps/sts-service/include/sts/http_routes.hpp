#pragma once
// Wires the STS API v1 onto an HttpService (which already serves /healthz and /metrics).
#include "livedub/http_server.hpp"
#include "sts/dub_handler.hpp"

namespace livedub::sts {

// Bearer-token check of the Authorization header (scheme case-insensitive, token compared in
// constant time).
bool bearer_token_matches(const std::string& authorization_header, const std::string& token);

// Also /readyz, /v1/sessions/{stream_id}, and, when config.token is set, the bearer-token
// check on every /v1/ path. `handler` must outlive the server. `max_body_bytes` also bounds chunked uploads, which
// httplib's own payload limit does not cover.
void register_routes(HttpService& http, DubHandler& handler, std::size_t max_body_bytes);

}  // namespace livedub::sts
