#include "livedub/sts_protocol.hpp"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace livedub::sts {
namespace {

using ::testing::HasSubstr;

std::string metadata_error(const std::string& json_text) {
  try {
    parse_request_metadata(json_text);
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "<accepted>";
}

// Valid metadata with one field replaced (or removed when `value` is discarded JSON).
std::string metadata_with(const std::string& field, const nlohmann::json& value) {
  nlohmann::json j = {{"stream_id", "demo"}, {"sequence", 3},  {"source_lang", "en"},
                      {"target_lang", "es"}, {"voice", "default"}, {"duration_ms", 2000}};
  if (value.is_discarded()) {
    j.erase(field);
  } else {
    j[field] = value;
  }
  return j.dump();
}

const nlohmann::json kRemoved = nlohmann::json(nlohmann::json::value_t::discarded);

TEST(Base64, KnownVectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("M"), "TQ==");
  EXPECT_EQ(base64_encode("Ma"), "TWE=");
  EXPECT_EQ(base64_encode("Man"), "TWFu");
  EXPECT_EQ(base64_decode("TWFu"), "Man");
  EXPECT_EQ(base64_decode("TWE="), "Ma");
  EXPECT_EQ(base64_decode("TQ=="), "M");
  EXPECT_EQ(base64_encode("\xff\xfe\xfd"), "//79");
}

TEST(Base64, RoundTripsEveryByteAndLength) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t length = 0; length <= 10; ++length) {
    auto bytes = all.substr(256 - length);
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes) << length;
  }
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
}

TEST(Base64, RejectsInvalidInput) {
  EXPECT_THROW(base64_decode("TWF"), ProtocolError);       // length not a multiple of 4
  EXPECT_THROW(base64_decode("TW*u"), ProtocolError);      // outside the alphabet
  EXPECT_THROW(base64_decode("TW u"), ProtocolError);      // whitespace
  EXPECT_THROW(base64_decode("TQ==TWFu"), ProtocolError);  // padding in the middle
  EXPECT_THROW(base64_decode("=AAA"), ProtocolError);
  EXPECT_THROW(base64_decode("T=Fu"), ProtocolError);
  EXPECT_THROW(base64_decode("TW=u"), ProtocolError);
}

TEST(LanguageTags, Validation) {
  for (const char* good : {"en", "es", "pt-BR", "yue", "zh-Hant"}) EXPECT_TRUE(is_valid_language_tag(good)) << good;
  for (const char* bad : {"", "e", "EN", "english", "en-", "en_US", "-US", "en-US-x", "e1"})
    EXPECT_FALSE(is_valid_language_tag(bad)) << bad;
}

TEST(RequestMetadata, ParsesAllFields) {
  auto m = parse_request_metadata(
      R"({"stream_id":"demo_1","sequence":42,"source_lang":"en","target_lang":"pt-BR","voice":"alice.v2","duration_ms":1999.5})");
  EXPECT_EQ(m.stream_id, "demo_1");
  EXPECT_EQ(m.sequence, 42);
  EXPECT_EQ(m.source_lang, "en");
  EXPECT_EQ(m.target_lang, "pt-BR");
  EXPECT_EQ(m.voice, "alice.v2");
  EXPECT_DOUBLE_EQ(m.duration_ms, 1999.5);
}

TEST(RequestMetadata, OptionalFieldsDefault) {
  auto m = parse_request_metadata(R"({"stream_id":"s","sequence":0,"duration_ms":10,"voice":null})");
  EXPECT_EQ(m.source_lang, "en");
  EXPECT_EQ(m.target_lang, "es");
  EXPECT_EQ(m.voice, "default");
}

