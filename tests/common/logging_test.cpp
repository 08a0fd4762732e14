#include "livedub/logging.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>

#include "livedub/config.hpp"
#include <gtest/gtest.h>

namespace livedub {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(LoggingRender, JsonCarriesServiceStreamAndSeq) {
  auto line = logging::render(logging::Format::json, "sts-service", spdlog::level::info,
                              LogContext{"demo", 42}, "fragment dubbed", {{"engine", "mock-tone"}});
  auto record = nlohmann::json::parse(line);
  EXPECT_EQ(record["service"], "sts-service");
  EXPECT_EQ(record["stream_id"], "demo");
  EXPECT_EQ(record["seq"], 42);
  EXPECT_EQ(record["msg"], "fragment dubbed");
  EXPECT_EQ(record["level"], "info");
  EXPECT_EQ(record["engine"], "mock-tone");
  EXPECT_TRUE(record["ts"].is_string());
  EXPECT_EQ(line.find('\n'), std::string::npos);  // one record per line
}

TEST(LoggingRender, JsonOmitsUnknownContext) {
  auto record = nlohmann::json::parse(logging::render(
      logging::Format::json, "svc", spdlog::level::warn, LogContext{}, "m", nlohmann::json::object()));
  EXPECT_FALSE(record.contains("stream_id"));
  EXPECT_FALSE(record.contains("seq"));
  EXPECT_EQ(record["level"], "warning");
}

TEST(LoggingRender, WithSeqKeepsStreamId) {
  LogContext stream{"demo", std::nullopt};
  auto ctx = stream.with_seq(5);
  EXPECT_EQ(ctx.stream_id, "demo");
  EXPECT_EQ(ctx.seq, 5);
}

TEST(LoggingRender, TextFormatIsKeyValue) {
  auto line = logging::render(logging::Format::text, "worker", spdlog::level::err,
                              LogContext{"demo", 7}, "stage failed", {{"stage", "tts"}, {"code", 3}});
  EXPECT_THAT(line, HasSubstr("[worker]"));
  EXPECT_THAT(line, HasSubstr("stream=demo seq=7 stage failed"));
  EXPECT_THAT(line, HasSubstr("stage=\"tts\""));
  EXPECT_THAT(line, HasSubstr("code=3"));
  EXPECT_THAT(line, Not(HasSubstr("{")));
}

TEST(LoggingRender, InvalidUtf8NeverThrows) {
  const std::string bad = "\xff\xfe peer bytes";
  for (auto format : {logging::Format::json, logging::Format::text}) {
    std::string line;
    EXPECT_NO_THROW(line = logging::render(format, "svc", spdlog::level::info, LogContext{"s", 1},
                                           bad, {{"field", bad}}));
    EXPECT_THAT(line, HasSubstr("peer bytes"));
  }
}

TEST(LogRateLimiter, ABurstThenTheRateAndTheNextLineSaysHowManyWereDropped) {
  using namespace std::chrono;
  logging::RateLimiter limiter({.burst = 3, .per_second = 2});
  const std::uintptr_t site = 1, other_site = 2;
  const auto t0 = steady_clock::time_point{} + hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.admit(site, "a", t0), 0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.admit(site, "a", t0 + milliseconds(i)), -1);
  // Another call site, another stream: their own budgets.
  EXPECT_EQ(limiter.admit(other_site, "a", t0), 0);
  EXPECT_EQ(limiter.admit(site, "b", t0), 0);
  // 2 per second: half a second later one more passes, reporting the 100 it replaced.
  EXPECT_EQ(limiter.admit(site, "a", t0 + milliseconds(600)), 100);
  EXPECT_EQ(limiter.admit(site, "a", t0 + milliseconds(601)), -1);
  EXPECT_EQ(limiter.suppressed_total(), 101u);
  // Quiet for a while: the burst is back, not more than it.
  const auto later = t0 + seconds(60);
  for (int i = 0; i < 3; ++i) EXPECT_GE(limiter.admit(site, "a", later), 0);
  EXPECT_EQ(limiter.admit(site, "a", later), -1);
}

TEST(LogTruncation, CutsLongTextOnACharacterBoundaryAndSaysHowMuch) {
  EXPECT_EQ(logging::truncate_for_log("short", 10), "short");
  const std::string path = "/v1/" + std::string(7000, 'x');
  const auto cut = logging::truncate_for_log(path, 100);
  EXPECT_LT(cut.size(), 130u);
  EXPECT_THAT(cut, HasSubstr("(6904 more bytes)"));
  // "é" is two bytes: a cut in the middle of it moves before it.
  const auto accented = logging::truncate_for_log("ab\xc3\xa9" "cd", 3);
  EXPECT_EQ(accented.substr(0, 3), "ab.");
  const auto line = logging::render(logging::Format::json, "s", spdlog::level::info, {}, accented, nlohmann::json::object());
  EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

// The process-wide logger: these tests restore stderr output when done.
class LogOutput : public ::testing::Test {
 protected:
  void TearDown() override { logging::init("test", spdlog::level::info, logging::Format::json); }
};

TEST_F(LogOutput, AFloodFromOneSiteIsCappedAndTheFileRotatesWithinItsBudget) {
  const auto dir = std::filesystem::temp_directory_path() / ("livedub-log-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto file = dir / "svc.log";
  logging::init("svc", spdlog::level::info, logging::Format::json, {file.string(), 64 * 1024, 2});
  const auto suppressed_before = logging::suppressed_total();
  // 5,000 refused requests with 7,000-character paths, as a flooding client sends them.
  const std::string path(7000, 'p');
  for (int i = 0; i < 5000; ++i) log_warn({}, "refused {}", path);
  // Many distinct sites (each its own budget) still cannot grow the files past the cap.
  for (std::uintptr_t i = 0; i < 3000; ++i) logging::write_at(1000 + i, spdlog::level::info, {}, std::string(1000, 'q'), nlohmann::json::object());
  std::uintmax_t total = 0;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    total += entry.file_size();
    ++files;
  }
  EXPECT_LE(files, 3);  // svc.log, svc.1.log, svc.2.log
  EXPECT_LE(total, 3u * 64 * 1024 + 4096);
  EXPECT_GE(logging::suppressed_total() - suppressed_before, 4900u);
  // The lines that did pass are whole JSON records with their message cut.
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const auto record = nlohmann::json::parse(line);
    EXPECT_LE(record["msg"].get<std::string>().size(), logging::kMaxMessageBytes + 64);
  }
  std::filesystem::remove_all(dir);
}

TEST_F(LogOutput, AFullDiskIsCountedNotThrown) {
  logging::init("svc", spdlog::level::info, logging::Format::json, {"/dev/full", 1 << 20, 1});
  const auto before = logging::write_failures();
  EXPECT_NO_THROW(logging::write(spdlog::level::warn, {}, "nowhere to go"));
  EXPECT_GT(logging::write_failures(), before);
}

TEST_F(LogOutput, AnUnwritableLogFileIsAConfigErrorNamingTheVariable) {
  EnvConfig env(env_from_map({{"LIVEDUB_LOG_FILE", "/dev/null/x.log"}}));
  try {
    logging::init("svc", env);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("LIVEDUB_LOG_FILE"));
  }
}

}  // namespace
}  // namespace livedub

TEST(Iso8601Utc, FormatsMillisecondsInUtc) {
  using namespace std::chrono;
  const system_clock::time_point t{milliseconds(1'764'064'800'123)};  // 2025-11-25T10:00:00.123Z
  EXPECT_EQ(livedub::iso8601_utc(t), "2025-11-25T10:00:00.123Z");
}
