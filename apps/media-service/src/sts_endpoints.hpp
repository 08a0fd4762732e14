#pragma once
// Several STS services behind one worker (STS_SERVICE_URL="http://a:8000,http://b:8000"):
// fragments go to the healthy endpoint with the fewest requests open; an endpoint that fails
// `eject_after_failures` times in a row is taken out, and only a passing health check
// (GET /readyz) brings it back. Pure bookkeeping, no I/O: the worker calls it.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace livedub::worker {

// Splits and validates a comma-separated list of http(s) base URLs (trailing '/' removed,
// duplicates refused). Throws ConfigError naming `variable`.
std::vector<std::string> parse_sts_endpoints(const std::string& variable, const std::string& value);

enum class CallOutcome {
  ok,           // dubbed
  rejected,     // the request was refused (4xx) or the service was busy (503): not the endpoint's fault
  failed,       // connection error, timeout, 5xx, unusable response: counts towards ejection
};

class StsEndpointPool {
 public:
  StsEndpointPool(std::vector<std::string> urls, int eject_after_failures);

  // The endpoint for the next request, counted as in flight until release(); nullopt when
  // every endpoint is out.
  std::optional<std::size_t> acquire();
  // Returns true when this outcome took the endpoint out.
  bool release(std::size_t index, CallOutcome outcome);
  // A health check of an endpoint that is out; returns true when it brings it back in.
  bool health_checked(std::size_t index, bool ready);

  const std::string& url(std::size_t index) const { return endpoints_[index].url; }
  std::size_t size() const { return endpoints_.size(); }
  std::vector<std::size_t> out_of_service() const;
  bool healthy(std::size_t index) const;
  std::size_t healthy_count() const;

 private:
  struct Endpoint {
    std::string url;
    bool healthy = true;
    int consecutive_failures = 0;
    int in_flight = 0;
  };

  int eject_after_failures_;
  mutable std::mutex mutex_;
  std::vector<Endpoint> endpoints_;
  std::size_t next_ = 0;  // round-robin start among equally loaded endpoints
};

}  // namespace livedub::worker
