#include "livedub/config.hpp"

#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace livedub {
namespace {

using ::testing::HasSubstr;

EnvConfig env_with(std::map<std::string, std::string> vars) {
  return EnvConfig(env_from_map(std::move(vars)));
}

// Runs `read` and returns the ConfigError it throws; fails the test if it does not throw.
template <typename Read>
ConfigError config_error(Read read) {
  try {
    read();
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ConfigError";
  return ConfigError("<none>", "<none>");
}

TEST(EnvConfig, UnsetAndEmptyUseTheDefault) {
  auto env = env_with({{"EMPTY", ""}});
  EXPECT_EQ(env.string("MISSING", "fallback"), "fallback");
  EXPECT_EQ(env.string("EMPTY", "fallback"), "fallback");
  EXPECT_EQ(env.integer("EMPTY", 7, 0, 10), 7);
  EXPECT_FALSE(env.raw("EMPTY").has_value());
}

TEST(EnvConfig, IntegerParsesInRange) {
  auto env = env_with({{"PORT", "8080"}, {"NEG", "-5"}});
  EXPECT_EQ(env.integer("PORT", 1, 0, 65535), 8080);
  EXPECT_EQ(env.integer("NEG", 0, -10, 10), -5);
}

TEST(EnvConfig, IntegerOutOfRangeNamesTheVariable) {
  auto env = env_with({{"LIVEDUB_X_PORT", "70000"}});
  auto e = config_error([&] { env.integer("LIVEDUB_X_PORT", 1, 0, 65535); });
  EXPECT_EQ(e.variable(), "LIVEDUB_X_PORT");
  EXPECT_THAT(e.what(), HasSubstr("LIVEDUB_X_PORT"));
  EXPECT_THAT(e.what(), HasSubstr("between 0 and 65535"));
}

TEST(EnvConfig, IntegerNotANumberNamesTheVariable) {
  for (const char* bad : {"abc", "12abc", "1.5", " 12", "0x10", "99999999999999999999"}) {
    auto env = env_with({{"LIVEDUB_X_COUNT", bad}});
    auto e = config_error([&] { env.integer("LIVEDUB_X_COUNT", 1, 0, 100); });
    EXPECT_EQ(e.variable(), "LIVEDUB_X_COUNT") << bad;
    EXPECT_THAT(e.what(), HasSubstr("LIVEDUB_X_COUNT")) << bad;
  }
}

TEST(EnvConfig, NumberValidatesFormatAndRange) {
  auto env = env_with({{"GOOD", "2.5"}, {"BAD", "2.5x"}, {"NAN", "nan"}, {"BIG", "1e9"}});
  EXPECT_DOUBLE_EQ(env.number("GOOD", 0, 0, 10), 2.5);
  EXPECT_EQ(config_error([&] { env.number("BAD", 0, 0, 10); }).variable(), "BAD");
  EXPECT_EQ(config_error([&] { env.number("NAN", 0, 0, 10); }).variable(), "NAN");
  EXPECT_THAT(config_error([&] { env.number("BIG", 0, 0, 10); }).what(), HasSubstr("BIG"));
}

TEST(EnvConfig, BooleanAcceptsCommonSpellings) {
  auto env = env_with({{"A", "true"}, {"B", "0"}, {"C", "YES"}, {"D", "off"}});
  EXPECT_TRUE(env.boolean("A", false));
  EXPECT_FALSE(env.boolean("B", true));
  EXPECT_TRUE(env.boolean("C", false));
  EXPECT_FALSE(env.boolean("D", true));
  EXPECT_TRUE(env.boolean("UNSET", true));
}

TEST(EnvConfig, BadBooleanNamesTheVariable) {
  auto env = env_with({{"LIVEDUB_X_FLAG", "maybe"}});
  auto e = config_error([&] { env.boolean("LIVEDUB_X_FLAG", false); });
  EXPECT_EQ(e.variable(), "LIVEDUB_X_FLAG");
  EXPECT_THAT(e.what(), HasSubstr("maybe"));
}

TEST(EnvConfig, OneOfListsTheAllowedValues) {
  auto env = env_with({{"LIVEDUB_X_MODE", "turbo"}, {"OK", "slow"}});
  EXPECT_EQ(env.one_of("OK", "fast", {"fast", "slow"}), "slow");
  auto e = config_error([&] { env.one_of("LIVEDUB_X_MODE", "fast", {"fast", "slow"}); });
  EXPECT_EQ(e.variable(), "LIVEDUB_X_MODE");
  EXPECT_THAT(e.what(), HasSubstr("[fast, slow]"));
  EXPECT_THAT(e.what(), HasSubstr("turbo"));
}

TEST(EnvConfig, UrlSchemeIsChecked) {
  auto env = env_with({{"GOOD", "rtmp://host/live"}, {"LIVEDUB_X_URL", "ftp://host/x"},
                       {"NOT_URL", "host:1935"}});
  EXPECT_EQ(env.url("GOOD", "", {"rtmp", "rtmps"}), "rtmp://host/live");
  auto wrong_scheme = config_error([&] { env.url("LIVEDUB_X_URL", "", {"http", "https"}); });
  EXPECT_EQ(wrong_scheme.variable(), "LIVEDUB_X_URL");
  EXPECT_THAT(wrong_scheme.what(), HasSubstr("'ftp'"));
  auto not_url = config_error([&] { env.url("NOT_URL", "", {}); });
  EXPECT_EQ(not_url.variable(), "NOT_URL");
  EXPECT_FALSE(env.optional_url("UNSET", {"http"}).has_value());
  EXPECT_EQ(env.url("UNSET", "http://default", {"http"}), "http://default");
}

TEST(EnvConfig, UrlSchemeParser) {
  EXPECT_EQ(url_scheme("http://x"), "http");
  EXPECT_EQ(url_scheme("svn+ssh://x"), "svn+ssh");
  EXPECT_FALSE(url_scheme("://x").has_value());
  EXPECT_FALSE(url_scheme("http://").has_value());
  EXPECT_FALSE(url_scheme("ht tp://x").has_value());
  EXPECT_FALSE(url_scheme("localhost:8080").has_value());
}

TEST(EnvConfig, RequiredStringAndMillis) {
  auto env = env_with({{"DELAY", "250"}, {"LIVEDUB_X_DELAY", "-1"}});
  EXPECT_EQ(config_error([&] { env.required_string("LIVEDUB_X_TOKEN"); }).variable(),
            "LIVEDUB_X_TOKEN");
  using std::chrono::milliseconds;
  EXPECT_EQ(env.millis("DELAY", milliseconds(0), milliseconds(0), milliseconds(1000)),
            milliseconds(250));
  EXPECT_EQ(config_error([&] {
              env.millis("LIVEDUB_X_DELAY", milliseconds(0), milliseconds(0), milliseconds(1000));
            }).variable(),
            "LIVEDUB_X_DELAY");
}

}  // namespace
}  // namespace livedub
