#pragma once
// Structured logs: one JSON object per line on stderr (or key=value text), always carrying
// the service name and, where known, the stream id and fragment sequence.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/common.h>

namespace livedub {

class EnvConfig;

// "2026-11-25T10:00:00.123Z"
std::string iso8601_utc(std::chrono::system_clock::time_point t);

struct LogContext {
  std::string stream_id;
  std::optional<std::int64_t> seq;

  LogContext with_seq(std::int64_t sequence) const { return LogContext{stream_id, sequence}; }
};

namespace logging {

enum class Format { json, text };

// Where lines go: stderr, or a file capped at max_bytes that rotates into max_files older
// ones (<file>.1 ... ; spdlog's rotating sink), so no client can fill the disk with logs.
struct Output {
  std::string file;  // empty: stderr
  std::size_t max_bytes = 64 * 1024 * 1024;
  std::size_t max_files = 3;
};

// Repeated lines are rate-limited per call site and stream: a burst, then `per_second`; the
// next line that passes carries "suppressed": how many were dropped before it. One keep-alive
// client sending refused requests wrote 64 MB of log in 5 s before this. Pure: time passed in.
struct RateBudget {
  double burst = 50;
  double per_second = 5;
};
class RateLimiter {
 public:
  RateLimiter() = default;
  explicit RateLimiter(RateBudget budget) : budget_(budget) {}
  // 0 or more: write the line (with that many suppressed before it); -1: drop it.
  std::int64_t admit(std::uintptr_t site, std::string_view stream_id,
                     std::chrono::steady_clock::time_point now);
  std::uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  struct Key {
    std::uintptr_t site;
    std::string stream;
    bool operator<(const Key& o) const { return site != o.site ? site < o.site : stream < o.stream; }
  };
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled;
    std::int64_t suppressed = 0;
  };
  RateBudget budget_;
  std::map<Key, Bucket> buckets_;
  std::uint64_t suppressed_total_ = 0;
};

// A message longer than this is cut (peer-supplied text: paths, STS answers).
inline constexpr std::size_t kMaxMessageBytes = 2048;
// Cuts `text` to at most `max_bytes` (on a UTF-8 boundary), saying how much was left out.
std::string truncate_for_log(std::string_view text, std::size_t max_bytes);

// Reads LIVEDUB_LOG_LEVEL (trace|debug|info|warn|error, default info), LIVEDUB_LOG_FORMAT
// (json|text, default json), LIVEDUB_LOG_FILE (default: stderr), LIVEDUB_LOG_MAX_BYTES and
// LIVEDUB_LOG_FILES. Call once at start-up; throws ConfigError naming the variable.
void init(const std::string& service, const EnvConfig& env);
void init(const std::string& service, spdlog::level::level_enum level, Format format,
          const Output& output = {});

// Rate-limited per call site (`where`) and stream.
void write(spdlog::level::level_enum level, const LogContext& ctx, std::string_view message,
           const nlohmann::json& fields = nlohmann::json::object(),
           std::source_location where = std::source_location::current());
// The same with the call site given as a number (log_info & co.: their format string's address).
void write_at(std::uintptr_t site, spdlog::level::level_enum level, const LogContext& ctx,
              std::string_view message, const nlohmann::json& fields);

// Since start: lines dropped by the rate limiter, and lines the output failed to take (disk
// full, file removed, closed stderr). Every HttpService reports both on /metrics and /healthz.
std::uint64_t suppressed_total();
std::uint64_t write_failures();

// Renders one record; exposed for tests.
std::string render(Format format, std::string_view service, spdlog::level::level_enum level,
                   const LogContext& ctx, std::string_view message, const nlohmann::json& fields);

bool enabled(spdlog::level::level_enum level);

}  // namespace logging

template <typename... Args>
void log_debug(const LogContext& ctx, fmt::format_string<Args...> f, Args&&... args) {
  if (logging::enabled(spdlog::level::debug))
    logging::write_at(reinterpret_cast<std::uintptr_t>(fmt::string_view(f).data()), spdlog::level::debug, ctx,
                      fmt::format(f, std::forward<Args>(args)...), nlohmann::json::object());
}
template <typename... Args>
void log_info(const LogContext& ctx, fmt::format_string<Args...> f, Args&&... args) {
  if (logging::enabled(spdlog::level::info))
    logging::write_at(reinterpret_cast<std::uintptr_t>(fmt::string_view(f).data()), spdlog::level::info, ctx,
                      fmt::format(f, std::forward<Args>(args)...), nlohmann::json::object());
}
template <typename... Args>
void log_warn(const LogContext& ctx, fmt::format_string<Args...> f, Args&&... args) {
  if (logging::enabled(spdlog::level::warn))
    logging::write_at(reinterpret_cast<std::uintptr_t>(fmt::string_view(f).data()), spdlog::level::warn, ctx,
                      fmt::format(f, std::forward<Args>(args)...), nlohmann::json::object());
}
template <typename... Args>
void log_error(const LogContext& ctx, fmt::format_string<Args...> f, Args&&... args) {
  logging::write_at(reinterpret_cast<std::uintptr_t>(fmt::string_view(f).data()), spdlog::level::err, ctx,
                      fmt::format(f, std::forward<Args>(args)...), nlohmann::json::object());
}

}  // namespace livedub
