// An output torn down before its egress drained (the worker's stop under load): the egress's
// streaming thread is still encoding and handing tags to the publishers. It used to outlive
// them and call into freed ones (SIGSEGV after "output ... did not drain within 5 s").
#include <gtest/gtest.h>

#include <gst/app/gstappsink.h>

#include <chrono>
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
    output->make_egress(format, 128000, [](const std::string& message) { ADD_FAILURE() << message; }, log);
    output->egress->set_video_caps(video.caps.get());
    output->egress->start();
    // Two minutes of media queued at once, as a worker far behind under load has it: the egress
    // encodes for a good while after end_of_stream.
    constexpr int kSeconds = 120;
    for (int s = 0; s < kSeconds; ++s) {
      for (std::size_t f = 0; f < video.frames.size(); ++f) {
        GstBuffer* frame = gst_buffer_copy(video.frames[f].get());
        const auto ts = static_cast<GstClockTime>(s) * GST_SECOND + f * GST_SECOND / 30;
        GST_BUFFER_PTS(frame) = ts;
        GST_BUFFER_DTS(frame) = ts;
        GST_BUFFER_DURATION(frame) = GST_SECOND / 30;
        output->egress->push_video(frame);
      }
      AudioBuffer audio{format, static_cast<std::int64_t>(s) * format.sample_rate, {}};
      audio.samples.resize(static_cast<std::size_t>(format.sample_rate * format.channels));
      for (std::size_t i = 0; i < audio.samples.size(); ++i) {
        audio.samples[i] = static_cast<std::int16_t>((i * 37 % 2000) - 1000);  // not silence: real encoding work
      }
      output->egress->push_audio(audio);
    }
    output->egress->end_of_stream();
    ASSERT_FALSE(output->egress->wait_finished(20ms)) << "the egress drained already: nothing to race";
    const auto start = std::chrono::steady_clock::now();
    output.reset();  // with the old member order: SIGSEGV (or ASan's use-after-free) here
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "tearing the output down hung";
  }
}
