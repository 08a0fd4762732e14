// End-to-end: the real native stack (scripts/stack: nginx-rtmp, orchestrator, STS mock,
// stream workers) on free loopback ports, fed with the flash/beep test pattern over RTMP and
// measured from the dubbed RTMP output the way a viewer receives it.
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <map>
#include <cstdio>
#include <deque>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <thread>

#include <fstream>
#include <future>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "av_probe.hpp"
#include "command.hpp"
#include "livedub/http_client.hpp"
#include "livedub/process.hpp"
#include "livedub/wav.hpp"

using namespace livedub;
using namespace std::chrono_literals;

namespace {

// The plumbing tests (mock STS, beeps and flashes) run with fixed 2 s fragments and the bed
// stage off: what they measure (delay, sync, fallback, endpoints) must not depend on a
// detector hearing speech in beeps. Their delay is set, 2 s + 2.5 s (the default is planned
// on the STS's cost: TheDefaultDelayIsPlannedOnTheStsMeasuredCost).
constexpr double kFixedDelayS = 4.5;
const std::map<std::string, std::string> kFixedFragments{
    {"LIVEDUB_VAD", "off"}, {"LIVEDUB_BED_MODE", "off"}, {"LIVEDUB_OUTPUT_DELAY_MS", "4500"}};
// Phrases found by Silero VAD, at most 4 s, + 2.5 s (set likewise).
constexpr double kPhraseDelayS = 6.5;
const std::pair<const std::string, std::string> kPhraseDelay{"LIVEDUB_OUTPUT_DELAY_MS", "6500"};
// Documented bound (README): the dubbed stream starts within output delay + 6 s of the
// publisher starting (hook, worker start, RTMP connect, first keyframe).
constexpr double kStartupAfterDelayS = 6.0;
constexpr double kSyncToleranceMs = 40.0;

using test_support::free_loopback_port;

bool wait_healthy(const std::string& url, std::chrono::seconds timeout) {
  HttpClient http;
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    try {
      if (http.get(url, 1s).status == 200) return true;
    } catch (const HttpTransportError&) {
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

class LiveStack : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }

  void start_stack(const std::string& sts_mode, const std::optional<std::string>& external_sts = std::nullopt,
                   const std::map<std::string, std::string>& extra_env = {}) {
    run_dir_ = std::filesystem::temp_directory_path() /
               ("livedub-e2e-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(run_dir_);
    std::filesystem::create_directories(run_dir_);
    rtmp_port_ = free_loopback_port();
    orchestrator_port_ = free_loopback_port();
    std::map<std::string, std::string> env{
        {"LIVEDUB_BUILD_DIR", LIVEDUB_BUILD_DIR},
        {"LIVEDUB_RUN_DIR", run_dir_.string()},
        {"LIVEDUB_RTMP_PORT", std::to_string(rtmp_port_)},
        {"LIVEDUB_ORCHESTRATOR_PORT", std::to_string(orchestrator_port_)},
        {"LIVEDUB_STS_PORT", std::to_string(sts_port_ = free_loopback_port())},
        {"LIVEDUB_STS_MODE", sts_mode},
        {"LIVEDUB_LOG_LEVEL", "info"},
        {"STS_SERVICE_URL", external_sts.value_or("")}};
    env.insert(extra_env.begin(), extra_env.end());
    stack_.emplace(ChildProcess::Options{{"/bin/bash", LIVEDUB_SOURCE_DIR "/scripts/stack"}, env,
                                         (run_dir_ / "stack.log").string()});
    // The stack prints its banner once nginx and rtmp-front listen, after the orchestrator is
    // healthy: on a loaded CI machine that took longer than a fixed pause, and a publisher that
    // connected first found no media server (no worker, no output).
    const auto until = std::chrono::steady_clock::now() + 90s;
    bool up = false;
    while (!up && std::chrono::steady_clock::now() < until && stack_->running()) {
      std::ifstream log(run_dir_ / "stack.log");
      std::string text((std::istreambuf_iterator<char>(log)), {});
      up = text.find("livedub stack is up") != std::string::npos;
      if (!up) std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(up) << "stack did not start; see " << (run_dir_ / "stack.log") << "\n" << log_tails();
  }

  // The last lines of the stack's logs: a failure in CI shows its cause without the files.
  std::string log_tails() const {
    std::ostringstream out;
    std::vector<std::filesystem::path> files{run_dir_ / "stack.log"};
    if (std::filesystem::is_directory(run_dir_ / "logs")) {
      for (const auto& entry : std::filesystem::directory_iterator(run_dir_ / "logs")) files.push_back(entry.path());
    }
    for (const auto& file : files) {
      std::ifstream in(file);
      std::deque<std::string> last;
      for (std::string line; std::getline(in, line);) {
        last.push_back(line);
        if (last.size() > 15) last.pop_front();
      }
      out << "--- " << file.filename().string() << " (last " << last.size() << " lines)\n";
      for (const auto& line : last) out << line << "\n";
    }
    return out.str();
  }

  probe::CheckOptions check(const std::string& id, std::chrono::seconds duration) const {
    probe::CheckOptions options;
    options.input_url = "rtmp://127.0.0.1:" + std::to_string(rtmp_port_) + "/live/" + id + "/in";
    options.output_url = "rtmp://127.0.0.1:" + std::to_string(rtmp_port_) + "/live/" + id + "/out";
    options.duration = duration;
    options.drain = 8s;
    return options;
  }

  void TearDown() override {
    if (stack_) stack_->terminate(20s);
    if (HasFailure()) {
      std::cerr << log_tails() << "logs kept in " << run_dir_ << "\n";
    } else {
      std::filesystem::remove_all(run_dir_);
    }
  }

  static void expect_common(const probe::CheckReport& r, double published_s, double delay_s = kFixedDelayS) {
    EXPECT_TRUE(r.has_video);
    EXPECT_TRUE(r.has_audio);
    ASSERT_TRUE(r.first_output_after_publish_s.has_value());
    EXPECT_LT(*r.first_output_after_publish_s, delay_s + kStartupAfterDelayS);
    // The worker joins at the first keyframe after its start; everything after that comes out.
    EXPECT_GT(r.output_duration_s, published_s - 3.0);
    EXPECT_EQ(r.missing_frames, 0) << "video frames were dropped";
    EXPECT_EQ(r.unreadable_frames, 0) << "video was altered";
    EXPECT_LT(r.max_arrival_gap_ms, 500.0) << "the output stalled";
    ASSERT_TRUE(r.delay_median_ms.has_value());
    // Constant delay: every frame arrives about output-delay later than it was published.
    EXPECT_NEAR(*r.delay_median_ms, delay_s * 1000, 400);
    EXPECT_LT(*r.delay_max_ms - *r.delay_min_ms, 400);
  }

  // What a stream's worker log says: the line with the delay it planned at start (empty when
  // it planned none) and that delay, the fragments that fell back to the original audio (each
  // printed), the phrases it could not stream to STS.
  struct WorkerLog {
    std::string planned;
    int delay_ms = 0;
    int fallbacks = 0;
    int not_streamed = 0;
  };
  WorkerLog read_worker_log(const std::string& stream_id) const {
    WorkerLog log;
    std::ifstream in(run_dir_ / "logs" / ("worker-" + stream_id + ".log"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("output delay ") != std::string::npos && line.find("per audio second") != std::string::npos) {
        log.planned = line;
        log.delay_ms = std::stoi(line.substr(line.find("output delay ") + 13));
      }
      log.not_streamed += line.find("phrase not streamed to STS") != std::string::npos;
      if (line.find("falls back to original audio") != std::string::npos) {
        ++log.fallbacks;
        std::cout << "  " << line << std::endl;
      }
    }
    return log;
  }

  std::filesystem::path run_dir_;
  int rtmp_port_ = 0;
  int orchestrator_port_ = 0;
  int sts_port_ = 0;
  std::optional<ChildProcess> stack_;
};

std::string summary(const probe::CheckReport& r) {
  auto j = r.to_json();
  j.erase("windows");
  j.erase("other_outputs");  // summarised on their own
  // A window per second: expect_music_kept_in_pauses prints the ones that fail. Left out, a
  // failure's own lines stay inside the excerpt of the log that CI shows.
  j.erase("bed");
  return j.dump();
}

}  // namespace

TEST_F(LiveStack, PassthroughOutputStaysInSyncForAMinute) {
  start_stack("mock-passthrough", std::nullopt, kFixedFragments);
  auto report = probe::run_av_check(check("e2esync", 62s));
  std::cout << "e2e passthrough report: " << summary(report) << std::endl;
  expect_common(report, 62);
  ASSERT_GE(report.sync_offsets_ms.size(), 35u) << "beeps and flashes were not found in the output";
  const auto& offsets = report.sync_offsets_ms;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_LE(std::abs(offsets[i]), kSyncToleranceMs) << "start of stream, pair " << i;
    EXPECT_LE(std::abs(offsets[offsets.size() - 1 - i]), kSyncToleranceMs) << "end of stream, pair " << i;
  }
  for (double o : offsets) EXPECT_LE(std::abs(o), kSyncToleranceMs);
  ASSERT_TRUE(report.passthrough_correlation.has_value());
  EXPECT_GT(*report.passthrough_correlation, 0.9) << "output audio does not match the input";
  std::cout << "e2e: output delay median " << *report.delay_median_ms << " ms (min " << *report.delay_min_ms
            << ", max " << *report.delay_max_ms << "), first output " << *report.first_output_after_publish_s
            << " s after publish" << std::endl;
}

// RTMP may carry audio other than AAC (MP3 from older encoders, here at 44.1 kHz, while the
// worker runs at 48 kHz): it is decoded like AAC, and the output is AAC in sync with the video.
TEST_F(LiveStack, AnInputWithMp3AudioIsDecodedAndKeepsSync) {
  start_stack("mock-passthrough", std::nullopt, kFixedFragments);
  auto options = check("e2emp3", 20s);
  options.publisher = probe::CheckOptions::Publisher::ffmpeg;
  options.ffmpeg_audio = {"-c:a", "libmp3lame", "-ar", "44100", "-b:a", "128k"};
  auto report = probe::run_av_check(options);
  std::cout << "e2e mp3 report: " << summary(report) << std::endl;
  expect_common(report, 20);
  ASSERT_GE(report.sync_offsets_ms.size(), 10u) << "beeps and flashes were not found in the output";
  // MP3's own delay (LAME's 576 samples and the decoder's 529, about 25 ms) is in these.
  for (double o : report.sync_offsets_ms) EXPECT_LE(std::abs(o), kSyncToleranceMs);
  ASSERT_TRUE(report.passthrough_correlation.has_value());
  EXPECT_GT(*report.passthrough_correlation, 0.9) << "output audio does not match the input";
}

TEST_F(LiveStack, ToneModeReplacesTheAudioWithTheStsTone) {
  // The third-party destination is unreachable the whole time: the main output must not care.
  auto env = kFixedFragments;
  env["LIVEDUB_EXTRA_OUTPUT_URL"] = "rtmp://127.0.0.1:1/live/unreachable";
  start_stack("mock-tone", std::nullopt, env);
  auto report = probe::run_av_check(check("e2etone", 16s));
  std::cout << "e2e tone report: " << summary(report) << std::endl;
  expect_common(report, 16);
  int tone_windows = 0, windows = 0;
  for (const auto& w : report.windows) {
    if (w.input_time_s < 2 || w.input_time_s > 14) continue;
    ++windows;
    if (w.tone_fraction > 0.8) ++tone_windows;
  }
  ASSERT_GT(windows, 8);
  EXPECT_EQ(tone_windows, windows) << "some output audio was not the STS tone";
  EXPECT_EQ(report.beeps, 0) << "original beeps leaked into the dubbed output";
}

TEST_F(LiveStack, StsOutageFallsBackToOriginalAudioAndRecovers) {
  const int sts_port = free_loopback_port();
  auto start_sts = [&] {
    return ChildProcess(ChildProcess::Options{
        {STS_SERVICE_BIN},
        {{"LIVEDUB_STS_PORT", std::to_string(sts_port)}, {"LIVEDUB_STS_MODE", "mock-tone"}, {"LIVEDUB_STS_HOST", "127.0.0.1"}},
        (std::filesystem::temp_directory_path() / ("livedub-e2e-sts-" + std::to_string(getpid()) + ".log")).string()});
  };
  std::optional<ChildProcess> sts(start_sts());
  const std::string sts_url = "http://127.0.0.1:" + std::to_string(sts_port);
  ASSERT_TRUE(wait_healthy(sts_url + "/healthz", 20s));
  start_stack("mock-tone", sts_url, kFixedFragments);

  auto options = check("e2eoutage", 40s);
  options.on_tick = [&](double t) {
    if (t == 12.0) sts.reset();  // STS dies mid-stream
    if (t == 22.0) sts.emplace(start_sts());
  };
  auto report = probe::run_av_check(options);
  std::cout << "e2e outage report: " << summary(report) << std::endl;
  expect_common(report, 40);

  auto windows_between = [&](double from, double to) {
    std::vector<probe::ToneWindow> out;
    for (const auto& w : report.windows) {
      if (w.input_time_s >= from && w.input_time_s + 1 <= to) out.push_back(w);
    }
    return out;
  };
  auto before = windows_between(3, 10), during = windows_between(15, 21), after = windows_between(28, 37);
  ASSERT_FALSE(before.empty());
  ASSERT_FALSE(during.empty());
  ASSERT_FALSE(after.empty());
  for (const auto& w : before) EXPECT_GT(w.tone_fraction, 0.8) << "before the outage, t=" << w.input_time_s;
  // During the outage the original audio (silence with 1 kHz beeps) must play, not the tone.
  for (const auto& w : during) EXPECT_LT(w.tone_fraction, 0.2) << "during the outage, t=" << w.input_time_s;
  int beeps_during = 0;
  for (const auto& w : during) beeps_during += w.level > 0.01 ? 1 : 0;
  EXPECT_GE(beeps_during, 2) << "the original audio did not come through during the outage";
  for (const auto& w : after) EXPECT_GT(w.tone_fraction, 0.8) << "after recovery, t=" << w.input_time_s;
}

// Successful dubs an STS service has counted (its /metrics), or -1 when it cannot be read.
double sts_ok_requests(const std::string& base_url) {
  try {
    HttpClient http;
    const auto body = http.get(base_url + "/metrics", 2s).body;
    const std::string key = "livedub_sts_requests_total{outcome=\"ok\"} ";
    const auto at = body.find(key);
    return at == std::string::npos ? -1 : std::stod(body.substr(at + key.size()));
  } catch (const std::exception&) {
    return -1;
  }
}

TEST_F(LiveStack, TwoStsEndpointsShareTheWorkAndOneMayDie) {
  const int port_a = free_loopback_port(), port_b = free_loopback_port();
  auto start_sts = [&](int port) {
    return ChildProcess(ChildProcess::Options{
        {STS_SERVICE_BIN},
        {{"LIVEDUB_STS_PORT", std::to_string(port)}, {"LIVEDUB_STS_MODE", "mock-tone"}, {"LIVEDUB_STS_HOST", "127.0.0.1"}},
        (std::filesystem::temp_directory_path() / ("livedub-e2e-sts-" + std::to_string(port) + ".log")).string()});
  };
  const std::string url_a = "http://127.0.0.1:" + std::to_string(port_a);
  const std::string url_b = "http://127.0.0.1:" + std::to_string(port_b);
  std::optional<ChildProcess> sts_a(start_sts(port_a)), sts_b(start_sts(port_b));
  ASSERT_TRUE(wait_healthy(url_a + "/readyz", 20s));
  ASSERT_TRUE(wait_healthy(url_b + "/readyz", 20s));
  auto env = kFixedFragments;
  env["LIVEDUB_STS_HEALTH_INTERVAL_MS"] = "500";
  start_stack("mock-tone", url_a + "," + url_b, env);

  double a_before = -1, b_before = -1, a_after_restart = -1;
  auto options = check("e2etwosts", 40s);
  options.on_tick = [&](double t) {
    if (t == 10.0) {
      a_before = sts_ok_requests(url_a);
      b_before = sts_ok_requests(url_b);
      sts_a.reset();  // one pod dies mid-stream
    }
    if (t == 22.0) sts_a.emplace(start_sts(port_a));
    if (t == 44.0) a_after_restart = sts_ok_requests(url_a);  // draining; a fresh process counts only new work
  };
  auto report = probe::run_av_check(options);
  std::cout << "e2e two-STS report: " << summary(report) << "; ok requests before the kill: A " << a_before
            << ", B " << b_before << "; A after its restart: " << a_after_restart << std::endl;
  expect_common(report, 40);
  EXPECT_GT(a_before, 0) << "fragments were not spread over both endpoints";
  EXPECT_GT(b_before, 0) << "fragments were not spread over both endpoints";
  EXPECT_GT(a_after_restart, 0) << "the restarted endpoint was not taken back into service";

  // While A is down, B alone dubs every fragment: after the (at most two) fragments that find
  // A dead, no window falls back to the original audio.
  int windows = 0, dubbed = 0;
  for (const auto& w : report.windows) {
    if (w.input_time_s < 15 || w.input_time_s + 1 > 37) continue;
    ++windows;
    if (w.tone_fraction > 0.8) ++dubbed;
    else std::cout << "  not dubbed at t=" << w.input_time_s << std::endl;
  }
  ASSERT_GT(windows, 15);
  EXPECT_EQ(dubbed, windows);
}

// --- the embedded CPU engines ---------------------------------------------------------------

// Human English speech with long pauses, looped by the probe: [speech 0880][8 s][speech 0930][8 s].
struct SpeechLoop {
  std::vector<std::int16_t> samples;  // 16 kHz mono
  std::vector<std::pair<double, double>> segments;  // speech [start, end) seconds within one loop
  double period_s = 0;

