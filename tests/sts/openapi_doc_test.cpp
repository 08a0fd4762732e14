// Guards docs/sts-api.openapi.yaml against drifting from the code: every JSON key the service
// emits or accepts, every route and every metric must be documented.
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "livedub/sts_protocol.hpp"
#include "sts/dub_handler.hpp"
#include "sts/mock_engines.hpp"

namespace livedub::sts {
namespace {

std::string openapi_text() {
  std::ifstream in(STS_OPENAPI_DOC);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Schema properties appear as "  <key>:" lines.
void expect_documented_keys(const std::string& doc, const nlohmann::json& object,
                            const std::string& where) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    EXPECT_NE(doc.find(" " + it.key() + ":"), std::string::npos)
        << where << " key '" << it.key() << "' is missing from the OpenAPI document";
    if (it->is_object()) expect_documented_keys(doc, *it, where + "." + it.key());
  }
}

TEST(OpenApiDocument, DocumentsEveryWireField) {
  const auto doc = openapi_text();
  ASSERT_FALSE(doc.empty()) << "cannot read " << STS_OPENAPI_DOC;
  DubRequestMetadata metadata;
  metadata.speech = {{100, 900}};
  metadata.slot_end_ms = 1500;
  metadata.extra_targets = {{"ca", "default"}};
  auto request_json = to_json(metadata);
  expect_documented_keys(doc, request_json, "DubRequestMetadata");
  expect_documented_keys(doc, request_json["extra_targets"][0], "DubRequestMetadata.extra_targets[]");
  DubResponse response;
  response.timings_ms = {{"total", 0}, {kStageAsr, 0}, {kStageMt, 0}, {kStageTts, 0}, {kStageStretch, 0}};
  ExtraDub dubbed;
  dubbed.target_lang = "ca";
  ExtraDub failed;
  failed.target_lang = "fr";
  failed.error_code = "engine_error";
  response.extra = {dubbed, failed};
  auto response_json = to_json(response);
  expect_documented_keys(doc, response_json, "DubResponse");
  expect_documented_keys(doc, response_json["extra"][0], "DubResponse.extra[]");
  expect_documented_keys(doc, response_json["extra"][1], "DubResponse.extra[] (failed)");

  prometheus::Registry registry;
  DubHandler handler(ServiceConfig{}, std::make_shared<PassthroughEngine>(), registry);
  expect_documented_keys(doc, handler.capabilities().body, "Capabilities");
  expect_documented_keys(doc, handler.reject(400, "invalid_audio", "x").body, "Error");
  // The streaming form's chunk answer.
  const std::string l16(3200, '\0');
  auto chunk = handler.phrase_chunk("demo", "1", "0", "audio/L16; rate=16000; channels=1", "en", l16);
  ASSERT_EQ(chunk.status, 200) << chunk.body.dump();
  chunk.body["duplicate"] = true;
  chunk.body["words"] = nlohmann::json::array({{{"word", "a"}, {"start_ms", 0}, {"end_ms", 10}}});
  expect_documented_keys(doc, chunk.body, "phraseChunk 200");
  expect_documented_keys(doc, chunk.body["words"][0], "phraseChunk 200 words[]");
}

TEST(OpenApiDocument, DocumentsRoutesModesAndMetrics) {
  const auto doc = openapi_text();
  for (const std::string route : {kDubPath, "/v1/capabilities", "/v1/sessions/{stream_id}", "/v1/streams/{stream_id}/voice",
                                  "/v1/streams/{stream_id}/phrases/{sequence}/chunks/{n}",
                                  "/v1/streams/{stream_id}/phrases/{sequence}", "/healthz", "/readyz", "/metrics"}) {
    EXPECT_NE(doc.find("  " + route + ":"), std::string::npos) << route;
  }
  for (const auto& mode : known_modes()) EXPECT_NE(doc.find(mode), std::string::npos) << mode;
  prometheus::Registry registry;
  DubHandler handler(ServiceConfig{}, std::make_shared<PassthroughEngine>(), registry);
  for (const auto& family : registry.Collect()) {
    EXPECT_NE(doc.find(family.name), std::string::npos) << family.name;
  }
}

}  // namespace
}  // namespace livedub::sts
