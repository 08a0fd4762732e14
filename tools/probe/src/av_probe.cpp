#include "av_probe.hpp"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <thread>

#include "livedub/audio.hpp"
#include "livedub/process.hpp"
#include "livedub/rtmp_url.hpp"
#include "livedub/wav.hpp"

namespace livedub::probe {

namespace {

constexpr std::int64_t kNs = 1'000'000'000;

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct PipelineDeleter {
  void operator()(GstElement* p) const {
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
  }
};
using PipelinePtr = std::unique_ptr<GstElement, PipelineDeleter>;

std::string rtmp_element(const char* factory, const std::string& url) {
  auto ep = parse_rtmp_url(url);
  if (!ep) throw std::runtime_error("not an rtmp://host[:port]/app/stream URL: " + url);
  return std::string(factory) + " host=" + ep->host + " port=" + std::to_string(ep->port) + " application=\"" +
         ep->application + "\" stream=\"" + ep->stream + "\" scheme=" + ep->scheme;
}

PipelinePtr parse_pipeline(const std::string& description) {
  GError* error = nullptr;
  GstElement* p = gst_parse_launch(description.c_str(), &error);
  if (error) {
    std::string message = error->message;
    g_error_free(error);
    if (p) gst_object_unref(p);
    throw std::runtime_error("cannot build pipeline: " + message);
  }
  return PipelinePtr(p);
}

GstElement* by_name(GstElement* pipeline, const char* name) {
  GstElement* e = gst_bin_get_by_name(GST_BIN(pipeline), name);
  if (!e) throw std::runtime_error(std::string("no element ") + name);
  gst_object_unref(e);  // the pipeline keeps it alive
  return e;
}

// Reads the dubbed output: decoded luma + frame numbers, decoded mono audio. With `reconnect`
// it plays the stream again whenever it ends (its publisher, a worker, restarted), as a player
// that retries does; what it reads accumulates across connections.
class Reader {
 public:
  Reader(const PatternSpec& spec, const std::string& url, const std::optional<std::string>& record, bool reconnect = false)
      : spec_(spec), url_(url), record_(record), reconnect_(reconnect) {
    build(record_);
  }
  ~Reader() { stop_watching(); }
  void start() {
    gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING);
    if (reconnect_) watcher_ = std::thread([this] { watch(); });
  }
  void stop() {
    stop_watching();
    gst_element_send_event(pipeline_.get(), gst_event_new_eos());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let filesink flush
    pipeline_.reset();
  }
  int reconnects = 0;

  std::mutex mutex;
  std::vector<VideoObservation> frames;
  std::vector<std::int16_t> audio;
  std::optional<std::int64_t> audio_start_pts;

 private:
  void build(const std::optional<std::string>& record) {
    std::string desc = rtmp_element("rtmp2src", url_) + " ! tee name=t ! queue ! flvdemux name=d " +
                       "d.video ! queue ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=GRAY8 ! "
                       "appsink name=vsink sync=false " +
                       // decodebin: an input published with MP3 (or another codec) is read too;
                       // for AAC it is aacparse ! avdec_aac, as on the output.
                       "d.audio ! queue ! decodebin ! audioconvert ! audioresample ! "
                       "audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate=" +
                       std::to_string(spec_.sample_rate) + " ! appsink name=asink sync=false";
    if (record) desc += " t. ! queue ! filesink location=\"" + *record + "\"";
    pipeline_ = parse_pipeline(desc);
    GstAppSinkCallbacks video{};
    video.new_sample = [](GstAppSink* sink, gpointer self) { return static_cast<Reader*>(self)->on_video(sink); };
    gst_app_sink_set_callbacks(GST_APP_SINK(by_name(pipeline_.get(), "vsink")), &video, this, nullptr);
    GstAppSinkCallbacks sound{};
    sound.new_sample = [](GstAppSink* sink, gpointer self) { return static_cast<Reader*>(self)->on_audio(sink); };
    gst_app_sink_set_callbacks(GST_APP_SINK(by_name(pipeline_.get(), "asink")), &sound, this, nullptr);
  }
  // Plays the stream again once it ended or failed (not into the recording: one FLV per file).
  void watch() {
    while (!stopping_) {
      GstBus* bus = gst_element_get_bus(pipeline_.get());
      GstMessage* msg = gst_bus_timed_pop_filtered(bus, 100 * GST_MSECOND,
                                                   static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
      gst_object_unref(bus);
      if (!msg) continue;
      gst_message_unref(msg);
      if (stopping_) return;
      pipeline_.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      build(std::nullopt);
      gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING);
      ++reconnects;
    }
  }
  void stop_watching() {
    stopping_ = true;
    if (watcher_.joinable()) watcher_.join();
  }

