#include "orchestrator/sts_languages.hpp"

#include <gtest/gtest.h>

namespace livedub::orchestrator {
namespace {

using namespace std::chrono_literals;
using State = StsLanguageStatus::State;

const LanguageSettings kTwo{"en", {"es", "ca"}};
const auto kT0 = StsLanguageStatus::Clock::time_point{} + 1h;

nlohmann::json offering(std::initializer_list<const char*> targets) {
  nlohmann::json pairs = nlohmann::json::array();
  for (const char* t : targets) pairs.push_back({{"source", "en"}, {"target", t}});
  return {{"languages", {{"any_pair", false}, {"pairs", pairs}}}};
}

TEST(StsLanguageStatus, WithoutAnStsThereIsNothingToCheckAndItIsReady) {
  StsLanguageStatus status(kTwo, std::nullopt);
  EXPECT_EQ(status.state(), State::unchecked);
  EXPECT_TRUE(status.ready());
  EXPECT_TRUE(status.to_json()["sts"].is_null());
}

TEST(StsLanguageStatus, WaitsWithABackoffAndWarnsOnceAMinuteUntilTheStsAnswers) {
  StsLanguageStatus status(kTwo, "http://sts:8000");
  EXPECT_EQ(status.state(), State::waiting);
  EXPECT_FALSE(status.ready());
  auto first = status.on_failure("connection refused", kT0);
  EXPECT_EQ(first.next_check, 1000ms);
  ASSERT_TRUE(first.log);
  EXPECT_EQ(first.log->level, spdlog::level::warn);
  EXPECT_EQ(first.log->fields["event"], "languages_unchecked");
  EXPECT_NE(first.log->message.find("en->es, en->ca"), std::string::npos) << first.log->message;
  std::vector<std::chrono::milliseconds> delays;
  int warnings = 0;
  for (int i = 1; i <= 8; ++i) {
    auto step = status.on_failure("timeout", kT0 + i * 10s);
    delays.push_back(*step.next_check);
    if (step.log) ++warnings;
  }
  EXPECT_EQ(delays.front(), 2000ms);
  EXPECT_EQ(delays.back(), 10'000ms);  // capped
  EXPECT_EQ(warnings, 1);              // at 60 s, not every retry
  EXPECT_EQ(status.to_json()["error"], "timeout");
  EXPECT_EQ(status.to_json()["checks"], 9);
  EXPECT_FALSE(status.ready());
}

TEST(StsLanguageStatus, AnAnswerWithEveryPairMakesItReadyAndEndsTheChecks) {
  StsLanguageStatus status(kTwo, "http://sts:8000");
  status.on_failure("connection refused", kT0);
  auto step = status.on_capabilities(offering({"es", "ca"}), kT0 + 5s);
  EXPECT_EQ(status.state(), State::ok);
  EXPECT_TRUE(status.ready());
  EXPECT_FALSE(step.next_check);
  ASSERT_TRUE(step.log);
  EXPECT_EQ(step.log->fields["event"], "languages_confirmed");
  EXPECT_FALSE(status.to_json().contains("error"));
  // The mocks dub any pair.
  StsLanguageStatus mock(kTwo, "http://mock:8000");
  mock.on_capabilities(nlohmann::json::parse(R"({"languages":{"any_pair":true,"pairs":[]}})"), kT0);
  EXPECT_TRUE(mock.ready());
}

TEST(StsLanguageStatus, AMissingPairIsAnErrorNamingTheVariableAndIsAskedAgainLater) {
  StsLanguageStatus status(kTwo, "http://sts:8000");
  auto step = status.on_capabilities(offering({"es"}), kT0);
  EXPECT_EQ(status.state(), State::unsupported);
  EXPECT_FALSE(status.ready());
  EXPECT_EQ(step.next_check, StsLanguageStatus::kRecheckUnsupported);
  ASSERT_TRUE(step.log);
  EXPECT_EQ(step.log->level, spdlog::level::err);
  EXPECT_NE(step.log->message.find("LIVEDUB_TARGET_LANGS"), std::string::npos);
  EXPECT_EQ(status.to_json()["missing"], nlohmann::json::array({"en->ca"}));
  // The same answer again: no second error line; a failure in between keeps the verdict.
  EXPECT_FALSE(status.on_capabilities(offering({"es"}), kT0 + 30s).log);
  status.on_failure("timeout", kT0 + 60s);
  EXPECT_EQ(status.state(), State::unsupported);
  // Redeployed with the pair: ready.
  status.on_capabilities(offering({"es", "ca"}), kT0 + 90s);
  EXPECT_TRUE(status.ready());
  EXPECT_TRUE(status.to_json()["missing"].empty());
}

}  // namespace
}  // namespace livedub::orchestrator