  // Seconds of speech within [from, to) on the looping input timeline.
  double speech_within(double from, double to) const {
    double total = 0;
    const double first_loop = std::floor(from / period_s);
    for (double loop = first_loop; loop * period_s < to; loop += 1) {
      for (const auto& [a, b] : segments) {
        const double start = std::max(from, loop * period_s + a), end = std::min(to, loop * period_s + b);
        total += std::max(0.0, end - start);
      }
    }
    return total;
  }
};

SpeechLoop make_speech_loop(const std::filesystem::path& wav_out) {
  const std::filesystem::path librivox = "/usr/share/pocketsphinx/test/data/librivox";
  SpeechLoop loop;
  for (const char* id : {"sense_and_sensibility_01_austen_64kb-0880", "sense_and_sensibility_01_austen_64kb-0930"}) {
    const auto speech = read_wav_file((librivox / (std::string(id) + ".wav")).string());
    const double start = static_cast<double>(loop.samples.size()) / 16000.0;
    loop.samples.insert(loop.samples.end(), speech.samples.begin(), speech.samples.end());
    loop.segments.emplace_back(start, static_cast<double>(loop.samples.size()) / 16000.0);
    loop.samples.resize(loop.samples.size() + 8 * 16000, 0);
  }
  loop.period_s = static_cast<double>(loop.samples.size()) / 16000.0;
  const auto bytes = encode_wav(AudioBuffer{{16000, 1}, 0, loop.samples});
  std::ofstream(wav_out, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                  static_cast<std::streamsize>(bytes.size()));
  return loop;
}

// Music under the speech, as streams have it: colobot's "Constructive" at a tenth of its level,
// about 5 dB under the speech. Published from a 48 kHz mono WAV decoded with GStreamer.
std::filesystem::path decode_music(const std::filesystem::path& out) {
  auto r = test_support::run_command({"/usr/bin/gst-launch-1.0", "-q", "filesrc",
                                      "location=/usr/share/games/colobot/music/Constructive.ogg", "!", "decodebin", "!",
                                      "audioconvert", "!", "audioresample", "!",
                                      "audio/x-raw,rate=48000,channels=1,format=S16LE", "!", "wavenc", "!", "filesink",
                                      "location=" + out.string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return out;
}

// Where nobody spoke for 1.5 s either side, the output is the published music: correlation
// >= 0.9 and level within 1 dB (one window may hold the first output's start).
void expect_music_kept_in_pauses(const probe::CheckReport& report, const SpeechLoop& loop) {
  ASSERT_FALSE(report.bed.empty());
  // A/V sync on this path: the music in the output lines up with the video's frame clock
  // (found by correlation) within the same +-40 ms as the beep/flash pairs elsewhere.
  ASSERT_TRUE(report.bed_lag_ms.has_value());
  EXPECT_LE(std::abs(*report.bed_lag_ms), kSyncToleranceMs) << "audio against video";
  int pause_windows = 0, pause_ok = 0;
  for (const auto& w : report.bed) {
    const double t = w.input_time_s;
    if (t < 1 || loop.speech_within(t - 1.5, t + 1.5) > 0) continue;
    ++pause_windows;
    if (w.correlation >= 0.9 && std::abs(w.gain_db) <= 1.0) ++pause_ok;
    else std::cout << "  pause window t=" << t << ": correlation " << w.correlation << ", " << w.gain_db << " dB\n";
  }
  std::cout << "e2e: music kept in " << pause_ok << "/" << pause_windows << " pause windows" << std::endl;
  ASSERT_GE(pause_windows, 12);
  EXPECT_GE(pause_ok, pause_windows - 1);
}

// Phrases found by Silero VAD, with the mock STS, whose dub is a 440 Hz tone over exactly the
// speech spans it is sent: the tone plays where each phrase was, never over the music alone,
// and under it the music stays at the duck depth. The bed is the plain duck here: the voice
// reduction (the default) reshapes the music's spectrum under speech, which the correlation
// measurement below would count as lost music; its effect is measured in bench/dub_quality.
TEST_F(LiveStack, PhrasesAreDubbedWhereSpokenOverTheDuckedMusic) {
  start_stack("mock-tone", std::nullopt, {{"LIVEDUB_BED_MODE", "duck"}, {"LIVEDUB_BED_DUCK_DB", "-18"}, kPhraseDelay});
  const auto loop = make_speech_loop(run_dir_ / "speech-en.wav");
  auto options = check("e2ebed", 40s);
  options.speech_wav = (run_dir_ / "speech-en.wav").string();
  options.music_wav = decode_music(run_dir_ / "music.wav").string();
  options.music_gain = 0.1;
  options.pattern.beep_amplitude = 0;
  auto report = probe::run_av_check(options);
  std::cout << "e2e bed report: " << summary(report) << std::endl;
  expect_common(report, 40, kPhraseDelayS);
  expect_music_kept_in_pauses(report, loop);

  // The tone: in every window inside a phrase, in no window of music alone.
  int inside = 0, inside_tone = 0, outside = 0, outside_tone = 0;
  for (const auto& w : report.windows) {
    const double t = w.input_time_s;
    if (t < 1) continue;
    if (loop.speech_within(t, t + 1) >= 0.99) {
      ++inside;
      inside_tone += w.tone_fraction > 0.5 ? 1 : 0;
    } else if (loop.speech_within(t - 1.5, t + 1.5) == 0) {
      ++outside;
      outside_tone += w.tone_fraction > 0.1 ? 1 : 0;
    }
  }
  std::cout << "e2e bed: tone in " << inside_tone << "/" << inside << " phrase windows, " << outside_tone << "/"
            << outside << " music windows" << std::endl;
  ASSERT_GE(inside, 3);
  EXPECT_EQ(inside_tone, inside) << "a phrase was not dubbed where it was spoken";
  EXPECT_EQ(outside_tone, 0) << "the music alone was dubbed";
  // Four phrases, each longer than the 2.5 s maximum and so cut once: 8 requests at most.
  EXPECT_LE(sts_ok_requests("http://127.0.0.1:" + std::to_string(sts_port_)), 8) << "music-only audio reached STS";

  // Under each phrase the music stays, ducked to LIVEDUB_BED_DUCK_DB (-18 dB) +-3 dB, measured
  // over the whole windows inside the phrase (away from its ramps).
  int phrases = 0;
  for (double loop_start = 0; loop_start < 40; loop_start += loop.period_s) {
    for (const auto& [a, b] : loop.segments) {
      // Whole windows inside the phrase, away from its ramps.
      double om = 0, mm = 0;
      for (const auto& w : report.bed) {
        if (w.input_time_s >= loop_start + a + 0.3 && w.input_time_s + 1 <= loop_start + b - 0.1) {
          om += w.projection;
          mm += w.music_energy;
        }
      }
      // The first phrase starts with the stream, before the worker's first output.
      if (mm <= 0 || loop_start + a < 2.0) continue;
      ++phrases;
      const double gain_db = 20 * std::log10(std::max(om, 1e-12) / mm);
      std::cout << "  phrase at " << loop_start + a << " s: bed " << gain_db << " dB" << std::endl;
      EXPECT_NEAR(gain_db, -18.0, 3.0) << "bed under the phrase at " << loop_start + a << " s";
    }
  }
  EXPECT_GE(phrases, 3);
  // Joins: no click. The output's largest step between two samples stays within twice the
  // input's own (music + speech), whatever the dub adds.
  EXPECT_LE(report.max_sample_jump, 2 * report.input_max_sample_jump);
}

// Caption helpers for the two-language case.
struct TimedText {
  double start_s = 0, end_s = 0;
  std::string text;
};

double parse_clock(const std::string& hh_mm_ss_mmm, char decimal) {
  // "01:02:03.004" (WebVTT) or "01:02:03,004" (SRT)
  int h = 0, m = 0, sec = 0, ms = 0;
  const std::string format = std::string("%d:%d:%d") + decimal + "%d";
  if (std::sscanf(hh_mm_ss_mmm.c_str(), format.c_str(), &h, &m, &sec, &ms) != 4) return -1;
  return h * 3600.0 + m * 60.0 + sec + ms / 1000.0;
}

// Cues of a WebVTT or SRT text: a timing line, then text lines until a blank one.
std::vector<TimedText> parse_timed_text(const std::string& text, char decimal) {
  std::vector<TimedText> cues;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto arrow = line.find(" --> ");
    if (arrow == std::string::npos) continue;
    TimedText cue{parse_clock(line.substr(0, arrow), decimal), parse_clock(line.substr(arrow + 5), decimal), ""};
    while (std::getline(in, line) && !line.empty() && line != "\r") {
      if (!cue.text.empty()) cue.text += ' ';
      cue.text += line;
    }
    cues.push_back(std::move(cue));
  }
  return cues;
}

// Lower-case words, markup and punctuation dropped (608 decoders add font tags and {\an7}).
std::vector<std::string> words_of(std::string text) {
  for (std::string tag : {"<font face=\"Monospace\">", "</font>", "{\\an7}"}) {
    for (auto at = text.find(tag); at != std::string::npos; at = text.find(tag)) text.erase(at, tag.size());
  }
  std::vector<std::string> words;
  std::string word;
  for (char c : text + " ") {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80 || c == '\'') {
      word += static_cast<char>(std::tolower(u));
    } else if (!word.empty()) {
      words.push_back(word);
      word.clear();
    }
  }
  return words;
}

// The CEA-608 captions in a recorded FLV, decoded by FFmpeg (lavfi movie, +subcc) into SRT, on
// the FLV's own timeline.
std::vector<TimedText> rtmp_captions(const std::filesystem::path& flv) {
  auto start = test_support::run_command({"/usr/bin/ffprobe", "-v", "error", "-show_entries", "format=start_time", "-of",
                                          "csv=p=0", flv.string()});
  EXPECT_EQ(start.exit_code, 0) << start.output;
  auto srt = test_support::run_command({"/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                                        "movie=" + flv.string() + "[out0+subcc]", "-map", "0:s", "-f", "srt", "-"},
                                       {}, 60s);
  EXPECT_EQ(srt.exit_code, 0) << srt.output;
  auto cues = parse_timed_text(srt.output, ',');
  const double offset = std::atof(start.output.c_str());
  for (auto& cue : cues) {
    cue.start_s += offset;
    cue.end_s += offset;
  }
  return cues;
}

// Mono 16 kHz PCM of a recorded FLV's audio and the time of its first sample.
std::pair<std::vector<std::int16_t>, double> flv_audio(const std::filesystem::path& flv) {
  auto start = test_support::run_command({"/usr/bin/ffprobe", "-v", "error", "-select_streams", "a", "-show_entries",
                                          "stream=start_time", "-of", "csv=p=0", flv.string()});
  const auto wav = flv.string() + ".wav";
  auto decode = test_support::run_command({"/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i",
                                           flv.string(), "-vn", "-ac", "1", "-ar", "16000", wav},
                                          {}, 60s);
  EXPECT_EQ(decode.exit_code, 0) << decode.output;
  return {read_wav_file(wav).samples, std::atof(start.output.c_str())};
}

// Phrases stream to the STS while spoken; the STS dies in the middle of one. That phrase falls
// back to the original voice (its chunks lost, its whole-audio retry refused), the output runs
// on at its constant delay, and once the STS is back the next phrases stream and are dubbed
// again. No delay set: the mock's planned default (2.5 s fragments + margin) must be <= 3 s.
TEST_F(LiveStack, AnStsKilledMidPhraseFallsBackAndStreamingResumes) {
  const int sts_port = free_loopback_port();
  const auto sts_log = run_dir_.parent_path() / ("livedub-e2e-sts-mid-phrase-" + std::to_string(getpid()) + ".log");
  auto start_sts = [&] {
    return ChildProcess(ChildProcess::Options{
        {STS_SERVICE_BIN},
        {{"LIVEDUB_STS_PORT", std::to_string(sts_port)}, {"LIVEDUB_STS_MODE", "mock-tone"}, {"LIVEDUB_STS_HOST", "127.0.0.1"}},
        sts_log.string()});
  };
  std::optional<ChildProcess> sts(start_sts());
  const std::string sts_url = "http://127.0.0.1:" + std::to_string(sts_port);
  ASSERT_TRUE(wait_healthy(sts_url + "/readyz", 20s));
  start_stack("mock-tone", sts_url, {{"LIVEDUB_BED_MODE", "duck"}, {"LIVEDUB_BED_DUCK_DB", "-18"}});
  const auto loop = make_speech_loop(run_dir_ / "speech-en.wav");
  auto options = check("e2emidphrase", 50s);
  options.speech_wav = (run_dir_ / "speech-en.wav").string();
  options.pattern.beep_amplitude = 0;
  // The first loop's second phrase: killed a second into it, back 6 s later (in the pause).
  const double second_phrase = loop.segments[1].first;
  const double kill_at = std::floor(second_phrase) + 1.0, back_at = kill_at + 6.0;
  options.on_tick = [&](double t) {
    if (t == kill_at) sts.reset();
    if (t == back_at) sts.emplace(start_sts());
  };
  auto report = probe::run_av_check(options);
  std::cout << "e2e STS killed mid-phrase: " << summary(report) << std::endl;

  const auto log = read_worker_log("e2emidphrase");
  ASSERT_FALSE(log.planned.empty()) << "the worker did not plan its delay";
  std::cout << "e2e mid-phrase planned delay: " << log.planned << std::endl;
  // 3.0 s to the target's precision: the mock's close costs 0-2 ms per audio second with the
  // machine's load, counted double over 2.5 s on a fresh STS (3000-3010 ms seen).
  EXPECT_LE(log.delay_ms, 3049) << "the mock's default delay";
  expect_common(report, 50, log.delay_ms / 1000.0);
  EXPECT_GE(log.not_streamed, 1) << "the worker never noticed the STS gone mid-phrase";
  EXPECT_GE(log.fallbacks, 1);

  // The tone (the mock's dub) where phrases were spoken: not in the killed one, in those after.
  const auto tone_in = [&](double from, double to) {
    int windows = 0, toned = 0;
    for (const auto& w : report.windows) {
      if (w.input_time_s < from || w.input_time_s + 1 > to || loop.speech_within(w.input_time_s, w.input_time_s + 1) < 0.99) continue;
      ++windows;
      toned += w.tone_fraction > 0.5;
      std::cout << "  phrase window t=" << w.input_time_s << ": tone " << w.tone_fraction << std::endl;
    }
    return std::pair{windows, toned};
  };
  const auto killed = tone_in(kill_at, second_phrase + (loop.segments[1].second - loop.segments[1].first));
  const auto after = tone_in(loop.period_s, 50);
  std::cout << "e2e mid-phrase: tone in " << killed.second << "/" << killed.first << " windows of the killed phrase, "
            << after.second << "/" << after.first << " after the STS came back" << std::endl;
  ASSERT_GE(killed.first, 1);
  EXPECT_EQ(killed.second, 0) << "the phrase the STS died in was dubbed anyway?";
  ASSERT_GE(after.first, 3);
  EXPECT_EQ(after.second, after.first) << "dubbing did not resume after the STS came back";
  std::filesystem::remove(sts_log);
}

// One stack, one 40 s stream of human speech over music through the real engines, dubbed into
// Spanish and Catalan at once (LIVEDUB_TARGET_LANGS=es,ca): both outputs live, each with its
// own dub over the one bed, in sync and at the constant delay; captions for the source and both
// languages timed to the phrases; CEA-608 captions in each RTMP output; the status page in a
// real browser shows the stream and its lines.
//
// At the default delay: none is set, so the worker plans it at start on what the STS says is
// left once a streamed phrase ends (its calibration dub), and streams each phrase as it is
// spoken. That delay must stay under 4 s on this 2-core machine with no phrase falling back.
TEST_F(LiveStack, RealEnginesDubOneStreamIntoTwoLanguagesWithCaptions) {
  start_stack("cpu", std::nullopt, {{"LIVEDUB_TARGET_LANGS", "es,ca"}});
  const auto loop = make_speech_loop(run_dir_ / "speech-en.wav");
  auto options = check("e2ecpu", 40s);
  options.speech_wav = (run_dir_ / "speech-en.wav").string();
  options.music_wav = decode_music(run_dir_ / "music.wav").string();
  options.music_gain = 0.1;
  options.pattern.beep_amplitude = 0;  // the recogniser hears only the speech (and the music)
  options.record_path = (run_dir_ / "out-es.flv").string();
  options.other_outputs.push_back({options.output_url + "-ca", (run_dir_ / "out-ca.flv").string()});
  const std::string token = [&] {
    std::ifstream in(run_dir_ / "secrets" / "orchestrator-token");
    std::string t;
    std::getline(in, t);
    return t;
  }();
  const std::string orchestrator = "http://127.0.0.1:" + std::to_string(orchestrator_port_);
  // The status page in headless Chromium while the stream is live (DOM after its scripts ran,
  // and a screenshot kept as a test artifact). The browsers run at the lowest CPU priority, one
  // after the other, in the 8 s pause after the second phrase was dubbed: two starting at once
  // at 28 s took both cores for ~6 s, starved the phrase being streamed then and made it fall
  // back (a load of the test's own, not the stack's).
  const auto artifacts = std::filesystem::path(LIVEDUB_BUILD_DIR) / "test-artifacts";
  std::filesystem::create_directories(artifacts);
  const auto screenshot = artifacts / "status-page.png";
  std::filesystem::remove(screenshot);
  std::future<std::pair<test_support::CommandResult, test_support::CommandResult>> browser;  // DOM, screenshot
  const auto chromium = [&](const std::string& what) {
    return test_support::run_command({"/usr/bin/nice", "-n", "19", "/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                                      "--hide-scrollbars", "--window-size=1200,800", "--virtual-time-budget=6000",
                                      "--user-data-dir=" + (run_dir_ / ("chromium-" + what.substr(2, 4))).string(), what,
                                      orchestrator + "/#token=" + token},
                                     {}, 60s);
  };
  options.on_tick = [&](double t) {
    if (t >= loop.segments[1].second + 1.5 && !browser.valid()) {
      // By value: if the test stops early, the future waits for the browsers in its destructor,
      // after this lambda is gone.
      browser = std::async(std::launch::async, [chromium, screenshot] {
        auto page = chromium("--dump-dom");
        return std::pair{std::move(page), chromium("--screenshot=" + screenshot.string())};
      });
    }
  };
  auto report = probe::run_av_check(options);
  std::cout << "e2e cpu report (es): " << summary(report) << std::endl;
  ASSERT_EQ(report.other_outputs.size(), 1u);
  const auto& catalan = report.other_outputs[0];
  std::cout << "e2e cpu report (ca): " << summary(catalan) << std::endl;
  // The delay the worker planned, and what it rests on.
  const auto log = read_worker_log("e2ecpu");
  ASSERT_FALSE(log.planned.empty()) << "the worker did not plan its delay on the STS's cost";
  std::cout << "e2e cpu planned delay: " << log.planned << std::endl;
  EXPECT_NE(log.planned.find("left once a streamed phrase ends"), std::string::npos);
  EXPECT_LE(log.delay_ms, 4000) << "the CPU engines' default delay";
  const double delay_s = log.delay_ms / 1000.0;
  EXPECT_EQ(log.fallbacks, 0) << "phrases fell back to the original voice at the default delay";
  int streamed_closes = 0;
  std::string line;
  std::ifstream sts_log(run_dir_ / "logs" / "sts-service.log");
  while (std::getline(sts_log, line)) {
    streamed_closes += line.find("\"recognised_while_spoken\":true") != std::string::npos;
  }
  EXPECT_GE(streamed_closes, 3) << "phrases were not recognised while spoken";
  // Both outputs: tracks, no stall, the constant delay; each as a single-language stream is.
  expect_common(report, 40, delay_s);
  expect_common(catalan, 40, delay_s);
  for (double o : report.sync_offsets_ms) EXPECT_LE(std::abs(o), kSyncToleranceMs);
  std::cout << "e2e two languages: delay es " << *report.delay_median_ms << " ms, ca " << *catalan.delay_median_ms
            << " ms; audio against video (bed lag) es " << report.bed_lag_ms.value_or(NAN) << " ms, ca "
            << catalan.bed_lag_ms.value_or(NAN) << " ms" << std::endl;

  // What the STS service made of this stream: Spanish text for the English speech.
  HttpClient http;
  auto session_response = http.get("http://127.0.0.1:" + std::to_string(sts_port_) + "/v1/sessions/e2ecpu", 5s);
  ASSERT_EQ(session_response.status, 200) << session_response.body;
  const auto session = nlohmann::json::parse(session_response.body);
  std::string spanish;
  int dubbed_with_speech = 0, requests = 0;
  for (const auto& fragment : session["fragments"]) {
    std::cout << "  #" << fragment["sequence"] << " " << fragment["transcript"] << " -> " << fragment["translation"]
              << " (" << fragment["time_fit"] << ")\n";
    ++requests;
    spanish += ' ';  // appended in two steps: GCC 12 misreports " " + string under -O3 (-Wrestrict)
    spanish += fragment["translation"].get<std::string>();
    if (!fragment["translation"].get<std::string>().empty()) ++dubbed_with_speech;
  }
  int content_words = 0;
  for (const char* word : {"hombre", "joven", "incluso", "podría", "amable", "haber", "hecho"}) {
    if (spanish.find(word) != std::string::npos) ++content_words;
  }
  EXPECT_GE(content_words, 2) << "expected Spanish content words in:" << spanish;
  // 40 s hold 4 phrases (2 per 22.3 s loop, one longer than the 2.5 s maximum and so cut
  // once): one request per fragment, for both languages (one recognition). Fixed 2 s fragments
  // made 20; a detector hearing the music as speech would make more.
  EXPECT_GE(dubbed_with_speech, 3) << "phrases were not dubbed";
  EXPECT_LE(requests, 9) << "music-only audio was sent to STS";

  // The bed, window by window on the input timeline (the video's clock), in both outputs: where
  // nobody spoke for a while, the output is the music itself.
  expect_music_kept_in_pauses(report, loop);
  expect_music_kept_in_pauses(catalan, loop);
  EXPECT_LE(report.max_sample_jump, 2 * report.input_max_sample_jump);
  EXPECT_LE(catalan.max_sample_jump, 2 * catalan.input_max_sample_jump);
  for (const probe::CheckReport* r : {static_cast<const probe::CheckReport*>(&report), &catalan}) {
    int speech_expected = 0, speech_ok = 0;
    for (const auto& w : r->windows) {
      if (loop.speech_within(w.input_time_s, w.input_time_s + 1) < 0.99) continue;
      ++speech_expected;
      if (w.level > 0.01) ++speech_ok;
    }
    ASSERT_GE(speech_expected, 3);
    EXPECT_GE(speech_ok * 2, speech_expected);
  }

  // Each output has its own dub: inside phrases the two outputs differ (two voices), in the
  // pauses they are the same bed. Compared second by second on the outputs' shared timeline.
  ASSERT_TRUE(report.pts_offset_ms.has_value());
  const double offset_s = *report.pts_offset_ms / 1000.0;  // output time = input time + offset
  const auto [es_audio, es_start] = flv_audio(run_dir_ / "out-es.flv");
  const auto [ca_audio, ca_start] = flv_audio(run_dir_ / "out-ca.flv");
  int phrase_windows = 0, phrase_different = 0, pause_windows = 0, pause_same = 0;
  for (double t = 2; t + 1 < 40; t += 1) {  // input time
    const auto at_es = static_cast<std::int64_t>(std::llround((t + offset_s - es_start) * 16000));
    const auto at_ca = static_cast<std::int64_t>(std::llround((t + offset_s - ca_start) * 16000));
    if (at_es < 0 || at_ca < 0 || at_es + 16000 > static_cast<std::int64_t>(es_audio.size()) ||
        at_ca + 16000 > static_cast<std::int64_t>(ca_audio.size())) {
      continue;
    }
    double ab = 0, aa = 0, bb = 0;
    for (std::int64_t i = 0; i < 16000; ++i) {
      const double a = es_audio[static_cast<std::size_t>(at_es + i)], b = ca_audio[static_cast<std::size_t>(at_ca + i)];
      ab += a * b;
      aa += a * a;
      bb += b * b;
    }
    const double correlation = aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 1.0;
    if (loop.speech_within(t, t + 1) >= 0.99) {
      ++phrase_windows;
      phrase_different += correlation < 0.5 ? 1 : 0;
    } else if (loop.speech_within(t - 1.5, t + 2.5) == 0) {
      ++pause_windows;
      pause_same += correlation > 0.95 ? 1 : 0;
    }
  }
  std::cout << "e2e two languages: outputs differ in " << phrase_different << "/" << phrase_windows
            << " phrase windows, match in " << pause_same << "/" << pause_windows << " pause windows" << std::endl;
  ASSERT_GE(phrase_windows, 3);
  EXPECT_GE(phrase_different * 2, phrase_windows) << "the two outputs carry the same dub";
  ASSERT_GE(pause_windows, 8);
  EXPECT_GE(pause_same, pause_windows - 1) << "the outputs do not share one bed";

  // Captions, over HTTP as a player fetches them: the source and both languages, each cue
  // inside the phrase it belongs to (+-250 ms) on the output's timeline.
  const auto vtt = [&](const std::string& path) {
    auto r = http.get(orchestrator + path, 5s, {"Authorization: Bearer " + token});
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(r.body.rfind("WEBVTT\n", 0), 0u) << r.body;
    return r.body;
  };
  std::map<std::string, std::vector<TimedText>> cues;
  for (const char* lang : {"en", "es", "ca"}) cues[lang] = parse_timed_text(vtt(std::string("/v1/streams/e2ecpu/captions/") + lang + ".vtt"), '.');
  const auto live = parse_timed_text(vtt("/v1/streams/e2ecpu/captions/ca/live.vtt"), '.');
  EXPECT_FALSE(live.empty());
  EXPECT_LE(live.size(), cues["ca"].size());
  std::string catalan_text;
  for (const auto& cue : cues["ca"]) catalan_text += " " + cue.text;
  int catalan_words = 0;
  for (const char* word : {"home", "jove", "podria", "haver", "fet", "amable"}) {
    if (catalan_text.find(word) != std::string::npos) ++catalan_words;
  }
  EXPECT_GE(catalan_words, 2) << "expected Catalan content words in:" << catalan_text;
  double worst_start = 0, worst_end = 0;
  std::map<std::string, std::vector<double>> from_phrase_start;  // cue start - phrase start, ms
  for (const auto& [lang, list] : cues) {
    EXPECT_GE(list.size(), 3u) << lang;
    for (const auto& cue : list) {
      const double start = cue.start_s - offset_s, end = cue.end_s - offset_s;  // input time
      const double loop_start = std::floor(start / loop.period_s) * loop.period_s;
      // The phrase holding the cue's start (or the nearest after it).
      std::optional<std::pair<double, double>> phrase;
      for (const auto& [a, b] : loop.segments) {
        if (start <= loop_start + b + 0.25) {
          phrase = {loop_start + a, loop_start + b};
          break;
        }
      }
      ASSERT_TRUE(phrase) << lang << " cue at " << start << " s belongs to no phrase: " << cue.text;
      const double start_error = start < phrase->first ? phrase->first - start : start > phrase->second ? start - phrase->second : 0;
      // The source line ends with the speech; a dub may run on into the pause after it.
      const double end_error = lang == "en" ? std::max(0.0, end - phrase->second) : 0.0;
      from_phrase_start[lang].push_back((start - phrase->first) * 1000);
      worst_start = std::max(worst_start, start_error);
      worst_end = std::max(worst_end, end_error);
      EXPECT_LE(start_error, 0.25) << lang << " cue [" << start << ", " << end << "] vs phrase [" << phrase->first
                                   << ", " << phrase->second << "]: " << cue.text;
      EXPECT_LE(end_error, 0.25) << lang << " cue [" << start << ", " << end << "] vs phrase [" << phrase->first
                                 << ", " << phrase->second << "]: " << cue.text;
      EXPECT_LE(end, phrase->second + 4.0) << lang << ": a cue runs on past its phrase's room";
    }
  }
  std::cout << "e2e captions: " << cues["en"].size() << " en, " << cues["es"].size() << " es, " << cues["ca"].size()
            << " ca cues; worst start outside its phrase " << worst_start * 1000 << " ms, worst source end "
            << worst_end * 1000 << " ms" << std::endl;
  for (const auto& [lang, list] : from_phrase_start) {
    std::cout << "  " << lang << " cue starts after their phrase's start (ms):";
    for (double ms : list) std::cout << " " << std::lround(ms);
    std::cout << std::endl;
  }

  // The captions inside each RTMP output (CEA-608 in the H.264), read back with FFmpeg: the
  // output's own language, in step with its WebVTT cues.
  for (const auto& [lang, flv] : std::vector<std::pair<std::string, std::string>>{{"es", "out-es.flv"}, {"ca", "out-ca.flv"}}) {
    const auto embedded = rtmp_captions(run_dir_ / flv);
    ASSERT_GE(embedded.size(), 2u) << lang << ": no CEA-608 captions in the RTMP output";
    std::vector<double> lags;
    int words_found = 0, words_total = 0;
    for (const auto& caption : embedded) {
      // The WebVTT cue this caption (or its part of a long cue) shows.
      const TimedText* best = nullptr;
      for (const auto& cue : cues[lang]) {
        if (cue.start_s <= caption.start_s + 0.5 && caption.start_s < cue.end_s) best = &cue;
      }
      ASSERT_TRUE(best) << lang << " caption at " << caption.start_s << " s matches no cue: " << caption.text;
      const auto cue_words = words_of(best->text);
      for (const auto& word : words_of(caption.text)) {
        ++words_total;
        words_found += std::find(cue_words.begin(), cue_words.end(), word) != cue_words.end() ? 1 : 0;
      }
      // A long cue is split over several captions; only the first starts with the cue.
      if (words_of(caption.text).front() == cue_words.front()) lags.push_back(caption.start_s - best->start_s);
    }
    std::sort(lags.begin(), lags.end());
    ASSERT_FALSE(lags.empty());
    const double median_lag = lags[lags.size() / 2];
    std::cout << "e2e RTMP captions (" << lang << "): " << embedded.size() << " captions, words matching the cues "
              << words_found << "/" << words_total << ", lag behind the cue median " << median_lag * 1000 << " ms, max "
              << lags.back() * 1000 << " ms" << std::endl;
    EXPECT_GE(words_found * 10, words_total * 9) << lang;
    EXPECT_LE(std::abs(median_lag), 0.25) << lang;
  }

  // The status page as a browser shows it, while the stream was live.
  ASSERT_TRUE(browser.valid()) << "the browser was never started";
  const auto [page, picture] = browser.get();
  ASSERT_EQ(page.exit_code, 0) << page.output.substr(0, 2000);
  EXPECT_EQ(picture.exit_code, 0) << picture.output.substr(0, 2000);
  std::ofstream(artifacts / "status-page.html") << page.output;
  const auto delay_shown = fmt::format("{:.1f} s", delay_s);
  EXPECT_NE(page.output.find(delay_shown), std::string::npos) << "status page lacks the delay " << delay_shown;
  for (const char* expected : {"data-stream-id=\"e2ecpu\"", "class=\"state state-running\"",
                               "1 of 1 in service", "live/e2ecpu/out-ca", "class=\"heard\" data-lang=\"en\"",
                               "class=\"said\" data-lang=\"es\"", "class=\"said\" data-lang=\"ca\""}) {
    EXPECT_NE(page.output.find(expected), std::string::npos) << "status page lacks " << expected;
  }
  // Lines heard and said: the page lists caption text, not the "nothing yet" placeholder.
  for (const char* section : {"class=\"heard\"", "data-lang=\"ca\"><h3>"}) {
    const auto at = page.output.find(section);
    ASSERT_NE(at, std::string::npos) << section;
    const auto list = page.output.substr(at, page.output.find("</ol>", at) - at);
    EXPECT_EQ(list.find("nothing yet"), std::string::npos) << "no lines in " << list;
    EXPECT_NE(list.find("<li>"), std::string::npos) << list;
  }
  ASSERT_TRUE(std::filesystem::exists(screenshot));
  EXPECT_GT(std::filesystem::file_size(screenshot), 10'000u);
  std::cout << "e2e status page: screenshot " << screenshot << std::endl;
}

// The seed's URLs from every kind of RTMP client, through rtmp-front: ffmpeg, GStreamer's
// rtmp2 and librtmp (rtmpsink) split rtmp://h/live/<id>/in as application "live/<id>"; OBS
// (emulated with ffmpeg's explicit split) as "live" + "<id>/in". Each publishes its own id;
// each dubbed output is then played with the same URL forms.
TEST_F(LiveStack, EveryRtmpClientPublishesAndPlaysTheSeedsUrls) {
  start_stack("mock-passthrough", std::nullopt, kFixedFragments);
  const std::string base = "rtmp://127.0.0.1:" + std::to_string(rtmp_port_) + "/live/";
  const std::vector<std::string> ffmpeg_input{"/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
                                              "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                                              "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                                              "-t", "40", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                                              "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv"};
  struct Client {
    std::string name, id;
    std::vector<std::string> argv;
  };
  auto with = [](std::vector<std::string> a, std::initializer_list<std::string> more) {
    a.insert(a.end(), more);
    return a;
  };
  const std::vector<Client> clients{
      {"ffmpeg, URL", "rtmpff", with(ffmpeg_input, {base + "rtmpff/in"})},
      {"ffmpeg, OBS split", "rtmpobs", with(ffmpeg_input, {"-rtmp_app", "live", "-rtmp_playpath", "rtmpobs/in", base + "rtmpobs/in"})},
      {"GStreamer rtmp2sink, URL", "rtmpgst", {"/usr/bin/timeout", "40", "/usr/bin/gst-launch-1.0", "-q", "-e",
          "videotestsrc", "is-live=true", "!", "video/x-raw,width=320,height=240,framerate=25/1", "!", "x264enc",
          "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=25", "!", "h264parse", "!", "flvmux", "name=m",
          "streamable=true", "!", "rtmp2sink", "location=" + base + "rtmpgst/in", "audiotestsrc", "is-live=true", "!",
          "audio/x-raw,rate=48000,channels=2", "!", "avenc_aac", "!", "aacparse", "!", "m."}},
      {"librtmp (GStreamer rtmpsink), URL", "rtmplib", {"/usr/bin/timeout", "40", "/usr/bin/gst-launch-1.0", "-q", "-e",
          "videotestsrc", "is-live=true", "!", "video/x-raw,width=320,height=240,framerate=25/1", "!", "x264enc",
          "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=25", "!", "h264parse", "!", "flvmux", "name=m",
          "streamable=true", "!", "rtmpsink", "location=" + base + "rtmplib/in live=1", "audiotestsrc", "is-live=true", "!",
          "audio/x-raw,rate=48000,channels=2", "!", "avenc_aac", "!", "aacparse", "!", "m."}},
  };
  std::vector<std::future<test_support::CommandResult>> publishers;
  for (const auto& c : clients) {
    publishers.push_back(std::async(std::launch::async, [&c] { return test_support::run_command(c.argv, {}, 60s); }));
  }
  std::this_thread::sleep_for(11s);  // output delay 4.5 s + worker start-up
  auto probe_streams = [](std::vector<std::string> argv) {
    auto result = test_support::run_command(argv, {}, 30s);
    return result.output;
  };
  for (const auto& c : clients) {
    const auto url_form = probe_streams({"/usr/bin/ffprobe", "-v", "error", "-rw_timeout", "8000000", "-show_entries",
                                         "stream=codec_name", "-of", "csv=p=0", base + c.id + "/out"});
    EXPECT_NE(url_form.find("h264"), std::string::npos) << c.name << ": ffprobe " << base << c.id << "/out: " << url_form;
    EXPECT_NE(url_form.find("aac"), std::string::npos) << c.name << ": " << url_form;
    std::cout << "e2e ingest matrix: publish " << c.name << " -> play ffprobe URL form: "
              << (url_form.find("h264") != std::string::npos ? "ok" : "FAILED") << std::endl;
  }
  const auto split_form = probe_streams({"/usr/bin/ffprobe", "-v", "error", "-rw_timeout", "8000000", "-rtmp_app", "live",
                                         "-rtmp_playpath", "rtmpff/out", "-show_entries", "stream=codec_name", "-of",
                                         "csv=p=0", base + "rtmpff/out"});
  EXPECT_NE(split_form.find("h264"), std::string::npos) << "ffprobe, OBS-style split: " << split_form;
  std::cout << "e2e ingest matrix: play ffprobe split form: " << (split_form.find("h264") != std::string::npos ? "ok" : "FAILED")
            << std::endl;
  // GStreamer players, URL form: 50 H.264 frames and 50 AAC frames through flvdemux, then EOS (exit 0).
  for (const char* source : {"rtmp2src", "rtmpsrc"}) {
    const auto played = test_support::run_command(
        {"/usr/bin/gst-launch-1.0", "-q", source, "location=" + base + "rtmpgst/out" + (std::string(source) == "rtmpsrc" ? " live=1" : ""), "!", "flvdemux", "name=d", "d.video",
         "!", "queue", "!", "h264parse", "!", "identity", "eos-after=50", "!", "fakesink", "d.audio", "!", "queue", "!",
         "aacparse", "!", "identity", "eos-after=50", "!", "fakesink"},
        {}, 30s);
    EXPECT_EQ(played.exit_code, 0) << source << " could not play " << base << "rtmpgst/out: " << played.output;
    std::cout << "e2e ingest matrix: play " << source << " URL form: " << (played.exit_code == 0 ? "ok" : "FAILED") << std::endl;
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const auto result = publishers[i].get();
    // timeout(1) ends the GStreamer publishers with 124; ffmpeg ends by itself with 0.
    EXPECT_TRUE(result.exit_code == 0 || result.exit_code == 124) << clients[i].name << " publish failed: " << result.output;
  }
}

// 1 s fragments with a 1.5 s delay leave each fragment ~0.25 s for STS, less than the mock
// (260 ms) takes: answers come too late. Those misses are the budget's, not the
// endpoint's: it must stay in service (before: taken out 10 times, fragments falling back
// untried), and the service drops what the worker gave up on.
// The voice-preserving dub, worker and STS (the mock, which takes the clip without a model):
// with both turned on, the worker gathers the speaker's clean speech from the first phrases,
// sends it once, later dubs of the stream are spoken in that voice, and when the stream ends
// the STS forgets it.
TEST_F(LiveStack, TheSpeakersVoiceIsSentOnceUsedAndForgottenWithTheStream) {
  // The default 2.5 s fragments cut the loop's phrases (2.9-3.4 s): a piece that is all speech
  // counts by the background measured next to it (before, every cut piece was refused and the
  // clip filled only after the stream's last phrase; the test ran at 4 s fragments).
  start_stack("mock-passthrough", std::nullopt,
              {{"LIVEDUB_VOICE_CLONE", "true"}, {"LIVEDUB_VOICE_CLONE_SECONDS", "2.5"}, {"LIVEDUB_STS_VOICE_CLONE", "true"},
               kPhraseDelay});
  make_speech_loop(run_dir_ / "speech-en.wav");
  auto options = check("e2evoice", 45s);
  options.speech_wav = (run_dir_ / "speech-en.wav").string();
  options.pattern.beep_amplitude = 0;
  auto report = probe::run_av_check(options);
  expect_common(report, 45, kPhraseDelayS);

  HttpClient http;
  const auto session = nlohmann::json::parse(
      http.get("http://127.0.0.1:" + std::to_string(sts_port_) + "/v1/sessions/e2evoice", 5s).body);
  std::vector<std::string> voices;
  for (const auto& fragment : session["fragments"]) voices.push_back(fragment["voice"].get<std::string>());
  std::cout << "e2e voice: " << ::testing::PrintToString(voices) << std::endl;
  ASSERT_FALSE(voices.empty());
  EXPECT_EQ(voices.front(), "default") << "the first phrases come before the clip is complete";
  EXPECT_EQ(voices.back(), "speaker") << "later phrases are not spoken in the speaker's voice";
  // Once the speaker's voice is used, it stays: no phrase goes back to the default voice.
  const auto first = std::find(voices.begin(), voices.end(), "speaker");
  EXPECT_EQ(std::count(first, voices.end(), "default"), 0);

  // Sent once; forgotten once the stream ended (the worker says so on its way out).
  const auto count_in_sts_log = [&](const std::string& text) {
    std::ifstream log(run_dir_ / "logs" / "sts-service.log");
    std::string line;
    int n = 0;
    while (std::getline(log, line)) n += line.find(text) != std::string::npos;
    return n;
  };
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (count_in_sts_log("speaker voice forgotten") == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_EQ(count_in_sts_log("speaker voice received"), 1);
  EXPECT_EQ(count_in_sts_log("speaker voice forgotten"), 1);
}

// No LIVEDUB_OUTPUT_DELAY_MS: the worker plans its delay at start on what the STS says a dub
// costs it (its calibration dub at start: a 3 s tone answered after the mock's 300 ms, 100 ms
// per second of audio, counted double as one dub): 2 s fragments + 2 x 2 x 100 ms + the 500 ms
// margin = 2.9 s, against 4.5 s for a constant guess. The stream then keeps that delay, in
// sync, with no fragment falling back.
TEST_F(LiveStack, TheDefaultDelayIsPlannedOnTheStsMeasuredCost) {
  start_stack("mock-passthrough", std::nullopt,
              {{"LIVEDUB_VAD", "off"}, {"LIVEDUB_BED_MODE", "off"}, {"LIVEDUB_STS_MOCK_DELAY_MS", "300"}});
  auto report = probe::run_av_check(check("e2eplanned", 30s));
  std::cout << "e2e planned-delay report: " << summary(report) << std::endl;
  const auto log = read_worker_log("e2eplanned");
  ASSERT_FALSE(log.planned.empty()) << "the worker did not plan its delay on the STS's cost";
  std::cout << "e2e planned delay: " << log.planned << std::endl;
  EXPECT_GE(log.delay_ms, 2850);
  EXPECT_LE(log.delay_ms, 3050);
  expect_common(report, 30, log.delay_ms / 1000.0);
  ASSERT_GE(report.sync_offsets_ms.size(), 10u);
  for (double o : report.sync_offsets_ms) EXPECT_LE(std::abs(o), kSyncToleranceMs);
  EXPECT_EQ(log.fallbacks, 0);
}

TEST_F(LiveStack, TightDeadlinesNeverTakeTheOnlyEndpointOut) {
  start_stack("mock-passthrough", std::nullopt,
              {{"LIVEDUB_VAD", "off"}, {"LIVEDUB_BED_MODE", "off"}, {"LIVEDUB_FRAGMENT_MS", "1000"},
               {"LIVEDUB_OUTPUT_DELAY_MS", "1500"}, {"LIVEDUB_STS_MOCK_DELAY_MS", "260"}});
  auto report = probe::run_av_check(check("e2etight", 30s));
  std::cout << "e2e tight-deadline report: " << summary(report) << std::endl;
  expect_common(report, 30, 1.5);
  std::ifstream worker_log(run_dir_ / "logs" / "worker-e2etight.log");
  std::string line;
  int no_endpoint = 0, ejected = 0, fallbacks = 0;
  while (std::getline(worker_log, line)) {
    no_endpoint += line.find("no STS endpoint in service") != std::string::npos;
    ejected += line.find("sts_endpoint_ejected") != std::string::npos;
    fallbacks += line.find("falls back to original audio") != std::string::npos;
  }
  std::ifstream sts_log(run_dir_ / "logs" / "sts-service.log");
  int dropped = 0;
  while (std::getline(sts_log, line)) {
    dropped += line.find("deadline_exceeded") != std::string::npos;
  }
  std::cout << "e2e tight deadlines: " << fallbacks << " fragments fell back, " << ejected
            << " ejections, " << no_endpoint << " 'no STS endpoint' fallbacks; STS dropped " << dropped
            << " expired requests" << std::endl;
  EXPECT_GT(fallbacks, 0) << "no deadline was missed: the case does not test what it should";
  EXPECT_GT(dropped, 0) << "the service did not drop requests past the deadline the worker sent";
  EXPECT_EQ(no_endpoint, 0);
  EXPECT_EQ(ejected, 0);
}

// The seed's compose stack: the publisher sends RTMP, the worker pulls RTSP (MediaMTX serves
// both). Natively a real RTSP server (GStreamer's) relays the published stream; the worker
// pulls rtsp://, and the dubbed RTMP output must keep the constant delay and A/V sync.
TEST_F(LiveStack, WorkerPullsRtspAndKeepsSync) {
  const int rtsp_port = free_loopback_port();
  std::optional<ChildProcess> rtsp_server;
  start_stack("mock-passthrough", std::nullopt,
              {{"LIVEDUB_VAD", "off"}, {"LIVEDUB_BED_MODE", "off"}, {"LIVEDUB_OUTPUT_DELAY_MS", "4500"},
               {"LIVEDUB_INPUT_URL_TEMPLATE", "rtsp://127.0.0.1:" + std::to_string(rtsp_port) + "/live/{stream_id}/in"}});
  rtsp_server.emplace(ChildProcess::Options{
      {RTSP_SOURCE_SERVER_BIN, std::to_string(rtsp_port), "rtmp://127.0.0.1:" + std::to_string(rtmp_port_), "e2ertsp"},
      {},
      (run_dir_ / "logs" / "rtsp-source-server.log").string()});
  auto report = probe::run_av_check(check("e2ertsp", 40s));
  std::cout << "e2e RTSP ingest report: " << summary(report) << std::endl;
  rtsp_server->terminate(5s);
  // RTSP adds its jitter buffer (200 ms) and the relay's own latency to the constant delay.
  ASSERT_TRUE(report.delay_median_ms.has_value());
  std::cout << "e2e RTSP ingest: output delay median " << *report.delay_median_ms << " ms (min " << *report.delay_min_ms
            << ", max " << *report.delay_max_ms << ")" << std::endl;
  expect_common(report, 40, *report.delay_median_ms / 1000.0);
  EXPECT_LT(*report.delay_median_ms, (kFixedDelayS + 1.0) * 1000);
  ASSERT_GE(report.sync_offsets_ms.size(), 20u) << "beeps and flashes were not found in the output";
  // Measured: 39-61 ms against 20 ms over RTMP. rtspsrc's default jitter-buffer mode (slave)
  // stamps each stream from its packets' arrival, freezing the first packets' transit
  // difference into a constant A/V offset (the RTCP lip-sync then corrects only what rtpbin
  // sees of it: under 0.1 ms here). Here it settles at 39-40 ms; it has also stayed at 54 ms,
  // and in CI at 59-61 ms, for whole runs. Modes none/synced stamp from RTP alone and
  // keep 19-20 ms, but the first RTCP report, 2.4 s in, then moves one track by 0.55-0.6 s and
  // the output freezes that long (measured: largest gap 566-577 ms), which is worse for a
  // viewer than a constant offset. The bound is the largest offset measured (61 ms) plus
  // 9 ms; it is above the ±40 ms that RTMP input keeps, and docs/deployment.md says so.
  constexpr double kRtspSyncToleranceMs = 70.0;
  // Constant within a run, except that the jitter buffer's skew estimate has moved the offset
  // by a single step: 15 ms after the first pair once (55, then 40), 20 ms after the 14th
  // another time (60, then 40 to the end). One step of at most a frame's worth is that
  // re-estimate; drift moves the offset again and again.
  for (double o : report.sync_offsets_ms) EXPECT_LE(std::abs(o), kRtspSyncToleranceMs);
  const auto [lowest, highest] = std::minmax_element(report.sync_offsets_ms.begin(), report.sync_offsets_ms.end());
  EXPECT_LE(*highest - *lowest, 25.0) << "the A/V offset drifts";
  int steps = 0;
  for (std::size_t i = 1; i < report.sync_offsets_ms.size(); ++i) {
    steps += std::abs(report.sync_offsets_ms[i] - report.sync_offsets_ms[i - 1]) > 5.0;
  }
  EXPECT_LE(steps, 1) << "the A/V offset moved more than once: drift";
  std::ifstream worker_log(run_dir_ / "logs" / "worker-e2ertsp.log");
  std::string log((std::istreambuf_iterator<char>(worker_log)), {});
  EXPECT_NE(log.find("RTSP input: TCP transport"), std::string::npos) << "the worker did not pull over RTSP";
}
