#pragma once
// Egress pipeline: delayed H.264 (untouched) + dubbed PCM -> AAC -> FLV. The FLV tags go to
// one Publisher per RTMP destination, so a failing third-party destination never disturbs
// the main output.
#include <gst/gst.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "gst_util.hpp"
#include "livedub/audio.hpp"
#include "livedub/logging.hpp"

namespace livedub::worker {

// The output's AAC encoder (LIVEDUB_AAC_ENCODER: a GStreamer element name) and bitrate.
struct AacEncoding {
  std::string element;
  int bitrate = 0;
};

class Egress {
 public:
  struct Callbacks {
    std::function<void(GstSample* flv_tag)> on_flv;  // streaming thread
    std::function<void(const std::string&)> on_error;
  };

  Egress(AudioFormat format, const AacEncoding& encoding, Callbacks callbacks, LogContext log);
  ~Egress();
  Egress(const Egress&) = delete;
  Egress& operator=(const Egress&) = delete;

  void start();
  void set_video_caps(GstCaps* caps);
  bool has_video_caps() const { return video_caps_set_; }
  // Takes ownership; timestamps must already be on the output timeline.
  void push_video(GstBuffer* buffer);
  // An AAC encode/decode generation delays audio by the encoder's priming frames; video is
  // shifted by the same amount so that viewers get them in sync.
  std::int64_t video_shift_ns() const { return video_shift_ns_; }
  void push_audio(const AudioBuffer& audio);
  void end_of_stream();
  // Waits until the EOS went through the muxer; false on timeout.
  bool wait_finished(std::chrono::milliseconds timeout);
  void stop();

 private:
  void watch_bus();
  static GstFlowReturn on_flv_sample(GstElement* sink, gpointer self);

  int sample_rate_;
  std::int64_t video_shift_ns_ = 0;
  Callbacks callbacks_;
  LogContext log_;
  GstElementPtr pipeline_;
  GstElement* video_src_ = nullptr;  // owned by pipeline_
  GstElement* audio_src_ = nullptr;
  std::atomic<bool> video_caps_set_{false};
  std::thread bus_thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable finished_cv_;
  bool finished_ = false;
};

}  // namespace livedub::worker
