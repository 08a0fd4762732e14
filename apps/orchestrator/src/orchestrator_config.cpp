#include "orchestrator/orchestrator_config.hpp"

#include "livedub/captions.hpp"
#include "livedub/secrets.hpp"
#include "livedub/sts_protocol.hpp"
#include "livedub/text.hpp"

namespace livedub::orchestrator {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kOneHour{3'600'000};

std::string url_template(const EnvConfig& env, const std::string& name,
                         const std::string& fallback) {
  std::string value = env.url(name, fallback, {});
  if (value.find(kStreamIdPlaceholder) == std::string::npos) {
    throw ConfigError(name, "must contain the placeholder {stream_id}, got '" + value + "'");
  }
  return value;
}

fs::path worker_binary(const EnvConfig& env, const fs::path& self_exe,
                       const ExecutableProbe& is_executable) {
  const std::string name = "LIVEDUB_WORKER_BIN";
  if (auto configured = env.raw(name)) {
    fs::path path = fs::absolute(*configured);
    if (!is_executable(path)) {
      throw ConfigError(name, "'" + *configured + "' is not an executable file");
    }
    return path;
  }
  if (auto found = default_worker_binary(self_exe, is_executable)) return *found;
  throw ConfigError(name, "not set, and no executable stream-worker next to " +
                              self_exe.parent_path().string() + " or in ../media-service");
}

std::optional<std::string> secret(const EnvConfig& env, const std::string& name,
                                  std::size_t min_length) {
  auto value = env.raw(name);
  if (!value) return std::nullopt;
  if (value->find_first_of(" \t\r\n&?#%+") != std::string::npos) {
    // It travels in URL queries (nginx callback, worker output URL) unescaped.
    throw ConfigError(name, "must not contain spaces or any of & ? # % +");
  }
  if (value->size() < min_length) {
    throw ConfigError(name, "must be at least " + std::to_string(min_length) + " characters");
  }
  return value;
}

}  // namespace

OrchestratorConfig load_orchestrator_config(const EnvConfig& env, const fs::path& self_exe,
                                            const ExecutableProbe& is_executable) {
  OrchestratorConfig config;
  config.host = env.string("LIVEDUB_ORCHESTRATOR_HOST", config.host);
  config.port = static_cast<int>(env.integer("LIVEDUB_ORCHESTRATOR_PORT", config.port, 0, 65535));
  if (auto port_file = env.raw("LIVEDUB_ORCHESTRATOR_PORT_FILE")) config.port_file = *port_file;

  config.launch.worker_bin = worker_binary(env, self_exe, is_executable);
  config.launch.input_url_template =
      url_template(env, "LIVEDUB_INPUT_URL_TEMPLATE", kDefaultInputUrlTemplate);
  config.launch.output_url_template =
      url_template(env, "LIVEDUB_OUTPUT_URL_TEMPLATE", kDefaultOutputUrlTemplate);
  if (auto run_dir = env.raw("LIVEDUB_RUN_DIR")) config.launch.run_dir = fs::absolute(*run_dir);

  config.languages.source_lang = env.string("LIVEDUB_SOURCE_LANG", kDefaultSourceLang);
  if (!sts::is_valid_language_tag(config.languages.source_lang)) {
    throw ConfigError("LIVEDUB_SOURCE_LANG", "expected a language tag like 'en'");
  }
  try {
    config.languages.target_langs =
        parse_language_list(env.string("LIVEDUB_TARGET_LANGS", kDefaultTargetLangs), config.languages.source_lang);
  } catch (const LanguageListError& e) {
    throw ConfigError("LIVEDUB_TARGET_LANGS", e.what());
  }
  if (auto sts = env.raw("STS_SERVICE_URL")) {
    const auto first = trim(std::string_view(*sts).substr(0, sts->find(',')));
    if (!first.empty()) config.sts_url = first;
  }
  config.sts_token = env.raw("LIVEDUB_STS_TOKEN");

  auto token = secret(env, "LIVEDUB_ORCHESTRATOR_TOKEN", kMinTokenLength);
  if (!token) {
    throw ConfigError("LIVEDUB_ORCHESTRATOR_TOKEN",
                      "is required: without it anyone who reaches the hooks could stop or start "
                      "streams (scripts/stack generates one; e.g. openssl rand -hex 24)");
  }
  config.token = *token;
  // The workers' output credential, derived when not set: MediaMTX needs it set explicitly
  // (deploy/media-service/docker-compose.yml), the native stack can derive it.
  config.credentials.worker_pass =
      secret(env, "LIVEDUB_WORKER_PUBLISH_PASS", kMinTokenLength)
          .value_or(sha256_hex("livedub-worker-publish:" + config.token).substr(0, 32));
  config.launch.output_credential_query =
      std::string("user=") + kWorkerPublishUser + "&pass=" + config.credentials.worker_pass;
  config.credentials.publish_user = secret(env, "LIVEDUB_PUBLISH_USER", 1);
  // MediaMTX's "any": no particular user name (the compose default).
  if (config.credentials.publish_user == "any") config.credentials.publish_user.reset();
  config.credentials.publish_pass = secret(env, "LIVEDUB_PUBLISH_PASS", 1);
  if (config.credentials.publish_user && !config.credentials.publish_pass) {
    throw ConfigError("LIVEDUB_PUBLISH_PASS", "must be set when LIVEDUB_PUBLISH_USER is");
  }

  config.media_status_url = env.optional_url("LIVEDUB_MEDIA_STATUS_URL", {"http", "https"});
  config.reconcile_interval = env.millis("LIVEDUB_RECONCILE_MS", config.reconcile_interval,
                                         milliseconds(200), milliseconds(600'000));

  auto& policy = config.policy;
  policy.max_streams = static_cast<std::size_t>(
      env.integer("LIVEDUB_MAX_STREAMS", static_cast<std::int64_t>(policy.max_streams), 1, 10'000));
  policy.max_starts_per_minute = static_cast<int>(env.integer(
      "LIVEDUB_STREAM_STARTS_PER_MINUTE", policy.max_starts_per_minute, 1, 10'000));
  policy.restart_min =
      env.millis("LIVEDUB_WORKER_RESTART_MIN_MS", policy.restart_min, milliseconds(1), kOneHour);
  policy.restart_max =
      env.millis("LIVEDUB_WORKER_RESTART_MAX_MS", policy.restart_max, milliseconds(1), kOneHour);
  if (policy.restart_max < policy.restart_min) {
    throw ConfigError("LIVEDUB_WORKER_RESTART_MAX_MS",
                      "must not be below LIVEDUB_WORKER_RESTART_MIN_MS (" +
                          std::to_string(policy.restart_min.count()) + " ms)");
  }
  policy.stable_after =
      env.millis("LIVEDUB_WORKER_STABLE_MS", policy.stable_after, milliseconds(0), kOneHour);
  policy.stop_grace = env.millis("LIVEDUB_WORKER_STOP_GRACE_MS", policy.stop_grace, milliseconds(0),
                                 milliseconds(600'000));
  return config;
}

}  // namespace livedub::orchestrator
