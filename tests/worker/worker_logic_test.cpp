#include <gtest/gtest.h>

#include <map>

#include "livedub/rtmp_url.hpp"
#include "fragment_scheduler.hpp"
#include "output_clock.hpp"
#include "publisher.hpp"
#include "sts_client.hpp"
#include "worker_config.hpp"

using namespace livedub;
using namespace livedub::worker;
using namespace std::chrono_literals;

namespace {
EnvConfig env_of(std::map<std::string, std::string> vars) {
  return EnvConfig(env_from_map(std::move(vars)));
}
std::map<std::string, std::string> minimal() {
  return {{"LIVEDUB_STREAM_ID", "demo"},
          {"LIVEDUB_INPUT_URL", "rtmp://127.0.0.1:1935/live/demo/in"},
          {"LIVEDUB_OUTPUT_URL", "rtmp://127.0.0.1:1935/live/demo/out"}};
}
std::string config_error_variable(std::map<std::string, std::string> vars) {
  try {
    (void)load_worker_config(env_of(vars));
  } catch (const ConfigError& e) {
    return e.variable();
  }
  return "";
}
}  // namespace

TEST(RtmpUrl, SplitsAfterTheFirstPathSegment) {
  auto ep = parse_rtmp_url("rtmp://127.0.0.1:19350/live/demo/in");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 19350);
  EXPECT_EQ(ep->application, "live");
  EXPECT_EQ(ep->stream, "demo/in");
  auto tls = parse_rtmp_url("rtmps://a.rtmp.example/app/key?x=1");
  ASSERT_TRUE(tls);
  EXPECT_EQ(tls->port, 443);
  EXPECT_EQ(tls->stream, "key?x=1");
}

TEST(RtmpUrl, RejectsWhatCannotBePublished) {
  EXPECT_FALSE(parse_rtmp_url("http://h/live/x"));
  EXPECT_FALSE(parse_rtmp_url("rtmp://h/live"));
  EXPECT_FALSE(parse_rtmp_url("rtmp://h:99999/live/x"));
  EXPECT_FALSE(parse_rtmp_url("rtmp://:1935/live/x"));
}

