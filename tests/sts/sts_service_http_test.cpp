// Starts the real sts-service binary and talks HTTP to it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <future>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "command.hpp"
#include "livedub/http_client.hpp"
#include "livedub/process.hpp"
#include "livedub/sts_protocol.hpp"
#include "sts/whisper_model_file.hpp"
#include "test_audio.hpp"

namespace livedub::sts {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;
using fixtures::decode_wav_string;
using fixtures::sine_audio;
using fixtures::wav_bytes;

constexpr auto kTimeout = std::chrono::milliseconds(10'000);

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One sts-service child on 127.0.0.1 with an OS-chosen port, found through LIVEDUB_STS_PORT_FILE.
class StsServiceProcess {
 public:
  // `fd_limit` > 0: the service starts under `ulimit -n fd_limit` (soft and hard).
  explicit StsServiceProcess(std::map<std::string, std::string> env = {}, int fd_limit = 0) {
    static std::atomic<int> instance{0};
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("sts-service-test-" + std::to_string(getpid()) + "-" + std::to_string(instance++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    // Every variable is pinned so the caller's shell environment cannot leak in; empty = default.
    std::map<std::string, std::string> pinned = {
        {"LIVEDUB_STS_HOST", "127.0.0.1"},       {"LIVEDUB_STS_PORT", "0"},
        {"LIVEDUB_STS_PORT_FILE", port_file()},  {"LIVEDUB_STS_MODE", ""},
        {"LIVEDUB_STS_MOCK_DELAY_MS", ""},       {"LIVEDUB_STS_MOCK_TONE_HZ", ""},
        {"LIVEDUB_STS_MAX_BODY_BYTES", ""},      {"LIVEDUB_LOG_LEVEL", "debug"},
        {"LIVEDUB_LOG_FORMAT", "json"},          {"LIVEDUB_STS_WORKERS", ""},
        {"LIVEDUB_STS_QUEUE_SIZE", ""},          {"LIVEDUB_STS_DEADLINE_MS", ""},
        {"LIVEDUB_STS_TOKEN", ""},               {"LIVEDUB_STS_SESSION_TTL_S", ""},
        {"LIVEDUB_STS_ASR_MODEL_DIR", ""},       {"LIVEDUB_STS_APERTIUM_MODES_DIR", ""},
        {"LIVEDUB_STS_STRETCH_MIN_RATIO", ""},   {"LIVEDUB_STS_STRETCH_MAX_RATIO", ""},
        {"LIVEDUB_STS_ASR_ENGINE", ""},          {"LIVEDUB_STS_MODEL_DIR", ""},
        {"LIVEDUB_STS_WHISPER_MODEL", ""},       {"LIVEDUB_STS_WHISPER_DEVICE", ""},
        {"LIVEDUB_STS_WHISPER_THREADS", ""},     {"LIVEDUB_STS_WHISPER_FIT_CONTEXT", ""},
        {"LIVEDUB_STS_ALLOW_UNAUTHENTICATED", ""},      {"LIVEDUB_STS_DRAIN_MS", ""}};
    for (auto& [name, value] : env) pinned[name] = value;
    std::vector<std::string> argv{STS_SERVICE_BIN};
    if (fd_limit > 0) argv = {"/bin/bash", "-c", "ulimit -n " + std::to_string(fd_limit) + " && exec \"$0\"", STS_SERVICE_BIN};
    child_.emplace(ChildProcess::Options{argv, pinned, log_file()});
  }

  ~StsServiceProcess() {
    child_.reset();  // SIGTERM, then wait
    // Sanitizer builds: a report in the child must fail the test that ran it.
    const auto text = log();
    EXPECT_EQ(text.find("Sanitizer"), std::string::npos) << text;
    EXPECT_EQ(text.find("runtime error:"), std::string::npos) << text;
    if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir_);  // else keep the log
  }
  StsServiceProcess(const StsServiceProcess&) = delete;
  StsServiceProcess& operator=(const StsServiceProcess&) = delete;

  // Waits for the port file; nullopt when the service exits first or does not start in time.
  std::optional<int> wait_until_listening() {
    const auto deadline = std::chrono::steady_clock::now() + 20s;  // sanitizer builds start slowly
    while (std::chrono::steady_clock::now() < deadline) {
      auto text = read_file(port_file());
      if (!text.empty() && text.back() == '\n') {
        port_ = std::stoi(text);
        return port_;
      }
      if (!child_->running()) return std::nullopt;
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }
  ChildProcess& child() { return *child_; }
  std::string log() const { return read_file(log_file()); }
  std::string port_file() const { return (dir_ / "port").string(); }
  std::string log_file() const { return (dir_ / "sts-service.log").string(); }

 private:
  std::filesystem::path dir_;
  std::optional<ChildProcess> child_;
  int port_ = 0;
};

std::unique_ptr<StsServiceProcess> start_service(std::map<std::string, std::string> env = {}, int fd_limit = 0) {
  auto service = std::make_unique<StsServiceProcess>(std::move(env), fd_limit);
  if (!service->wait_until_listening()) {
    ADD_FAILURE() << "sts-service did not start; log:\n" << service->log();
    return nullptr;
  }
  return service;
}

std::vector<MultipartPart> dub_parts(const std::string& metadata, const std::string& audio) {
  return {MultipartPart{"metadata", "application/json", "", metadata},
          MultipartPart{"audio", "audio/wav", "fragment.wav", audio}};
}

std::string metadata_json(double duration_ms, std::int64_t sequence = 1) {
  return to_json(DubRequestMetadata{"demo", sequence, "en", "es", "default", duration_ms}).dump();
}

// Checks a JSON error body and returns its message.
std::string expect_json_error(const HttpResponse& response, long status, const std::string& code) {
  EXPECT_EQ(response.status, status) << response.body;
  EXPECT_THAT(response.content_type, HasSubstr("application/json"));
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) {
    ADD_FAILURE() << "not a JSON error body: " << response.body;
    return "";
  }
  EXPECT_EQ(body["error"]["code"], code) << response.body;
  return body["error"]["message"].get<std::string>();
}

// Sends raw bytes and returns whatever the server answers before closing or going quiet for
// `reply_timeout`: for requests HttpClient cannot produce (chunked uploads, garbage).
std::string raw_exchange(int port, const std::string& request,
                         std::chrono::milliseconds reply_timeout = 5s) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return "<connect failed>";
  }
  timeval timeout{reply_timeout.count() / 1000,
                  static_cast<suseconds_t>(reply_timeout.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  // The server may answer and stop reading before the whole request is sent: that is fine.
  for (std::size_t sent = 0; sent < request.size();) {
    auto n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buffer[4096];
  for (;;) {
    auto n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    response.append(buffer, static_cast<std::size_t>(n));
    if (response.find("\r\n\r\n") != std::string::npos &&
        response.find("\"error\"") != std::string::npos && response.back() == '}') {
      break;
    }
  }
  close(fd);
  return response;
}

class StsServiceHttp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { service_ = start_service().release(); }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(service_, nullptr);
    ASSERT_TRUE(service_->child().running()) << service_->log();
  }

  static StsServiceProcess* service_;
  HttpClient client_;
};

StsServiceProcess* StsServiceHttp::service_ = nullptr;

TEST_F(StsServiceHttp, PassthroughReturnsTheInputSamples) {
  auto input = sine_audio(16000, 1, 8000);
  auto response = client_.post_multipart(service_->url(kDubPath),
                                         dub_parts(metadata_json(500, 7), wav_bytes(input)), kTimeout);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(response.content_type, HasSubstr("application/json"));
  auto dub = parse_response(response.body);
  EXPECT_EQ(dub.stream_id, "demo");
  EXPECT_EQ(dub.sequence, 7);
  EXPECT_EQ(dub.engine, "mock-passthrough");
  EXPECT_TRUE(dub.timings_ms.contains("total"));
  auto output = decode_wav_string(base64_decode(dub.audio_wav_base64));
  EXPECT_EQ(output.format, input.format);
  EXPECT_EQ(output.samples, input.samples);
}

TEST_F(StsServiceHttp, OutputHasExactlyTheRequestedDuration) {
  auto input = sine_audio(48000, 2, 4800);
  // Up to 100 ms beyond the audio sent is padded; less is cut.
  for (const auto& [duration_ms, frames] : {std::pair{180.0, 8640}, std::pair{60.0, 2880}}) {
    auto response = client_.post_multipart(service_->url(kDubPath),
                                           dub_parts(metadata_json(duration_ms), wav_bytes(input)), kTimeout);
    ASSERT_EQ(response.status, 200) << response.body;
    auto output = decode_wav_string(base64_decode(parse_response(response.body).audio_wav_base64));
    EXPECT_EQ(output.format, (AudioFormat{48000, 2}));
    EXPECT_EQ(output.frames(), frames);
    const auto common = std::min(input.samples.size(), output.samples.size());
    EXPECT_TRUE(std::equal(input.samples.begin(), input.samples.begin() + static_cast<std::ptrdiff_t>(common),
                           output.samples.begin()));
  }
}

TEST_F(StsServiceHttp, ARequestCannotAskForMoreAudioThanItSent) {
  // 1 ms of 192 kHz 8-channel audio asking for a minute: before, a 246 MB answer.
  auto tiny = sine_audio(192000, 8, 192);
  const std::string body_wav = wav_bytes(tiny);
  ASSERT_LT(body_wav.size(), 4000u);
  const auto started = std::chrono::steady_clock::now();
  auto response = client_.post_multipart(service_->url(kDubPath), dub_parts(metadata_json(60000), body_wav), kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_THAT(expect_json_error(response, 400, "duration_mismatch"), HasSubstr("exceeds the audio sent (1 ms)"));
  EXPECT_LT(response.body.size(), 1000u);
  // The largest answer such a request can get is its own audio + 100 ms.
  auto ok = client_.post_multipart(service_->url(kDubPath), dub_parts(metadata_json(101), body_wav), kTimeout);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_LT(ok.body.size(), 192000u * 8 * 2 * 102 / 1000 * 4 / 3 + 2000);
}

TEST_F(StsServiceHttp, NumbersBeyondADoubleAre400) {
  auto response = client_.post_multipart(
      service_->url(kDubPath),
      dub_parts(R"({"stream_id":"demo","sequence":1,"duration_ms":1e400})", wav_bytes(sine_audio(16000, 1, 160))),
      kTimeout);
  EXPECT_THAT(expect_json_error(response, 400, "invalid_metadata"), HasSubstr("not valid JSON"));
}

TEST_F(StsServiceHttp, MalformedMetadataJsonIs400) {
  auto response = client_.post_multipart(
      service_->url(kDubPath),
      dub_parts("{\"stream_id\": \"demo\",", wav_bytes(sine_audio(16000, 1, 160))), kTimeout);
  EXPECT_THAT(expect_json_error(response, 400, "invalid_metadata"), HasSubstr("not valid JSON"));
}

TEST_F(StsServiceHttp, BadWavHeaderIs400WithTheDecoderMessage) {
  auto wav = wav_bytes(sine_audio(16000, 1, 160));
  wav.replace(0, 4, "RIFX");
  auto response = client_.post_multipart(service_->url(kDubPath), dub_parts(metadata_json(10), wav),
                                         kTimeout);
  EXPECT_THAT(expect_json_error(response, 400, "invalid_audio"), HasSubstr("missing 'RIFF' magic"));
}

TEST_F(StsServiceHttp, EightBitWavIs400) {
  auto response = client_.post_multipart(
      service_->url(kDubPath), dub_parts(metadata_json(10), fixtures::eight_bit_wav(16000, 160)),
      kTimeout);
  EXPECT_THAT(expect_json_error(response, 400, "invalid_audio"), HasSubstr("8-bit"));
}

TEST_F(StsServiceHttp, EmptyAudioIs400) {
  auto empty_wav = wav_bytes(AudioBuffer{AudioFormat{16000, 1}, 0, {}});
  EXPECT_THAT(expect_json_error(client_.post_multipart(service_->url(kDubPath),
                                                       dub_parts(metadata_json(10), empty_wav), kTimeout),
                                400, "invalid_audio"),
              HasSubstr("no samples"));
  EXPECT_THAT(expect_json_error(client_.post_multipart(service_->url(kDubPath),
                                                       dub_parts(metadata_json(10), ""), kTimeout),
                                400, "invalid_audio"),
              HasSubstr("shorter than a RIFF header"));
}

TEST_F(StsServiceHttp, MissingAudioPartIs400) {
  auto response = client_.post_multipart(
      service_->url(kDubPath), {MultipartPart{"metadata", "application/json", "", metadata_json(10)}},
      kTimeout);
  EXPECT_THAT(expect_json_error(response, 400, "missing_part"), HasSubstr("'audio'"));
}

TEST_F(StsServiceHttp, NonMultipartBodyIs415) {
  auto response = client_.post(service_->url(kDubPath), metadata_json(10), "application/json", kTimeout);
  EXPECT_THAT(expect_json_error(response, 415, "unsupported_media_type"),
              HasSubstr("multipart/form-data"));
}

TEST_F(StsServiceHttp, GarbageMultipartBodyIs400) {
  auto response = client_.post(service_->url(kDubPath), "this is not multipart",
                               "multipart/form-data; boundary=xyz", kTimeout);
  expect_json_error(response, 400, "malformed_multipart");
}

TEST_F(StsServiceHttp, UnknownRouteIs404AndWrongMethodIs405) {
  expect_json_error(client_.get(service_->url("/v2/nothing"), kTimeout), 404, "not_found");
  auto wrong_method = client_.get(service_->url(kDubPath), kTimeout);
  expect_json_error(wrong_method, 405, "method_not_allowed");
  EXPECT_EQ(wrong_method.headers["allow"], "POST");
  expect_json_error(client_.post(service_->url("/v1/capabilities"), "{}", "application/json", kTimeout),
                    405, "method_not_allowed");
}

TEST_F(StsServiceHttp, CapabilitiesAndHealth) {
  auto caps = client_.get(service_->url("/v1/capabilities"), kTimeout);
  ASSERT_EQ(caps.status, 200);
  auto body = nlohmann::json::parse(caps.body);
  EXPECT_EQ(body["mode"], "mock-passthrough");
  EXPECT_EQ(body["languages"]["any_pair"], true);
  auto health = client_.get(service_->url("/healthz"), kTimeout);
  ASSERT_EQ(health.status, 200);
  EXPECT_EQ(nlohmann::json::parse(health.body)["status"], "ok");
}

TEST_F(StsServiceHttp, MetricsExposeTheStsCounters) {
  client_.post_multipart(service_->url(kDubPath),
                         dub_parts(metadata_json(100), wav_bytes(sine_audio(16000, 1, 1600))), kTimeout);
  client_.post_multipart(service_->url(kDubPath), dub_parts("[]", wav_bytes(sine_audio(16000, 1, 1600))),
                         kTimeout);
  auto metrics = client_.get(service_->url("/metrics"), kTimeout);
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("livedub_sts_requests_total{outcome=\"ok\"}"));
  EXPECT_THAT(metrics.body, HasSubstr("livedub_sts_requests_total{outcome=\"invalid_metadata\"}"));
  EXPECT_THAT(metrics.body, HasSubstr("livedub_sts_fragment_processing_seconds_bucket"));
  EXPECT_THAT(metrics.body, HasSubstr("livedub_sts_audio_processed_seconds_total"));
  EXPECT_THAT(metrics.body, HasSubstr("livedub_http_requests_total"));
}

TEST_F(StsServiceHttp, RequestLogLinesCarryStreamIdAndSeq) {
  client_.post_multipart(service_->url(kDubPath),
                         dub_parts(metadata_json(100, 4242), wav_bytes(sine_audio(16000, 1, 1600))),
                         kTimeout);
  bool found = false;
  std::istringstream lines(service_->log());
  for (std::string line; std::getline(lines, line);) {
    auto record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_object() || record.value("msg", "") != "fragment dubbed") continue;
    if (record.value("seq", -1) != 4242) continue;
    EXPECT_EQ(record["stream_id"], "demo");
    found = true;
  }
  EXPECT_TRUE(found) << service_->log();
}

TEST_F(StsServiceHttp, SurvivesABarrageOfBadRequests) {
  const std::string garbage_requests[] = {
      "GARBAGE\r\n\r\n",
      "POST /v1/dub HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
      "Content-Length: 5\r\n\r\n--b\r\n",
      // httplib reads a negative length as huge and waits for the body: no reply expected.
      "POST /v1/dub HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      std::string("\0\0\0\0\xff\xfe", 6) + "\r\n\r\n",
  };
  for (const auto& request : garbage_requests) raw_exchange(service_->port(), request, 500ms);
  for (int i = 0; i < 5; ++i) {
    client_.post_multipart(service_->url(kDubPath), dub_parts(metadata_json(-1), "x"), kTimeout);
    client_.post(service_->url(kDubPath), std::string(1000, '\0'), "audio/wav", kTimeout);
  }
  EXPECT_TRUE(service_->child().running()) << service_->log();
  EXPECT_EQ(client_.get(service_->url("/healthz"), kTimeout).status, 200);
  auto ok = client_.post_multipart(service_->url(kDubPath),
                                   dub_parts(metadata_json(10), wav_bytes(sine_audio(16000, 1, 160))),
                                   kTimeout);
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(StsServiceModes, ToneModeReturnsTheConfiguredTone) {
  auto service = start_service({{"LIVEDUB_STS_MODE", "mock-tone"}, {"LIVEDUB_STS_MOCK_TONE_HZ", "1000"}});
  ASSERT_NE(service, nullptr);
  HttpClient client;
  auto response = client.post_multipart(service->url(kDubPath),
                                        dub_parts(metadata_json(500), wav_bytes(sine_audio(16000, 2, 8000))),
                                        kTimeout);
  ASSERT_EQ(response.status, 200) << response.body;
  auto dub = parse_response(response.body);
  EXPECT_EQ(dub.engine, "mock-tone");
  auto output = decode_wav_string(base64_decode(dub.audio_wav_base64));
  EXPECT_EQ(output.format, (AudioFormat{16000, 2}));
  ASSERT_EQ(output.frames(), 8000);
  EXPECT_NEAR(fixtures::zero_crossings(output.samples, 2, 0), 1000, 2);
}

TEST(StsServiceModes, OversizedBodyIs413AndServiceStaysUp) {
  auto service = start_service({{"LIVEDUB_STS_MAX_BODY_BYTES", "4096"}});
  ASSERT_NE(service, nullptr);
  HttpClient client;
  auto big = client.post_multipart(service->url(kDubPath),
                                   dub_parts(metadata_json(500), wav_bytes(sine_audio(16000, 1, 8000))),
                                   kTimeout);
  EXPECT_THAT(expect_json_error(big, 413, "payload_too_large"), HasSubstr("4096"));

  // Chunked uploads carry no Content-Length; the limit must hold for them too.
  std::string chunked =
      "POST /v1/dub HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  const std::string part_header = "--b\r\nContent-Disposition: form-data; name=\"audio\"\r\n\r\n";
  std::ostringstream size_line;
  size_line << std::hex << part_header.size() << "\r\n";
  chunked += size_line.str() + part_header + "\r\n";
  for (int i = 0; i < 8; ++i) chunked += "400\r\n" + std::string(1024, 'a') + "\r\n";
  chunked += "0\r\n\r\n";
  auto raw = raw_exchange(service->port(), chunked);
  EXPECT_THAT(raw, HasSubstr("HTTP/1.1 413"));
  EXPECT_THAT(raw, HasSubstr("payload_too_large"));

  auto small = client.post_multipart(service->url(kDubPath),
                                     dub_parts(metadata_json(10), wav_bytes(sine_audio(16000, 1, 160))),
                                     kTimeout);
  EXPECT_EQ(small.status, 200) << small.body;
  EXPECT_EQ(client.get(service->url("/healthz"), kTimeout).status, 200);
}

TEST(StsServiceModes, ArtificialDelayIsApplied) {
  auto service = start_service({{"LIVEDUB_STS_MOCK_DELAY_MS", "300"}});
  ASSERT_NE(service, nullptr);
  HttpClient client;
  const auto started = std::chrono::steady_clock::now();
  auto response = client.post_multipart(service->url(kDubPath),
                                        dub_parts(metadata_json(10), wav_bytes(sine_audio(16000, 1, 160))),
                                        kTimeout);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_GE(elapsed, 300ms);
  EXPECT_GE(parse_response(response.body).timings_ms["total"], 300.0);
}

TEST(StsServiceLifecycle, SigtermStopsCleanly) {
  auto service = start_service();
  ASSERT_NE(service, nullptr);
  const int status = service->child().terminate(10s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_wait_status(status);
  EXPECT_THAT(service->log(), HasSubstr("\"msg\":\"shutting down\""));
  EXPECT_THAT(service->log(), HasSubstr("\"msg\":\"listening\""));
}

TEST(StsServiceLifecycle, SigtermDrainIsBounded) {
  // One fragment takes 30 s; SIGTERM with a 500 ms drain ends the process within about that.
  auto service = start_service({{"LIVEDUB_STS_MOCK_DELAY_MS", "30000"}, {"LIVEDUB_STS_DEADLINE_MS", "60000"},
                                {"LIVEDUB_STS_DRAIN_MS", "500"}});
  ASSERT_NE(service, nullptr);
  std::thread slow([&] {
    HttpClient client;
    try {
      client.post_multipart(service->url(kDubPath), dub_parts(metadata_json(10), wav_bytes(sine_audio(16000, 1, 160))),
                            40s);
    } catch (const HttpTransportError&) {
    }
  });
  std::this_thread::sleep_for(1s);  // the job is running (it takes 30 s)
  const auto started = std::chrono::steady_clock::now();
  const int status = service->child().terminate(20s);
  const auto took = std::chrono::steady_clock::now() - started;
  slow.join();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_wait_status(status);
  EXPECT_LT(took, 5s) << "SIGTERM waited for the running job";
  EXPECT_THAT(service->log(), HasSubstr("drain time over"));
}

TEST(StsServiceLifecycle, AStopWaitsForTheCalibrationDubWithinTheDrain) {
  // The calibration dub takes at least 4 s: the service turns ready (after 3 s) with it running.
  // Left running through the exit, it used libraries the exiting process was destroying (a
  // use-after-free ASan caught once in CI).
  auto service = start_service({{"LIVEDUB_STS_MOCK_DELAY_MS", "4000"}, {"LIVEDUB_STS_DRAIN_MS", "20000"}});
  ASSERT_NE(service, nullptr);
  EXPECT_THAT(service->log(), HasSubstr("calibration dub still running"));
  const int status = service->child().terminate(30s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_wait_status(status);
  const auto log = service->log();
  EXPECT_THAT(log, HasSubstr("calibrated: one dub timed")) << "the process ended before its calibration dub";
  EXPECT_THAT(log, Not(HasSubstr("drain time over")));
}

TEST(StsServiceLifecycle, InvalidConfigurationExitsNamingTheVariable) {
  StsServiceProcess service(std::map<std::string, std::string>{{"LIVEDUB_STS_MOCK_DELAY_MS", "soon"}});
  EXPECT_FALSE(service.wait_until_listening().has_value());
  const int status = service.child().terminate(10s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << describe_wait_status(status);
  EXPECT_THAT(service.log(), HasSubstr("LIVEDUB_STS_MOCK_DELAY_MS"));
}

// --- service behaviour: auth, overload, deadline, readiness, sessions ----------------------

std::vector<MultipartPart> dub_parts_for(const std::string& stream_id, std::int64_t sequence, double duration_ms,
                                         const AudioBuffer& audio, const std::string& target = "es",
                                         const std::string& voice = "default") {
  return dub_parts(to_json(DubRequestMetadata{stream_id, sequence, "en", target, voice, duration_ms}).dump(),
                   wav_bytes(audio));
}

TEST(StsServiceAuth, BearerTokenGuardsV1AndLeavesProbesOpen) {
  auto service = start_service({{"LIVEDUB_STS_TOKEN", "s3cret-token"}});
  ASSERT_NE(service, nullptr);
  HttpClient client;
  auto parts = dub_parts(metadata_json(100), wav_bytes(sine_audio(16000, 1, 1600)));
  auto missing = client.post_multipart(service->url(kDubPath), parts, kTimeout);
  EXPECT_THAT(expect_json_error(missing, 401, "unauthorized"), HasSubstr("Bearer"));
  EXPECT_THAT(missing.headers["www-authenticate"], HasSubstr("Bearer"));
  auto wrong = client.post_multipart(service->url(kDubPath), parts, kTimeout, {"Authorization: Bearer nope"});
  expect_json_error(wrong, 401, "unauthorized");
  auto right = client.post_multipart(service->url(kDubPath), parts, kTimeout,
                                     {"Authorization: Bearer s3cret-token"});
  EXPECT_EQ(right.status, 200) << right.body;
  expect_json_error(client.get(service->url("/v1/capabilities"), kTimeout), 401, "unauthorized");
  EXPECT_EQ(client.get(service->url("/healthz"), kTimeout).status, 200);
  EXPECT_EQ(client.get(service->url("/readyz"), kTimeout).status, 200);
  EXPECT_EQ(client.get(service->url("/metrics"), kTimeout).status, 200);
}

TEST(StsServiceLoad, BeyondWorkersAndQueueRequestsGet503WithRetryAfter) {
  auto service = start_service({{"LIVEDUB_STS_MOCK_DELAY_MS", "1500"},
                                {"LIVEDUB_STS_WORKERS", "1"},
                                {"LIVEDUB_STS_QUEUE_SIZE", "1"}});
  ASSERT_NE(service, nullptr);
  std::vector<HttpResponse> responses(4);
  std::vector<std::thread> clients;
  for (std::size_t i = 0; i < responses.size(); ++i) {
    clients.emplace_back([&, i] {
      HttpClient client;
      responses[i] = client.post_multipart(
          service->url(kDubPath), dub_parts_for("load", static_cast<std::int64_t>(i), 100, sine_audio(16000, 1, 1600)),
          kTimeout);
    });
    std::this_thread::sleep_for(100ms);  // arrive in order: 1 running, 1 queued, 2 refused
  }
  for (auto& c : clients) c.join();
  int ok = 0, refused = 0;
  for (auto& r : responses) {
    if (r.status == 200) ++ok;
    if (r.status == 503) {
      ++refused;
      expect_json_error(r, 503, "overloaded");
      ASSERT_TRUE(r.headers.contains("retry-after")) << r.body;
      EXPECT_GE(std::stoi(r.headers["retry-after"]), 1);
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(refused, 2);
  HttpClient client;
  auto metrics = client.get(service->url("/metrics"), kTimeout).body;
  EXPECT_THAT(metrics, HasSubstr("livedub_sts_requests_total{outcome=\"overloaded\"} 2"));
  EXPECT_THAT(metrics, HasSubstr("livedub_sts_queue_depth"));
  EXPECT_THAT(metrics, HasSubstr("livedub_sts_stage_seconds_count{stage=\"queue\"} 2"));
}

TEST(StsServiceLoad, RequestsPastTheDeadlineGet504AndTheServiceCarriesOn) {
  auto service = start_service({{"LIVEDUB_STS_MOCK_DELAY_MS", "1500"}, {"LIVEDUB_STS_DEADLINE_MS", "300"}});
  ASSERT_NE(service, nullptr);
  HttpClient client;
  const auto started = std::chrono::steady_clock::now();
  auto late = client.post_multipart(service->url(kDubPath), dub_parts(metadata_json(100), wav_bytes(sine_audio(16000, 1, 1600))),
                                    kTimeout);
  EXPECT_THAT(expect_json_error(late, 504, "deadline_exceeded"), HasSubstr("LIVEDUB_STS_DEADLINE_MS"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(client.get(service->url("/healthz"), kTimeout).status, 200);
}

TEST(StsServiceLoad, AQueuedRequestGets504AtItsDeadlineNotWhenAWorkerFrees) {
  auto service = start_service({{"LIVEDUB_STS_MOCK_DELAY_MS", "3000"},
                                {"LIVEDUB_STS_DEADLINE_MS", "500"},
                                {"LIVEDUB_STS_WORKERS", "1"}});
  ASSERT_NE(service, nullptr);
  std::vector<HttpResponse> responses(2);
  std::vector<std::chrono::steady_clock::duration> took(2);
  std::vector<std::thread> clients;
  for (std::size_t i = 0; i < 2; ++i) {
    clients.emplace_back([&, i] {
      HttpClient client;
      const auto started = std::chrono::steady_clock::now();
      responses[i] = client.post_multipart(
          service->url(kDubPath), dub_parts(metadata_json(100, static_cast<std::int64_t>(i)), wav_bytes(sine_audio(16000, 1, 1600))),
          kTimeout);
      took[i] = std::chrono::steady_clock::now() - started;
    });
    std::this_thread::sleep_for(50ms);
  }
  for (auto& c : clients) c.join();
  for (std::size_t i = 0; i < 2; ++i) {
    expect_json_error(responses[i], 504, "deadline_exceeded");
    EXPECT_LT(took[i], 2s) << "request " << i << " waited for the busy worker";
  }
}

TEST(StsServiceSessions, RecentFragmentsOfAStreamAreListed) {
  auto service = start_service({{"LIVEDUB_STS_MODE", "mock-tone"}});
  ASSERT_NE(service, nullptr);
  HttpClient client;
  for (std::int64_t seq : {1, 2}) {
    auto r = client.post_multipart(service->url(kDubPath), dub_parts_for("show-1", seq, 100, sine_audio(16000, 1, 1600)),
                                   kTimeout);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  auto session = client.get(service->url("/v1/sessions/show-1"), kTimeout);
  ASSERT_EQ(session.status, 200) << session.body;
  auto body = nlohmann::json::parse(session.body);
  EXPECT_EQ(body["stream_id"], "show-1");
  ASSERT_EQ(body["fragments"].size(), 2u);
  EXPECT_EQ(body["fragments"][1]["sequence"], 2);
  expect_json_error(client.get(service->url("/v1/sessions/other"), kTimeout), 404, "unknown_session");
  expect_json_error(client.get(service->url("/v1/sessions/bad%20id"), kTimeout), 400, "invalid_stream_id");
}

// The embedded engines behind the real HTTP API.
class StsServiceCpu : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    service_ = start_service({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_MAX_BODY_BYTES", "4194304"}}).release();
  }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(service_, nullptr); }
  static StsServiceProcess* service_;
  HttpClient client_;
};
StsServiceProcess* StsServiceCpu::service_ = nullptr;

AudioBuffer goforward_48k_stereo() {
  std::ifstream in("/usr/share/pocketsphinx/test/data/goforward.raw", std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  AudioBuffer mono{{16000, 1}, 0, std::vector<std::int16_t>(bytes.size() / 2)};
  std::memcpy(mono.samples.data(), bytes.data(), mono.samples.size() * 2);
  return conform_audio(mono, {48000, 2}, mono.frames() * 3);
}

TEST_F(StsServiceCpu, ReadyWithInstalledLanguagesAndVoices) {
  EXPECT_EQ(client_.get(service_->url("/readyz"), kTimeout).status, 200);
  auto caps = nlohmann::json::parse(client_.get(service_->url("/v1/capabilities"), kTimeout).body);
  EXPECT_EQ(caps["mode"], "cpu");
  EXPECT_EQ(caps["languages"]["any_pair"], false);
  // en->es from apertium-eng-spa (scripts/setup); other installed pairs may add more. No
  // model directory: Apertium serves every pair, and says so.
  EXPECT_THAT(caps["languages"]["pairs"].dump(), HasSubstr(R"({"engine":"apertium","source":"en","target":"es"})"));
  EXPECT_EQ(caps["asr"]["languages"], nlohmann::json::array({"en"}));
  EXPECT_EQ(caps["tts"]["engines"]["es"], "pico es-ES_zl0");
  EXPECT_EQ(caps["tts"]["engines"]["en"], "pico en-US_lh0");
  EXPECT_EQ(caps["asr"]["engine"], "pocketsphinx (CPU)");
  EXPECT_THAT(caps["voices"].dump(), HasSubstr("female"));
}

TEST_F(StsServiceCpu, DubsSpeechWithMetadataAndExactDuration) {
  auto response = client_.post_multipart(service_->url(kDubPath), dub_parts_for("cpu-http", 4, 2800, goforward_48k_stereo()),
                                         30s);
  ASSERT_EQ(response.status, 200) << response.body;
  auto dub = parse_response(response.body);
  EXPECT_EQ(dub.engine, "cpu");
  EXPECT_EQ(dub.tts_engine, "pico es-ES_zl0");
  EXPECT_EQ(dub.mt_engine, "apertium eng-spa");
  EXPECT_EQ(dub.transcript, "go forward ten meters");
  EXPECT_THAT(dub.translation, HasSubstr("metros"));
  EXPECT_GE(dub.stretch_ratio, 0.75);
  EXPECT_LE(dub.stretch_ratio, 1.25);
  EXPECT_FALSE(dub.time_fit.empty());
  for (const char* stage : {"asr", "mt", "tts", "stretch", "queue", "total"}) {
    EXPECT_TRUE(dub.timings_ms.contains(stage)) << stage;
  }
  auto audio = decode_wav_string(base64_decode(dub.audio_wav_base64));
  EXPECT_EQ(audio.format, (AudioFormat{48000, 2}));
  EXPECT_EQ(audio.frames(), 134400);
  EXPECT_GT(rms(audio.samples), 0.01);
  auto session = nlohmann::json::parse(client_.get(service_->url("/v1/sessions/cpu-http"), kTimeout).body);
  EXPECT_EQ(session["fragments"][0]["translation"], dub.translation);
  auto metrics = client_.get(service_->url("/metrics"), kTimeout).body;
  EXPECT_THAT(metrics, HasSubstr("livedub_sts_stage_seconds_count{stage=\"asr\"}"));
}

TEST_F(StsServiceCpu, BadRequestsGetClear4xxAndTheServiceStaysUp) {
  const auto speech = goforward_48k_stereo();
  EXPECT_THAT(expect_json_error(client_.post_multipart(service_->url(kDubPath),
                                                       dub_parts_for("cpu-bad", 1, 500, speech, "fr"), kTimeout),
                                400, "unsupported_language_pair"),
              HasSubstr("en->es"));
  EXPECT_THAT(expect_json_error(client_.post_multipart(service_->url(kDubPath),
                                                       dub_parts_for("cpu-bad", 1, 500, speech, "es", "robot"),
                                                       kTimeout),
                                400, "unsupported_voice"),
              HasSubstr("female"));
  expect_json_error(client_.post_multipart(service_->url(kDubPath), dub_parts(metadata_json(500), "RIFFjunk"), kTimeout),
                    400, "invalid_audio");
  expect_json_error(client_.post_multipart(service_->url(kDubPath),
                                           dub_parts(metadata_json(500), fixtures::eight_bit_wav(16000, 100)), kTimeout),
                    400, "invalid_audio");
  expect_json_error(client_.post_multipart(service_->url(kDubPath),
                                           dub_parts(metadata_json(500), wav_bytes(AudioBuffer{{16000, 1}, 0, {}})),
                                           kTimeout),
                    400, "invalid_audio");
  // 60 s of 48 kHz stereo is 11 MB: over this instance's 4 MiB limit.
  expect_json_error(client_.post_multipart(service_->url(kDubPath),
                                           dub_parts(metadata_json(500), wav_bytes(sine_audio(48000, 2, 48000 * 60))),
                                           kTimeout),
                    413, "payload_too_large");
  auto ok = client_.post_multipart(service_->url(kDubPath), dub_parts_for("cpu-bad", 2, 500, sine_audio(16000, 1, 8000)),
                                   kTimeout);
  EXPECT_EQ(ok.status, 200) << ok.body;
}

// Neural translation behind the real HTTP API: translation models of both families generated
// with random weights (scripts/make-test-models) in LIVEDUB_STS_MODEL_DIR.
TEST(StsServiceNeuralMt, OffersThePairsOfItsModelsAndNamesTheEngineOfEachDub) {
  const auto models = std::filesystem::path(::testing::TempDir()) / ("mt-models-" + std::to_string(getpid()));
  std::filesystem::remove_all(models);
  const auto made = test_support::run_command(
      {"/bin/bash", std::string(LIVEDUB_SOURCE_DIR) + "/scripts/make-test-models", "--only", "mt", models.string()}, {},
      120s);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto service = start_service({{"LIVEDUB_STS_MODE", "cpu"},
                                {"LIVEDUB_STS_MODEL_DIR", models.string()},
                                {"LIVEDUB_STS_MT_PAIRS", "en-ca=apertium"},
                                {"LIVEDUB_STS_MAX_BODY_BYTES", "4194304"}});
  ASSERT_NE(service, nullptr);
  HttpClient client;
  auto caps = nlohmann::json::parse(client.get(service->url("/v1/capabilities"), kTimeout).body);
  const auto pairs = caps["languages"]["pairs"].dump();
  EXPECT_THAT(pairs, HasSubstr(R"({"engine":"marian","source":"en","target":"es"})"));
  EXPECT_THAT(pairs, HasSubstr(R"({"engine":"marian","source":"en","target":"fr"})"));
  EXPECT_THAT(pairs, HasSubstr(R"({"engine":"m2m100","source":"en","target":"pl"})"));
  EXPECT_THAT(pairs, HasSubstr(R"({"engine":"m2m100","source":"en","target":"ja"})"));
  EXPECT_THAT(pairs, HasSubstr(R"({"engine":"apertium","source":"en","target":"ca"})"));  // the override

  auto metadata = DubRequestMetadata{"neural-http", 1, "en", "fr", "default", 2800};
  metadata.extra_targets = {{"pl", "default"}, {"ca", "default"}};
  auto response = client.post_multipart(service->url(kDubPath),
                                        dub_parts(to_json(metadata).dump(), wav_bytes(goforward_48k_stereo())), 60s);
  ASSERT_EQ(response.status, 200) << response.body;
  auto dub = parse_response(response.body);
  EXPECT_EQ(dub.transcript, "go forward ten meters");
  EXPECT_EQ(dub.mt_engine, "marian opus-mt-en-fr int8 (CPU)");
  EXPECT_FALSE(dub.translation.empty());
  ASSERT_EQ(dub.extra.size(), 2u);
  EXPECT_EQ(dub.extra[0].error_code, "") << dub.extra[0].error;
  EXPECT_EQ(dub.extra[0].mt_engine, "m2m100 m2m100_418M int8 (CPU)");
  EXPECT_FALSE(dub.extra[0].translation.empty());
  EXPECT_EQ(dub.extra[1].mt_engine, "apertium eng-cat");
  EXPECT_THAT(dub.extra[1].translation, HasSubstr("metres"));
  EXPECT_THAT(service->log(), HasSubstr("\"mt_engine\":\"marian opus-mt-en-fr int8 (CPU)\""));
  service.reset();
  std::filesystem::remove_all(models);
}

// Neural voices behind the real HTTP API: Piper voices generated with random weights beside
// the translation models; every language with a voice is spoken by it and says so.
TEST(StsServiceNeuralTts, SpeaksWithTheInstalledVoicesAndNamesEachOne) {
  const auto models = std::filesystem::path(::testing::TempDir()) / ("tts-models-" + std::to_string(getpid()));
  std::filesystem::remove_all(models);
  for (const char* family : {"mt", "tts"}) {
    const auto made = test_support::run_command(
        {"/bin/bash", std::string(LIVEDUB_SOURCE_DIR) + "/scripts/make-test-models", "--only", family, models.string()}, {},
        120s);
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }
  auto service = start_service({{"LIVEDUB_STS_MODE", "cpu"},
                                {"LIVEDUB_STS_MODEL_DIR", models.string()},
                                {"LIVEDUB_STS_MAX_BODY_BYTES", "4194304"}});
  ASSERT_NE(service, nullptr);
  HttpClient client;
  auto caps = nlohmann::json::parse(client.get(service->url("/v1/capabilities"), kTimeout).body);
  EXPECT_EQ(caps["tts"]["engines"]["fr"], "piper fr_FR-test-small") << caps.dump();
  EXPECT_EQ(caps["tts"]["engines"]["pl"], "piper pl_PL-test-small");
  EXPECT_EQ(caps["tts"]["engines"]["ja"], "espeak-ng ja");  // no voice installed: espeak-ng

  auto metadata = DubRequestMetadata{"neural-tts", 1, "en", "fr", "default", 2800};
  metadata.extra_targets = {{"pl", "default"}};
  auto response = client.post_multipart(service->url(kDubPath),
                                        dub_parts(to_json(metadata).dump(), wav_bytes(goforward_48k_stereo())), 60s);
  ASSERT_EQ(response.status, 200) << response.body;
  auto dub = parse_response(response.body);
  EXPECT_EQ(dub.tts_engine, "piper fr_FR-test-small");
  ASSERT_EQ(dub.extra.size(), 1u);
  EXPECT_EQ(dub.extra[0].error_code, "") << dub.extra[0].error;
  EXPECT_EQ(dub.extra[0].tts_engine, "piper pl_PL-test-small");
  service.reset();

  // A voice whose config is gone stops the start, naming the file.
  std::filesystem::remove(models / "tts" / "piper" / "de_DE-test-small.onnx.json");
  StsServiceProcess broken({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_MODEL_DIR", models.string()}});
  EXPECT_FALSE(broken.wait_until_listening().has_value());
  EXPECT_NE(broken.child().terminate(10s), 0);
  EXPECT_THAT(broken.log(), HasSubstr("de_DE-test-small.onnx.json: missing or unreadable"));
  std::filesystem::remove_all(models);
}

// The voice-preserving dub behind the real HTTP API: a Pocket TTS model generated with random
// weights (scripts/make-test-models --only tts) beside Piper voices. Off by default; on, a
// stream's reference clip makes its dubs speak in that voice until the stream ends.
TEST(StsServiceVoiceClone, OffByDefaultThenPerStreamUntilTheStreamEnds) {
  const auto models = std::filesystem::path(::testing::TempDir()) / ("clone-models-" + std::to_string(getpid()));
  std::filesystem::remove_all(models);
  const auto made = test_support::run_command(
      {"/bin/bash", std::string(LIVEDUB_SOURCE_DIR) + "/scripts/make-test-models", "--only", "tts", models.string()}, {},
      180s);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  std::filesystem::rename(models / "tts" / "pocket" / "test", models / "tts" / "pocket" / "pocket-tts");
  const auto reference = wav_bytes(goforward_48k_stereo());  // 2.3 s of a real speaker
  const auto url = [](const StsServiceProcess& s, const std::string& stream) { return s.url("/v1/streams/" + stream + "/voice"); };
  const auto dub = [](HttpClient& client, const StsServiceProcess& s, const std::string& stream, std::int64_t seq) {
    auto metadata = DubRequestMetadata{stream, seq, "en", "es", "default", 2800};
    auto response =
        client.post_multipart(s.url(kDubPath), dub_parts(to_json(metadata).dump(), wav_bytes(goforward_48k_stereo())), 60s);
    EXPECT_EQ(response.status, 200) << response.body;
    return parse_response(response.body);
  };
  HttpClient client;
  {
    // Off by default: the clip is refused, the configured voice speaks.
    auto service = start_service({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_MODEL_DIR", models.string()}});
    ASSERT_NE(service, nullptr);
    auto caps = nlohmann::json::parse(client.get(service->url("/v1/capabilities"), kTimeout).body);
    EXPECT_EQ(caps["voice_clone"]["enabled"], false) << caps.dump();
    auto put = client.send("PUT", url(*service, "off"), reference, "audio/wav", kTimeout);
    EXPECT_EQ(put.status, 409) << put.body;
    EXPECT_THAT(put.body, HasSubstr("LIVEDUB_STS_VOICE_CLONE"));
    EXPECT_EQ(dub(client, *service, "off", 1).tts_engine, "piper es_ES-test-small");
  }
  auto service = start_service({{"LIVEDUB_STS_MODE", "cpu"},
                                {"LIVEDUB_STS_MODEL_DIR", models.string()},
                                {"LIVEDUB_STS_VOICE_CLONE", "true"},
                                {"LIVEDUB_STS_CLONE_LANGUAGES", "es,de"},
                                {"LIVEDUB_STS_MAX_BODY_BYTES", "4194304"}});
  ASSERT_NE(service, nullptr);
  auto caps = nlohmann::json::parse(client.get(service->url("/v1/capabilities"), kTimeout).body);
  EXPECT_EQ(caps["voice_clone"]["enabled"], true) << caps.dump();
  EXPECT_EQ(caps["voice_clone"]["languages"], nlohmann::json({"de", "es"}));
  EXPECT_THAT(caps["voice_clone"]["engine"].get<std::string>(), HasSubstr("pocket-tts"));

  // Before its clip arrives, a stream speaks with the default voice.
  EXPECT_EQ(dub(client, *service, "alice", 1).tts_engine, "piper es_ES-test-small");
  auto put = client.send("PUT", url(*service, "alice"), reference, "audio/wav", kTimeout);
  ASSERT_EQ(put.status, 204) << put.body;
  EXPECT_EQ(put.body, "");
  auto cloned = dub(client, *service, "alice", 2);
  EXPECT_THAT(cloned.tts_engine, HasSubstr("pocket-tts"));
  EXPECT_EQ(cloned.voice, "speaker");
  EXPECT_GT(cloned.speech_end_ms, cloned.speech_start_ms);  // speech was placed
  // Another stream is not spoken in alice's voice.
  EXPECT_EQ(dub(client, *service, "bob", 1).tts_engine, "piper es_ES-test-small");

  // Clips it cannot use: clear errors, nothing kept.
  auto short_clip = goforward_48k_stereo();
  fit_to_frames(short_clip.samples, 2, 24000);  // 0.5 s
  EXPECT_EQ(client.send("PUT", url(*service, "carol"), wav_bytes(short_clip), "audio/wav", kTimeout).status, 400);
  EXPECT_EQ(client.send("PUT", url(*service, "carol"), "RIFF....WAVE", "audio/wav", kTimeout).status, 400);
  EXPECT_EQ(client.send("PUT", url(*service, "carol"), reference, "application/json", kTimeout).status, 415);
  EXPECT_EQ(client.send("PUT", url(*service, "bad..id"), reference, "audio/wav", kTimeout).status, 400);
  EXPECT_EQ(client.send("DELETE", url(*service, "carol"), "", "", kTimeout).status, 404);

  // The stream ends: its voice goes, and later dubs speak with the default voice again.
  EXPECT_EQ(client.send("DELETE", url(*service, "alice"), "", "", kTimeout).status, 204);
  EXPECT_EQ(dub(client, *service, "alice", 3).tts_engine, "piper es_ES-test-small");
  EXPECT_EQ(client.send("DELETE", url(*service, "alice"), "", "", kTimeout).status, 404);
  service.reset();

  // A voice unused for the session TTL (a worker that died without saying so) is forgotten.
  service = start_service({{"LIVEDUB_STS_MODE", "cpu"},
                           {"LIVEDUB_STS_MODEL_DIR", models.string()},
                           {"LIVEDUB_STS_VOICE_CLONE", "true"},
                           {"LIVEDUB_STS_CLONE_LANGUAGES", "es"},
                           {"LIVEDUB_STS_SESSION_TTL_S", "1"},
                           {"LIVEDUB_STS_MAX_BODY_BYTES", "4194304"}});
  ASSERT_NE(service, nullptr);
  ASSERT_EQ(client.send("PUT", url(*service, "dave"), reference, "audio/wav", kTimeout).status, 204);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(dub(client, *service, "dave", 1).tts_engine, "piper es_ES-test-small");
  service.reset();

  // On, with no model: the start stops, naming the variable.
  StsServiceProcess missing({{"LIVEDUB_STS_MODE", "cpu"},
                             {"LIVEDUB_STS_MODEL_DIR", models.string()},
                             {"LIVEDUB_STS_VOICE_CLONE", "true"},
                             {"LIVEDUB_STS_CLONE_MODEL", "absent"}});
  EXPECT_FALSE(missing.wait_until_listening().has_value());
  EXPECT_NE(missing.child().terminate(10s), 0);
  EXPECT_THAT(missing.log(), HasSubstr("LIVEDUB_STS_VOICE_CLONE"));
  EXPECT_THAT(missing.log(), HasSubstr("tts/pocket/absent"));
  std::filesystem::remove_all(models);
}

TEST(StsServiceNeuralMt, ADamagedModelStopsStartUpNamingTheFile) {
  const auto models = std::filesystem::path(::testing::TempDir()) / ("mt-damaged-" + std::to_string(getpid()));
  std::filesystem::remove_all(models);
  const auto made = test_support::run_command(
      {"/bin/bash", std::string(LIVEDUB_SOURCE_DIR) + "/scripts/make-test-models", "--only", "mt", models.string()}, {},
      120s);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  std::filesystem::remove(models / "mt" / "opus-mt-en-de" / "vocab.json");
  StsServiceProcess service({{"LIVEDUB_STS_MODE", "cpu"}, {"LIVEDUB_STS_MODEL_DIR", models.string()}});
  EXPECT_FALSE(service.wait_until_listening().has_value());
  EXPECT_NE(service.child().terminate(10s), 0);
  EXPECT_THAT(service.log(), HasSubstr("opus-mt-en-de/vocab.json: missing"));
  std::filesystem::remove_all(models);
}

// --- scripts/sts-file -----------------------------------------------------------------------

#if LIVEDUB_HAVE_WHISPER
// whisper.cpp behind the real HTTP API, with a generated model of random weights (so the
// transcript is arbitrary): start-up, capabilities, a dub, and the start-up errors.
class StsServiceWhisper : public ::testing::Test {
 protected:
  void SetUp() override {
    models_ = std::filesystem::path(::testing::TempDir()) / ("whisper-models-" + std::to_string(getpid()));
    std::filesystem::create_directories(models_);
  }
  void TearDown() override { std::filesystem::remove_all(models_); }
  std::map<std::string, std::string> whisper_env(const std::string& model) const {
    return {{"LIVEDUB_STS_MODE", "cpu"},           {"LIVEDUB_STS_ASR_ENGINE", "whisper"},
            {"LIVEDUB_STS_MODEL_DIR", models_.string()}, {"LIVEDUB_STS_WHISPER_MODEL", model},
            {"LIVEDUB_STS_WHISPER_DEVICE", "cpu"}, {"LIVEDUB_STS_WHISPER_THREADS", "2"},
            {"LIVEDUB_STS_WORKERS", "1"},          {"LIVEDUB_STS_MAX_BODY_BYTES", "4194304"}};
  }
  // Starts a service that must fail to load; returns its exit status and log.
  std::pair<int, std::string> failed_start(const std::string& model) {
    StsServiceProcess service(whisper_env(model));
    EXPECT_FALSE(service.wait_until_listening().has_value());
    const int status = service.child().terminate(10s);
    return {status, service.log()};
  }
  std::filesystem::path models_;
  HttpClient client_;
};

TEST_F(StsServiceWhisper, DubsThroughAGeneratedModelAndSaysWhichEngineRuns) {
  write_random_whisper_model(models_ / "ggml-test.bin", tiny_test_whisper_hparams());
  auto service = start_service(whisper_env("test"));
  ASSERT_NE(service, nullptr);
  auto caps = nlohmann::json::parse(client_.get(service->url("/v1/capabilities"), kTimeout).body);
  EXPECT_EQ(caps["asr"]["engine"], "whisper ggml-test.bin (CPU)");
  EXPECT_THAT(caps["languages"]["pairs"].dump(), HasSubstr(R"({"engine":"apertium","source":"es","target":"en"})"));
  auto response = client_.post_multipart(service->url(kDubPath), dub_parts_for("whisper-http", 1, 2800, goforward_48k_stereo()), 60s);
  ASSERT_EQ(response.status, 200) << response.body;
  auto dub = parse_response(response.body);
  EXPECT_EQ(dub.engine, "cpu");
  auto audio = decode_wav_string(base64_decode(dub.audio_wav_base64));
  EXPECT_EQ(audio.format, (AudioFormat{48000, 2}));
  EXPECT_EQ(audio.frames(), 134400);
  EXPECT_THAT(service->log(), HasSubstr("\"asr\":\"whisper ggml-test.bin (CPU)\""));
}

TEST_F(StsServiceWhisper, MissingModelStopsStartUpSayingHowToFetchIt) {
  const auto [status, log] = failed_start("base");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << describe_wait_status(status);
  EXPECT_THAT(log, HasSubstr("engines failed to load"));
  EXPECT_THAT(log, HasSubstr((models_ / "ggml-base.bin").string() + " does not exist"));
  EXPECT_THAT(log, HasSubstr("scripts/fetch-whisper-model"));
}

TEST_F(StsServiceWhisper, TruncatedModelStopsStartUp) {
  const auto model = models_ / "ggml-test.bin";
  write_random_whisper_model(model, tiny_test_whisper_hparams());
  std::filesystem::resize_file(model, std::filesystem::file_size(model) / 3);
  const auto [status, log] = failed_start("test");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << describe_wait_status(status);
  EXPECT_THAT(log, HasSubstr("truncated"));
}
#endif  // LIVEDUB_HAVE_WHISPER

test_support::CommandResult run_sts_file(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {"/bin/bash", LIVEDUB_SOURCE_DIR "/scripts/sts-file"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto full_env = env;
  full_env["LIVEDUB_BUILD_DIR"] = LIVEDUB_BUILD_DIR;
  return test_support::run_command(argv, full_env);
}

std::filesystem::path write_temp_wav(const std::string& name, const std::string& bytes) {
  auto path = std::filesystem::path(::testing::TempDir()) / (std::to_string(getpid()) + "-" + name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(StsFileTool, DubsAFileWritesTheSameShapeAndPrintsMetadata) {
  auto service = start_service();
  ASSERT_NE(service, nullptr);
  const auto input = sine_audio(44100, 2, 66150);  // 1.5 s stereo
  const auto in_path = write_temp_wav("in.wav", wav_bytes(input));
  const auto out_path = in_path.string() + ".out.wav";
  auto run = run_sts_file({in_path.string(), out_path, "--source", "en", "--target", "es", "--voice", "default"},
                          {{"STS_SERVICE_URL", service->url("")}});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto report = nlohmann::json::parse(run.output, nullptr, false);
  ASSERT_TRUE(report.is_object()) << run.output;
  EXPECT_EQ(report["duration_ms"], 1500.0);
  EXPECT_EQ(report["engine"], "mock-passthrough");
  EXPECT_TRUE(report.contains("transcript"));
  EXPECT_TRUE(report.contains("translation"));
  EXPECT_TRUE(report["timings_ms"].contains("total"));
  EXPECT_FALSE(report.contains("audio_wav_base64"));
  auto output = decode_wav_string(read_file(out_path));
  EXPECT_EQ(output.format, input.format);
  EXPECT_EQ(output.samples, input.samples);
  std::filesystem::remove(in_path);
  std::filesystem::remove(out_path);
}

TEST(StsFileTool, ServiceRefusalsExit1WithTheServiceError) {
  auto service = start_service({{"LIVEDUB_STS_TOKEN", "tok"}});
  ASSERT_NE(service, nullptr);
  const auto in_path = write_temp_wav("in.wav", wav_bytes(sine_audio(16000, 1, 1600)));
  auto refused = run_sts_file({in_path.string(), "/dev/null"}, {{"STS_SERVICE_URL", service->url("")}});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("unauthorized"));
  auto with_token = run_sts_file({in_path.string(), in_path.string() + ".out"},
                                 {{"STS_SERVICE_URL", service->url("")}, {"LIVEDUB_STS_TOKEN", "tok"}});
  EXPECT_EQ(with_token.exit_code, 0) << with_token.output;
  auto unreachable = run_sts_file({in_path.string(), "/dev/null"}, {{"STS_SERVICE_URL", "http://127.0.0.1:1"}});
  EXPECT_EQ(unreachable.exit_code, 1) << unreachable.output;
  EXPECT_THAT(unreachable.output, HasSubstr("service_unreachable"));
  std::filesystem::remove(in_path);
  std::filesystem::remove(in_path.string() + ".out");
}

TEST(StsFileTool, BadInputExits2WithAClearMessage) {
  auto missing = run_sts_file({"/nonexistent/in.wav", "/dev/null"}, {});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.output, HasSubstr("cannot read /nonexistent/in.wav"));
  const auto eight_bit = write_temp_wav("8bit.wav", fixtures::eight_bit_wav(16000, 100));
  auto bad = run_sts_file({eight_bit.string(), "/dev/null"}, {});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("invalid_audio"));
  auto usage = run_sts_file({"only-one-argument.wav"}, {});
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
  std::filesystem::remove(eight_bit);
}

// A fragment whose client has given up costs no engine time: the deadline it sent drops it
// from the queue, and it is answered 504 at that deadline, not after the work ahead of it.
TEST(StsServiceDeadlines, AQueuedFragmentPastItsDeadlineIsDroppedUnrun) {
  auto service = start_service({{"LIVEDUB_STS_MOCK_DELAY_MS", "600"}, {"LIVEDUB_STS_WORKERS", "1"}});
  ASSERT_NE(service, nullptr);
  const auto audio = wav_bytes(sine_audio(16000, 1, 1600));
  auto busy = std::async(std::launch::async, [&] {
    return HttpClient().post_multipart(service->url(kDubPath), dub_parts(metadata_json(100, 1), audio), kTimeout);
  });
  std::this_thread::sleep_for(150ms);  // the only worker is now busy for ~450 ms more
  DubRequestMetadata late{"demo", 2, "en", "es", "default", 100};
  late.deadline_ms = 150;
  const auto started = std::chrono::steady_clock::now();
  const auto dropped = HttpClient().post_multipart(service->url(kDubPath), dub_parts(to_json(late).dump(), audio), kTimeout);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_THAT(expect_json_error(dropped, 504, "deadline_exceeded"), HasSubstr("150 ms"));
  EXPECT_LT(waited, 400ms) << "answered at its own deadline, not after the job ahead of it";
  EXPECT_EQ(busy.get().status, 200);
  // Only the first fragment reached the engine.
  const auto metrics = HttpClient().get(service->url("/metrics"), kTimeout).body;
  EXPECT_THAT(metrics, HasSubstr("livedub_sts_fragment_processing_seconds_count 1"));
  EXPECT_THAT(metrics, HasSubstr("outcome=\"deadline_exceeded\"} 1"));
}

// Out of file descriptors, every accept fails until a connection closes: the service keeps
// serving, backs off (a log line every 100 ms, not a spin) and accepts again once one is free.
TEST(StsServiceLimits, RecoversWhenFileDescriptorsRunOut) {
#if defined(__SANITIZE_ADDRESS__)
  // UBSan probes memory through a pipe on every vptr check; with no descriptor left it reports
  // valid objects as "invalid vptr" and aborts the service. Runs in the release build
  // (ctest --test-dir build -L integration).
  GTEST_SKIP() << "the sanitizers themselves need free file descriptors";
#endif
  auto service = start_service({}, 64);
  ASSERT_NE(service, nullptr);
  std::vector<int> clients;
  for (int i = 0; i < 120; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(service->port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) clients.push_back(fd);
    else close(fd);
  }
  std::this_thread::sleep_for(600ms);
  for (std::size_t i = 10; i < clients.size(); ++i) close(clients[i]);
  clients.resize(10);
  std::this_thread::sleep_for(600ms);
  HttpResponse health;
  try {
    health = HttpClient().get(service->url("/healthz"), 5s);
  } catch (const HttpTransportError& e) {
    ADD_FAILURE() << e.what();
  }
  EXPECT_EQ(health.status, 200);
  const auto log = service->log();
  EXPECT_THAT(log, HasSubstr("retrying in 100 ms")) << "the service never ran out: the case tests nothing";
  std::size_t lines = 0;
  for (std::size_t at = log.find("accept failed"); at != std::string::npos; at = log.find("accept failed", at + 1)) ++lines;
  EXPECT_LT(lines, 100u) << "accept retried in a tight loop";
  for (int fd : clients) close(fd);
}

TEST(StsServiceDeadlines, ADeadlineOutsideItsRangeIs400) {
  auto service = start_service();
  ASSERT_NE(service, nullptr);
  for (double bad : {0.0, -5.0, 60001.0}) {
    auto j = to_json(DubRequestMetadata{"demo", 1, "en", "es", "default", 100});
    j["deadline_ms"] = bad;
    const auto response = HttpClient().post_multipart(service->url(kDubPath),
                                                      dub_parts(j.dump(), wav_bytes(sine_audio(16000, 1, 1600))), kTimeout);
    EXPECT_THAT(expect_json_error(response, 400, "invalid_metadata"), HasSubstr("deadline_ms")) << bad;
  }
}

}  // namespace
}  // namespace livedub::sts
