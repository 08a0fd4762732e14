#pragma once
// Configuration from environment variables, validated at start-up.
// Every accessor reads one variable; a bad value throws ConfigError naming it.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace livedub {

class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string variable, const std::string& problem);
  const std::string& variable() const { return variable_; }

 private:
  std::string variable_;
};

// Looks a variable up; returns nullopt when unset. Injected so tests need no real env.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();
// A fixed set of variables (tests, or config assembled in code).
EnvLookup env_from_map(std::map<std::string, std::string> vars);

class EnvConfig {
 public:
  explicit EnvConfig(EnvLookup lookup = process_env());

  // An empty value counts as unset, so `FOO=` in a .env file means "use the default".
  std::optional<std::string> raw(const std::string& name) const;
  std::string string(const std::string& name, const std::string& fallback) const;
  std::string required_string(const std::string& name) const;
  std::int64_t integer(const std::string& name, std::int64_t fallback, std::int64_t min,
                       std::int64_t max) const;
  double number(const std::string& name, double fallback, double min, double max) const;
  bool boolean(const std::string& name, bool fallback) const;
  std::chrono::milliseconds millis(const std::string& name, std::chrono::milliseconds fallback,
                                   std::chrono::milliseconds min,
                                   std::chrono::milliseconds max) const;
  std::string one_of(const std::string& name, const std::string& fallback,
                     const std::vector<std::string>& allowed) const;
  // A URL whose scheme is one of `schemes` (e.g. {"http","https"}).
  std::string url(const std::string& name, const std::string& fallback,
                  const std::vector<std::string>& schemes) const;
  std::optional<std::string> optional_url(const std::string& name,
                                          const std::vector<std::string>& schemes) const;

 private:
  EnvLookup lookup_;
};

// True for addresses only this host can reach: 127.0.0.0/8, ::1, localhost.
bool is_loopback_host(std::string_view host);

// Parses "scheme://..." and returns the scheme, or nullopt when the text is not a URL.
std::optional<std::string> url_scheme(std::string_view url);

}  // namespace livedub