TEST(RequestMetadata, RoundTripsThroughToJson) {
  DubRequestMetadata m{"abc", 7, "fr", "de", "bob", 1234.5};
  auto parsed = parse_request_metadata(to_json(m).dump());
  EXPECT_EQ(parsed.stream_id, m.stream_id);
  EXPECT_EQ(parsed.sequence, m.sequence);
  EXPECT_EQ(parsed.source_lang, m.source_lang);
  EXPECT_EQ(parsed.target_lang, m.target_lang);
  EXPECT_EQ(parsed.voice, m.voice);
  EXPECT_DOUBLE_EQ(parsed.duration_ms, m.duration_ms);
}

TEST(RequestMetadata, MissingRequiredFieldsAreNamed) {
  for (const char* field : {"stream_id", "sequence", "duration_ms"}) {
    EXPECT_THAT(metadata_error(metadata_with(field, kRemoved)),
                HasSubstr(std::string("missing field '") + field + "'"));
  }
}

TEST(RequestMetadata, RejectsBadStreamIds) {
  for (const auto& bad : std::vector<std::string>{"../x", "a b", "", std::string(65, 'a'), "a/b"}) {
    EXPECT_THAT(metadata_error(metadata_with("stream_id", bad)), HasSubstr("'stream_id'")) << bad;
  }
  EXPECT_THAT(metadata_error(metadata_with("stream_id", 12)), HasSubstr("'stream_id'"));
}

TEST(RequestMetadata, RejectsBadLanguagesAndVoice) {
  EXPECT_THAT(metadata_error(metadata_with("source_lang", "EN")), HasSubstr("'source_lang'"));
  EXPECT_THAT(metadata_error(metadata_with("target_lang", "spanish")), HasSubstr("'target_lang'"));
  EXPECT_THAT(metadata_error(metadata_with("target_lang", 5)), HasSubstr("'target_lang'"));
  EXPECT_THAT(metadata_error(metadata_with("voice", "a b")), HasSubstr("'voice'"));
}

TEST(RequestMetadata, RejectsBadSequence) {
  EXPECT_THAT(metadata_error(metadata_with("sequence", -1)), HasSubstr("'sequence'"));
  EXPECT_THAT(metadata_error(metadata_with("sequence", 1.5)), HasSubstr("'sequence'"));
  EXPECT_THAT(metadata_error(metadata_with("sequence", "1")), HasSubstr("'sequence'"));
  EXPECT_THAT(metadata_error(metadata_with("sequence", 18446744073709551615ULL)),
              HasSubstr("'sequence'"));
}

TEST(RequestMetadata, RejectsBadDurations) {
  for (const nlohmann::json& bad : {nlohmann::json(0), nlohmann::json(-5), nlohmann::json(60000.5),
                                    nlohmann::json(1e300), nlohmann::json("100"), nlohmann::json(true),
                                    nlohmann::json(nullptr)}) {
    EXPECT_THAT(metadata_error(metadata_with("duration_ms", bad)), HasSubstr("'duration_ms'")) << bad;
  }
  EXPECT_NO_THROW(parse_request_metadata(metadata_with("duration_ms", kMaxDurationMs)));
  EXPECT_NO_THROW(parse_request_metadata(metadata_with("duration_ms", 0.001)));
}

TEST(RequestMetadata, RejectsNonObjects) {
  EXPECT_THAT(metadata_error("{"), HasSubstr("not valid JSON"));
  EXPECT_THAT(metadata_error(""), HasSubstr("not valid JSON"));
  EXPECT_THAT(metadata_error("[1,2]"), HasSubstr("JSON object"));
}

