#include "orchestrator/hook_events.hpp"

#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

#include "livedub/secrets.hpp"
#include "livedub/stream_id.hpp"

namespace livedub::orchestrator {
namespace {

// Untrusted text quoted for an error message: JSON-escaped (no control characters or invalid
// UTF-8 reach a log line or reply) and truncated.
std::string quote_untrusted(std::string_view text) {
  constexpr std::size_t kMaxQuoted = 80;
  std::string shown(text.substr(0, kMaxQuoted));
  std::string quoted =
      nlohmann::json(shown).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return text.size() > kMaxQuoted ? quoted + "..." : quoted;
}

HookError invalid_path(const std::string& kind, std::string_view path) {
  return HookError(kind, "stream path " + quote_untrusted(path) +
                             " is not live/<id>/in or live/<id>/out with an id of 1-" +
                             std::to_string(kMaxStreamIdLength) + " characters [A-Za-z0-9_-]");
}

// Turns a validated path into the event: only input paths drive workers; the output path is
// published by the worker itself.
HookEvent event_for_path(std::string kind, const StreamPath& path, HookAction action_for_input) {
  HookEvent event;
  event.kind = std::move(kind);
  event.stream_id = path.stream_id;
  if (path.direction == StreamDirection::in) {
    event.action = action_for_input;
  } else if (action_for_input == HookAction::start_worker && event.kind == "publish") {
    event.action = HookAction::authorize_output;
  } else {
    event.action = HookAction::ignore;
    event.ignore_reason = "output path (published by the stream worker)";
  }
  return event;
}

std::string_view without_query(std::string_view text) { return text.substr(0, text.find('?')); }

// Session ids are echoed into logs and compared, never interpreted; anything unexpected is
// treated as "no session given".
std::string valid_session(const std::optional<std::string>& session) {
  if (!session || session->empty() || session->size() > 64) return {};
  for (unsigned char c : *session) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return {};
  }
  return *session;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> decode_form_component(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      decoded += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      decoded += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      decoded += c;
    }
  }
  return decoded;
}

std::optional<std::string> find_form_field(std::string_view form_body, std::string_view name) {
  while (!form_body.empty()) {
    auto amp = form_body.find('&');
    std::string_view pair = form_body.substr(0, amp);
    form_body = amp == std::string_view::npos ? std::string_view() : form_body.substr(amp + 1);
    auto eq = pair.find('=');
    // A key that does not decode cannot be the one we look for.
    auto key = decode_form_component(pair.substr(0, eq));
    if (!key || *key != name) continue;
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto value = decode_form_component(raw_value);
    if (!value) {
      throw std::invalid_argument("field '" + std::string(name) +
                                  "' has a malformed %-escape: " + quote_untrusted(raw_value));
    }
    return value;
  }
  return std::nullopt;
}

HookEvent parse_mediamtx_hook(MediamtxEvent event, std::string_view json_body) {
  const std::string kind = event == MediamtxEvent::ready ? "ready" : "not_ready";
  auto body = nlohmann::json::parse(json_body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) throw HookError(kind, "body is not valid JSON");
  if (!body.is_object()) throw HookError(kind, "body must be a JSON object");
  for (const char* optional_field : {"source_type", "source_id", "query"}) {
    auto it = body.find(optional_field);
    if (it != body.end() && !it->is_string()) {
      throw HookError(kind, std::string("field '") + optional_field + "' must be a string");
    }
  }
  auto path_field = body.find("path");
  if (path_field == body.end()) throw HookError(kind, "missing field 'path'");
  if (!path_field->is_string()) throw HookError(kind, "field 'path' must be a string");
  const auto& path_text = path_field->get_ref<const std::string&>();
  auto path = parse_stream_path(path_text);
  if (!path) throw invalid_path(kind, path_text);
  HookEvent result = event_for_path(
      kind, *path,
      event == MediamtxEvent::ready ? HookAction::start_worker : HookAction::stop_worker);
  if (auto id = body.find("source_id"); id != body.end()) {
    result.session = valid_session(id->get<std::string>());
  }
  return result;
}

