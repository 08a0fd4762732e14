#pragma once
// The start-up check of LIVEDUB_TARGET_LANGS against the STS service the workers will use.
#include "orchestrator/orchestrator_config.hpp"

namespace livedub::orchestrator {

// Asks config.sts_url's GET /v1/capabilities, waiting up to `wait` while the service is
// unreachable or still loading. Throws ConfigError naming LIVEDUB_TARGET_LANGS and the
// missing pair(s) when it answers without them; logs a warning and returns when it never
// answers (the workers then fall back to the original audio until it does).
void check_languages_against_sts(const OrchestratorConfig& config,
                                 std::chrono::milliseconds wait = std::chrono::seconds(30));

}  // namespace livedub::orchestrator
