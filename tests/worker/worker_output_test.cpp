// The output's egress: A/V sync per AAC encoder, and teardown order.
// An output torn down before its egress drained (the worker's stop under load): the egress's
// streaming thread is still encoding and handing tags to the publishers. It used to outlive
// them and call into freed ones (SIGSEGV after "output ... did not drain within 5 s").
#include <gtest/gtest.h>

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "command.hpp"
#include "gst_util.hpp"
#include "worker_output.hpp"

using namespace livedub;
using namespace livedub::worker;
using namespace std::chrono_literals;

namespace {

struct H264 {
  GstCapsPtr caps;
  std::vector<GstBufferPtr> frames;  // one second at 30 fps, the first a keyframe
};

H264 encode_one_second() {
  GError* error = nullptr;
  GstElementPtr pipeline(gst_parse_launch(
      "videotestsrc num-buffers=30 ! video/x-raw,width=64,height=48,framerate=30/1 ! "
      "x264enc tune=zerolatency key-int-max=30 ! h264parse ! video/x-h264,stream-format=avc,alignment=au ! "
      "appsink name=sink sync=false",
      &error));
  if (error) {
    ADD_FAILURE() << error->message;
    g_error_free(error);
    return {};
  }
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline.get()), "sink");
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  H264 out;
  while (GstSample* sample = gst_app_sink_pull_sample(GST_APP_SINK(sink))) {
    if (!out.caps) out.caps.reset(gst_caps_ref(gst_sample_get_caps(sample)));
    out.frames.emplace_back(gst_buffer_ref(gst_sample_get_buffer(sample)));
    gst_sample_unref(sample);
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  gst_object_unref(sink);
  return out;
}

// Second `s` of media: the clip's 30 frames, and audio whose i-th sample is sample(i).
template <typename Sample>
void push_second(Egress& egress, const H264& video, AudioFormat format, int s, Sample sample) {
  for (std::size_t f = 0; f < video.frames.size(); ++f) {
    GstBuffer* frame = gst_buffer_copy(video.frames[f].get());
    const auto ts = static_cast<GstClockTime>(s) * GST_SECOND + f * GST_SECOND / 30;
    GST_BUFFER_PTS(frame) = ts;
    GST_BUFFER_DTS(frame) = ts;
    GST_BUFFER_DURATION(frame) = GST_SECOND / 30;
    egress.push_video(frame);
  }
  AudioBuffer audio{format, static_cast<std::int64_t>(s) * format.sample_rate, {}};
  audio.samples.resize(static_cast<std::size_t>(format.sample_rate * format.channels));
  for (std::size_t i = 0; i < audio.samples.size(); ++i) audio.samples[i] = sample(i);
  egress.push_audio(audio);
}

}  // namespace

TEST(WorkerOutput, TornDownBeforeItDrainedStopsItsEgressBeforeItsPublishersGo) {
  gst_init(nullptr, nullptr);
  const H264 video = encode_one_second();
  ASSERT_EQ(video.frames.size(), 30u);
  const AudioFormat format{48000, 2};
  const LogContext log{"teardown-test", std::nullopt};
  // Nothing listens there: the publishers stay disconnected and drop what they get.
  const RtmpEndpoint nowhere{"rtmp", "127.0.0.1", test_support::free_loopback_port(), "live", "teardown-test/out"};

  for (int round = 0; round < 3; ++round) {
    auto output = std::make_unique<WorkerOutput>();
    output->lang = "es";
    // Several publishers: each takes a while to close, the window the old order left open.
    for (int i = 0; i < 4; ++i) {
      output->publishers.push_back(std::make_unique<Publisher>(std::to_string(i), nowhere, log));
    }
    output->make_egress(format, {"avenc_aac", 128000}, [](const std::string& message) { ADD_FAILURE() << message; }, log);
    output->egress->set_video_caps(video.caps.get());
    output->egress->start();
    // Two minutes of media queued at once, as a worker far behind under load has it: the egress
    // encodes for a good while after end_of_stream.
    constexpr int kSeconds = 120;
    for (int s = 0; s < kSeconds; ++s) {
      // Not silence: real encoding work.
      push_second(*output->egress, video, format, s,
                  [](std::size_t i) { return static_cast<std::int16_t>((i * 37 % 2000) - 1000); });
    }
    output->egress->end_of_stream();
    ASSERT_FALSE(output->egress->wait_finished(20ms)) << "the egress drained already: nothing to race";
    const auto start = std::chrono::steady_clock::now();
    output.reset();  // with the old member order: SIGSEGV (or ASan's use-after-free) here
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "tearing the output down hung";
  }
}

