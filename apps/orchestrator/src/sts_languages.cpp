#include "orchestrator/sts_languages.hpp"

#include <algorithm>

namespace livedub::orchestrator {

namespace {
std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}
}  // namespace

const char* to_string(StsLanguageStatus::State state) {
  switch (state) {
    case StsLanguageStatus::State::unchecked: return "unchecked";
    case StsLanguageStatus::State::waiting: return "waiting";
    case StsLanguageStatus::State::ok: return "ok";
    case StsLanguageStatus::State::unsupported: return "unsupported";
  }
  return "unknown";
}

StsLanguageStatus::StsLanguageStatus(LanguageSettings languages, std::optional<std::string> sts)
    : languages_(std::move(languages)), sts_(std::move(sts)), state_(sts_ ? State::waiting : State::unchecked) {}

std::string StsLanguageStatus::pairs_text() const {
  std::vector<std::string> pairs;
  for (const auto& target : languages_.target_langs) pairs.push_back(languages_.source_lang + "->" + target);
  return join(pairs);
}

StsLanguageStatus::Step StsLanguageStatus::on_capabilities(const nlohmann::json& capabilities, Clock::time_point) {
  ++checks_;
  retry_ = kFirstRetry;
  last_error_.clear();
  waiting_logged_at_.reset();
  auto missing = missing_language_pairs(capabilities, languages_);
  const auto before = state_;
  Step step;
  if (missing.empty()) {
    state_ = State::ok;
    missing_.clear();
    step.log = LogLine{spdlog::level::info, "STS at " + sts_.value_or("") + " dubs " + pairs_text(),
                       {{"event", "languages_confirmed"}, {"sts", sts_.value_or("")}}};
    return step;  // no further check
  }
  state_ = State::unsupported;
  const bool changed = before != State::unsupported || missing != missing_;
  missing_ = std::move(missing);
  step.next_check = kRecheckUnsupported;
  if (changed) {
    // Streams still start (their audio falls back to the original for these languages), but
    // this is a configuration error: the error names the variable to fix.
    step.log = LogLine{spdlog::level::err,
                       "LIVEDUB_TARGET_LANGS: the STS service at " + sts_.value_or("") + " cannot dub " +
                           join(missing_) + " (GET /v1/capabilities lists what it can); those outputs carry the original audio",
                       {{"event", "languages_unsupported"}, {"sts", sts_.value_or("")}, {"missing", missing_}}};
  }
  return step;
}

StsLanguageStatus::Step StsLanguageStatus::on_failure(const std::string& problem, Clock::time_point now) {
  ++checks_;
  last_error_ = problem;
  Step step;
  if (state_ == State::unsupported) {
    // It answered before: keep the verdict, ask again later.
    step.next_check = kRecheckUnsupported;
    return step;
  }
  state_ = State::waiting;
  step.next_check = retry_;
  retry_ = std::min(retry_ * 2, kMaxRetry);
  if (!waiting_logged_at_ || now - *waiting_logged_at_ >= kWaitingLogEvery) {
    waiting_logged_at_ = now;
    step.log = LogLine{spdlog::level::warn,
                       "STS at " + sts_.value_or("") + " does not answer yet: " + pairs_text() +
                           " unchecked; streams fall back to the original audio until it does",
                       {{"event", "languages_unchecked"}, {"sts", sts_.value_or("")}, {"error", problem}}};
  }
  return step;
}

nlohmann::json StsLanguageStatus::to_json() const {
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& target : languages_.target_langs) pairs.push_back(languages_.source_lang + "->" + target);
  nlohmann::json body = {{"state", to_string(state_)}, {"pairs", pairs}, {"missing", missing_}, {"checks", checks_}};
  body["sts"] = sts_ ? nlohmann::json(*sts_) : nlohmann::json(nullptr);
  if (!last_error_.empty()) body["error"] = last_error_;
  return body;
}

}  // namespace livedub::orchestrator