  GstFlowReturn on_video(GstAppSink* sink) {
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (!sample) return GST_FLOW_EOS;
    GstBuffer* buffer = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
      std::span<const std::uint8_t> luma(map.data, map.size);
      VideoObservation obs;
      obs.pts_ns = static_cast<std::int64_t>(GST_BUFFER_PTS(buffer));
      obs.frame_number = decode_frame_number(spec_, luma).value_or(-1);
      obs.luma = body_luma(spec_, luma);
      obs.arrival_ns = wall_ns();
      gst_buffer_unmap(buffer, &map);
      std::lock_guard lock(mutex);
      frames.push_back(obs);
    }
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  }
  GstFlowReturn on_audio(GstAppSink* sink) {
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (!sample) return GST_FLOW_EOS;
    GstBuffer* buffer = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (gst_buffer_map(buffer, &map, GST_MAP_READ) && GST_BUFFER_PTS_IS_VALID(buffer)) {
      const auto pts = static_cast<std::int64_t>(GST_BUFFER_PTS(buffer));
      std::lock_guard lock(mutex);
      if (!audio_start_pts) audio_start_pts = pts;
      // Place by timestamp so that a real gap shows up as silence, not as a shift; FLV
      // timestamps are whole milliseconds, so small deviations are rounding, not gaps.
      auto at = static_cast<std::size_t>(std::max<std::int64_t>(0, ns_to_samples(pts - *audio_start_pts, spec_.sample_rate)));
      const auto tolerance = static_cast<std::size_t>(spec_.sample_rate / 40);  // 25 ms
      if (at + tolerance >= audio.size() && at <= audio.size() + tolerance) at = audio.size();
      const auto n = map.size / 2;
      if (audio.size() < at + n) audio.resize(at + n, 0);
      std::copy_n(reinterpret_cast<const std::int16_t*>(map.data), n, audio.begin() + static_cast<std::ptrdiff_t>(at));
      gst_buffer_unmap(buffer, &map);
    }
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  }

  PatternSpec spec_;
  std::string url_;
  std::optional<std::string> record_;
  bool reconnect_;
  std::atomic<bool> stopping_{false};
  std::thread watcher_;
  PipelinePtr pipeline_;
};

// Publishes the pattern in real time, like a camera would.
// What is published from input frame `first` on: beeps + speech (2/5) + music, looped.
std::vector<std::int16_t> mix_input(const PatternSpec& spec, const std::vector<std::int16_t>& speech,
                                    const std::vector<std::int16_t>& music, std::int64_t first, std::int64_t count) {
  auto samples = render_beeps(spec, first, count);
  for (std::int64_t i = 0; i < count; ++i) {
    int v = samples[static_cast<std::size_t>(i)];
    if (!speech.empty()) v += speech[static_cast<std::size_t>((first + i) % static_cast<std::int64_t>(speech.size()))] * 2 / 5;
    if (!music.empty()) v += music[static_cast<std::size_t>((first + i) % static_cast<std::int64_t>(music.size()))];
    samples[static_cast<std::size_t>(i)] = static_cast<std::int16_t>(std::clamp(v, -32768, 32767));
  }
  return samples;
}

