#pragma once
// The orchestrator's Prometheus metrics.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>

namespace livedub::orchestrator {

class OrchestratorMetrics {
 public:
  explicit OrchestratorMetrics(prometheus::Registry& registry);

  prometheus::Gauge& workers_running;
  prometheus::Counter& worker_starts;
  prometheus::Counter& worker_restarts;
  prometheus::Counter& worker_start_failures;

  // Labels come from bounded sets (hook kinds, outcome names), never from raw input.
  void count_hook(const std::string& source, const std::string& kind, const std::string& outcome);
  void count_unauthorized() { unauthorized_.Increment(); }

 private:
  prometheus::Family<prometheus::Counter>& hook_events_;
  prometheus::Counter& unauthorized_;
};

}  // namespace livedub::orchestrator
