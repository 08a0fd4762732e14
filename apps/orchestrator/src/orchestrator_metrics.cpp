#include "orchestrator_metrics.hpp"

#include <prometheus/gauge.h>

namespace livedub::orchestrator {

OrchestratorMetrics::OrchestratorMetrics(prometheus::Registry& registry)
    : workers_running(prometheus::BuildGauge()
                          .Name("livedub_orchestrator_workers_running")
                          .Help("Stream worker processes currently alive (including stopping ones)")
                          .Register(registry)
                          .Add({})),
      worker_starts(prometheus::BuildCounter()
                        .Name("livedub_orchestrator_worker_starts_total")
                        .Help("Stream worker processes started, restarts included")
                        .Register(registry)
                        .Add({})),
      worker_restarts(prometheus::BuildCounter()
                          .Name("livedub_orchestrator_worker_restarts_total")
                          .Help("Stream workers restarted after dying while their stream was live")
                          .Register(registry)
                          .Add({})),
      worker_start_failures(prometheus::BuildCounter()
                                .Name("livedub_orchestrator_worker_start_failures_total")
                                .Help("Stream worker processes that could not be spawned")
                                .Register(registry)
                                .Add({})),
      hook_events_(prometheus::BuildCounter()
                       .Name("livedub_orchestrator_hook_events_total")
                       .Help("Media-server hook events, by source, kind and outcome")
                       .Register(registry)),
      unauthorized_(prometheus::BuildCounter()
                        .Name("livedub_orchestrator_unauthorized_requests_total")
                        .Help("API and hook calls refused for a missing or wrong credential")
                        .Register(registry)
                        .Add({})) {}

void OrchestratorMetrics::count_hook(const std::string& source, const std::string& kind,
                                     const std::string& outcome) {
  hook_events_.Add({{"source", source}, {"kind", kind}, {"outcome", outcome}}).Increment();
}

}  // namespace livedub::orchestrator
