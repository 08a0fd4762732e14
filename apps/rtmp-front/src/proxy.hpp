#pragma once
// TCP proxy in front of nginx-rtmp: the server's bytes go back untouched; the client's are
// passed through the handshake, then re-chunked with AppSplitNormalizer applied. Connections
// are admitted and bounded per rtmp_front/admission.hpp; the defaults here are the only ones.
#include <chrono>
#include <memory>
#include <string>

#include "rtmp_front/admission.hpp"
#include "rtmp_front/rtmp.hpp"

namespace prometheus {
class Registry;
}

namespace livedub::rtmp {

struct ProxyConfig {
  std::string listen_host = "127.0.0.1";
  int listen_port = 1935;
  std::string upstream_host = "127.0.0.1";
  int upstream_port = 0;
  std::string app = "live";
  AdmissionLimits admission;
  // From accept to the end of the client's handshake (C0+C1+C2).
  std::chrono::milliseconds handshake_timeout{5000};
  // From accept to the client's publish or play; a connection idle before that is closed.
  std::chrono::milliseconds start_timeout{10000};
  std::size_t max_connection_bytes = kDefaultMaxConnectionBytes;
  // What all connections together may hold in partial messages: the connection that would
  // pass it is closed. A publisher holds at most one partial message (a keyframe) at a time.
  std::size_t max_total_bytes = 256 * 1024 * 1024;
};

class Proxy {
 public:
  // `registry`, when given, receives the front's connection metrics.
  explicit Proxy(ProxyConfig config, std::shared_ptr<prometheus::Registry> registry = nullptr);
  ~Proxy();
  int bind();    // returns the bound port; throws on failure
  void serve();  // until stop()
  void stop();   // from any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livedub::rtmp
