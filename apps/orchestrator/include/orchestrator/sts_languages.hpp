#pragma once
// Whether the STS service dubs LIVEDUB_TARGET_LANGS, as the orchestrator learns it in the
// background: a slow, cold or absent STS must never keep the media stack from starting (workers
// fall back to the original audio until it answers), yet an STS that lacks a pair must be said
// loudly. Pure logic, time passed in; language_check.cpp runs the checks and logs.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/common.h>

#include "orchestrator/stream_outputs.hpp"

namespace livedub::orchestrator {

class StsLanguageStatus {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State {
    unchecked,    // no STS_SERVICE_URL: nothing to ask
    waiting,      // no usable answer yet (down, loading, wrong token...)
    ok,           // every pair is offered
    unsupported,  // it answered without some pair(s)
  };
  // What the adapter logs after an outcome, when anything.
  struct LogLine {
    spdlog::level::level_enum level;
    std::string message;
    nlohmann::json fields;
  };
  struct Step {
    std::optional<std::chrono::milliseconds> next_check;  // nullopt: no further check
    std::optional<LogLine> log;
  };

  // Retry while waiting: doubling from kFirstRetry to kMaxRetry. An unsupported answer is
  // asked again every kRecheckUnsupported (the STS may be redeployed with the pair).
  static constexpr std::chrono::milliseconds kFirstRetry{1000};
  static constexpr std::chrono::milliseconds kMaxRetry{10'000};
  static constexpr std::chrono::milliseconds kRecheckUnsupported{30'000};
  // While waiting, the warning is repeated at most this often.
  static constexpr std::chrono::milliseconds kWaitingLogEvery{60'000};

  // `sts` is the endpoint as it may be logged (credentials redacted); nullopt: unchecked.
  StsLanguageStatus(LanguageSettings languages, std::optional<std::string> sts);

  // GET /v1/capabilities answered 200 with this body.
  Step on_capabilities(const nlohmann::json& capabilities, Clock::time_point now);
  // A check got no usable answer (transport error, non-200 status, unparseable body).
  Step on_failure(const std::string& problem, Clock::time_point now);

  State state() const { return state_; }
  // Ready for /readyz: every pair confirmed, or nothing to check.
  bool ready() const { return state_ == State::ok || state_ == State::unchecked; }
  // {"state":"waiting","sts":"http://sts:8000","pairs":["en->es"],"missing":[],"checks":3,"error":"..."}
  nlohmann::json to_json() const;

 private:
  std::string pairs_text() const;

  LanguageSettings languages_;
  std::optional<std::string> sts_;
  State state_;
  std::vector<std::string> missing_;
  std::string last_error_;
  int checks_ = 0;
  std::chrono::milliseconds retry_ = kFirstRetry;
  std::optional<Clock::time_point> waiting_logged_at_;
};

const char* to_string(StsLanguageStatus::State state);

}  // namespace livedub::orchestrator
