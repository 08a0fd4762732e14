#include "livedub/logging.hpp"

#include <chrono>
#include <ctime>
#include <mutex>

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

std::shared_ptr<spdlog::logger> make_logger() {
  auto logger = spdlog::stderr_logger_mt("livedub");
  logger->set_pattern("%v");
  logger->flush_on(spdlog::level::trace);  // logs are the operator's live view: never buffer
  return logger;
}

struct State {
  std::string service = "livedub";
  Format format = Format::json;
  // Created with the state (a thread-safe static): creating it lazily on first log call let two
  // threads both register the "livedub" spdlog logger, and the second registration throws.
  std::shared_ptr<spdlog::logger> logger = make_logger();
};

State& state() {
  static State s;
  return s;
}

std::string iso_timestamp() { return iso8601_utc(std::chrono::system_clock::now()); }

}  // namespace

void init(const std::string& service, spdlog::level::level_enum level, Format format) {
  auto& s = state();
  s.service = service;
  s.format = format;
  if (!s.logger) s.logger = make_logger();
  s.logger->set_level(level);
}

void init(const std::string& service, const EnvConfig& env) {
  auto level_name = env.one_of("LIVEDUB_LOG_LEVEL", "info", {"trace", "debug", "info", "warn", "error"});
  auto format_name = env.one_of("LIVEDUB_LOG_FORMAT", "json", {"json", "text"});
  init(service, spdlog::level::from_str(level_name),
       format_name == "json" ? Format::json : Format::text);
}

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
           const nlohmann::json& fields) {
  auto& s = state();
  if (!enabled(level)) return;
  s.logger->log(level, "{}", render(s.format, s.service, level, ctx, message, fields));
}

}  // namespace livedub::logging
