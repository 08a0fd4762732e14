#include "livedub/http_client.hpp"

#include <algorithm>
#include <mutex>

#include <curl/curl.h>

namespace livedub {
namespace {

void global_init_once() {
  static std::once_flag flag;
  std::call_once(flag, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct CurlMimeDeleter {
  void operator()(curl_mime* m) const { curl_mime_free(m); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

size_t on_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  std::string line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    auto first = value.find_first_not_of(" \t");
    auto last = value.find_last_not_of(" \t\r\n");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * count;
}

}  // namespace

struct HttpClient::Impl {
  std::unique_ptr<CURL, CurlEasyDeleter> easy;

  HttpResponse perform(const std::string& url, std::chrono::milliseconds timeout,
                       curl_slist* headers) {
    CURL* h = easy.get();
    HttpResponse response;
    char error[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<std::int64_t>(timeout.count(), 2000)));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      std::string message = error[0] != '\0' ? error : curl_easy_strerror(rc);
      throw HttpTransportError(url + ": " + message, rc == CURLE_OPERATION_TIMEDOUT);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    if (auto it = response.headers.find("content-type"); it != response.headers.end()) {
      response.content_type = it->second;
    }
    return response;
  }
};

HttpClient::HttpClient() : impl_(std::make_unique<Impl>()) {
  global_init_once();
  impl_->easy.reset(curl_easy_init());
  if (!impl_->easy) throw std::runtime_error("curl_easy_init failed");
}

HttpClient::~HttpClient() = default;

static CurlSlist make_headers(const std::vector<std::string>& lines) {
  curl_slist* list = nullptr;
  for (const auto& line : lines) list = curl_slist_append(list, line.c_str());
  return CurlSlist(list);
}

HttpResponse HttpClient::get(const std::string& url, std::chrono::milliseconds timeout,
                             const std::vector<std::string>& extra_headers) {
  curl_easy_reset(impl_->easy.get());
  curl_easy_setopt(impl_->easy.get(), CURLOPT_HTTPGET, 1L);
  if (extra_headers.empty()) return impl_->perform(url, timeout, nullptr);
  auto headers = make_headers(extra_headers);
  return impl_->perform(url, timeout, headers.get());
}

HttpResponse HttpClient::post(const std::string& url, const std::string& body,
                              const std::string& content_type, std::chrono::milliseconds timeout,
                              const std::vector<std::string>& extra_headers) {
  curl_easy_reset(impl_->easy.get());
  auto lines = extra_headers;
  lines.push_back("Content-Type: " + content_type);
  auto headers = make_headers(lines);
  curl_easy_setopt(impl_->easy.get(), CURLOPT_POST, 1L);
  curl_easy_setopt(impl_->easy.get(), CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(impl_->easy.get(), CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(body.size()));
  return impl_->perform(url, timeout, headers.get());
}

HttpResponse HttpClient::send(const std::string& method, const std::string& url, const std::string& body,
                              const std::string& content_type, std::chrono::milliseconds timeout,
                              const std::vector<std::string>& extra_headers) {
  curl_easy_reset(impl_->easy.get());
  auto lines = extra_headers;
  if (!content_type.empty()) lines.push_back("Content-Type: " + content_type);
  lines.push_back("Expect:");
  auto headers = make_headers(lines);
  if (!body.empty() || !content_type.empty()) {
    curl_easy_setopt(impl_->easy.get(), CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(impl_->easy.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(impl_->easy.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  return impl_->perform(url, timeout, headers.get());
}

HttpResponse HttpClient::post_multipart(const std::string& url,
                                        const std::vector<MultipartPart>& parts,
                                        std::chrono::milliseconds timeout,
                                        const std::vector<std::string>& extra_headers) {
  curl_easy_reset(impl_->easy.get());
  std::unique_ptr<curl_mime, CurlMimeDeleter> mime(curl_mime_init(impl_->easy.get()));
  for (const auto& part : parts) {
    curl_mimepart* p = curl_mime_addpart(mime.get());
    curl_mime_name(p, part.name.c_str());
    curl_mime_data(p, part.data.data(), part.data.size());
    if (!part.content_type.empty()) curl_mime_type(p, part.content_type.c_str());
    if (!part.filename.empty()) curl_mime_filename(p, part.filename.c_str());
  }
  // Without this, curl waits for a 100-continue reply before sending big bodies.
  auto lines = extra_headers;
  lines.push_back("Expect:");
  auto headers = make_headers(lines);
  curl_easy_setopt(impl_->easy.get(), CURLOPT_MIMEPOST, mime.get());
  return impl_->perform(url, timeout, headers.get());
}

}  // namespace livedub
