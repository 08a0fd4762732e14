#pragma once
// Structured logs: one JSON object per line on stderr (or key=value text), always carrying
// the service name and, where known, the stream id and fragment sequence.
#include <chrono>
#include <cstdint>
#include <optional>
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

// Reads LIVEDUB_LOG_LEVEL (trace|debug|info|warn|error, default info) and
// LIVEDUB_LOG_FORMAT (json|text, default json). Call once at start-up.
void init(const std::string& service, const EnvConfig& env);
void init(const std::string& service, spdlog::level::level_enum level, Format format);

void write(spdlog::level::level_enum level, const LogContext& ctx, std::string_view message,
           const nlohmann::json& fields = nlohmann::json::object());

// Renders one record; exposed for tests.
std::string render(Format format, std::string_view service, spdlog::level::level_enum level,
                   const LogContext& ctx, std::string_view message, const nlohmann::json& fields);

bool enabled(spdlog::level::level_enum level);

}  // namespace logging

template <typename... Args>
void log_debug(const LogContext& ctx, fmt::format_string<Args...> f, Args&&... args) {
  if (logging::enabled(spdlog::level::debug))
    logging::write(spdlog::level::debug, ctx, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_info(const LogContext& ctx, fmt::format_string<Args...> f, Args&&... args) {
  if (logging::enabled(spdlog::level::info))
    logging::write(spdlog::level::info, ctx, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warn(const LogContext& ctx, fmt::format_string<Args...> f, Args&&... args) {
  if (logging::enabled(spdlog::level::warn))
    logging::write(spdlog::level::warn, ctx, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(const LogContext& ctx, fmt::format_string<Args...> f, Args&&... args) {
  logging::write(spdlog::level::err, ctx, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace livedub
