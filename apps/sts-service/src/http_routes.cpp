#include "sts/http_routes.hpp"

#include <algorithm>

namespace livedub::sts {
namespace {

constexpr const char* kCapabilitiesPath = "/v1/capabilities";
constexpr const char* kSessionsPattern = R"(/v1/sessions/([^/]+))";

// Compares without an early exit, so response timing does not reveal how much of a guessed
// token was right (only whether its length was).
bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Accumulates a request body part by part, refusing to hold more than the limit.
class BodyCollector {
 public:
  explicit BodyCollector(std::size_t limit) : limit_(limit) {}

  bool start_part(const httplib::MultipartFormData& header) {
    parts_.push_back(FormPart{header.name, header.content_type, header.filename, {}});
    return true;
  }
  bool append(const char* data, std::size_t size) {
    if (!count(size)) return false;
    if (!parts_.empty()) parts_.back().data.append(data, size);
    return true;
  }
  bool discard(const char*, std::size_t size) { return count(size); }

  bool too_large() const { return too_large_; }
  std::vector<FormPart> take_parts() { return std::move(parts_); }

 private:
  bool count(std::size_t size) {
    received_ += size;
    too_large_ = received_ > limit_;
    return !too_large_;
  }

  std::size_t limit_;
  std::size_t received_ = 0;
  bool too_large_ = false;
  std::vector<FormPart> parts_;
};

void send_reply(httplib::Response& res, const HandlerReply& reply) {
  for (const auto& [name, value] : reply.headers) res.set_header(name, value);
  send_json(res, reply.status, reply.body);
}

// Answers 405 with an Allow header for methods a known path does not support.
httplib::Server::Handler method_not_allowed(std::string allowed) {
  return [allowed](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Allow", allowed);
    send_error(res, 405, "method_not_allowed",
               req.method + " is not allowed on " + req.path + "; use " + allowed);
  };
}

}  // namespace

bool bearer_token_matches(const std::string& authorization_header, const std::string& token) {
  static const std::string scheme = "Bearer ";
  if (authorization_header.size() <= scheme.size()) return false;
  std::string given_scheme = authorization_header.substr(0, scheme.size());
  std::transform(given_scheme.begin(), given_scheme.end(), given_scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (given_scheme != "bearer ") return false;
  return constant_time_equal(authorization_header.substr(scheme.size()), token);
}

void register_routes(HttpService& http, DubHandler& handler, std::size_t max_body_bytes) {
  auto& server = http.server();
  const auto& config = handler.config();
  // Enough HTTP threads that requests beyond the engine pool reach our bounded queue and get
  // an immediate 503, rather than waiting in httplib's own unbounded one.
  const auto http_threads = static_cast<std::size_t>(config.workers) + config.queue_size + 8;
  server.new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };

  if (config.token) {
    server.set_pre_routing_handler([token = *config.token, &handler](const httplib::Request& req,
                                                                     httplib::Response& res) {
      if (req.path.rfind("/v1/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
      if (bearer_token_matches(req.get_header_value("Authorization"), token)) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.set_header("WWW-Authenticate", R"(Bearer realm="livedub-sts")");
      res.set_header("Connection", "close");  // the body, if any, stays unread
      const bool given = req.has_header("Authorization");
      send_reply(res, handler.reject(401, "unauthorized",
                                     given ? "bearer token does not match LIVEDUB_STS_TOKEN"
                                           : "this service requires 'Authorization: Bearer <LIVEDUB_STS_TOKEN>'"));
      return httplib::Server::HandlerResponse::Handled;
    });
  }

  server.Get("/readyz", [&handler](const httplib::Request&, httplib::Response& res) {
    const auto engine = handler.engine_snapshot();
    if (engine) {
      send_json(res, 200, {{"status", "ready"}, {"engine", engine->name()}});
    } else {
      res.set_header("Retry-After", "2");
      send_json(res, 503, {{"status", "loading"}, {"mode", handler.config().mode}});
    }
  });
  server.Get(kSessionsPattern, [&handler](const httplib::Request& req, httplib::Response& res) {
    send_reply(res, handler.session(req.matches[1]));
  });
  server.Post(sts::kDubPath, [&handler, max_body_bytes](const httplib::Request& req,
                                                        httplib::Response& res,
                                                        const httplib::ContentReader& reader) {
    BodyCollector body(max_body_bytes);
    DubHttpRequest request;
    request.content_type = req.get_header_value("Content-Type");
    bool complete = false;
    if (req.is_multipart_form_data()) {
      complete = reader(
          [&](const httplib::MultipartFormData& header) { return body.start_part(header); },
          [&](const char* data, std::size_t size) { return body.append(data, size); });
    } else {
      // Read (and drop) the body anyway so the keep-alive connection stays in sync.
      complete = reader([&](const char* data, std::size_t size) { return body.discard(data, size); });
    }
    // httplib itself answers an oversized Content-Length by setting 413 before reading.
    if (body.too_large() || res.status == 413) {
      // The rest of the body is still in flight: the connection cannot be reused.
      res.set_header("Connection", "close");
      send_reply(res, handler.reject(413, "payload_too_large",
                                     "request body exceeds " + std::to_string(max_body_bytes) +
                                         " bytes (LIVEDUB_STS_MAX_BODY_BYTES)"));
      return;
    }
    if (!complete && req.is_multipart_form_data()) {
      send_reply(res, handler.reject(400, "malformed_multipart",
                                     "request body is not valid multipart/form-data"));
      return;
    }
    request.parts = body.take_parts();
    send_reply(res, handler.dub(request));
  });
  server.Get(sts::kDubPath, method_not_allowed("POST"));
  server.Put(sts::kDubPath, method_not_allowed("POST"));
  server.Patch(sts::kDubPath, method_not_allowed("POST"));
  server.Delete(sts::kDubPath, method_not_allowed("POST"));

  server.Get(kCapabilitiesPath, [&handler](const httplib::Request&, httplib::Response& res) {
    send_reply(res, handler.capabilities());
  });
  server.Post(kCapabilitiesPath, method_not_allowed("GET"));
  server.Put(kCapabilitiesPath, method_not_allowed("GET"));
  server.Patch(kCapabilitiesPath, method_not_allowed("GET"));
  server.Delete(kCapabilitiesPath, method_not_allowed("GET"));
}

}  // namespace livedub::sts
