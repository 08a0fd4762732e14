#include "sts/dub_handler.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sts/mock_engines.hpp"
#include "test_audio.hpp"

namespace livedub::sts {
namespace {

using ::testing::HasSubstr;
using fixtures::decode_wav_string;
using fixtures::sine_audio;
using fixtures::wav_bytes;

nlohmann::json metadata(double duration_ms) {
  return {{"stream_id", "demo"}, {"sequence", 12}, {"source_lang", "en"},
          {"target_lang", "es"}, {"voice", "default"}, {"duration_ms", duration_ms}};
}

DubHttpRequest dub_request(const std::string& metadata_text, const std::string& audio) {
  DubHttpRequest request;
  request.content_type = "multipart/form-data; boundary=------abc";
  request.parts.push_back(FormPart{"metadata", "application/json", "", metadata_text});
  request.parts.push_back(FormPart{"audio", "audio/wav", "fragment.wav", audio});
  return request;
}

// Engine with scripted behaviour, for the handler's defensive paths.
class ScriptedEngine final : public DubbingEngine {
 public:
  std::function<DubResult(const DubRequestMetadata&, const AudioBuffer&)> behaviour;
  EngineCapabilities caps = [] {
    EngineCapabilities c;
    c.any_language_pair = true;
    c.any_voice = true;
    return c;
  }();

  using DubbingEngine::dub;
  DubResult dub(const DubRequestMetadata& request, const AudioBuffer& input, const DubContext&) override {
    return behaviour(request, input);
  }
  std::string name() const override { return "scripted"; }
  EngineCapabilities capabilities() const override { return caps; }
};

double metric_value(prometheus::Registry& registry, const std::string& family_name,
                    const prometheus::Labels& labels = {}) {
  for (const auto& family : registry.Collect()) {
    if (family.name != family_name) continue;
    for (const auto& metric : family.metric) {
      prometheus::Labels metric_labels;
      for (const auto& label : metric.label) metric_labels[label.name] = label.value;
      if (metric_labels != labels) continue;
      if (family.type == prometheus::MetricType::Histogram) {
        return static_cast<double>(metric.histogram.sample_count);
      }
      return metric.counter.value;
    }
  }
  return -1;  // absent
}

class DubHandlerTest : public ::testing::Test {
 protected:
  void use_engine(std::shared_ptr<DubbingEngine> engine) {
    registry_ = std::make_shared<prometheus::Registry>();
    handler_ = std::make_unique<DubHandler>(config_, std::move(engine), *registry_);
  }
  void SetUp() override { use_engine(std::make_shared<PassthroughEngine>()); }

  void expect_error(const HandlerReply& reply, int status, const std::string& code,
                    const std::string& message_part) {
    EXPECT_EQ(reply.status, status) << reply.body.dump();
    ASSERT_TRUE(reply.body.contains("error")) << reply.body.dump();
    EXPECT_EQ(reply.body["error"]["code"], code);
    EXPECT_THAT(reply.body["error"]["message"].get<std::string>(), HasSubstr(message_part));
  }

  ServiceConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<DubHandler> handler_;
};

TEST_F(DubHandlerTest, PassthroughReturnsInputWithExactDuration) {
  auto input = sine_audio(16000, 1, 8000);
  auto reply = handler_->dub(dub_request(metadata(500).dump(), wav_bytes(input)));
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  auto response = parse_response(reply.body.dump());
  EXPECT_EQ(response.stream_id, "demo");
  EXPECT_EQ(response.sequence, 12);
  EXPECT_DOUBLE_EQ(response.duration_ms, 500);
  EXPECT_EQ(response.sample_rate, 16000);
  EXPECT_EQ(response.channels, 1);
  EXPECT_EQ(response.engine, "mock-passthrough");
  EXPECT_EQ(response.voice, "default");
  // The mock's deterministic text (captions flow without engines).
  EXPECT_EQ(response.transcript, "fragment 12");
  EXPECT_EQ(response.translation, "es: fragment 12");
  for (const char* stage : {"total", "asr", "mt", "tts", "stretch"}) {
    EXPECT_TRUE(response.timings_ms.contains(stage)) << stage;
  }
  EXPECT_GE(response.timings_ms["total"], 0.0);
  auto output = decode_wav_string(base64_decode(response.audio_wav_base64));
  EXPECT_EQ(output.samples, input.samples);
}

TEST_F(DubHandlerTest, OutputLengthFollowsRequestedDurationNotInput) {
  auto input = sine_audio(44100, 2, 5300);  // 120.2 ms; the answer may be up to 100 ms longer
  auto reply = handler_->dub(dub_request(metadata(123.4).dump(), wav_bytes(input)));
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  auto output = decode_wav_string(base64_decode(reply.body["audio_wav_base64"].get<std::string>()));
  EXPECT_EQ(output.format, (AudioFormat{44100, 2}));
  EXPECT_EQ(output.frames(), 5442);  // llround(123.4 * 44.1) = llround(5441.94)
}

TEST_F(DubHandlerTest, ToneEngineStereo) {
  use_engine(std::make_shared<ToneEngine>(440.0));
  auto reply = handler_->dub(dub_request(metadata(1000).dump(), wav_bytes(sine_audio(48000, 2, 48000))));
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  EXPECT_EQ(reply.body["engine"], "mock-tone");
  auto output = decode_wav_string(base64_decode(reply.body["audio_wav_base64"].get<std::string>()));
  ASSERT_EQ(output.frames(), 48000);
  EXPECT_EQ(output.format.channels, 2);
  EXPECT_NEAR(fixtures::zero_crossings(output.samples, 2, 0), 880, 2);
}

TEST_F(DubHandlerTest, RejectsNonMultipart) {
  auto request = dub_request(metadata(100).dump(), wav_bytes(sine_audio(16000, 1, 1600)));
  request.content_type = "application/json";
  expect_error(handler_->dub(request), 415, "unsupported_media_type", "multipart/form-data");
  request.content_type = "";
  expect_error(handler_->dub(request), 415, "unsupported_media_type", "multipart/form-data");
  request.content_type = "multipart/mixed; boundary=x";
  expect_error(handler_->dub(request), 415, "unsupported_media_type", "multipart/form-data");
}

TEST_F(DubHandlerTest, PartMediaTypesIgnoreCaseAndParameters) {
  auto request = dub_request(metadata(100).dump(), wav_bytes(sine_audio(16000, 1, 1600)));
  request.parts[0].content_type = "application/json; charset=utf-8";
  request.parts[1].content_type = "AUDIO/X-WAV";
  EXPECT_EQ(handler_->dub(request).status, 200);
  request.parts[0].content_type = "";
  request.parts[1].content_type = "";
  EXPECT_EQ(handler_->dub(request).status, 200);
}

TEST_F(DubHandlerTest, RejectsWrongPartContentTypes) {
  auto request = dub_request(metadata(100).dump(), wav_bytes(sine_audio(16000, 1, 1600)));
  request.parts[1].content_type = "audio/mpeg";
  expect_error(handler_->dub(request), 415, "unsupported_media_type", "part 'audio'");
  request.parts[1].content_type = "audio/wav";
  request.parts[0].content_type = "application/xml";
  expect_error(handler_->dub(request), 415, "unsupported_media_type", "part 'metadata'");
}

TEST_F(DubHandlerTest, RejectsMissingAndDuplicateParts) {
  auto request = dub_request(metadata(100).dump(), wav_bytes(sine_audio(16000, 1, 1600)));
  auto without_audio = request;
  without_audio.parts.pop_back();
  expect_error(handler_->dub(without_audio), 400, "missing_part", "'audio'");
  auto without_metadata = request;
  without_metadata.parts.erase(without_metadata.parts.begin());
  expect_error(handler_->dub(without_metadata), 400, "missing_part", "'metadata'");
  auto twice = request;
  twice.parts.push_back(request.parts[1]);
  expect_error(handler_->dub(twice), 400, "duplicate_part", "'audio'");
}

TEST_F(DubHandlerTest, IgnoresUnknownParts) {
  auto request = dub_request(metadata(100).dump(), wav_bytes(sine_audio(16000, 1, 1600)));
  request.parts.push_back(FormPart{"comment", "text/plain", "", "hello"});
  EXPECT_EQ(handler_->dub(request).status, 200);
}

TEST_F(DubHandlerTest, RejectsInvalidMetadataNamingTheField) {
  auto audio = wav_bytes(sine_audio(16000, 1, 1600));
  expect_error(handler_->dub(dub_request("{\"stream_id\":", audio)), 400, "invalid_metadata",
               "not valid JSON");
  auto bad_id = metadata(100);
  bad_id["stream_id"] = "../x";
  expect_error(handler_->dub(dub_request(bad_id.dump(), audio)), 400, "invalid_metadata",
               "'stream_id'");
  expect_error(handler_->dub(dub_request(metadata(0).dump(), audio)), 400, "invalid_metadata",
               "'duration_ms'");
}

TEST_F(DubHandlerTest, RejectsInvalidAudioWithTheDecoderMessage) {
  auto meta = metadata(100).dump();
  expect_error(handler_->dub(dub_request(meta, "not a wav file at all")), 400, "invalid_audio",
               "missing 'RIFF' magic");
  expect_error(handler_->dub(dub_request(meta, fixtures::eight_bit_wav(16000, 100))), 400,
               "invalid_audio", "8-bit");
  expect_error(handler_->dub(dub_request(meta, "")), 400, "invalid_audio", "shorter than");
  expect_error(handler_->dub(dub_request(meta, wav_bytes(AudioBuffer{AudioFormat{16000, 1}, 0, {}}))),
               400, "invalid_audio", "no samples");
}

TEST_F(DubHandlerTest, EngineFailureIs500) {
  auto engine = std::make_shared<ScriptedEngine>();
  engine->behaviour = [](const DubRequestMetadata&, const AudioBuffer&) -> DubResult {
    throw std::runtime_error("model not loaded");
  };
  use_engine(engine);
  expect_error(handler_->dub(dub_request(metadata(100).dump(), wav_bytes(sine_audio(16000, 1, 1600)))),
               500, "engine_error", "model not loaded");
  EXPECT_EQ(metric_value(*registry_, "livedub_sts_requests_total", {{"outcome", "engine_error"}}), 1);
}

TEST_F(DubHandlerTest, EngineOutputOfWrongLengthIsFittedToTheContract) {
  auto engine = std::make_shared<ScriptedEngine>();
  engine->behaviour = [](const DubRequestMetadata&, const AudioBuffer& input) {
    DubResult result;
    result.audio = input;  // ignores the requested duration
    return result;
  };
  use_engine(engine);
  auto reply = handler_->dub(dub_request(metadata(180).dump(), wav_bytes(sine_audio(16000, 1, 1600))));
  ASSERT_EQ(reply.status, 200);
  auto output = decode_wav_string(base64_decode(reply.body["audio_wav_base64"].get<std::string>()));
  EXPECT_EQ(output.frames(), 2880);
}

TEST_F(DubHandlerTest, EngineOutputInAnotherFormatIs500) {
  auto engine = std::make_shared<ScriptedEngine>();
  engine->behaviour = [](const DubRequestMetadata& request, const AudioBuffer&) {
    DubResult result;
    result.audio = sine_audio(22050, 1, frames_for_duration(request.duration_ms, 22050));
    return result;
  };
  use_engine(engine);
  expect_error(handler_->dub(dub_request(metadata(100).dump(), wav_bytes(sine_audio(16000, 1, 1600)))),
               500, "engine_error", "different format");
}

TEST_F(DubHandlerTest, RejectsLanguagePairsTheEngineLacks) {
  auto engine = std::make_shared<ScriptedEngine>();
  engine->caps.any_language_pair = false;
  engine->caps.pairs = {{"en", "es"}};
  engine->behaviour = [](const DubRequestMetadata& request, const AudioBuffer& input) {
    DubResult result;
    result.audio = input;
    fit_to_frames(result.audio.samples, 1, frames_for_duration(request.duration_ms, 16000));
    return result;
  };
  use_engine(engine);
  auto audio = wav_bytes(sine_audio(16000, 1, 1600));
  EXPECT_EQ(handler_->dub(dub_request(metadata(100).dump(), audio)).status, 200);
  auto french = metadata(100);
  french["target_lang"] = "fr";
  expect_error(handler_->dub(dub_request(french.dump(), audio)), 400, "unsupported_language_pair",
               "en -> fr");
}

TEST_F(DubHandlerTest, CountsOutcomesLatencyAndAudioSeconds) {
  auto audio = wav_bytes(sine_audio(16000, 1, 8000));  // 0.5 s
  EXPECT_EQ(metric_value(*registry_, "livedub_sts_requests_total", {{"outcome", "ok"}}), 0);
  handler_->dub(dub_request(metadata(500).dump(), audio));
  handler_->dub(dub_request(metadata(500).dump(), audio));
  handler_->dub(dub_request("[]", audio));
  handler_->reject(413, "payload_too_large", "too big");
  EXPECT_EQ(metric_value(*registry_, "livedub_sts_requests_total", {{"outcome", "ok"}}), 2);
  EXPECT_EQ(metric_value(*registry_, "livedub_sts_requests_total", {{"outcome", "invalid_metadata"}}), 1);
  EXPECT_EQ(metric_value(*registry_, "livedub_sts_requests_total", {{"outcome", "payload_too_large"}}), 1);
  EXPECT_EQ(metric_value(*registry_, "livedub_sts_fragment_processing_seconds"), 2);
  EXPECT_DOUBLE_EQ(metric_value(*registry_, "livedub_sts_audio_processed_seconds_total"), 1.0);
}

TEST_F(DubHandlerTest, RejectBuildsTheErrorBody) {
  auto reply = handler_->reject(413, "payload_too_large", "request body exceeds 10 bytes");
  expect_error(reply, 413, "payload_too_large", "exceeds 10 bytes");
}

TEST_F(DubHandlerTest, CapabilitiesDescribeModeEngineAndLimits) {
  auto reply = handler_->capabilities();
  ASSERT_EQ(reply.status, 200);
  auto& caps = reply.body;
  EXPECT_EQ(caps["api_version"], "v1");
  EXPECT_EQ(caps["mode"], "mock-passthrough");
  EXPECT_EQ(caps["engines"], nlohmann::json::array({"mock-passthrough"}));
  EXPECT_EQ(caps["languages"]["any_pair"], true);
  EXPECT_TRUE(caps["languages"]["pairs"].empty());
  EXPECT_EQ(caps["max_body_bytes"], config_.max_body_bytes);
  EXPECT_EQ(caps["max_duration_ms"], kMaxDurationMs);
  EXPECT_EQ(caps["audio"]["encoding"], "wav-pcm16");
  EXPECT_EQ(caps["audio"]["max_channels"], 8);
}

TEST_F(DubHandlerTest, CapabilitiesReportWhatRecentDubsCostPerSecondOfAudio) {
  EXPECT_EQ(handler_->capabilities().body["cost"], nlohmann::json({{"samples", 0}})) << "nothing timed yet";
  PassthroughEngine engine;
  const auto per_second = handler_->calibrate(engine);
  ASSERT_TRUE(per_second.has_value());
  auto cost = handler_->capabilities().body["cost"];
  EXPECT_EQ(cost["samples"], 1);
  EXPECT_GE(cost["p95_ms_per_audio_s"].get<double>(), 0.0);
  EXPECT_LT(cost["p95_ms_per_audio_s"].get<double>(), 1000.0) << "the mock answers at once";

  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(handler_->dub(dub_request(metadata(1000).dump(), wav_bytes(sine_audio(16000, 1, 16000)))).status, 200);
  }
  ASSERT_EQ(handler_->dub(dub_request(metadata(500).dump(), wav_bytes(sine_audio(16000, 1, 8000)))).status, 200);
  cost = handler_->capabilities().body["cost"];
  EXPECT_EQ(cost["samples"], 4) << "fragments under a second are not counted: " << cost;
  EXPECT_LE(cost["p50_ms_per_audio_s"].get<double>(), cost["p95_ms_per_audio_s"].get<double>());
}

TEST(CostTracker, PercentilesOverTheMostRecentDubsOfASecondOrMore) {
  CostTracker costs(10);
  EXPECT_FALSE(costs.summary().has_value());
  costs.add(500, 5000);  // too short to count
  costs.add(2000, std::nan(""));
  EXPECT_FALSE(costs.summary().has_value());
  for (int i = 1; i <= 20; ++i) costs.add(2000, 100.0 * i);  // 50, 100, ... 1000 ms per audio second
  const auto summary = costs.summary();
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->samples, 10u) << "only the last 10";
  EXPECT_DOUBLE_EQ(summary->p50_ms_per_audio_s, 750.0);  // 550..1000: the 5th of 10
  EXPECT_DOUBLE_EQ(summary->p95_ms_per_audio_s, 1000.0);
  EXPECT_DOUBLE_EQ(summary->p95_total_ms, 2000.0);
}

}  // namespace
}  // namespace livedub::sts

