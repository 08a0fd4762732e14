#pragma once
// Checks LIVEDUB_TARGET_LANGS against the STS service the workers use, in the background from
// start-up on (orchestrator/sts_languages.hpp decides; this thread asks and logs). The result
// shows in /readyz and /healthz; it never delays the HTTP server or the streams.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "orchestrator/orchestrator_config.hpp"
#include "orchestrator/sts_languages.hpp"

namespace livedub::orchestrator {

class StsLanguageCheck {
 public:
  explicit StsLanguageCheck(const OrchestratorConfig& config);
  ~StsLanguageCheck();  // stops the checks (at most one request's timeout later)
  StsLanguageCheck(const StsLanguageCheck&) = delete;
  StsLanguageCheck& operator=(const StsLanguageCheck&) = delete;

  bool ready() const;
  nlohmann::json to_json() const;

 private:
  void run();

  const OrchestratorConfig& config_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  StsLanguageStatus status_;
  std::thread thread_;
};

}  // namespace livedub::orchestrator
