#include "livedub/config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>

namespace livedub {

ConfigError::ConfigError(std::string variable, const std::string& problem)
    : std::runtime_error("configuration error: " + variable + ": " + problem),
      variable_(std::move(variable)) {}

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

EnvLookup env_from_map(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

EnvConfig::EnvConfig(EnvLookup lookup) : lookup_(std::move(lookup)) {}

std::optional<std::string> EnvConfig::raw(const std::string& name) const {
  auto value = lookup_(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

std::string EnvConfig::string(const std::string& name, const std::string& fallback) const {
  return raw(name).value_or(fallback);
}

std::string EnvConfig::required_string(const std::string& name) const {
  auto value = raw(name);
  if (!value) throw ConfigError(name, "is required but not set");
  return *value;
}

std::int64_t EnvConfig::integer(const std::string& name, std::int64_t fallback, std::int64_t min,
                                std::int64_t max) const {
  auto value = raw(name);
  if (!value) return fallback;
  std::int64_t parsed = 0;
  const char* begin = value->data();
  const char* end = begin + value->size();
  auto [ptr, ec] = std::from_chars(begin, end, parsed);
  if (ec != std::errc() || ptr != end) {
    throw ConfigError(name, "expected an integer, got '" + *value + "'");
  }
  if (parsed < min || parsed > max) {
    throw ConfigError(name, "must be between " + std::to_string(min) + " and " +
                                std::to_string(max) + ", got " + *value);
  }
  return parsed;
}

double EnvConfig::number(const std::string& name, double fallback, double min, double max) const {
  auto value = raw(name);
  if (!value) return fallback;
  char* end = nullptr;
  errno = 0;
  double parsed = std::strtod(value->c_str(), &end);
  if (errno != 0 || end != value->c_str() + value->size()) {
    throw ConfigError(name, "expected a number, got '" + *value + "'");
  }
  if (!(parsed >= min && parsed <= max)) {
    throw ConfigError(name, "must be between " + std::to_string(min) + " and " +
                                std::to_string(max) + ", got " + *value);
  }
  return parsed;
}

bool EnvConfig::boolean(const std::string& name, bool fallback) const {
  auto value = raw(name);
  if (!value) return fallback;
  std::string lower = *value;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "1" || lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "0" || lower == "false" || lower == "no" || lower == "off") return false;
  throw ConfigError(name, "expected true/false (or 1/0, yes/no, on/off), got '" + *value + "'");
}

std::chrono::milliseconds EnvConfig::millis(const std::string& name,
                                            std::chrono::milliseconds fallback,
                                            std::chrono::milliseconds min,
                                            std::chrono::milliseconds max) const {
  return std::chrono::milliseconds(integer(name, fallback.count(), min.count(), max.count()));
}

std::string EnvConfig::one_of(const std::string& name, const std::string& fallback,
                              const std::vector<std::string>& allowed) const {
  auto value = raw(name);
  if (!value) return fallback;
  if (std::find(allowed.begin(), allowed.end(), *value) != allowed.end()) return *value;
  std::string list;
  for (const auto& option : allowed) list += (list.empty() ? "" : ", ") + option;
  throw ConfigError(name, "must be one of [" + list + "], got '" + *value + "'");
}

std::optional<std::string> url_scheme(std::string_view url) {
  auto pos = url.find("://");
  if (pos == std::string_view::npos || pos == 0) return std::nullopt;
  for (char c : url.substr(0, pos)) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.')) {
      return std::nullopt;
    }
  }
  if (pos + 3 >= url.size()) return std::nullopt;
  return std::string(url.substr(0, pos));
}

std::optional<std::string> EnvConfig::optional_url(const std::string& name,
                                                   const std::vector<std::string>& schemes) const {
  auto value = raw(name);
  if (!value) return std::nullopt;
  auto scheme = url_scheme(*value);
  if (!scheme) throw ConfigError(name, "expected a URL like scheme://host/..., got '" + *value + "'");
  if (!schemes.empty() && std::find(schemes.begin(), schemes.end(), *scheme) == schemes.end()) {
    std::string list;
    for (const auto& s : schemes) list += (list.empty() ? "" : ", ") + s;
    throw ConfigError(name, "URL scheme must be one of [" + list + "], got '" + *scheme + "'");
  }
  return value;
}

std::string EnvConfig::url(const std::string& name, const std::string& fallback,
                           const std::vector<std::string>& schemes) const {
  return optional_url(name, schemes).value_or(fallback);
}

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

}  // namespace livedub
