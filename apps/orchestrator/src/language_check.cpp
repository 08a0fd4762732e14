#include "language_check.hpp"

#include "livedub/http_client.hpp"
#include "livedub/logging.hpp"
#include "livedub/secrets.hpp"

namespace livedub::orchestrator {

namespace {
std::optional<std::string> logged_sts(const OrchestratorConfig& config) {
  if (!config.sts_url) return std::nullopt;
  return redact_url(*config.sts_url);
}
}  // namespace

StsLanguageCheck::StsLanguageCheck(const OrchestratorConfig& config)
    : config_(config), status_(config.languages, logged_sts(config)) {
  if (!config.sts_url) {
    log_info({}, "STS_SERVICE_URL unset: the target languages are not checked");
    return;
  }
  thread_ = std::thread([this] { run(); });
}

StsLanguageCheck::~StsLanguageCheck() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool StsLanguageCheck::ready() const {
  std::lock_guard lock(mutex_);
  return status_.ready();
}

nlohmann::json StsLanguageCheck::to_json() const {
  std::lock_guard lock(mutex_);
  return status_.to_json();
}

void StsLanguageCheck::run() {
  std::vector<std::string> headers;
  if (config_.sts_token) headers.push_back("Authorization: Bearer " + *config_.sts_token);
  const auto url = *config_.sts_url + "/v1/capabilities";
  HttpClient http;
  while (true) {
    std::optional<nlohmann::json> capabilities;
    std::string problem;
    try {
      auto response = http.get(url, std::chrono::seconds(3), headers);
      if (response.status == 200) {
        auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
        if (body.is_discarded()) {
          problem = "GET /v1/capabilities answered with a body that is not JSON";
        } else {
          capabilities = std::move(body);
        }
      } else {
        problem = "GET /v1/capabilities answered HTTP " + std::to_string(response.status);
      }
    } catch (const HttpTransportError& e) {
      problem = e.what();
    }
    std::unique_lock lock(mutex_);
    const auto now = StsLanguageStatus::Clock::now();
    const auto step = capabilities ? status_.on_capabilities(*capabilities, now) : status_.on_failure(problem, now);
    if (step.log) logging::write(step.log->level, {}, step.log->message, step.log->fields);
    if (!step.next_check) return;
    if (wake_.wait_for(lock, *step.next_check, [this] { return stopping_; })) return;
  }
}

}  // namespace livedub::orchestrator