namespace {

// Decodes an FLV byte stream's audio to mono S16: (first sample's timestamp, samples).
std::pair<GstClockTime, std::vector<std::int16_t>> decode_flv_audio(const std::vector<std::uint8_t>& flv) {
  GError* error = nullptr;
  GstElementPtr pipeline(gst_parse_launch(
      "appsrc name=src ! flvdemux name=demux demux.audio ! queue ! aacparse ! avdec_aac ! audioconvert ! "
      "audio/x-raw,format=S16LE,channels=1 ! appsink name=sink sync=false "
      "demux.video ! queue ! fakesink sync=false",
      &error));
  if (error) {
    ADD_FAILURE() << error->message;
    g_error_free(error);
    return {};
  }
  GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline.get()), "src");
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline.get()), "sink");
  gst_element_set_state(pipeline.get(), GST_STATE_PLAYING);
  gst_app_src_push_buffer(GST_APP_SRC(src), gst_buffer_new_memdup(flv.data(), flv.size()));
  gst_app_src_end_of_stream(GST_APP_SRC(src));
  std::pair<GstClockTime, std::vector<std::int16_t>> out{GST_CLOCK_TIME_NONE, {}};
  while (GstSample* sample = gst_app_sink_pull_sample(GST_APP_SINK(sink))) {
    GstBuffer* buffer = gst_sample_get_buffer(sample);
    if (out.first == GST_CLOCK_TIME_NONE) out.first = GST_BUFFER_PTS(buffer);
    GstMapInfo map;
    gst_buffer_map(buffer, &map, GST_MAP_READ);
    const auto* pcm = reinterpret_cast<const std::int16_t*>(map.data);
    out.second.insert(out.second.end(), pcm, pcm + map.size / sizeof(std::int16_t));
    gst_buffer_unmap(buffer, &map);
    gst_sample_unref(sample);
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  gst_object_unref(src);
  gst_object_unref(sink);
  return out;
}

}  // namespace

// Each encoder delays the audio by its own priming, which FLV cannot signal: the video must be
// shifted by exactly that, or the output is out of sync (voaacenc's is 1600 frames, not 1024).
TEST(Egress, VideoIsShiftedByTheEncodersOwnPriming) {
  gst_init(nullptr, nullptr);
  const H264 video = encode_one_second();
  ASSERT_EQ(video.frames.size(), 30u);
  const AudioFormat format{48000, 2};
  for (const char* name : {"avenc_aac", "voaacenc"}) {
    const std::string encoder = name;
    SCOPED_TRACE(encoder);
    GstElementFactory* factory = gst_element_factory_find(encoder.c_str());
    ASSERT_NE(factory, nullptr) << encoder << " is not installed (scripts/setup installs it)";
    gst_object_unref(factory);
    std::vector<std::uint8_t> flv;
    Egress egress(format, {encoder, 128000},
                  {[&flv](GstSample* tag) {
                     GstMapInfo map;
                     gst_buffer_map(gst_sample_get_buffer(tag), &map, GST_MAP_READ);
                     flv.insert(flv.end(), map.data, map.data + map.size);
                     gst_buffer_unmap(gst_sample_get_buffer(tag), &map);
                   },
                   [](const std::string& message) { ADD_FAILURE() << message; }},
                  LogContext{"priming-test", std::nullopt});
    egress.set_video_caps(video.caps.get());
    egress.start();
    // Three seconds: silence, a 1 kHz tone from 1.000 s to 2.000 s, silence.
    for (int s = 0; s < 3; ++s) {
      push_second(egress, video, format, s, [&](std::size_t i) {
        const double t = static_cast<double>(i / 2) / format.sample_rate;
        return static_cast<std::int16_t>(s == 1 ? 16000 * std::sin(2 * 3.14159265358979 * 1000 * t) : 0);
      });
    }
    egress.end_of_stream();
    ASSERT_TRUE(egress.wait_finished(20s));
    egress.stop();

    const auto [first_pts, pcm] = decode_flv_audio(flv);
    ASSERT_NE(first_pts, GST_CLOCK_TIME_NONE);
    const auto onset = std::find_if(pcm.begin(), pcm.end(), [](std::int16_t x) { return std::abs(x) > 4000; });
    ASSERT_NE(onset, pcm.end()) << "the tone did not come out";
    const double heard_s = static_cast<double>(first_pts) / GST_SECOND +
                           static_cast<double>(onset - pcm.begin()) / format.sample_rate;
    // The frame shown with the tone's first sample: pushed at 1.000 s, played at 1 s + the shift.
    const double shown_s = 1.0 + static_cast<double>(egress.video_shift_ns()) / GST_SECOND;
    EXPECT_NEAR(heard_s, shown_s, 0.002) << "heard at " << heard_s << " s, the frame is shown at " << shown_s << " s";
  }
}
