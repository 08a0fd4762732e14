#include "orchestrator/stream_outputs.hpp"

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "livedub/captions.hpp"
#include "orchestrator/sts_languages.hpp"
#include "orchestrator/supervision.hpp"

namespace livedub::orchestrator {
namespace {

using ::testing::ElementsAre;

const LanguageSettings kTwo{"en", {"es", "ca"}};

TEST(StreamOutputs, SourceAndEveryLanguageWithPathAndCaptionUrls) {
  const auto outputs = outputs_json("abc", kTwo);
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0]["kind"], "source");
  EXPECT_EQ(outputs[0]["path"], "live/abc/in");
  EXPECT_EQ(outputs[0]["captions"], "/v1/streams/abc/captions/en.vtt");
  EXPECT_EQ(outputs[1]["path"], "live/abc/out");
  EXPECT_EQ(outputs[2]["lang"], "ca");
  EXPECT_EQ(outputs[2]["path"], "live/abc/out-ca");
  EXPECT_EQ(outputs[2]["live_captions"], "/v1/streams/abc/captions/ca/live.vtt");
}

TEST(StreamOutputs, MissingPairsAgainstCapabilities) {
  const auto caps = nlohmann::json::parse(
      R"({"languages":{"any_pair":false,"pairs":[{"source":"en","target":"es"},{"source":"es","target":"ca"}]}})");
  EXPECT_THAT(missing_language_pairs(caps, kTwo), ElementsAre("en->ca"));
  EXPECT_TRUE(missing_language_pairs(caps, LanguageSettings{"en", {"es"}}).empty());
  EXPECT_TRUE(missing_language_pairs(nlohmann::json::parse(R"({"languages":{"any_pair":true,"pairs":[]}})"), kTwo).empty());
  // Whatever the service sent, a malformed answer offers nothing.
  EXPECT_THAT(missing_language_pairs(nlohmann::json::parse(R"({"languages":7})"), kTwo), ElementsAre("en->es", "en->ca"));
  EXPECT_THAT(missing_language_pairs(nlohmann::json(), kTwo), ElementsAre("en->es", "en->ca"));
}

TEST(StreamOutputs, EveryPairTheServiceOffersIsAcceptedWhateverEngineServesIt) {
  // An STS with neural models: each pair names its engine (sts /v1/capabilities).
  const auto caps = nlohmann::json::parse(R"({"languages":{"any_pair":false,"pairs":[
      {"engine":"marian","source":"en","target":"fr"},{"engine":"m2m100","source":"en","target":"ja"},
      {"engine":"apertium","source":"en","target":"ca"}]}})");
  EXPECT_TRUE(missing_language_pairs(caps, LanguageSettings{"en", {"fr", "ja", "ca"}}).empty());
  EXPECT_THAT(missing_language_pairs(caps, LanguageSettings{"en", {"ja", "pt"}}), ElementsAre("en->pt"));
}

// docs/orchestrator-api.openapi.yaml names every route, output and cue field, and state.
TEST(OrchestratorApiDocument, DocumentsRoutesAndFields) {
  std::ifstream in(ORCHESTRATOR_OPENAPI_DOC);
  std::stringstream text;
  text << in.rdbuf();
  const auto doc = text.str();
  ASSERT_FALSE(doc.empty());
  for (const char* route : {"/v1/streams:", "/v1/streams/{stream_id}:", "/v1/streams/{stream_id}/captions:",
                            "/v1/streams/{stream_id}/captions/{lang}.vtt:", "/v1/streams/{stream_id}/captions/{lang}/live.vtt:",
                            "/v1/hooks/nginx:", "/v1/hooks/mediamtx/ready:", "/v1/hooks/mediamtx/not-ready:", "  /:",
                            "/healthz:", "/readyz:", "/metrics:"}) {
    EXPECT_NE(doc.find(route), std::string::npos) << route;
  }
  for (const auto& output : outputs_json("abc", kTwo)) {
    for (auto it = output.begin(); it != output.end(); ++it) EXPECT_NE(doc.find(" " + it.key() + ":"), std::string::npos) << it.key();
  }
  const auto cue = to_json(CaptionCue{1, "es", false, 0, 1, "x"});
  for (auto it = cue.begin(); it != cue.end(); ++it) EXPECT_NE(doc.find(" " + it.key() + ":"), std::string::npos) << it.key();
  for (auto state : {WorkerState::starting, WorkerState::running, WorkerState::backoff, WorkerState::stopping, WorkerState::failed}) {
    EXPECT_NE(doc.find(to_string(state)), std::string::npos) << to_string(state);
  }
  const auto readiness = StsLanguageStatus(kTwo, "http://sts:8000").to_json();
  for (auto it = readiness.begin(); it != readiness.end(); ++it) {
    EXPECT_NE(doc.find(" " + it.key() + ":"), std::string::npos) << it.key();
  }
  for (auto state : {StsLanguageStatus::State::unchecked, StsLanguageStatus::State::waiting, StsLanguageStatus::State::ok,
                     StsLanguageStatus::State::unsupported}) {
    EXPECT_NE(doc.find(to_string(state)), std::string::npos) << to_string(state);
  }
}

}  // namespace
}  // namespace livedub::orchestrator
