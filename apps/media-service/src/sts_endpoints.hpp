#pragma once
// Several STS services behind one worker (STS_SERVICE_URL="http://a:8000,http://b:8000"):
// fragments go to the healthy endpoint with the fewest requests open. What takes an endpoint
// out: `eject_after_failures` failures in a row (connection errors, 5xx, unusable answers), or
// as many deadline misses in a row that are the endpoint's fault: it had at least
// kSlownessFactor times what it usually takes. A miss on a fragment whose budget was simply too
// short says nothing about the endpoint, and slowness alone never takes out the last endpoint
// in service (without it every fragment falls back at once). Only a passing health check
// (GET /readyz) brings an endpoint back. Pure bookkeeping, no I/O: the worker calls it.
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
  failed,       // connection error, 5xx, unusable response: counts towards ejection
  deadline_missed,  // no answer within the fragment's own budget: counts only if the endpoint was slow
};

// A deadline miss is the endpoint's fault only when its budget was this many times its usual
// latency.
inline constexpr double kSlownessFactor = 3.0;

class StsEndpointPool {
 public:
  StsEndpointPool(std::vector<std::string> urls, int eject_after_failures);

  // The endpoint for the next request, counted as in flight until release(); nullopt when
  // every endpoint is out. `preferred` (the endpoint a phrase was streamed to) when it is in
  // service.
  std::optional<std::size_t> acquire(std::optional<std::size_t> preferred = std::nullopt);
  // `took`: how long the call lasted; `budget`: what the fragment allowed it. Returns true when
  // this outcome took the endpoint out.
  bool release(std::size_t index, CallOutcome outcome, std::chrono::milliseconds took = {},
               std::chrono::milliseconds budget = {});
  // The endpoint's usual latency (moving average of answered calls); 0 before the first.
  std::chrono::milliseconds typical_latency(std::size_t index) const;
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
    int consecutive_slow = 0;
    int in_flight = 0;
    double typical_ms = 0;  // 0: no answer yet
  };

  int eject_after_failures_;
  mutable std::mutex mutex_;
  std::vector<Endpoint> endpoints_;
  std::size_t next_ = 0;  // round-robin start among equally loaded endpoints
};

}  // namespace livedub::worker
