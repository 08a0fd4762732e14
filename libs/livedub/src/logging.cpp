#include "livedub/logging.hpp"

#include "livedub/text.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "livedub/config.hpp"

namespace livedub {

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto secs = time_point_cast<seconds>(t);
  auto millis = duration_cast<milliseconds>(t - secs).count();
  std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, millis);
}

}  // namespace livedub

namespace livedub::logging {
namespace {

std::atomic<std::uint64_t> g_write_failures{0};

std::shared_ptr<spdlog::logger> make_logger(const Output& output = {}) {
  std::shared_ptr<spdlog::logger> logger;
  if (output.file.empty()) {
    logger = std::make_shared<spdlog::logger>("livedub", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  } else {
    // Opens (creates) the file now: an unwritable path is a start-up error, not silence.
    logger = std::make_shared<spdlog::logger>(
        "livedub", std::make_shared<spdlog::sinks::rotating_file_sink_mt>(output.file, output.max_bytes, output.max_files));
  }
  logger->set_pattern("%v");
  logger->flush_on(spdlog::level::trace);  // logs are the operator's live view: never buffer
  // A failed write (disk full) is counted, not thrown into the caller: the line is lost, the
  // service goes on, /metrics and /healthz say so.
  logger->set_error_handler([](const std::string&) { g_write_failures.fetch_add(1, std::memory_order_relaxed); });
  return logger;
}

struct State {
  std::string service = "livedub";
  Format format = Format::json;
  bool to_stderr = true;
  // Created with the state (a thread-safe static): creating it lazily on first log call let two
  // threads both register the "livedub" spdlog logger, and the second registration throws.
  std::shared_ptr<spdlog::logger> logger = make_logger();
  std::mutex limiter_mutex;
  RateLimiter limiter;
};

State& state() {
  static State s;
  return s;
}

std::string iso_timestamp() { return iso8601_utc(std::chrono::system_clock::now()); }

}  // namespace

std::int64_t RateLimiter::admit(std::uintptr_t site, std::string_view stream_id,
                                std::chrono::steady_clock::time_point now) {
  // Bounded: sites are finite, streams are not (ids come from publishers).
  if (buckets_.size() > 4096) buckets_.clear();
  auto [it, fresh] = buckets_.try_emplace(Key{site, std::string(stream_id)});
  auto& b = it->second;
  if (fresh) {
    b.tokens = budget_.burst;
  } else {
    const double seconds = std::chrono::duration<double>(now - b.refilled).count();
    b.tokens = std::min(budget_.burst, b.tokens + std::max(0.0, seconds) * budget_.per_second);
  }
  b.refilled = now;
  if (b.tokens < 1) {
    ++b.suppressed;
    ++suppressed_total_;
    return -1;
  }
  b.tokens -= 1;
  return std::exchange(b.suppressed, 0);
}

std::string truncate_for_log(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  const auto kept = utf8_prefix(text, max_bytes);
  return fmt::format("{}... ({} more bytes)", kept, text.size() - kept.size());
}

void init(const std::string& service, spdlog::level::level_enum level, Format format, const Output& output) {
  auto& s = state();
  s.service = service;
  s.format = format;
  if (!output.file.empty() || !s.to_stderr) {
    s.logger = make_logger(output);
    s.to_stderr = output.file.empty();
  }
  s.logger->set_level(level);
}

void init(const std::string& service, const EnvConfig& env) {
  auto level_name = env.one_of("LIVEDUB_LOG_LEVEL", "info", {"trace", "debug", "info", "warn", "error"});
  auto format_name = env.one_of("LIVEDUB_LOG_FORMAT", "json", {"json", "text"});
  Output output;
  output.file = env.string("LIVEDUB_LOG_FILE", "");
  output.max_bytes = static_cast<std::size_t>(
      env.integer("LIVEDUB_LOG_MAX_BYTES", static_cast<std::int64_t>(output.max_bytes), 64 * 1024, std::int64_t{1} << 40));
  output.max_files = static_cast<std::size_t>(env.integer("LIVEDUB_LOG_FILES", static_cast<std::int64_t>(output.max_files), 1, 100));
  try {
    init(service, spdlog::level::from_str(level_name), format_name == "json" ? Format::json : Format::text, output);
  } catch (const spdlog::spdlog_ex& e) {
    throw ConfigError("LIVEDUB_LOG_FILE", "LIVEDUB_LOG_FILE: cannot write " + output.file + ": " + e.what());
  }
}

std::uint64_t suppressed_total() {
  auto& s = state();
  std::lock_guard lock(s.limiter_mutex);
  return s.limiter.suppressed_total();
}

std::uint64_t write_failures() { return g_write_failures.load(std::memory_order_relaxed); }

bool enabled(spdlog::level::level_enum level) {
  auto& s = state();
  if (!s.logger) init(s.service, spdlog::level::info, s.format);
  return s.logger->should_log(level);
}

std::string render(Format format, std::string_view service, spdlog::level::level_enum level,
                   const LogContext& ctx, std::string_view message, const nlohmann::json& fields) {
  auto level_name = spdlog::level::to_string_view(level);
  if (format == Format::json) {
    nlohmann::json record = {{"ts", iso_timestamp()},
                             {"level", std::string(level_name.data(), level_name.size())},
                             {"service", service}};
    if (!ctx.stream_id.empty()) record["stream_id"] = ctx.stream_id;
    if (ctx.seq) record["seq"] = *ctx.seq;
    record["msg"] = message;
    for (auto it = fields.begin(); it != fields.end(); ++it) record[it.key()] = it.value();
    return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line = fmt::format("{} {:<5} [{}]", iso_timestamp(),
                                 std::string(level_name.data(), level_name.size()), service);
  if (!ctx.stream_id.empty()) line += fmt::format(" stream={}", ctx.stream_id);
  if (ctx.seq) line += fmt::format(" seq={}", *ctx.seq);
  line += fmt::format(" {}", message);
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    // Field values may carry peer-supplied bytes: never let invalid UTF-8 throw from a log call.
    line += fmt::format(" {}={}", it.key(),
                        it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return line;
}

void write(spdlog::level::level_enum level, const LogContext& ctx, std::string_view message,
           const nlohmann::json& fields, std::source_location where) {
  write_at(reinterpret_cast<std::uintptr_t>(where.file_name()) * 65599u + where.line(), level, ctx, message, fields);
}

void write_at(std::uintptr_t site, spdlog::level::level_enum level, const LogContext& ctx,
              std::string_view message, const nlohmann::json& fields) {
  auto& s = state();
  if (!enabled(level)) return;
  std::int64_t suppressed = 0;
  // Debug and trace are the operator's explicit choice: never limited.
  if (level >= spdlog::level::info) {
    std::lock_guard lock(s.limiter_mutex);
    suppressed = s.limiter.admit(site, ctx.stream_id, std::chrono::steady_clock::now());
    if (suppressed < 0) return;
  }
  std::string line;
  if (message.size() > kMaxMessageBytes || suppressed > 0) {
    nlohmann::json extra = fields.is_object() ? fields : nlohmann::json::object();
    if (suppressed > 0) extra["suppressed"] = suppressed;
    line = render(s.format, s.service, level, ctx, truncate_for_log(message, kMaxMessageBytes), extra);
  } else {
    line = render(s.format, s.service, level, ctx, message, fields);
  }
  s.logger->log(level, "{}", line);
  if (s.to_stderr && std::ferror(stderr)) {
    // spdlog's stderr sink does not report a failed fwrite: stderr's error flag does.
    g_write_failures.fetch_add(1, std::memory_order_relaxed);
    std::clearerr(stderr);
  }
}

}  // namespace livedub::logging