HookEvent parse_nginx_hook(std::string_view form_body) {
  auto field = [&](const std::string& kind, std::string_view name) {
    try {
      return find_form_field(form_body, name);
    } catch (const std::invalid_argument& e) {
      throw HookError(kind, e.what());
    }
  };

  auto call = field("other", "call");
  if (!call) throw HookError("other", "missing field 'call'");
  // Callbacks that concern a session, not a stream we supervise. They must succeed: a non-2xx
  // reply to on_update or on_connect would make nginx drop the client.
  static constexpr std::array<std::string_view, 5> kSessionCalls = {"connect", "disconnect", "done",
                                                                    "update", "record_done"};
  for (auto session_call : kSessionCalls) {
    if (*call == session_call) {
      HookEvent event;
      event.kind = std::string(session_call);
      event.ignore_reason = "nginx-rtmp '" + event.kind + "' callbacks need no action";
      return event;
    }
  }
  HookAction action_for_input;
  if (*call == "publish") {
    action_for_input = HookAction::start_worker;
  } else if (*call == "publish_done") {
    action_for_input = HookAction::stop_worker;
  } else if (*call == "play" || *call == "play_done") {
    action_for_input = HookAction::ignore;
  } else {
    throw HookError("other", "unsupported nginx-rtmp call " + quote_untrusted(*call));
  }
  const std::string& kind = *call;

  auto app = field(kind, "app");
  if (!app || app->empty()) throw HookError(kind, "missing field 'app'");
  auto name = field(kind, "name");
  if (!name || name->empty()) throw HookError(kind, "missing field 'name'");
  // Some clients put arguments into the app or stream name ("in?token=..."); they are no part
  // of the path.
  std::string path_text =
      std::string(without_query(*app)) + "/" + std::string(without_query(*name));
  auto path = parse_stream_path(path_text);
  if (!path) throw invalid_path(kind, path_text);
  HookEvent event = event_for_path(kind, *path, action_for_input);
  if (action_for_input == HookAction::ignore && event.ignore_reason.empty()) {
    event.ignore_reason = "playback needs no worker";
  }
  event.session = valid_session(field(kind, "clientid"));
  if (kind == "publish") {
    event.check_publish_credentials = true;
    // nginx-rtmp appends the publisher's query arguments as fields; a client that kept them
    // in the stream name ("<id>/in?pass=...") has them read from there.
    event.user = field(kind, "user");
    event.pass = field(kind, "pass");
    if (auto q = name->find('?'); q != std::string::npos && !event.pass) {
      const std::string_view query = std::string_view(*name).substr(q + 1);
      try {
        event.user = find_form_field(query, "user");
        event.pass = find_form_field(query, "pass");
      } catch (const std::invalid_argument& e) {
        throw HookError(kind, e.what());
      }
    }
  }
  return event;
}

std::optional<std::string> publish_refusal(const HookEvent& event,
                                           const PublishCredentials& credentials) {
  if (!event.check_publish_credentials) return std::nullopt;
  if (event.action == HookAction::authorize_output) {
    const bool ok = event.user && *event.user == kWorkerPublishUser && event.pass &&
                    constant_time_equal(*event.pass, credentials.worker_pass);
    if (ok) return std::nullopt;
    return std::string("only the stream's worker may publish live/") + event.stream_id + "/out (" +
           (event.pass ? "wrong credentials" : "no credentials given") + ")";
  }
  if (event.action != HookAction::start_worker || !credentials.publish_pass) return std::nullopt;
  const bool user_ok = !credentials.publish_user ||
                       (event.user && constant_time_equal(*event.user, *credentials.publish_user));
  const bool pass_ok = event.pass && constant_time_equal(*event.pass, *credentials.publish_pass);
  if (user_ok && pass_ok) return std::nullopt;
  return std::string("publishing live/") + event.stream_id +
         "/in needs ?user=<LIVEDUB_PUBLISH_USER>&pass=<LIVEDUB_PUBLISH_PASS> (" +
         (event.pass ? "wrong credentials" : "no credentials given") + ")";
}

}  // namespace livedub::orchestrator
