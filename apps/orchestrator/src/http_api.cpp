#include "http_api.hpp"

#include <chrono>
#include <ctime>
#include <functional>

#include "livedub/logging.hpp"
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
  if (status.restart_at) {
    auto remaining = std::chrono::duration_cast<Millis>(*status.restart_at - steady_now);
    body["restart_in_ms"] = std::max<std::int64_t>(0, remaining.count());
  }
  return body;
}

// Parses a hook, applies it and replies: 400 for anything unparseable or invalid (which makes
// nginx refuse such a publish), 503 while shutting down, else 200.
void handle_hook(const std::string& source, const std::function<HookEvent()>& parse,
                 WorkerSupervisor& supervisor, OrchestratorMetrics& metrics,
                 HttpReply& res) {
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
  json body = {{"kind", event.kind}};
  if (!event.stream_id.empty()) body["stream_id"] = event.stream_id;

  std::string outcome;
  switch (event.action) {
    case HookAction::ignore:
      outcome = "ignored";
      body["reason"] = event.ignore_reason;
      break;
    case HookAction::start_worker: {
      auto ready = supervisor.stream_ready(event.stream_id);
      outcome = to_string(ready);
      if (ready == ReadyOutcome::shutting_down) {
        metrics.count_hook(source, event.kind, outcome);
        send_error(res, 503, "shutting_down", "the orchestrator is shutting down");
        return;
      }
      break;
    }
    case HookAction::stop_worker:
      outcome = to_string(supervisor.stream_not_ready(event.stream_id));
      break;
  }
  metrics.count_hook(source, event.kind, outcome);
  body["outcome"] = outcome;
  if (event.action != HookAction::ignore) {
    if (auto status = supervisor.stream(event.stream_id)) body["stream"] = status_json(*status);
    log_info(ctx, "{} {} hook: {}", source, event.kind, outcome);
  } else {
    log_debug(ctx, "{} {} hook ignored: {}", source, event.kind, event.ignore_reason);
  }
  send_json(res, 200, body);
}

}  // namespace

void register_orchestrator_routes(HttpService& http, WorkerSupervisor& supervisor,
                                  OrchestratorMetrics& metrics) {
  // Hooks and API calls may start or stop worker processes: they run on the handler pool,
  // never on the I/O thread, so a slow one cannot hold back /healthz or other clients.
  http.route("POST", "/v1/hooks/mediamtx/ready", [&](const HttpRequest& req, HttpReply& res) {
    handle_hook(
        "mediamtx", [&] { return parse_mediamtx_hook(MediamtxEvent::ready, req.body); }, supervisor,
        metrics, res);
  });
  http.route("POST", "/v1/hooks/mediamtx/not-ready", [&](const HttpRequest& req, HttpReply& res) {
    handle_hook(
        "mediamtx", [&] { return parse_mediamtx_hook(MediamtxEvent::not_ready, req.body); },
        supervisor, metrics, res);
  });
  http.route("POST", "/v1/hooks/nginx", [&](const HttpRequest& req, HttpReply& res) {
    handle_hook(
        "nginx", [&] { return parse_nginx_hook(req.body); }, supervisor, metrics, res);
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
