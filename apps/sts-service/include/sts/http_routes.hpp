#pragma once
// Wires the STS API v1 onto an HttpService (which already serves /healthz and /metrics).
#include "livedub/http_server.hpp"
#include "sts/dub_handler.hpp"

namespace livedub::sts {

// `handler` must outlive the server. `max_body_bytes` also bounds chunked uploads, which
// httplib's own payload limit does not cover.
void register_routes(HttpService& http, DubHandler& handler, std::size_t max_body_bytes);

}  // namespace livedub::sts
