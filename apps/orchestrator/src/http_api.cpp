#include "http_api.hpp"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "livedub/captions.hpp"
#include "livedub/logging.hpp"
#include "livedub/secrets.hpp"
#include "livedub/stream_id.hpp"
#include "orchestrator/hook_events.hpp"
#include "orchestrator/stream_outputs.hpp"
#include "status_page.hpp"

namespace livedub::orchestrator {
namespace {

using nlohmann::json;

namespace fs = std::filesystem;

// The last `tail_bytes` of a file (all of it when 0), from the first whole line; nullopt when
// it cannot be read.
std::optional<std::string> read_file(const fs::path& path, std::uintmax_t tail_bytes = 0) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return std::nullopt;
  const bool cut = tail_bytes > 0 && size > tail_bytes;
  if (cut) in.seekg(static_cast<std::streamoff>(size - tail_bytes));
  std::ostringstream text;
  text << in.rdbuf();
  auto body = text.str();
  if (cut) {
    const auto newline = body.find('\n');
    body.erase(0, newline == std::string::npos ? body.size() : newline + 1);
  }
  return body;
}

// What the worker last wrote about itself (its /healthz body), with how old that is.
json worker_status_json(const std::optional<fs::path>& run_dir, const std::string& stream_id) {
  if (!run_dir) return nullptr;
  const auto path = worker_status_path(*run_dir, stream_id);
  auto text = read_file(path);
  if (!text) return nullptr;
  auto body = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return nullptr;
  std::error_code ec;
  const auto written = fs::last_write_time(path, ec);
  if (!ec) {
    const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(fs::file_time_type::clock::now() - written);
    body["updated_ms_ago"] = std::max<std::int64_t>(0, age.count());
  }
  return body;
}

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
                ? "the host runs as many streams as it can (LIVEDUB_MAX_STREAMS); try again later"
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


// The caption journal's cues for a stream; nullopt (and an error reply) when there is none.
std::optional<std::vector<CaptionCue>> caption_cues(const OrchestratorConfig& config, const std::string& stream_id,
                                                    std::uintmax_t tail_bytes, HttpReply& res) {
  if (!config.launch.run_dir) {
    send_error(res, 404, "no_captions", "captions are kept in LIVEDUB_RUN_DIR, which is not set");
    return std::nullopt;
  }
  auto text = read_file(worker_captions_path(*config.launch.run_dir, stream_id), tail_bytes);
  if (!text) {
    send_error(res, 404, "no_captions", "no captions for stream " + stream_id + " (it has not been dubbed yet)");
    return std::nullopt;
  }
  return parse_caption_journal(*text);
}

// The stream's languages: the source and each target (anything else is no caption track).
bool known_language(const OrchestratorConfig& config, const std::string& lang) {
  const auto& targets = config.languages.target_langs;
  return lang == config.languages.source_lang || std::find(targets.begin(), targets.end(), lang) != targets.end();
}

bool valid_stream_id_or_reply(const std::string& stream_id, HttpReply& res) {
  if (is_valid_stream_id(stream_id)) return true;
  send_error(res, 400, "invalid_stream_id",
             "a stream id is 1-" + std::to_string(kMaxStreamIdLength) + " characters [A-Za-z0-9_-]");
  return false;
}

// Tail read for the live forms: a long stream's journal is never read whole every poll.
constexpr std::uintmax_t kLiveCaptionTailBytes = 256 * 1024;

}  // namespace

