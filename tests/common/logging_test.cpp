#include "livedub/logging.hpp"

#include <string>

#include <gmock/gmock.h>
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

}  // namespace
}  // namespace livedub

TEST(Iso8601Utc, FormatsMillisecondsInUtc) {
  using namespace std::chrono;
  const system_clock::time_point t{milliseconds(1'764'064'800'123)};  // 2025-11-25T10:00:00.123Z
  EXPECT_EQ(livedub::iso8601_utc(t), "2025-11-25T10:00:00.123Z");
}
