#include "language_check.hpp"

#include <thread>

#include "livedub/http_client.hpp"
#include "livedub/logging.hpp"
#include "livedub/secrets.hpp"

namespace livedub::orchestrator {

void check_languages_against_sts(const OrchestratorConfig& config, std::chrono::milliseconds wait) {
  std::string languages;
  for (const auto& lang : config.languages.target_langs) {
    if (!languages.empty()) languages += ',';
    languages += lang;
  }
  if (!config.sts_url) {
    log_info({}, "STS_SERVICE_URL unset: dubbing {} -> {} unchecked", config.languages.source_lang, languages);
    return;
  }
  std::vector<std::string> headers;
  if (config.sts_token) headers.push_back("Authorization: Bearer " + *config.sts_token);
  const auto url = *config.sts_url + "/v1/capabilities";
  const auto give_up = std::chrono::steady_clock::now() + wait;
  HttpClient http;
  std::string problem;
  while (true) {
    try {
      auto response = http.get(url, std::chrono::seconds(3), headers);
      if (response.status == 200) {
        const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
        const auto missing = missing_language_pairs(body, config.languages);
        if (missing.empty()) {
          log_info({}, "STS at {} dubs {} -> {}", redact_url(*config.sts_url), config.languages.source_lang, languages);
          return;
        }
        std::string list;
        for (const auto& pair : missing) {
          if (!list.empty()) list += ", ";
          list += pair;
        }
        throw ConfigError("LIVEDUB_TARGET_LANGS", "the STS service at " + redact_url(*config.sts_url) +
                                                      " cannot dub " + list + " (GET /v1/capabilities lists what it can)");
      }
      problem = "HTTP " + std::to_string(response.status);
    } catch (const HttpTransportError& e) {
      problem = e.what();
    }
    if (std::chrono::steady_clock::now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  logging::write(spdlog::level::warn, {}, "cannot check LIVEDUB_TARGET_LANGS against the STS service: going on",
                 {{"event", "languages_unchecked"}, {"sts", redact_url(*config.sts_url)}, {"error", problem}});
}

}  // namespace livedub::orchestrator