void register_orchestrator_routes(HttpService& http, const OrchestratorConfig& config,
                                  WorkerSupervisor& supervisor, OrchestratorMetrics& metrics,
                                  const StsLanguageCheck& languages) {
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
    // The path only (the query may hold a wrong token), cut short: a client chooses its length.
    // Rate-limited like every line from one place (logging::RateLimiter).
    logging::write(spdlog::level::warn, {}, "refused " + logging::truncate_for_log(req.method, 16) + " " +
                                               logging::truncate_for_log(req.path, 200) + ": " +
                                               (given ? "wrong credential" : "no credential"),
                   {{"event", "unauthorized"}});
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

  // A stream's entry: supervision state, every output (path, captions) and what its worker
  // last reported (delay, fallbacks, STS endpoints).
  const auto stream_json = [&config](const StreamStatus& status) {
    auto body = status_json(status);
    body["outputs"] = outputs_json(status.stream_id, config.languages);
    body["worker"] = worker_status_json(config.launch.run_dir, status.stream_id);
    return body;
  };
  http.route("GET", "/v1/streams", [&, stream_json](const HttpRequest&, HttpReply& res) {
    json list = json::array();
    for (const auto& status : supervisor.streams()) list.push_back(stream_json(status));
    send_json(res, 200, list);
  });
  http.route("GET", R"(/v1/streams/([^/]*))", [&, stream_json](const HttpRequest& req, HttpReply& res) {
    const std::string stream_id = req.matches[1];
    if (!valid_stream_id_or_reply(stream_id, res)) return;
    auto status = supervisor.stream(stream_id);
    if (!status) {
      const auto refused = supervisor.refusal(stream_id);
      send_error(res, 404, refused ? "refused_stream" : "unknown_stream",
                 "no worker is supervised for stream " + stream_id + (refused ? "; " + *refused : std::string()));
      return;
    }
    send_json(res, 200, stream_json(*status));
  });
  // Captions: the source transcript and each translation, timed on the output's timeline.
  http.route("GET", R"(/v1/streams/([^/]*)/captions)", [&](const HttpRequest& req, HttpReply& res) {
    const std::string stream_id = req.matches[1];
    if (!valid_stream_id_or_reply(stream_id, res)) return;
    auto cues = caption_cues(config, stream_id, kLiveCaptionTailBytes, res);
    if (!cues) return;
    json recent = json::object();
    for (const auto& output : outputs_json(stream_id, config.languages)) {
      const auto lang = output["lang"].get<std::string>();
      auto lines = recent_cues(*cues, lang, kLiveCaptionWindowMs);
      json list = json::array();
      // The newest few: what the status page shows as heard and said.
      for (std::size_t i = lines.size() > 8 ? lines.size() - 8 : 0; i < lines.size(); ++i) list.push_back(to_json(lines[i]));
      recent[lang] = std::move(list);
    }
    send_json(res, 200, {{"stream_id", stream_id}, {"languages", outputs_json(stream_id, config.languages)}, {"recent", recent}});
  });
  const auto vtt_route = [&](bool live) {
    return [&, live](const HttpRequest& req, HttpReply& res) {
      const std::string stream_id = req.matches[1];
      const std::string lang = req.matches[2];
      if (!valid_stream_id_or_reply(stream_id, res)) return;
      if (!known_language(config, lang)) {
        send_error(res, 404, "unknown_language",
                   "stream " + stream_id + " has captions in LIVEDUB_SOURCE_LANG and LIVEDUB_TARGET_LANGS only");
        return;
      }
      auto cues = caption_cues(config, stream_id, live ? kLiveCaptionTailBytes : 0, res);
      if (!cues) return;
      res.status = 200;
      res.content_type = "text/vtt; charset=utf-8";
      res.set_header("Cache-Control", "no-cache");
      res.body = live ? format_webvtt(recent_cues(*cues, lang, kLiveCaptionWindowMs), lang) : format_webvtt(*cues, lang);
    };
  };
  http.route("GET", R"(/v1/streams/([^/]*)/captions/([^/]+)\.vtt)", vtt_route(false));
  http.route("GET", R"(/v1/streams/([^/]*)/captions/([^/]+)/live\.vtt)", vtt_route(true));

  // The status page: static HTML and script; its data comes from /v1/ with the token the
  // user gives it, so the page itself holds no secret.
  http.route("GET", "/", [](const HttpRequest&, HttpReply& res) {
    res.status = 200;
    res.content_type = "text/html; charset=utf-8";
    res.body = std::string(status_page_html());
    res.set_header("Content-Security-Policy", kStatusPageCsp);
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
  });

  // Ready once the STS is known to dub every target language (or there is no STS to ask).
  // Not ready never stops anything: streams start and fall back until the STS answers.
  http.route(
      "GET", "/readyz",
      [&languages](const HttpRequest&, HttpReply& res) {
        const auto sts = languages.to_json();
        const bool ready = languages.ready();
        json body = {{"status", ready ? "ready" : "not_ready"}, {"service", "orchestrator"}, {"sts_languages", sts}};
        if (!ready) body["reason"] = sts["state"] == "unsupported" ? "languages_unsupported" : "waiting_for_sts";
        send_json(res, ready ? 200 : 503, body);
      },
      HttpService::Run::inline_on_io_thread);

  http.set_health([&] {
    return json{{"workers", supervisor.worker_count()}, {"sts_languages", languages.to_json()["state"]}};
  });
}

}  // namespace livedub::orchestrator