TEST(Response, RoundTripsThroughToJson) {
  DubResponse r;
  r.stream_id = "abc";
  r.sequence = 9;
  r.duration_ms = 500;
  r.sample_rate = 48000;
  r.channels = 2;
  r.audio_wav_base64 = "UklGRg==";
  r.transcript = "hello";
  r.translation = "hola";
  r.voice = "default";
  r.engine = "mock-tone";
  r.tts_engine = "pico es-ES_zl0";
  r.stretch_ratio = 1.25;
  r.timings_ms = {{"total", 12.5}, {"asr", 1}};
  auto parsed = parse_response(to_json(r).dump());
  EXPECT_EQ(parsed.stream_id, r.stream_id);
  EXPECT_EQ(parsed.sequence, r.sequence);
  EXPECT_EQ(parsed.sample_rate, r.sample_rate);
  EXPECT_EQ(parsed.channels, r.channels);
  EXPECT_EQ(parsed.audio_wav_base64, r.audio_wav_base64);
  EXPECT_EQ(parsed.transcript, r.transcript);
  EXPECT_EQ(parsed.translation, r.translation);
  EXPECT_EQ(parsed.engine, r.engine);
  EXPECT_EQ(parsed.tts_engine, r.tts_engine);
  EXPECT_DOUBLE_EQ(parsed.stretch_ratio, r.stretch_ratio);
  EXPECT_EQ(parsed.timings_ms, r.timings_ms);
}

TEST(RequestMetadata, SpeechSpansAndSlotRoundTripAndAreValidated) {
  DubRequestMetadata m("abc", 7, "en", "es", "default", 4000);
  m.speech = {{180, 1400}, {1700, 2900}};
  m.slot_end_ms = 3600;
  const auto parsed = parse_request_metadata(to_json(m).dump());
  EXPECT_EQ(parsed.speech, m.speech);
  ASSERT_TRUE(parsed.slot_end_ms.has_value());
  EXPECT_DOUBLE_EQ(*parsed.slot_end_ms, 3600);
  const auto without = parse_request_metadata(R"({"stream_id":"a","sequence":1,"duration_ms":2000})");
  EXPECT_TRUE(without.speech.empty()) << "v1 requests stay valid";
  EXPECT_FALSE(without.slot_end_ms.has_value());

  const std::string base = R"({"stream_id":"a","sequence":1,"duration_ms":2000,)";
  for (const char* bad : {R"("speech":[{"start_ms":500,"end_ms":400}]})",           // backwards
                          R"("speech":[{"start_ms":0,"end_ms":900},{"start_ms":800,"end_ms":1000}]})",  // overlap
                          R"("speech":[{"start_ms":0,"end_ms":2500}]})",            // past the fragment
                          R"("speech":[{"start_ms":-1,"end_ms":10}]})",             // before it
                          R"("speech":{"start_ms":0,"end_ms":10}})",                // not an array
                          R"("speech":[[0,10]]})"}) {
    EXPECT_THAT(metadata_error(base + bad), HasSubstr("'speech'")) << bad;
  }
  EXPECT_THAT(metadata_error(base + R"("speech":[{"start_ms":0}]})"), HasSubstr("'end_ms'"));
  std::string many = base + R"("speech":[)";
  for (int i = 0; i < 65; ++i) {
    // Appended piece by piece: GCC 12 misreports chained string + under -O3 (-Wrestrict).
    if (i > 0) many += ',';
    many += R"({"start_ms":)";
    many += std::to_string(i * 10);
    many += R"(,"end_ms":)";
    many += std::to_string(i * 10 + 5);
    many += '}';
  }
  EXPECT_THAT(metadata_error(many + "]}"), HasSubstr("more than 64"));
  EXPECT_THAT(metadata_error(base + R"("slot_end_ms":2500})"), HasSubstr("'slot_end_ms'"));
  EXPECT_THAT(metadata_error(base + R"("speech":[{"start_ms":500,"end_ms":900}],"slot_end_ms":400})"), HasSubstr("'slot_end_ms'"));
}

TEST(Response, CarriesWhereTheDubbedSpeechSits) {
  DubResponse r;
  r.stream_id = "abc";
  r.duration_ms = 2000;
  r.sample_rate = 48000;
  r.channels = 1;
  r.speech_start_ms = 180;
  r.speech_end_ms = 1650;
  auto parsed = parse_response(to_json(r).dump());
  EXPECT_DOUBLE_EQ(parsed.speech_start_ms, 180);
  EXPECT_DOUBLE_EQ(parsed.speech_end_ms, 1650);
  r.speech_end_ms = 100;  // before its start
  EXPECT_THROW(parse_response(to_json(r).dump()), ProtocolError);
}

