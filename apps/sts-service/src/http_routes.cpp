#include "sts/http_routes.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "livedub/secrets.hpp"

namespace livedub::sts {
namespace {

constexpr const char* kCapabilitiesPath = "/v1/capabilities";
constexpr const char* kSessionsPattern = R"(/v1/sessions/([^/]+))";
constexpr const char* kSpeakerPattern = R"(/v1/streams/([^/]+)/voice)";

void send_reply(HttpReply& res, const HandlerReply& reply) {
  for (const auto& [name, value] : reply.headers) res.set_header(name, value);
  if (reply.status == 204) {  // no content: no body, not even "null"
    res.status = 204;
    return;
  }
  send_json(res, reply.status, reply.body);
}

constexpr const char* kChunkPattern = R"(/v1/streams/([^/]+)/phrases/([^/]+)/chunks/([^/]+))";
constexpr const char* kPhrasePattern = R"(/v1/streams/([^/]+)/phrases/([^/]+))";

// "chunks=12" in a query string; nullopt when absent. Throws for a malformed value.
std::optional<std::int64_t> chunks_param(const std::string& query) {
  std::size_t at = 0;
  while (at <= query.size()) {
    const auto end = std::min(query.find('&', at), query.size());
    const auto item = std::string_view(query).substr(at, end - at);
    if (item.rfind("chunks=", 0) == 0) {
      const auto value = item.substr(7);
      if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string_view::npos) {
        throw std::invalid_argument("chunks must be a non-negative integer");
      }
      return std::stoll(std::string(value));
    }
    at = end + 1;
  }
  return std::nullopt;
}

// The multipart parts of a POST /v1/dub-shaped request; false (and the reply sent) when malformed.
bool read_multipart(const HttpRequest& req, DubHttpRequest& request, DubHandler& handler, HttpReply& res) {
  request.arrived = req.arrived;
  request.content_type = req.header("content-type");
  // Case-sensitive media type, as before: anything else is refused by the handler (415).
  if (request.content_type.rfind("multipart/form-data", 0) == 0) {
    try {
      request.parts = parse_multipart(req.body, multipart_boundary(request.content_type));
    } catch (const MultipartError& e) {
      send_reply(res, handler.reject(400, "malformed_multipart",
                                     std::string("request body is not valid multipart/form-data: ") + e.what()));
      return false;
    }
  }
  return true;
}

}  // namespace

HttpLimits http_limits(const ServiceConfig& config, const EnvConfig& env) {
  HttpLimits limits = load_http_limits(env);
  limits.max_body_bytes = config.max_body_bytes;
  limits.handler_threads = config.workers + static_cast<int>(config.queue_size) + 4;
  limits.handler_queue = 64;
  return limits;
}

void register_routes(HttpService& http, DubHandler& handler) {
  const auto& config = handler.config();
  if (config.token) {
    // Runs on the headers alone: an unauthenticated upload is never read.
    http.set_admission([token = *config.token, &handler](const HttpRequest& req, HttpReply& res) {
      if (req.path.rfind("/v1/", 0) != 0) return true;
      if (bearer_token_matches(req.header("authorization"), token)) return true;
      res.set_header("WWW-Authenticate", R"(Bearer realm="livedub-sts")");
      const bool given = req.has_header("authorization");
      send_reply(res, handler.reject(401, "unauthorized",
                                     given ? "bearer token does not match LIVEDUB_STS_TOKEN"
                                           : "this service requires 'Authorization: Bearer <LIVEDUB_STS_TOKEN>'"));
      return false;
    });
  }

  http.route(
      "GET", "/readyz",
      [&handler](const HttpRequest&, HttpReply& res) {
        const auto engine = handler.engine_snapshot();
        if (engine) {
          send_json(res, 200, {{"status", "ready"}, {"engine", engine->name()}});
        } else {
          res.set_header("Retry-After", "2");
          send_json(res, 503, {{"status", "loading"}, {"mode", handler.config().mode}});
        }
      },
      HttpService::Run::inline_on_io_thread);
  http.route(
      "GET", kSessionsPattern,
      [&handler](const HttpRequest& req, HttpReply& res) { send_reply(res, handler.session(req.matches[1])); },
      HttpService::Run::inline_on_io_thread);
  http.route("PUT", kSpeakerPattern, [&handler](const HttpRequest& req, HttpReply& res) {
    send_reply(res, handler.put_speaker(req.matches[1], req.header("content-type"), req.body));
  });
  http.route(
      "DELETE", kSpeakerPattern,
      [&handler](const HttpRequest& req, HttpReply& res) { send_reply(res, handler.forget_speaker(req.matches[1])); },
      HttpService::Run::inline_on_io_thread);
  http.route("POST", sts::kDubPath, [&handler](const HttpRequest& req, HttpReply& res) {
    DubHttpRequest request;
    if (read_multipart(req, request, handler, res)) send_reply(res, handler.dub(request));
  });
  http.route("POST", kChunkPattern, [&handler](const HttpRequest& req, HttpReply& res) {
    send_reply(res, handler.phrase_chunk(req.matches[1], req.matches[2], req.matches[3], req.header("content-type"),
                                         req.header("content-language"), req.body));
  });
  http.route("POST", kPhrasePattern, [&handler](const HttpRequest& req, HttpReply& res) {
    std::optional<std::int64_t> chunks;
    try {
      chunks = chunks_param(req.query);
    } catch (const std::exception& e) {
      send_reply(res, handler.reject(400, "invalid_chunks", e.what()));
      return;
    }
    DubHttpRequest request;
    if (read_multipart(req, request, handler, res)) {
      send_reply(res, handler.close_phrase(req.matches[1], req.matches[2], chunks, request));
    }
  });
  http.route("DELETE", kPhrasePattern, [&handler](const HttpRequest& req, HttpReply& res) {
    send_reply(res, handler.abandon_phrase(req.matches[1], req.matches[2]));
  });
  http.route(
      "GET", kCapabilitiesPath,
      [&handler](const HttpRequest&, HttpReply& res) { send_reply(res, handler.capabilities()); },
      HttpService::Run::inline_on_io_thread);
}

}  // namespace livedub::sts