// Renders the pattern into `sink` (a GStreamer sink description taking FLV): live, like a camera
// (rtmp2sink), or as fast as it encodes (a file for FFmpeg to publish).
class Publisher {
 public:
  Publisher(const PatternSpec& spec, const std::string& sink, std::vector<std::int16_t> speech,
            std::vector<std::int16_t> music)
      : spec_(spec), speech_(std::move(speech)), music_(std::move(music)) {
    const std::string video_caps = "video/x-raw,format=I420,width=" + std::to_string(spec.width) +
                                   ",height=" + std::to_string(spec.height) + ",framerate=" + std::to_string(spec.fps) + "/1";
    const std::string audio_caps = "audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate=" + std::to_string(spec.sample_rate);
    pipeline_ = parse_pipeline(
        "appsrc name=vsrc format=time caps=\"" + video_caps + "\" ! x264enc tune=zerolatency speed-preset=ultrafast " +
        "key-int-max=" + std::to_string(spec.fps) + " bitrate=600 ! h264parse ! queue ! flvmux name=m streamable=true ! " +
        sink + " sync=false " + "appsrc name=asrc format=time caps=\"" + audio_caps +
        "\" ! audioconvert ! avenc_aac ! aacparse ! queue ! m.");
    vsrc_ = by_name(pipeline_.get(), "vsrc");
    asrc_ = by_name(pipeline_.get(), "asrc");
  }

  void run_for(std::chrono::seconds duration, const std::function<void(double)>& on_tick, bool live = true) {
    // Rendering to a file pushes faster than x264 encodes: block, so memory stays bounded. Live,
    // a slow server must not hold the clock back.
    g_object_set(vsrc_, "block", !live, nullptr);
    g_object_set(asrc_, "block", !live, nullptr);
    gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING);
    start_wall_ns = wall_ns();
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t audio_chunk = spec_.sample_rate / 50;  // 20 ms
    std::int64_t frame = 0, audio_frame = 0;
    const auto end_ns = static_cast<std::int64_t>(duration.count()) * kNs;
    double next_tick = 1.0;
    while (true) {
      const auto video_ts = frame * kNs / spec_.fps;
      const auto audio_ts = audio_frame * kNs / spec_.sample_rate;
      const auto ts = std::min(video_ts, audio_ts);
      if (ts >= end_ns) break;
      if (live) std::this_thread::sleep_until(start + std::chrono::nanoseconds(ts));
      if (on_tick && static_cast<double>(ts) / kNs >= next_tick) {
        on_tick(next_tick);
        next_tick += 1.0;
      }
      if (video_ts <= audio_ts) {
        auto pixels = render_frame(spec_, frame);
        GstBuffer* b = gst_buffer_new_allocate(nullptr, pixels.size(), nullptr);
        gst_buffer_fill(b, 0, pixels.data(), pixels.size());
        GST_BUFFER_PTS(b) = static_cast<GstClockTime>(video_ts);
        GST_BUFFER_DURATION(b) = static_cast<GstClockTime>(kNs / spec_.fps);
        gst_app_src_push_buffer(GST_APP_SRC(vsrc_), b);
        ++frame;
      } else {
        auto samples = mix_input(spec_, speech_, music_, audio_frame, audio_chunk);
        GstBuffer* b = gst_buffer_new_allocate(nullptr, samples.size() * 2, nullptr);
        gst_buffer_fill(b, 0, samples.data(), samples.size() * 2);
        GST_BUFFER_PTS(b) = static_cast<GstClockTime>(audio_ts);
        GST_BUFFER_DURATION(b) = static_cast<GstClockTime>(audio_chunk * kNs / spec_.sample_rate);
        gst_app_src_push_buffer(GST_APP_SRC(asrc_), b);
        audio_frame += audio_chunk;
      }
    }
    gst_app_src_end_of_stream(GST_APP_SRC(vsrc_));
    gst_app_src_end_of_stream(GST_APP_SRC(asrc_));
    GstBus* bus = gst_element_get_bus(pipeline_.get());
    GstMessage* msg = gst_bus_timed_pop_filtered(bus, (live ? 3 : 60) * GST_SECOND,
                                                 static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (msg) gst_message_unref(msg);
    gst_object_unref(bus);
    pipeline_.reset();
  }

