#pragma once
// Thin RAII wrapper over libcurl for the few request shapes livedub needs.
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace livedub {

// Transport failure: refused, reset, timed out, DNS... (not an HTTP error status).
class HttpTransportError : public std::runtime_error {
 public:
  HttpTransportError(const std::string& message, bool timed_out)
      : std::runtime_error(message), timed_out_(timed_out) {}
  bool timed_out() const { return timed_out_; }

 private:
  bool timed_out_;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string content_type;
  std::map<std::string, std::string> headers;  // lower-cased names
};

struct MultipartPart {
  std::string name;
  std::string content_type;
  std::string filename;  // empty: a plain field
  std::string data;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse get(const std::string& url, std::chrono::milliseconds timeout,
                   const std::vector<std::string>& extra_headers = {});
  HttpResponse post(const std::string& url, const std::string& body,
                    const std::string& content_type, std::chrono::milliseconds timeout,
                    const std::vector<std::string>& extra_headers = {});
  // Any other method ("PUT", "DELETE", ...); an empty body and content type send none.
  HttpResponse send(const std::string& method, const std::string& url, const std::string& body,
                    const std::string& content_type, std::chrono::milliseconds timeout,
                    const std::vector<std::string>& extra_headers = {});
  HttpResponse post_multipart(const std::string& url, const std::vector<MultipartPart>& parts,
                              std::chrono::milliseconds timeout,
                              const std::vector<std::string>& extra_headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;  // one reused curl easy handle: keeps connections alive
};

}  // namespace livedub
