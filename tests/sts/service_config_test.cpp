#include "sts/service_config.hpp"

#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace livedub::sts {
namespace {

using ::testing::HasSubstr;

EnvConfig env_with(std::map<std::string, std::string> vars) {
  return EnvConfig(env_from_map(std::move(vars)));
}

std::string invalid_variable(std::map<std::string, std::string> vars) {
  try {
    load_service_config(env_with(std::move(vars)));
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr(e.variable()));
    return e.variable();
  }
  return "<accepted>";
}

TEST(ServiceConfig, Defaults) {
  auto config = load_service_config(env_with({}));
  EXPECT_EQ(config.host, "127.0.0.1");
  EXPECT_EQ(config.port, 8000);
  EXPECT_EQ(config.mode, "mock-passthrough");
  EXPECT_EQ(config.mock_delay.count(), 0);
  EXPECT_DOUBLE_EQ(config.mock_tone_hz, 440.0);
  EXPECT_EQ(config.max_body_bytes, 16u * 1024 * 1024);
  EXPECT_FALSE(config.port_file.has_value());
}

TEST(ServiceConfig, ReadsEveryVariable) {
  auto config = load_service_config(env_with({{"LIVEDUB_STS_HOST", "0.0.0.0"},
                                              {"LIVEDUB_STS_PORT", "0"},
                                              {"LIVEDUB_STS_MODE", "mock-tone"},
                                              {"LIVEDUB_STS_MOCK_DELAY_MS", "300"},
                                              {"LIVEDUB_STS_MOCK_TONE_HZ", "880.5"},
                                              {"LIVEDUB_STS_MAX_BODY_BYTES", "4096"},
                                              {"LIVEDUB_STS_PORT_FILE", "/tmp/port"}}));
  EXPECT_EQ(config.host, "0.0.0.0");
  EXPECT_EQ(config.port, 0);
  EXPECT_EQ(config.mode, "mock-tone");
  EXPECT_EQ(config.mock_delay.count(), 300);
  EXPECT_DOUBLE_EQ(config.mock_tone_hz, 880.5);
  EXPECT_EQ(config.max_body_bytes, 4096u);
  EXPECT_EQ(config.port_file, "/tmp/port");
}

TEST(ServiceConfig, InvalidValuesNameTheVariable) {
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_PORT", "65536"}}), "LIVEDUB_STS_PORT");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_PORT", "http"}}), "LIVEDUB_STS_PORT");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MODE", "cpu-fast"}}), "LIVEDUB_STS_MODE");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MOCK_DELAY_MS", "-1"}}), "LIVEDUB_STS_MOCK_DELAY_MS");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MOCK_TONE_HZ", "0"}}), "LIVEDUB_STS_MOCK_TONE_HZ");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MOCK_TONE_HZ", "loud"}}), "LIVEDUB_STS_MOCK_TONE_HZ");
  EXPECT_EQ(invalid_variable({{"LIVEDUB_STS_MAX_BODY_BYTES", "100"}}), "LIVEDUB_STS_MAX_BODY_BYTES");
}

TEST(ServiceConfig, MakeEngineFollowsTheMode) {
  ServiceConfig config;
  config.mode = kModeMockPassthrough;
  EXPECT_EQ(make_engine(config)->name(), "mock-passthrough");
  config.mode = kModeMockTone;
  EXPECT_EQ(make_engine(config)->name(), "mock-tone");
  config.mode = "cpu";
  try {
    make_engine(config);
    FAIL() << "unknown mode accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.variable(), "LIVEDUB_STS_MODE");
  }
}

TEST(ServiceConfig, EveryKnownModeHasAnEngine) {
  for (const auto& mode : known_modes()) {
    ServiceConfig config;
    config.mode = mode;
    EXPECT_NO_THROW(make_engine(config)) << mode;
  }
}

}  // namespace
}  // namespace livedub::sts
