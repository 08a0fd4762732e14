#pragma once
// Media-server hook events -> what the orchestrator should do. Pure parsing: the input is
// untrusted network data, so anything that is not exactly a stream path we understand is a
// HookError (HTTP 400), and only validated stream ids leave this module.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "livedub/stream_id.hpp"

namespace livedub::orchestrator {

// authorize_output: a publish of live/<id>/out, which only that stream's worker may do.
enum class HookAction { start_worker, stop_worker, authorize_output, ignore };

struct HookEvent {
  HookAction action = HookAction::ignore;
  // Bounded label for metrics and logs: "ready", "not_ready", "publish", "publish_done", "play"...
  std::string kind;
  // Validated stream id; empty when the event names no stream (e.g. nginx "connect").
  std::string stream_id;
  // Why an ignored event is ignored, for the HTTP reply.
  std::string ignore_reason;
  // The publisher's session: nginx-rtmp's clientid or MediaMTX's source id; empty when the
  // hook gave none (or one that is not 1-64 characters of [A-Za-z0-9._:-]). A stop hook only
  // ends the session that started the stream.
  std::string session;
  // A publish the orchestrator must authenticate itself (nginx-rtmp: on_publish decides;
  // MediaMTX authenticates before its hook runs).
  bool check_publish_credentials = false;
  // From the publisher's URL query (?user=...&pass=...), as MediaMTX reads them.
  std::optional<std::string> user;
  std::optional<std::string> pass;
};

// Who may publish, natively (nginx-rtmp asks the orchestrator on every publish).
struct PublishCredentials {
  // live/<id>/in: anyone when publish_pass is unset (MediaMTX's default user "any"); else the
  // query must carry pass (and user, when publish_user is set).
  std::optional<std::string> publish_user;
  std::optional<std::string> publish_pass;
  // live/<id>/out: only user kWorkerPublishUser with this password, which the orchestrator
  // gives its workers (in their output URL).
  std::string worker_pass;
};
inline constexpr const char* kWorkerPublishUser = "livedub-worker";

// nullopt when `event` may proceed; otherwise why it is refused (never the secret itself).
std::optional<std::string> publish_refusal(const HookEvent& event,
                                           const PublishCredentials& credentials);

class HookError : public std::runtime_error {
 public:
  HookError(std::string kind, const std::string& message)
      : std::runtime_error(message), kind_(std::move(kind)) {}
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
};

enum class MediamtxEvent { ready, not_ready };

// Body sent by notify-orchestrator.sh: {"path": "live/<id>/in", "source_type": "...",
// "source_id": "...", "query": "..."}; only "path" is required, the others must be strings.
HookEvent parse_mediamtx_hook(MediamtxEvent event, std::string_view json_body);

// nginx-rtmp on_publish/on_publish_done/on_play/... callback, application/x-www-form-urlencoded.
// The stream path is app + "/" + name ("live" + "demo/in" or "live/demo" + "in").
HookEvent parse_nginx_hook(std::string_view form_body);

// Decodes one application/x-www-form-urlencoded component ('+' is a space, %XX a byte);
// nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> decode_form_component(std::string_view text);

// The decoded value of the first field called `name`, nullopt when absent. The first occurrence
// wins because nginx-rtmp appends the client's own query arguments after its fields: a client
// publishing "in?name=other" must not be able to override "name". Throws std::invalid_argument
// when that value is malformed.
std::optional<std::string> find_form_field(std::string_view form_body, std::string_view name);

}  // namespace livedub::orchestrator