  std::int64_t start_wall_ns = 0;

 private:
  PatternSpec spec_;
  std::vector<std::int16_t> speech_;
  std::vector<std::int16_t> music_;  // already scaled to its level in the mix
  PipelinePtr pipeline_;
  GstElement* vsrc_ = nullptr;
  GstElement* asrc_ = nullptr;
};

std::vector<std::int16_t> load_speech(const std::string& path, int rate) {
  auto audio = read_wav_file(path);
  auto mono = downmix_to_mono(audio.samples, audio.format.channels);
  return resample_mono_linear(mono, audio.format.sample_rate, rate);
}

// The rendered file's audio re-encoded in place (CheckOptions::ffmpeg_audio) once, before it is
// published: the publishing FFmpeg then copies both tracks in real time, as without it.
void transcode_audio(const CheckOptions& options, const std::filesystem::path& file) {
  const auto out = std::filesystem::path(file).replace_extension(".audio.flv");
  ChildProcess::Options child;
  child.argv = {options.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", file.string(), "-c:v", "copy"};
  child.argv.insert(child.argv.end(), options.ffmpeg_audio.begin(), options.ffmpeg_audio.end());
  child.argv.insert(child.argv.end(), {"-f", "flv", out.string()});
  ChildProcess ffmpeg(child);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ffmpeg.running()) {
    if (std::chrono::steady_clock::now() > give_up) {
      ffmpeg.terminate();
      throw std::runtime_error("ffmpeg did not finish re-encoding the audio of " + file.string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int status = *ffmpeg.poll();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("ffmpeg could not re-encode the audio of " + file.string() + " " + describe_wait_status(status));
  }
  std::filesystem::rename(out, file);
}

// Publishes a rendered pattern file with FFmpeg in real time; returns when FFmpeg started (wall
// clock, ns). Ticks once a second while it runs, as the live publisher does.
std::int64_t publish_with_ffmpeg(const CheckOptions& options, const std::filesystem::path& file) {
  ChildProcess::Options child;
  child.argv = {options.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", file.string(),
                "-c", "copy", "-f", "flv", options.input_url};
  const auto started = wall_ns();
  ChildProcess ffmpeg(child);
  const auto start = std::chrono::steady_clock::now();
  const auto give_up = start + options.duration + std::chrono::seconds(15);
  double next_tick = 1.0;
  while (ffmpeg.running()) {
    if (std::chrono::steady_clock::now() > give_up) {
      ffmpeg.terminate();
      throw std::runtime_error("ffmpeg did not finish publishing " + file.string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    if (options.on_tick && elapsed.count() >= next_tick) {
      options.on_tick(next_tick);
      next_tick += 1.0;
    }
  }
  const int status = *ffmpeg.poll();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("ffmpeg publishing to " + options.input_url + " " + describe_wait_status(status));
  }
  return started;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The wall-clock time frame 0 would have reached the media server, from when a viewer of the
// input got each frame (its decoding latency is the output reader's too, so it cancels).
std::optional<std::int64_t> publish_clock(Reader& input, const PatternSpec& spec) {
  std::lock_guard lock(input.mutex);
  std::vector<double> starts;
  for (const auto& f : input.frames) {
    if (f.frame_number >= 0) starts.push_back(static_cast<double>(f.arrival_ns - f.frame_number * kNs / spec.fps));
  }
  if (starts.empty()) return std::nullopt;
  return static_cast<std::int64_t>(median(starts));
}

}  // namespace

nlohmann::json CheckReport::to_json() const {
  nlohmann::json j = {{"has_video", has_video},
                      {"has_audio", has_audio},
                      {"video_frames", video_frames},
                      {"unreadable_frames", unreadable_frames},
                      {"missing_frames", missing_frames},
                      {"audio_seconds", audio_seconds},
                      {"output_duration_s", output_duration_s},
                      {"max_arrival_gap_ms", max_arrival_gap_ms},
                      {"reconnects", reconnects},
                      {"flashes", flashes},
                      {"beeps", beeps},
                      {"sync_offsets_ms", sync_offsets_ms}};
  auto put = [&](const char* k, const std::optional<double>& v) { j[k] = v ? nlohmann::json(*v) : nlohmann::json(); };
  put("first_output_after_publish_s", first_output_after_publish_s);
  put("delay_median_ms", delay_median_ms);
  put("delay_min_ms", delay_min_ms);
  put("delay_max_ms", delay_max_ms);
  put("passthrough_correlation", passthrough_correlation);
  put("bed_lag_ms", bed_lag_ms);
  put("pts_offset_ms", pts_offset_ms);
  for (const auto& other : other_outputs) j["other_outputs"].push_back(other.to_json());
  j["max_sample_jump"] = max_sample_jump;
  j["input_max_sample_jump"] = input_max_sample_jump;
  for (const auto& w : bed) {
    j["bed"].push_back({{"input_time_s", w.input_time_s}, {"gain_db", w.gain_db}, {"correlation", w.correlation}});
  }
  for (const auto& w : windows) j["windows"].push_back({{"input_time_s", w.input_time_s}, {"tone_fraction", w.tone_fraction}, {"level", w.level}});
  return j;
}

std::string human_summary(const CheckReport& r) {
  auto ok = [](bool good) { return good ? "ok  " : "FAIL"; };
  char line[256];
  std::string out;
  std::snprintf(line, sizeof line, "[%s] tracks: video H.264 %s (%lld frames, %lld dropped, %lld altered), audio AAC %s (%.1f s)\n",
                ok(r.has_video && r.has_audio), r.has_video ? "present" : "MISSING", static_cast<long long>(r.video_frames),
                static_cast<long long>(r.missing_frames), static_cast<long long>(r.unreadable_frames),
                r.has_audio ? "present" : "MISSING", r.audio_seconds);
  out += line;
  std::snprintf(line, sizeof line, "[%s] duration: %.1f s of dubbed output; first picture %.1f s after publishing began\n",
                ok(r.output_duration_s > 0), r.output_duration_s, r.first_output_after_publish_s.value_or(-1));
  out += line;
  if (r.delay_median_ms) {
    std::snprintf(line, sizeof line, "[%s] delay: %.2f s behind live (median; min %.2f, max %.2f)\n",
                  ok(*r.delay_max_ms - *r.delay_min_ms < 400), *r.delay_median_ms / 1000, *r.delay_min_ms / 1000,
                  *r.delay_max_ms / 1000);
    out += line;
  }
  if (!r.sync_offsets_ms.empty()) {
    auto sorted = r.sync_offsets_ms;
    std::sort(sorted.begin(), sorted.end());
    double worst = 0;
    for (double o : sorted) worst = std::max(worst, std::abs(o));
    std::snprintf(line, sizeof line, "[%s] A/V sync: beep vs. flash %+.0f ms (median), worst %.0f ms, over %zu flashes\n",
                  ok(worst <= 40), sorted[sorted.size() / 2], worst, sorted.size());
  } else {
    std::snprintf(line, sizeof line, "[info] A/V sync: no beep/flash pairs to measure (no beeps published, or the dubbed audio replaced them)\n");
  }
  out += line;
  if (!r.bed.empty()) {
    // Music the output carries: intact (the published music itself) or ducked under speech.
    int intact = 0, ducked = 0;
    std::vector<double> ducked_db;
    for (const auto& w : r.bed) {
      if (w.correlation >= 0.9 && std::abs(w.gain_db) <= 1.0) ++intact;
      if (w.gain_db < -6.0 && w.gain_db > -40.0) ducked_db.push_back(w.gain_db);
    }
    ducked = static_cast<int>(ducked_db.size());
    std::snprintf(line, sizeof line,
                  "[%s] music bed: the published music, intact, in %d of %zu windows (correlation >= 0.9, within 1 dB); "
                  "ducked under speech in %d (median %.1f dB)\n",
                  ok(intact > 0), intact, r.bed.size(), ducked, ducked ? median(ducked_db) : 0.0);
    out += line;
    std::snprintf(line, sizeof line, "[%s] joins: largest sample step %.3f of full scale (input's own: %.3f)\n",
                  ok(r.max_sample_jump <= 2 * r.input_max_sample_jump), r.max_sample_jump, r.input_max_sample_jump);
    out += line;
  }
  return out;
}

// Finds the output's lag against the published music (AAC and resampling shift it by a few
// ms), then measures per 1 s window how much music the output carries.
void analyse_bed(CheckReport& report, std::span<const std::int16_t> audio, std::int64_t first_input_frame,
                 const PatternSpec& spec, const std::vector<std::int16_t>& speech, const std::vector<std::int16_t>& music) {
  const int rate = spec.sample_rate;
  const auto max_lag = static_cast<std::int64_t>(rate / 20);  // 50 ms
  const auto count = static_cast<std::int64_t>(audio.size());
  std::vector<double> m(static_cast<std::size_t>(count + 2 * max_lag));
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(m.size()); ++i) {
    const auto frame = first_input_frame - max_lag + i;
    m[static_cast<std::size_t>(i)] =
        frame < 0 ? 0.0 : music[static_cast<std::size_t>(frame % static_cast<std::int64_t>(music.size()))] / 32768.0;
  }
  const auto input = mix_input(spec, speech, music, std::max<std::int64_t>(first_input_frame, 0), count);
  for (std::size_t i = 1; i < input.size(); ++i) {
    report.input_max_sample_jump = std::max(report.input_max_sample_jump, std::abs(input[i] - input[i - 1]) / 32768.0);
  }
  // Lag by correlation over (at most) the first 20 s, on every 4th sample.
  const auto span = std::min<std::int64_t>(count, rate * 20);
  double best = -1e300;
  std::int64_t best_lag = 0;
  for (std::int64_t lag = -max_lag; lag <= max_lag; ++lag) {
    double c = 0;
    for (std::int64_t i = 0; i < span; i += 4) c += audio[static_cast<std::size_t>(i)] * m[static_cast<std::size_t>(i + max_lag - lag)];
    if (c > best) {
      best = c;
      best_lag = lag;
    }
  }
  report.bed_lag_ms = static_cast<double>(best_lag) * 1000.0 / rate;
  // The mock STS's 440 Hz tone (a whole number of cycles per 1 s window) is projected out of
  // both signals first, so a mock dub over the bed does not blur the bed's measurement.
  std::vector<double> sine(static_cast<std::size_t>(rate)), cosine(static_cast<std::size_t>(rate));
  for (int i = 0; i < rate; ++i) {
    sine[static_cast<std::size_t>(i)] = std::sin(2 * std::numbers::pi * 440.0 * i / rate);
    cosine[static_cast<std::size_t>(i)] = std::cos(2 * std::numbers::pi * 440.0 * i / rate);
  }
  auto without_tone = [&](std::vector<double>& x) {
    double s = 0, c = 0;
    for (int i = 0; i < rate; ++i) {
      s += x[static_cast<std::size_t>(i)] * sine[static_cast<std::size_t>(i)];
      c += x[static_cast<std::size_t>(i)] * cosine[static_cast<std::size_t>(i)];
    }
    for (int i = 0; i < rate; ++i) {
      x[static_cast<std::size_t>(i)] -= (s * sine[static_cast<std::size_t>(i)] + c * cosine[static_cast<std::size_t>(i)]) * 2.0 / rate;
    }
  };
  std::vector<double> ow(static_cast<std::size_t>(rate)), mw(static_cast<std::size_t>(rate));
  for (std::int64_t at = 0; at + rate <= count; at += rate) {
    for (std::int64_t i = 0; i < rate; ++i) {
      ow[static_cast<std::size_t>(i)] = audio[static_cast<std::size_t>(at + i)] / 32768.0;
      mw[static_cast<std::size_t>(i)] = m[static_cast<std::size_t>(at + i + max_lag - best_lag)];
    }
    without_tone(ow);
    without_tone(mw);
    double om = 0, mm = 0, oo = 0;
    for (std::int64_t i = 0; i < rate; ++i) {
      const double o = ow[static_cast<std::size_t>(i)], x = mw[static_cast<std::size_t>(i)];
      om += o * x;
      mm += x * x;
      oo += o * o;
    }
    CheckReport::BedWindow w;
    w.input_time_s = static_cast<double>(first_input_frame + at) / rate;
    w.gain_db = om > 0 && mm > 0 ? 20 * std::log10(om / mm) : -100.0;
    w.correlation = mm > 0 && oo > 0 ? om / std::sqrt(mm * oo) : 0.0;
    w.projection = om;
    w.music_energy = mm;
    report.bed.push_back(w);
  }
}

// What one output delivered, measured against what was published.
CheckReport analyse_output(Reader& reader, std::int64_t publish_start_wall_ns, const PatternSpec& spec,
                           const std::vector<std::int16_t>& speech, const std::vector<std::int16_t>& music) {
  CheckReport report;
  std::lock_guard lock(reader.mutex);
  const auto& frames = reader.frames;
  report.video_frames = static_cast<std::int64_t>(frames.size());
  report.has_video = !frames.empty();
  report.has_audio = !reader.audio.empty();
  report.audio_seconds = static_cast<double>(reader.audio.size()) / spec.sample_rate;
  if (frames.empty()) return report;

  report.output_duration_s = static_cast<double>(frames.back().pts_ns - frames.front().pts_ns) / kNs;
  report.first_output_after_publish_s = static_cast<double>(frames.front().arrival_ns - publish_start_wall_ns) / kNs;
  std::vector<double> delays, pts_offsets;
  std::int64_t first_number = -1, last_number = -1, readable = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& f = frames[i];
    if (i > 0) {
      report.max_arrival_gap_ms = std::max(report.max_arrival_gap_ms, static_cast<double>(f.arrival_ns - frames[i - 1].arrival_ns) / 1e6);
    }
    if (f.frame_number < 0) {
      ++report.unreadable_frames;
      continue;
    }
    ++readable;
    if (first_number < 0) first_number = f.frame_number;
    last_number = f.frame_number;
    const auto input_ts = f.frame_number * kNs / spec.fps;
    delays.push_back(static_cast<double>(f.arrival_ns - (publish_start_wall_ns + input_ts)) / 1e6);
    pts_offsets.push_back(static_cast<double>(f.pts_ns - input_ts));
  }
  if (readable > 0) {
    report.missing_frames = (last_number - first_number + 1) - readable;
    report.delay_median_ms = median(delays);
    report.delay_min_ms = *std::min_element(delays.begin(), delays.end());
    report.delay_max_ms = *std::max_element(delays.begin(), delays.end());
  }

  auto flashes = flash_onsets(frames);
  std::vector<std::int64_t> beeps;
  // Without beeps in the input, 1 kHz energy in the output (dubbed speech) is no beep.
  if (report.has_audio && spec.beep_amplitude > 0) {
    beeps = tone_onsets(reader.audio, spec.sample_rate, *reader.audio_start_pts, spec.beep_hz);
  }
  report.flashes = static_cast<int>(flashes.size());
  report.beeps = static_cast<int>(beeps.size());
  for (auto offset : pair_offsets(flashes, beeps)) report.sync_offsets_ms.push_back(static_cast<double>(offset) / 1e6);

  if (report.has_audio && !pts_offsets.empty()) {
    // Output pts = input time + offset (the worker rebases timestamps); map audio back to input time.
    const auto offset_ns = static_cast<std::int64_t>(median(pts_offsets));
    report.pts_offset_ms = static_cast<double>(offset_ns) / 1e6;
    const auto rate = spec.sample_rate;
    const auto audio_start_input_ns = *reader.audio_start_pts - offset_ns;
    const std::span<const std::int16_t> audio(reader.audio);
    for (std::size_t at = 0; at + static_cast<std::size_t>(rate) <= audio.size(); at += static_cast<std::size_t>(rate)) {
      auto window = audio.subspan(at, static_cast<std::size_t>(rate));
      ToneWindow w;
      w.input_time_s = static_cast<double>(audio_start_input_ns + static_cast<std::int64_t>(at) * kNs / rate) / kNs;
      w.tone_fraction = tone_energy_fraction(window, rate, 440.0);
      w.level = rms(window);
      report.windows.push_back(w);
    }
    const auto first_input_frame = ns_to_samples(audio_start_input_ns, rate);
    for (std::size_t i = 1; i < audio.size(); ++i) {
      report.max_sample_jump = std::max(report.max_sample_jump, std::abs(audio[i] - audio[i - 1]) / 32768.0);
    }
    if (!music.empty() && first_input_frame >= 0) {
      analyse_bed(report, audio, first_input_frame, spec, speech, music);
    }
    if (speech.empty()) {
      if (first_input_frame >= 0) {
        auto expected = render_beeps(spec, first_input_frame, static_cast<std::int64_t>(audio.size()));
        report.passthrough_correlation = envelope_correlation(audio, expected, rate);
      }
    }
  }
  return report;
}

CheckReport run_av_check(const CheckOptions& options) {
  const auto& spec = options.pattern;
  std::vector<std::int16_t> speech, music;
  if (options.speech_wav) speech = load_speech(*options.speech_wav, spec.sample_rate);
  if (options.music_wav) {
    music = load_speech(*options.music_wav, spec.sample_rate);
    for (auto& s : music) s = static_cast<std::int16_t>(std::lround(s * options.music_gain));
  }
  std::vector<std::unique_ptr<Reader>> readers;
  readers.push_back(std::make_unique<Reader>(spec, options.output_url, options.record_path, options.reconnect));
  for (const auto& other : options.other_outputs) {
    readers.push_back(std::make_unique<Reader>(spec, other.url, other.record_path, options.reconnect));
  }
  std::int64_t publish_start_wall_ns = 0;
  std::unique_ptr<Reader> input_reader;
  if (options.publisher == CheckOptions::Publisher::ffmpeg) {
    const auto file = std::filesystem::temp_directory_path() / ("livedub-probe-" + std::to_string(::getpid()) + ".flv");
    Publisher(spec, "filesink location=\"" + file.string() + "\"", speech, music).run_for(options.duration, nullptr, false);
    if (!options.ffmpeg_audio.empty()) transcode_audio(options, file);
    for (auto& reader : readers) reader->start();
    // FFmpeg takes a few hundred ms to open its input and connect: when each frame really
    // reached the media server is read back from the input path, as a viewer of it.
    input_reader = std::make_unique<Reader>(spec, options.input_url, std::nullopt);
    input_reader->start();
    publish_start_wall_ns = publish_with_ffmpeg(options, file);
    std::filesystem::remove(file);
  } else {
    Publisher publisher(spec, rtmp_element("rtmp2sink", options.input_url), speech, music);
    for (auto& reader : readers) reader->start();
    publisher.run_for(options.duration, options.on_tick);
    publish_start_wall_ns = publisher.start_wall_ns;
  }
  for (std::int64_t s = 0; s < options.drain.count(); ++s) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (options.on_tick) options.on_tick(static_cast<double>(options.duration.count() + s + 1));
  }
  for (auto& reader : readers) reader->stop();
  if (input_reader) {
    input_reader->stop();
    if (auto start = publish_clock(*input_reader, spec)) publish_start_wall_ns = *start;
  }

  auto report = analyse_output(*readers[0], publish_start_wall_ns, spec, speech, music);
  report.reconnects = readers[0]->reconnects;
  for (std::size_t i = 1; i < readers.size(); ++i) {
    report.other_outputs.push_back(analyse_output(*readers[i], publish_start_wall_ns, spec, speech, music));
  }
  return report;
}

}  // namespace livedub::probe
