#include "http_api.hpp"

#include <chrono>
#include <ctime>
#include <functional>

#include "livedub/logging.hpp"
#include "livedub/secrets.hpp"
#include "livedub/stream_id.hpp"
#include "orchestrator/hook_events.hpp"

namespace livedub::orchestrator {
namespace {

using nlohmann::json;

json status_json(const StreamStatus& status) {
  // The table keeps steady-clock times; the API shows wall-clock ones.
  auto steady_now = SteadyClock::now();
  auto wall_now = std::chrono::system_clock::now();
  auto to_wall = [&](TimePoint t) {
    return wall_now -
           std::chrono::duration_cast<std::chrono::system_clock::duration>(steady_now - t);
  };
  json body = {{"stream_id", status.stream_id},
               {"state", to_string(status.state)},
               {"pid", status.pid ? json(*status.pid) : json(nullptr)},
               {"restarts", status.restarts},
               {"last_exit", status.last_exit ? json(*status.last_exit) : json(nullptr)},
               {"since", iso8601_utc(to_wall(status.since))}};
  if (!status.session.empty()) body["publisher_session"] = status.session;
  if (status.restart_at) {
    auto remaining = std::chrono::duration_cast<Millis>(*status.restart_at - steady_now);
    body["restart_in_ms"] = std::max<std::int64_t>(0, remaining.count());
  }
  return body;
}

// A refused start: 429 for the bounds, so nginx-rtmp refuses the publish and the client sees
// its connection end rather than a stream nobody dubs.
int ready_refusal_status(ReadyOutcome outcome) {
  switch (outcome) {
    case ReadyOutcome::too_many_streams:
    case ReadyOutcome::too_many_starts:
      return 429;
    case ReadyOutcome::shutting_down:
      return 503;
    default:
      return 0;
  }
}

// Parses a hook, checks its publish credentials, applies it and replies: 400 for anything
// unparseable or invalid and 403 for a refused publish (either makes nginx refuse it), 429/503
// for a refused start, else 200.
void handle_hook(const std::string& source, const std::function<HookEvent()>& parse,
                 const PublishCredentials& credentials, WorkerSupervisor& supervisor,
                 OrchestratorMetrics& metrics, HttpReply& res) {
  HookEvent event;
  try {
    event = parse();
  } catch (const HookError& e) {
    metrics.count_hook(source, e.kind(), "rejected");
    log_warn({}, "rejected {} {} hook: {}", source, e.kind(), e.what());
    send_error(res, 400, "invalid_hook", e.what());
    return;
  }
  const LogContext ctx{event.stream_id, std::nullopt};
  if (auto refusal = publish_refusal(event, credentials)) {
    // 403 makes nginx-rtmp drop the publisher; its log names the refused stream.
    metrics.count_hook(source, event.kind, "refused");
    logging::write(spdlog::level::warn, ctx, "publish refused: " + *refusal,
                   {{"event", "publish_refused"},
                    {"source", source},
                    {"path", event.action == HookAction::authorize_output ? "out" : "in"},
                    {"credentials_given", event.pass.has_value()}});
    send_error(res, 403, "publish_refused", *refusal);
    return;
  }
  json body = {{"kind", event.kind}};
  if (!event.stream_id.empty()) body["stream_id"] = event.stream_id;

  std::string outcome;
  switch (event.action) {
    case HookAction::ignore:
      outcome = "ignored";
      body["reason"] = event.ignore_reason;
      break;
    case HookAction::authorize_output:
      outcome = "authorized";
      break;
    case HookAction::start_worker: {
      auto ready = supervisor.stream_ready(event.stream_id, event.session);
      outcome = to_string(ready);
      if (int status = ready_refusal_status(ready)) {
        metrics.count_hook(source, event.kind, outcome);
        const std::string message =
            ready == ReadyOutcome::shutting_down ? "the orchestrator is shutting down"
            : ready == ReadyOutcome::too_many_streams
                ? "the orchestrator supervises LIVEDUB_MAX_STREAMS streams already"
                : "this stream was started LIVEDUB_STREAM_STARTS_PER_MINUTE times within a minute";
        if (status == 429) res.set_header("Retry-After", "60");
        send_error(res, status, outcome, message);
        return;
      }
      break;
    }
    case HookAction::stop_worker:
      outcome = to_string(supervisor.stream_not_ready(event.stream_id, event.session));
      break;
  }
  metrics.count_hook(source, event.kind, outcome);
  body["outcome"] = outcome;
  if (event.action == HookAction::authorize_output) {
    log_info(ctx, "{} {} hook: the stream's worker publishes live/{}/out", source, event.kind,
             event.stream_id);
  } else if (event.action != HookAction::ignore) {
    if (auto status = supervisor.stream(event.stream_id)) body["stream"] = status_json(*status);
    log_info(ctx, "{} {} hook: {}", source, event.kind, outcome);
  } else {
    log_debug(ctx, "{} {} hook ignored: {}", source, event.kind, event.ignore_reason);
  }
  send_json(res, 200, body);
}

}  // namespace

void register_orchestrator_routes(HttpService& http, const OrchestratorConfig& config,
                                  WorkerSupervisor& supervisor, OrchestratorMetrics& metrics) {
  // On the headers alone, before any body is read.
  http.set_admission([&config, &metrics](const HttpRequest& req, HttpReply& res) {
    if (req.path.rfind("/v1/", 0) != 0) return true;
    const bool by_header = bearer_token_matches(req.header("authorization"), config.token);
    std::optional<std::string> by_query;
    try {
      by_query = find_form_field(req.query, "token");
    } catch (const std::invalid_argument&) {
    }
    if (by_header || (by_query && constant_time_equal(*by_query, config.token))) return true;
    const bool given = req.has_header("authorization") || by_query.has_value();
    metrics.count_unauthorized();
    // The path only: the query may hold a (wrong) token.
    logging::write(spdlog::level::warn, {}, "refused " + req.method + " " + req.path + ": " +
                                               (given ? "wrong credential" : "no credential"),
                   {{"event", "unauthorized"}, {"method", req.method}, {"path", req.path}});
    res.set_header("WWW-Authenticate", R"(Bearer realm="livedub-orchestrator")");
    send_error(res, 401, "unauthorized",
               given ? "the credential does not match LIVEDUB_ORCHESTRATOR_TOKEN"
                     : "this API requires 'Authorization: Bearer <LIVEDUB_ORCHESTRATOR_TOKEN>' "
                       "(or ?token= for media-server callbacks)");
    return false;
  });

  // Hooks and API calls may start or stop worker processes: they run on the handler pool,
  // never on the I/O thread, so a slow one cannot hold back /healthz or other clients.
  http.route("POST", "/v1/hooks/mediamtx/ready", [&](const HttpRequest& req, HttpReply& res) {
    handle_hook(
        "mediamtx", [&] { return parse_mediamtx_hook(MediamtxEvent::ready, req.body); },
        config.credentials, supervisor, metrics, res);
  });
  http.route("POST", "/v1/hooks/mediamtx/not-ready", [&](const HttpRequest& req, HttpReply& res) {
    handle_hook(
        "mediamtx", [&] { return parse_mediamtx_hook(MediamtxEvent::not_ready, req.body); },
        config.credentials, supervisor, metrics, res);
  });
  http.route("POST", "/v1/hooks/nginx", [&](const HttpRequest& req, HttpReply& res) {
    handle_hook(
        "nginx", [&] { return parse_nginx_hook(req.body); }, config.credentials, supervisor, metrics,
        res);
  });

  http.route("GET", "/v1/streams", [&](const HttpRequest&, HttpReply& res) {
    json list = json::array();
    for (const auto& status : supervisor.streams()) list.push_back(status_json(status));
    send_json(res, 200, list);
  });
  http.route("GET", R"(/v1/streams/(.*))", [&](const HttpRequest& req, HttpReply& res) {
    const std::string stream_id = req.matches[1];
    if (!is_valid_stream_id(stream_id)) {
      send_error(
          res, 400, "invalid_stream_id",
          "a stream id is 1-" + std::to_string(kMaxStreamIdLength) + " characters [A-Za-z0-9_-]");
      return;
    }
    auto status = supervisor.stream(stream_id);
    if (!status) {
      send_error(res, 404, "unknown_stream", "no worker is supervised for stream " + stream_id);
      return;
    }
    send_json(res, 200, status_json(*status));
  });

  http.set_health([&] { return json{{"workers", supervisor.worker_count()}}; });
}

}  // namespace livedub::orchestrator
