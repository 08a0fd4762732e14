#pragma once
// TCP proxy in front of nginx-rtmp: the server's bytes go back untouched; the client's are
// passed through the handshake, then re-chunked with AppSplitNormalizer applied.
#include <memory>
#include <string>

namespace livedub::rtmp {

struct ProxyConfig {
  std::string listen_host = "127.0.0.1";
  int listen_port = 1935;
  std::string upstream_host = "127.0.0.1";
  int upstream_port = 0;
  std::string app = "live";
};

class Proxy {
 public:
  explicit Proxy(ProxyConfig config);
  ~Proxy();
  int bind();    // returns the bound port; throws on failure
  void serve();  // until stop()
  void stop();   // from any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livedub::rtmp