TEST(OutputClock, AddsOneConstantDelayToEveryTimestamp) {
  OutputClock clock(4500ms);
  const auto wall = OutputClock::Clock::time_point{} + 100s;
  clock.anchor(wall, 7'000'000'000);
  clock.anchor(wall + 5s, 0);  // ignored: the origin is fixed by the first buffer
  EXPECT_EQ(clock.relative_ns(9'000'000'000), 2'000'000'000);
  EXPECT_EQ(clock.due(0), wall + 4500ms);
  EXPECT_EQ(clock.due(2'000'000'000), wall + 6500ms);
}

TEST(WorkerConfig, DefaultsAreSane) {
  auto c = load_worker_config(env_of(minimal()));
  EXPECT_EQ(c.fragment, 2000ms);
  EXPECT_EQ(c.max_in_flight, 3u);
  EXPECT_EQ(c.vad, "silero");
  EXPECT_EQ(c.vad_stride, 2);
  EXPECT_EQ(c.segmenter.min_fragment, 1000ms);
  EXPECT_EQ(c.segmenter.max_fragment, 2500ms);
  EXPECT_EQ(c.output_delay, 5000ms) << "the longest fragment + 2.5 s for STS until the STS's cost is known";
  EXPECT_TRUE(c.sts_streaming);
  EXPECT_EQ(c.mix.mode, BedMode::reduce);
  EXPECT_EQ(c.mix.duck_db, -12.0);
  EXPECT_EQ(c.sts_urls, std::vector<std::string>{"http://127.0.0.1:8000"});
  EXPECT_EQ(c.sts_health_interval, 2000ms);
  EXPECT_EQ(c.sts_eject_after_failures, 2);
  EXPECT_FALSE(c.extra_output_url);
  EXPECT_EQ(c.aac_encoder, "avenc_aac");
}

TEST(WorkerConfig, SeveralStsEndpoints) {
  auto vars = minimal();
  vars["STS_SERVICE_URL"] = "http://pod-a:8000,http://pod-b:8000/";
  vars["LIVEDUB_STS_HEALTH_INTERVAL_MS"] = "500";
  vars["LIVEDUB_STS_EJECT_AFTER_FAILURES"] = "3";
  auto c = load_worker_config(env_of(vars));
  EXPECT_EQ(c.sts_urls, (std::vector<std::string>{"http://pod-a:8000", "http://pod-b:8000"}));
  EXPECT_EQ(c.sts_health_interval, 500ms);
  EXPECT_EQ(c.sts_eject_after_failures, 3);
  vars["STS_SERVICE_URL"] = "http://pod-a:8000,pod-b";
  EXPECT_EQ(config_error_variable(vars), "STS_SERVICE_URL");
  vars = minimal();
  vars["LIVEDUB_STS_EJECT_AFTER_FAILURES"] = "0";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_STS_EJECT_AFTER_FAILURES");
}

TEST(WorkerConfig, ErrorsNameTheVariable) {
  auto vars = minimal();
  vars.erase("LIVEDUB_STREAM_ID");
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_STREAM_ID");
  vars = minimal();
  vars["LIVEDUB_STREAM_ID"] = "../etc";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_STREAM_ID");
  vars = minimal();
  vars["LIVEDUB_OUTPUT_URL"] = "rtmp://host/onlyapp";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_OUTPUT_URL");
  vars = minimal();
  vars["LIVEDUB_FRAGMENT_MS"] = "500";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_FRAGMENT_MS");
  vars = minimal();
  vars["LIVEDUB_MAX_IN_FLIGHT"] = "many";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_MAX_IN_FLIGHT");
  vars = minimal();
  vars["LIVEDUB_FRAGMENT_MAX_MS"] = "4000";
  vars["LIVEDUB_OUTPUT_DELAY_MS"] = "4000";  // not enough time for STS
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_OUTPUT_DELAY_MS");
  vars = minimal();
  vars["STS_SERVICE_URL"] = "ftp://x";
  EXPECT_EQ(config_error_variable(vars), "STS_SERVICE_URL");
  vars = minimal();
  vars["LIVEDUB_EXTRA_OUTPUT_URL"] = "rtmp://a.rtmp.example";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_EXTRA_OUTPUT_URL");
  vars = minimal();
  vars["LIVEDUB_AAC_ENCODER"] = "fdkaacenc";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_AAC_ENCODER");
  vars["LIVEDUB_AAC_ENCODER"] = "voaacenc";
  EXPECT_EQ(load_worker_config(env_of(vars)).aac_encoder, "voaacenc");
}

TEST(WorkerConfig, DelayFollowsTheFragmentLengthByDefault) {
  auto vars = minimal();
  vars["LIVEDUB_FRAGMENT_MAX_MS"] = "3000";
  EXPECT_EQ(load_worker_config(env_of(vars)).output_delay, 5500ms);
  vars = minimal();
  vars["LIVEDUB_VAD"] = "off";
  vars["LIVEDUB_FRAGMENT_MS"] = "3000";
  EXPECT_EQ(load_worker_config(env_of(vars)).output_delay, 5500ms) << "fixed fragments: their length counts";
}

TEST(WorkerConfig, TheDelayIsPlannedOnTheStsCostUnlessItIsSet) {
  auto vars = minimal();
  auto c = load_worker_config(env_of(vars));
  EXPECT_FALSE(c.output_delay_from_env);
  EXPECT_EQ(c.longest_fragment, 2500ms);
  EXPECT_EQ(planned_output_delay(c, std::nullopt), 5000ms) << "no figure: the longest fragment + 2.5 s";
  EXPECT_EQ(planned_output_delay(c, PlannedStsCost{400.0, 50}), 2500ms + 1000ms + 500ms) << "2.5 s at 400 ms per second, + margin";
  EXPECT_EQ(planned_output_delay(c, PlannedStsCost{400.0, 1}), 2500ms + 2000ms + 500ms) << "one dub: counted double";
  EXPECT_EQ(planned_output_delay(c, PlannedStsCost{400.0, kTrustedCostSamples}), 4000ms);
  EXPECT_EQ(planned_output_delay(c, PlannedStsCost{0.0, 50}), 3000ms) << "a free STS: the fragment + margin";
  EXPECT_EQ(planned_output_delay(c, PlannedStsCost{10'000.0, 50}), 2500ms + 8000ms + 500ms) << "a slow STS: at most 8 s for it";
  EXPECT_EQ(planned_output_delay(c, PlannedStsCost{-1.0, 50}), 5000ms) << "nonsense is no figure";
  EXPECT_EQ(planned_output_delay(c, PlannedStsCost{400.0, 0}), 5000ms) << "no dub behind it is no figure";
  vars["LIVEDUB_VAD"] = "off";
  vars["LIVEDUB_FRAGMENT_MS"] = "2000";
  c = load_worker_config(env_of(vars));
  EXPECT_EQ(planned_output_delay(c, PlannedStsCost{5.0, 100}), 2510ms) << "the mock: 2 s fragments + 10 ms + margin";
  EXPECT_GE(planned_output_delay(c, PlannedStsCost{0.0, 100}), c.min_output_delay);
  vars["LIVEDUB_OUTPUT_DELAY_MS"] = "4500";
  c = load_worker_config(env_of(vars));
  EXPECT_TRUE(c.output_delay_from_env);
  EXPECT_EQ(c.output_delay, 4500ms);
}

TEST(StsCost, ReadFromTheCapabilitiesWithTheReasonWhenAbsent) {
  const auto known = parse_sts_cost(R"({"cost":{"samples":3,"p95_ms_per_audio_s":412.0}})");
  EXPECT_EQ(known.p95_ms_per_audio_s, 412.0);
  EXPECT_EQ(known.samples, 3);
  const auto none = parse_sts_cost(R"({"cost":{"samples":0}})");
  EXPECT_FALSE(none.p95_ms_per_audio_s.has_value());
  EXPECT_NE(none.why_not.find("no dub yet"), std::string::npos) << none.why_not;
  EXPECT_NE(parse_sts_cost(R"({"api_version":"v1"})").why_not.find("older version"), std::string::npos);
  EXPECT_NE(parse_sts_cost(R"({"cost":{"samples":2,"p95_ms_per_audio_s":"fast"}})").why_not.find("unusable"), std::string::npos);
  EXPECT_NE(parse_sts_cost(R"({"cost":{"samples":2,"p95_ms_per_audio_s":-3}})").why_not.find("unusable"), std::string::npos);
  EXPECT_NE(parse_sts_cost("<html>").why_not.find("not JSON"), std::string::npos);
  EXPECT_NE(parse_sts_cost("[1,2]").why_not.find("no cost"), std::string::npos);
  // A worker that streams its phrases plans on what is left once a phrase ends, when timed.
  const std::string both = R"({"cost":{"samples":30,"p95_ms_per_audio_s":240},"streamed_cost":{"samples":4,"p95_ms_per_audio_s":60}})";
  EXPECT_EQ(parse_sts_cost(both, /*streamed=*/true).p95_ms_per_audio_s, 60.0);
  EXPECT_EQ(parse_sts_cost(both, /*streamed=*/true).samples, 4);
  EXPECT_EQ(parse_sts_cost(both).p95_ms_per_audio_s, 240.0);
  const std::string untimed = R"({"cost":{"samples":30,"p95_ms_per_audio_s":240},"streamed_cost":{"samples":0}})";
  EXPECT_EQ(parse_sts_cost(untimed, true).p95_ms_per_audio_s, 240.0) << "no streamed figure yet: the whole one";
}

TEST(WorkerConfig, SegmentationAndBedSettingsAreValidated) {
  auto vars = minimal();
  vars["LIVEDUB_FRAGMENT_MIN_MS"] = "3000";
  vars["LIVEDUB_FRAGMENT_MAX_MS"] = "2000";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_FRAGMENT_MAX_MS");
  vars = minimal();
  vars["LIVEDUB_FRAGMENT_MAX_MS"] = "6000";
  vars["LIVEDUB_OUTPUT_DELAY_MS"] = "5000";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_OUTPUT_DELAY_MS") << "the delay must cover the longest phrase";
  vars = minimal();
  vars["LIVEDUB_VAD"] = "webrtc";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_VAD");
  vars = minimal();
  vars["LIVEDUB_BED_MODE"] = "mute";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_BED_MODE");
  vars = minimal();
  vars["LIVEDUB_BED_MODE"] = "separator";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_BED_SEPARATOR_MODEL") << "a separator needs its model";
  vars["LIVEDUB_BED_SEPARATOR_MODEL"] = "/models/separator.onnx";
  vars["LIVEDUB_BED_SEPARATOR_RATE"] = "100";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_BED_SEPARATOR_RATE");
  vars = minimal();
  vars["LIVEDUB_BED_DUCK_DB"] = "6";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_BED_DUCK_DB");
  vars = minimal();
  vars["LIVEDUB_VAD_THRESHOLD"] = "1.5";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_VAD_THRESHOLD");
  vars = minimal();
  vars["LIVEDUB_VAD_STRIDE"] = "0";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_VAD_STRIDE");
  vars = minimal();
  vars["LIVEDUB_BED_MODE"] = "off";
  vars["LIVEDUB_BED_DUCK_DB"] = "-12";
  vars["LIVEDUB_SLOT_PAUSE_MS"] = "500";
  auto c = load_worker_config(env_of(vars));
  EXPECT_EQ(c.mix.mode, BedMode::off);
  EXPECT_EQ(c.mix.duck_db, -12.0);
  EXPECT_EQ(c.segmenter.slot_pause, 500ms);
}

TEST(ConformAudio, ConvertsRateChannelsAndLengthToTheFragment) {
  AudioBuffer stereo16k;
  stereo16k.format = {16000, 2};
  for (int i = 0; i < 16000; ++i) {
    stereo16k.samples.push_back(1000);
    stereo16k.samples.push_back(3000);
  }
  auto out = conform_audio(stereo16k, {48000, 1}, 48000);
  EXPECT_EQ(out.format, (AudioFormat{48000, 1}));
  EXPECT_EQ(out.frames(), 48000);
  EXPECT_EQ(out.samples[100], 2000);
  auto padded = conform_audio(stereo16k, {48000, 1}, 50000);
  EXPECT_EQ(padded.frames(), 50000);
  EXPECT_EQ(padded.samples.back(), 0);
}

TEST(FlvTags, RecognisesVideoKeyframes) {
  std::uint8_t key[12] = {9, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x17};
  std::uint8_t inter[12] = {9, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x27};
  std::uint8_t audio[12] = {8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xAF};
  EXPECT_TRUE(is_flv_video_keyframe_tag(key, sizeof key));
  EXPECT_FALSE(is_flv_video_keyframe_tag(inter, sizeof inter));
  EXPECT_TRUE(is_flv_video_tag(inter, sizeof inter));
  EXPECT_FALSE(is_flv_video_tag(audio, sizeof audio));
  EXPECT_FALSE(is_flv_video_tag(key, 5));
}

TEST(FlvTags, TimestampsShiftAcrossTheExtendedByte) {
  // Timestamp 0x00FFFFF0 (16777200 ms): bytes 4-6 hold the low 24 bits, byte 7 the high 8.
  std::uint8_t tag[12] = {9, 0, 0, 1, 0xFF, 0xFF, 0xF0, 0x00, 0, 0, 0, 0x17};
  ASSERT_TRUE(shift_flv_tag_timestamp(tag, sizeof tag, 0x20));
  EXPECT_EQ(tag[4], 0x00);
  EXPECT_EQ(tag[5], 0x00);
  EXPECT_EQ(tag[6], 0x10);
  EXPECT_EQ(tag[7], 0x01);  // 0x01000010
  EXPECT_EQ(tag[11], 0x17) << "the payload is untouched";
  EXPECT_FALSE(shift_flv_tag_timestamp(tag, 10, 1));
}

TEST(OutputClock, ReanchorsToTheFreshestArrivalUntilOutputStarts) {
  OutputClock clock(4500ms);
  const auto wall = OutputClock::Clock::time_point{} + 100s;
  clock.anchor(wall, 0);
  // A burst: media 0..600 ms all arrive at once; then live flow, 600 ms fresher than the anchor.
  EXPECT_EQ(clock.observe(wall, 600'000'000), 600ms);
  EXPECT_EQ(clock.due(0), wall - 600ms + 4500ms);
  EXPECT_EQ(clock.observe(wall + 1s, 100'000'000), 0ns) << "older media never moves it later";
  clock.lock();
  EXPECT_EQ(clock.observe(wall + 1s, 5'000'000'000), 0ns) << "fixed once output started";
  EXPECT_EQ(clock.due(0), wall - 600ms + 4500ms);
}

TEST(OutputClock, ReanchoringIsBoundedSoAFastInputCannotPullTheClockAlong) {
  OutputClock clock(4500ms, 2s);
  const auto wall = OutputClock::Clock::time_point{} + 100s;
  clock.anchor(wall, 0);
  EXPECT_EQ(clock.observe(wall, 10'000'000'000), 2s) << "a file delivering 10 s at once";
  EXPECT_EQ(clock.observe(wall, 20'000'000'000), 0ns);
  EXPECT_EQ(clock.due(0), wall - 2s + 4500ms);
  EXPECT_EQ(clock.real_time(3'000'000'000), wall + 3s) << "real time stays tied to the first arrival";
}

TEST(FragmentSchedulerDeadlines, MoveEarlierWithTheClock) {
  FragmentScheduler s(1);
  Fragment f;
  f.audio.format = {48000, 1};
  f.audio.samples.assign(10, 1);
  f.speech.push_back({0, 10});
  s.submit(f, TimePoint{} + 5s);
  s.advance_deadlines(600ms);
  EXPECT_EQ(s.next_deadline(), TimePoint{} + 4400ms);
}

TEST(WorkerConfig, TargetLanguagesNameTheirOutputs) {
  EXPECT_EQ(load_worker_config(env_of(minimal())).target_langs, std::vector<std::string>{"es"});
  auto vars = minimal();
  vars["LIVEDUB_TARGET_LANGS"] = "es,ca";
  vars["LIVEDUB_OUTPUT_URL"] = "rtmp://127.0.0.1:1935/live/demo/out?user=livedub-worker&pass=x";
  const auto c = load_worker_config(env_of(vars));
  EXPECT_EQ(c.target_langs, (std::vector<std::string>{"es", "ca"}));
  EXPECT_TRUE(c.rtmp_captions);
  for (const char* bad : {"es,es", "en", "es,,ca", "spanish", "es,ca,fr,it,de"}) {
    vars["LIVEDUB_TARGET_LANGS"] = bad;
    EXPECT_EQ(config_error_variable(vars), "LIVEDUB_TARGET_LANGS") << bad;
  }
  // Further languages publish next to the first one's output, so it must end in /out.
  vars["LIVEDUB_TARGET_LANGS"] = "es,ca";
  vars["LIVEDUB_OUTPUT_URL"] = "rtmp://127.0.0.1:1935/live/demo/dubbed";
  EXPECT_EQ(config_error_variable(vars), "LIVEDUB_OUTPUT_URL");
  vars["LIVEDUB_TARGET_LANGS"] = "es";
  EXPECT_EQ(config_error_variable(vars), "");
}

TEST(StsRequestBudget, TheTimeLeftCappedAtAMinuteAndNoneOnceTheDeadlineHasPassed) {
  const auto now = std::chrono::steady_clock::now();
  EXPECT_EQ(sts_request_budget(now + 1500ms, now), 1500ms);
  EXPECT_EQ(sts_request_budget(now + 1ms, now), 1ms);
  EXPECT_EQ(sts_request_budget(now + 5min, now), 60000ms);
  // Late: the fragment falls back without a request (a deadline_ms of 1 was sent before).
  EXPECT_EQ(sts_request_budget(now, now), std::nullopt);
  EXPECT_EQ(sts_request_budget(now + 900us, now), std::nullopt);
  EXPECT_EQ(sts_request_budget(now - 40ms, now), std::nullopt);
}