TEST(Response, MissingFieldsAreNamed) {
  try {
    parse_response(R"({"stream_id":"a","sequence":1,"duration_ms":1,"sample_rate":8000})");
    FAIL() << "accepted a response without channels";
  } catch (const ProtocolError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'channels'"));
  }
}

}  // namespace
}  // namespace livedub::sts

namespace livedub::sts {
namespace {

TEST(RequestMetadata, ExtraTargetsRoundTripAndAreValidated) {
  DubRequestMetadata m("s1", 3, "en", "es", "default", 1000);
  m.extra_targets = {{"ca", "default"}, {"pt-BR", "alice"}};
  auto parsed = parse_request_metadata(to_json(m).dump());
  EXPECT_EQ(parsed.extra_targets, m.extra_targets);
  auto with = [](nlohmann::json extra) {
    nlohmann::json j = {{"stream_id", "s"}, {"sequence", 1}, {"target_lang", "es"}, {"duration_ms", 100},
                        {"extra_targets", std::move(extra)}};
    try {
      parse_request_metadata(j.dump());
    } catch (const ProtocolError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(with(nlohmann::json::array({{{"target_lang", "ca"}}})), "");
  EXPECT_THAT(with("ca"), HasSubstr("'extra_targets'"));
  EXPECT_THAT(with(nlohmann::json::array({{{"target_lang", "es"}}})), HasSubstr("repeats target language 'es'"));
  EXPECT_THAT(with(nlohmann::json::array({{{"target_lang", "ca"}}, {{"target_lang", "ca"}}})), HasSubstr("repeats"));
  EXPECT_THAT(with(nlohmann::json::array({{{"target_lang", "Catalan"}}})), HasSubstr("target_lang"));
  EXPECT_THAT(with(nlohmann::json::array({{{"target_lang", "ca"}, {"voice", "a b"}}})), HasSubstr("voice"));
  EXPECT_THAT(with(nlohmann::json::array({{{"target_lang", "ca"}}, {{"target_lang", "fr"}}, {{"target_lang", "it"}},
                                          {{"target_lang", "de"}}})),
              HasSubstr("more than 3"));
}

TEST(Response, ExtraDubsRoundTripWithPerLanguageErrors) {
  DubResponse r;
  r.stream_id = "s";
  r.duration_ms = 1000;
  r.sample_rate = 16000;
  r.channels = 1;
  r.audio_wav_base64 = "AAAA";
  ExtraDub ok;
  ok.target_lang = "ca";
  ok.audio_wav_base64 = "BBBB";
  ok.translation = "bon dia";
  ok.speech_start_ms = 10;
  ok.speech_end_ms = 900;
  ExtraDub failed;
  failed.target_lang = "fr";
  failed.error_code = "engine_error";
  failed.error = "no voice";
  r.extra = {ok, failed};
  auto parsed = parse_response(to_json(r).dump());
  ASSERT_EQ(parsed.extra.size(), 2u);
  EXPECT_EQ(parsed.extra[0].translation, "bon dia");
  EXPECT_EQ(parsed.extra[0].audio_wav_base64, "BBBB");
  EXPECT_DOUBLE_EQ(parsed.extra[0].speech_end_ms, 900);
  EXPECT_EQ(parsed.extra[1].error_code, "engine_error");
  EXPECT_EQ(parsed.extra[1].error, "no voice");
  auto j = to_json(r);
  j["extra"][0]["speech_end_ms"] = 5000;  // past the fragment
  EXPECT_THROW(parse_response(j.dump()), ProtocolError);
}

}  // namespace
}  // namespace livedub::sts