namespace livedub::sts {
namespace {

// Recognises "hello world" (counting recognitions), "translates" to "<lang>: hello world" and
// speaks a tone; fails for target language "xx". A language in `slow` takes that long first,
// as a TTS that does not stop at the deadline (only checked between stages).
class MultilingualEngine final : public DubbingEngine {
 public:
  std::atomic<int> recognitions{0};
  std::map<std::string, std::chrono::milliseconds> slow;
  using DubbingEngine::dub;
  DubResult dub(const DubRequestMetadata& request, const AudioBuffer& input, const DubContext& context) override {
    if (request.target_lang == "xx") throw std::runtime_error("no voice for xx");
    if (auto it = slow.find(request.target_lang); it != slow.end()) std::this_thread::sleep_for(it->second);
    check_deadline(context, "tts");
    DubResult result;
    if (context.known_transcript) {
      result.transcript = *context.known_transcript;
    } else {
      ++recognitions;
      result.transcript = "hello world";
    }
    result.translation = request.target_lang + ": " + result.transcript;
    result.audio = input;
    result.voice = request.voice;
    result.speech_begin = 0;
    result.speech_end = input.frames() / (request.target_lang == "ca" ? 2 : 1);
    return result;
  }
  std::string name() const override { return "multilingual"; }
  EngineCapabilities capabilities() const override {
    EngineCapabilities c;
    c.any_language_pair = true;
    c.any_voice = true;
    return c;
  }
};

TEST(DubHandlerExtraTargets, OneRecognitionForEveryLanguageAndEachFailsAlone) {
  auto engine = std::make_shared<MultilingualEngine>();
  auto registry = std::make_shared<prometheus::Registry>();
  DubHandler handler(ServiceConfig{}, engine, *registry);
  auto meta = metadata(500);
  meta["extra_targets"] = {{{"target_lang", "ca"}}, {{"target_lang", "xx"}, {"voice", "default"}}};
  auto reply = handler.dub(dub_request(meta.dump(), wav_bytes(sine_audio(16000, 1, 8000))));
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  auto response = parse_response(reply.body.dump());
  EXPECT_EQ(engine->recognitions.load(), 1);
  EXPECT_EQ(response.translation, "es: hello world");
  ASSERT_EQ(response.extra.size(), 2u);
  EXPECT_EQ(response.extra[0].target_lang, "ca");
  EXPECT_EQ(response.extra[0].translation, "ca: hello world");
  EXPECT_TRUE(response.extra[0].error_code.empty());
  EXPECT_NEAR(response.extra[0].speech_end_ms, 250, 1);  // its own placement, not the first language's
  EXPECT_EQ(decode_wav_string(base64_decode(response.extra[0].audio_wav_base64)).frames(), 8000);
  EXPECT_EQ(response.extra[1].target_lang, "xx");
  EXPECT_EQ(response.extra[1].error_code, "engine_error");
  EXPECT_THAT(response.extra[1].error, HasSubstr("no voice for xx"));
  EXPECT_TRUE(response.extra[1].audio_wav_base64.empty());
}

// Before: the whole request answered 504 and the first language fell back with the rest.
TEST(DubHandlerExtraTargets, ALateFurtherLanguageDoesNotCostTheFirstItsDub) {
  auto engine = std::make_shared<MultilingualEngine>();
  engine->slow["ca"] = std::chrono::milliseconds(1500);
  auto registry = std::make_shared<prometheus::Registry>();
  DubHandler handler(ServiceConfig{}, engine, *registry);
  auto meta = metadata(500);
  meta["deadline_ms"] = 600;
  meta["extra_targets"] = {{{"target_lang", "fr"}}, {{"target_lang", "ca"}}, {{"target_lang", "it"}}};
  const auto started = std::chrono::steady_clock::now();
  auto reply = handler.dub(dub_request(meta.dump(), wav_bytes(sine_audio(16000, 1, 8000))));
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  EXPECT_LT(took, std::chrono::milliseconds(600)) << "answered after the client's deadline";
  auto response = parse_response(reply.body.dump());
  EXPECT_EQ(response.translation, "es: hello world");
  ASSERT_EQ(response.extra.size(), 3u);
  EXPECT_EQ(response.extra[0].target_lang, "fr");
  EXPECT_EQ(response.extra[0].translation, "fr: hello world");
  EXPECT_TRUE(response.extra[0].error_code.empty());
  for (std::size_t i : {1u, 2u}) {
    EXPECT_EQ(response.extra[i].error_code, "deadline_exceeded") << i;
    EXPECT_TRUE(response.extra[i].audio_wav_base64.empty()) << i;
  }
  EXPECT_EQ(response.extra[1].target_lang, "ca");
  EXPECT_EQ(response.extra[2].target_lang, "it");
}

TEST(DubHandlerExtraTargets, TheAnswerLeavesATenthOfTheBudgetAtMost200Ms) {
  using std::chrono::milliseconds;
  const std::chrono::steady_clock::time_point arrived{};
  EXPECT_EQ(extra_targets_answer_by(arrived, arrived + milliseconds(600)), arrived + milliseconds(540));
  EXPECT_EQ(extra_targets_answer_by(arrived, arrived + milliseconds(5000)), arrived + milliseconds(4800));
  EXPECT_EQ(extra_targets_answer_by(arrived, arrived), arrived);
}

TEST(DubHandlerExtraTargets, RequestsWithoutThemAnswerAsBefore) {
  auto engine = std::make_shared<MultilingualEngine>();
  auto registry = std::make_shared<prometheus::Registry>();
  DubHandler handler(ServiceConfig{}, engine, *registry);
  auto reply = handler.dub(dub_request(metadata(500).dump(), wav_bytes(sine_audio(16000, 1, 8000))));
  ASSERT_EQ(reply.status, 200);
  EXPECT_FALSE(reply.body.contains("extra"));
}

}  // namespace
}  // namespace livedub::sts
