// The streaming form of the STS API: a phrase's chunks while it is spoken, then its close.
#include "sts/phrase_streams.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sts/dub_handler.hpp"
#include "sts/mock_engines.hpp"
#include "test_audio.hpp"

namespace livedub::sts {
namespace {

using ::testing::HasSubstr;
using Clock = PhraseStreams::Clock;

// A recogniser that hears one word per 100 ms fed, named after its index.
struct FakeRecognition final : PhraseRecognition {
  std::vector<std::int16_t>* fed;
  int* finished_until;
  bool fail_on_feed = false;
  FakeRecognition(std::vector<std::int16_t>* fed_to, int* finish_to) : fed(fed_to), finished_until(finish_to) {}
  void feed(std::span<const std::int16_t> mono, int) override {
    if (fail_on_feed) throw std::runtime_error("decoder broke");
    fed->insert(fed->end(), mono.begin(), mono.end());
  }
  std::vector<HeardWord> heard() override {
    std::vector<HeardWord> words;
    const auto ms = static_cast<std::int64_t>(fed->size()) / 16;  // 16 kHz
    for (std::int64_t at = 0; at + 100 <= ms; at += 100) {
      std::string word = "w";
      word += std::to_string(at / 100);  // (not "w" + ...: GCC 12's -Wrestrict false positive)
      words.push_back({word, at, at + 80});
    }
    return words;
  }
  std::string finish(std::int64_t until_ms) override {
    *finished_until = static_cast<int>(until_ms);
    return "streamed words";
  }
};

std::vector<std::int16_t> ramp(std::size_t n, int from = 0) {
  std::vector<std::int16_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::int16_t>((from + static_cast<int>(i)) % 30000 - 15000);
  return out;
}

class PhraseStreamsTest : public ::testing::Test {
 protected:
  PhraseStreams::RecognitionFactory factory(bool fail = false) {
    return [this, fail] {
      auto recognition = std::make_unique<FakeRecognition>(&fed_, &finished_until_);
      recognition->fail_on_feed = fail;
      return recognition;
    };
  }
  std::vector<std::int16_t> fed_;
  int finished_until_ = -1;
  const AudioFormat mono16k_{16000, 1};
  const Clock::time_point t0_ = Clock::now();
};

TEST_F(PhraseStreamsTest, ChunksInOrderAreKeptAndFedAsTheyArrive) {
  PhraseStreams streams;
  const auto a = ramp(1600), b = ramp(3200, 1600);
  auto first = streams.add_chunk("s", 4, 0, mono16k_, a, factory(), t0_);
  EXPECT_EQ(first.status, ChunkStatus::accepted);
  EXPECT_EQ(first.expected_chunk, 1);
  EXPECT_TRUE(first.recognising);
  EXPECT_EQ(first.heard.size(), 1u);  // 100 ms fed: one word
  auto second = streams.add_chunk("s", 4, 1, mono16k_, b, factory(), t0_);
  EXPECT_EQ(second.status, ChunkStatus::accepted);
  EXPECT_DOUBLE_EQ(second.received_ms, 300.0);
  EXPECT_EQ(second.heard.size(), 3u);
  EXPECT_EQ(fed_.size(), 4800u);  // fed before the close, not at it
  auto closed = streams.take("s", 4, t0_);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->chunks, 2);
  auto whole = a;
  whole.insert(whole.end(), b.begin(), b.end());
  EXPECT_EQ(closed->audio.samples, whole);
  ASSERT_NE(closed->recognition, nullptr);
  EXPECT_FALSE(streams.take("s", 4, t0_));  // closed once
  EXPECT_EQ(streams.open_count(), 0u);
}

TEST_F(PhraseStreamsTest, ARepeatedChunkIsIgnoredAndAGapIsRefused) {
  PhraseStreams streams;
  const auto a = ramp(800);
  ASSERT_EQ(streams.add_chunk("s", 1, 0, mono16k_, a, factory(), t0_).status, ChunkStatus::accepted);
  auto again = streams.add_chunk("s", 1, 0, mono16k_, a, factory(), t0_);
  EXPECT_EQ(again.status, ChunkStatus::duplicate);
  EXPECT_EQ(again.expected_chunk, 1);
  auto gap = streams.add_chunk("s", 1, 2, mono16k_, a, factory(), t0_);
  EXPECT_EQ(gap.status, ChunkStatus::out_of_order);
  EXPECT_EQ(gap.expected_chunk, 1);
  // A phrase must start at chunk 0 (its first chunks lost, or it was forgotten).
  auto late = streams.add_chunk("s", 2, 3, mono16k_, a, factory(), t0_);
  EXPECT_EQ(late.status, ChunkStatus::out_of_order);
  EXPECT_EQ(late.expected_chunk, 0);
  EXPECT_EQ(streams.take("s", 1, t0_)->audio.frames(), 800);  // neither the repeat nor the gap got in
}

TEST_F(PhraseStreamsTest, AnOversizedPhraseIsDroppedWhole) {
  PhraseStreams streams(PhraseLimits{8, 1000.0, std::chrono::seconds(30)});
  ASSERT_EQ(streams.add_chunk("s", 1, 0, mono16k_, ramp(12000), factory(), t0_).status, ChunkStatus::accepted);
  EXPECT_EQ(streams.add_chunk("s", 1, 1, mono16k_, ramp(8000), factory(), t0_).status, ChunkStatus::too_long);
  EXPECT_FALSE(streams.take("s", 1, t0_));
  EXPECT_EQ(streams.open_count(), 0u);
}

TEST_F(PhraseStreamsTest, AnotherFormatMidPhraseIsRefused) {
  PhraseStreams streams;
  ASSERT_EQ(streams.add_chunk("s", 1, 0, mono16k_, ramp(800), factory(), t0_).status, ChunkStatus::accepted);
  EXPECT_EQ(streams.add_chunk("s", 1, 1, AudioFormat{48000, 1}, ramp(800), factory(), t0_).status,
            ChunkStatus::format_mismatch);
}

TEST_F(PhraseStreamsTest, OpenPhrasesAreBounded) {
  PhraseStreams streams(PhraseLimits{2, 60'000.0, std::chrono::seconds(30)});
  EXPECT_EQ(streams.add_chunk("a", 1, 0, mono16k_, ramp(10), {}, t0_).status, ChunkStatus::accepted);
  EXPECT_EQ(streams.add_chunk("b", 1, 0, mono16k_, ramp(10), {}, t0_).status, ChunkStatus::accepted);
  EXPECT_EQ(streams.add_chunk("c", 1, 0, mono16k_, ramp(10), {}, t0_).status, ChunkStatus::too_many_open);
  EXPECT_TRUE(streams.abandon("a", 1));
  EXPECT_FALSE(streams.abandon("a", 1));
  EXPECT_EQ(streams.add_chunk("c", 1, 0, mono16k_, ramp(10), {}, t0_).status, ChunkStatus::accepted);
}

TEST_F(PhraseStreamsTest, APhraseWhoseClientWentAwayIsForgotten) {
  PhraseStreams streams(PhraseLimits{8, 60'000.0, std::chrono::seconds(30)});
  ASSERT_EQ(streams.add_chunk("s", 1, 0, mono16k_, ramp(800), factory(), t0_).status, ChunkStatus::accepted);
  ASSERT_EQ(streams.add_chunk("s", 2, 0, mono16k_, ramp(800), factory(), t0_ + std::chrono::seconds(20)).status,
            ChunkStatus::accepted);
  EXPECT_EQ(streams.expire(t0_ + std::chrono::seconds(31)), 1u);  // phrase 1 idle 31 s; phrase 2 only 11 s
  EXPECT_FALSE(streams.take("s", 1, t0_ + std::chrono::seconds(31)));
  EXPECT_TRUE(streams.take("s", 2, t0_ + std::chrono::seconds(31)));
  // A close arriving after the timeout, before any expiry ran, finds nothing either.
  ASSERT_EQ(streams.add_chunk("s", 3, 0, mono16k_, ramp(800), factory(), t0_).status, ChunkStatus::accepted);
  EXPECT_FALSE(streams.take("s", 3, t0_ + std::chrono::seconds(40)));
}

TEST_F(PhraseStreamsTest, ARecogniserThatFailsLeavesTheAudioForTheClose) {
  PhraseStreams streams;
  auto outcome = streams.add_chunk("s", 1, 0, mono16k_, ramp(800), factory(/*fail=*/true), t0_);
  EXPECT_EQ(outcome.status, ChunkStatus::accepted);
  EXPECT_FALSE(outcome.recognising);
  EXPECT_THAT(outcome.recognition_error, HasSubstr("decoder broke"));
  auto closed = streams.take("s", 1, t0_);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->audio.frames(), 800);
  EXPECT_EQ(closed->recognition, nullptr);
}

// --- the HTTP handler's side ---

// Passthrough audio; records whether it was handed a streamed transcript.
class StreamingEngine final : public DubbingEngine {
 public:
  std::vector<std::int16_t> fed;
  int finished_until = -1;
  std::optional<std::string> known_transcript;
  bool streams = true;

  using DubbingEngine::dub;
  DubResult dub(const DubRequestMetadata& request, const AudioBuffer& input, const DubContext& context) override {
    known_transcript = context.known_transcript;
    DubResult result;
    result.audio = input;
    fit_to_frames(result.audio.samples, input.format.channels, frames_for_duration(request.duration_ms, input.format.sample_rate));
    result.transcript = context.known_transcript.value_or("recognised whole");
    return result;
  }
  std::string name() const override { return "streaming-test"; }
  EngineCapabilities capabilities() const override {
    EngineCapabilities c;
    c.any_language_pair = true;
    c.any_voice = true;
    return c;
  }
  std::unique_ptr<PhraseRecognition> begin_phrase(const std::string&) override {
    if (!streams) return nullptr;
    return std::make_unique<FakeRecognition>(&fed, &finished_until);
  }
};

std::string l16(const std::vector<std::int16_t>& samples) {
  std::string body;
  for (const auto s : samples) {
    const auto v = static_cast<std::uint16_t>(s);
    body.push_back(static_cast<char>(v >> 8));
    body.push_back(static_cast<char>(v & 0xff));
  }
  return body;
}

DubHttpRequest close_request(double duration_ms, std::int64_t sequence = 7, const std::string& audio = "") {
  DubHttpRequest request;
  request.content_type = "multipart/form-data; boundary=x";
  const nlohmann::json metadata = {{"stream_id", "demo"}, {"sequence", sequence}, {"source_lang", "en"},
                                   {"target_lang", "es"}, {"voice", "default"}, {"duration_ms", duration_ms}};
  request.parts.push_back(FormPart{"metadata", "application/json", "", metadata.dump()});
  if (!audio.empty()) request.parts.push_back(FormPart{"audio", "audio/wav", "f.wav", audio});
  return request;
}

class StreamingHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override { handler_ = std::make_unique<DubHandler>(ServiceConfig{}, engine_, registry_); }
  HandlerReply chunk(int n, const std::vector<std::int16_t>& samples, const std::string& type = kType) {
    return handler_->phrase_chunk("demo", "7", std::to_string(n), type, "en-US", l16(samples));
  }
  static constexpr const char* kType = "audio/L16; rate=16000; channels=1";
  std::shared_ptr<StreamingEngine> engine_ = std::make_shared<StreamingEngine>();
  prometheus::Registry registry_;
  std::unique_ptr<DubHandler> handler_;
};

TEST_F(StreamingHandlerTest, ChunksThenCloseDubWhatWasRecognisedWhileItArrived) {
  const auto a = ramp(3200), b = ramp(1600, 3200);
  auto first = chunk(0, a);
  ASSERT_EQ(first.status, 200) << first.body.dump();
  EXPECT_EQ(first.body["next_chunk"], 1);
  EXPECT_EQ(first.body["recognising"], true);
  EXPECT_EQ(first.body["words"].size(), 2u);
  EXPECT_EQ(first.body["words"][1]["start_ms"], 100);
  ASSERT_EQ(chunk(1, b).status, 200);
  EXPECT_EQ(engine_->fed.size(), 4800u);  // big-endian samples decoded as sent
  EXPECT_EQ(std::vector<std::int16_t>(engine_->fed.begin(), engine_->fed.begin() + 3200), a);

  // The fragment ended 250 ms in: audio streamed past it is the next fragment's.
  auto reply = handler_->close_phrase("demo", "7", 2, close_request(250));
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  const auto response = parse_response(reply.body.dump());
  EXPECT_EQ(response.transcript, "streamed words");
  EXPECT_EQ(engine_->known_transcript, "streamed words");
  EXPECT_EQ(engine_->finished_until, 250);
  const auto audio = fixtures::decode_wav_string(base64_decode(response.audio_wav_base64));
  EXPECT_EQ(audio.frames(), 4000);
  EXPECT_EQ(std::vector<std::int16_t>(audio.samples.begin(), audio.samples.begin() + 3200), a);
  // Closed: its chunks and its close are gone.
  EXPECT_EQ(handler_->close_phrase("demo", "7", 2, close_request(250)).status, 404);
  // The streamed close is what /v1/capabilities reports as the cost left after a phrase.
  EXPECT_EQ(handler_->capabilities().body["streamed_cost"]["samples"], 0);  // 250 ms: too short to count
}

TEST_F(StreamingHandlerTest, AClosedPhraseWithChunksMissingIsRefusedAndForgotten) {
  ASSERT_EQ(chunk(0, ramp(1600)).status, 200);
  auto reply = handler_->close_phrase("demo", "7", 3, close_request(100));
  EXPECT_EQ(reply.status, 409);
  EXPECT_EQ(reply.body["error"]["code"], "incomplete_phrase");
  EXPECT_EQ(handler_->open_phrases(), 0u);
}

TEST_F(StreamingHandlerTest, ACloseWithItsAudioNeedsNoChunks) {
  // What a client does when its chunks could not all be sent (or the service restarted).
  const auto audio = fixtures::sine_audio(16000, 1, 8000);
  auto reply = handler_->close_phrase("demo", "7", std::nullopt, close_request(500, 7, fixtures::wav_bytes(audio)));
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  EXPECT_EQ(reply.body["transcript"], "recognised whole");
  auto unknown = handler_->close_phrase("demo", "7", std::nullopt, close_request(500));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body["error"]["code"], "unknown_phrase");
  EXPECT_THAT(unknown.body["error"]["message"].get<std::string>(), HasSubstr("POST /v1/dub"));
}

TEST_F(StreamingHandlerTest, AnEngineWithoutStreamingRecognitionRecognisesAtTheClose) {
  engine_->streams = false;
  ASSERT_EQ(chunk(0, ramp(16000)).status, 200);
  auto reply = handler_->close_phrase("demo", "7", 1, close_request(1000));
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  EXPECT_EQ(reply.body["transcript"], "recognised whole");
  EXPECT_FALSE(engine_->known_transcript.has_value());
  EXPECT_EQ(handler_->capabilities().body["streamed_cost"]["samples"], 1);
}

TEST_F(StreamingHandlerTest, MalformedChunksAreRefusedNamingTheProblem) {
  auto odd = handler_->phrase_chunk("demo", "7", "0", kType, "en", std::string(3, 'x'));
  EXPECT_EQ(odd.status, 400);
  EXPECT_EQ(odd.body["error"]["code"], "truncated_chunk");
  auto wav = chunk(0, ramp(100), "audio/wav");
  EXPECT_EQ(wav.status, 415);
  EXPECT_THAT(wav.body["error"]["message"].get<std::string>(), HasSubstr("audio/L16"));
  EXPECT_EQ(chunk(0, ramp(100), "audio/L16; rate=100").status, 400);
  EXPECT_EQ(handler_->phrase_chunk("../x", "7", "0", kType, "en", l16(ramp(10))).status, 400);
  EXPECT_EQ(handler_->phrase_chunk("demo", "-1", "0", kType, "en", l16(ramp(10))).status, 400);
  EXPECT_EQ(handler_->phrase_chunk("demo", "7", "x", kType, "en", l16(ramp(10))).status, 400);
  ASSERT_EQ(chunk(0, ramp(100)).status, 200);
  auto gap = chunk(2, ramp(100));
  EXPECT_EQ(gap.status, 409);
  EXPECT_EQ(gap.body["error"]["code"], "out_of_order");
  auto repeat = chunk(0, ramp(100));
  EXPECT_EQ(repeat.status, 200);
  EXPECT_EQ(repeat.body["duplicate"], true);
  // The metadata must name the phrase of the path.
  auto mismatch = handler_->close_phrase("demo", "7", 1, close_request(5, 8));
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_EQ(mismatch.body["error"]["code"], "path_mismatch");
  EXPECT_EQ(handler_->abandon_phrase("demo", "7").status, 204);
  EXPECT_EQ(handler_->abandon_phrase("demo", "7").status, 404);
}

TEST_F(StreamingHandlerTest, AnOversizedPhraseIs413) {
  std::vector<std::int16_t> minute(16000 * 61, 1);
  auto reply = chunk(0, minute);
  EXPECT_EQ(reply.status, 413);
  EXPECT_EQ(reply.body["error"]["code"], "phrase_too_long");
}

TEST(PhraseStreamsMock, TheMockServesTheStreamingFormToo) {
  prometheus::Registry registry;
  DubHandler handler(ServiceConfig{}, std::make_shared<PassthroughEngine>(), registry);
  const auto samples = ramp(8000);
  ASSERT_EQ(handler.phrase_chunk("demo", "7", "0", "audio/L16;rate=16000;channels=1", "", l16(samples)).status, 200);
  auto reply = handler.close_phrase("demo", "7", 1, close_request(500));
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  const auto audio = fixtures::decode_wav_string(base64_decode(parse_response(reply.body.dump()).audio_wav_base64));
  EXPECT_EQ(audio.samples, samples);
}

}  // namespace
}  // namespace livedub::sts
