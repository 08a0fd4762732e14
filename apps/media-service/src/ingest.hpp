#pragma once
// Ingest pipeline: opens the input URL, hands out H.264 access units untouched (AVC format,
// with their caps) and decoded audio as interleaved PCM16 (AudioFormat: rate and channels) at the worker's sample rate.
#include <gst/gst.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <thread>

#include "gst_util.hpp"
#include "livedub/audio.hpp"
#include "livedub/logging.hpp"

namespace livedub::worker {

class Ingest {
 public:
  struct Callbacks {
    // Called on GStreamer streaming threads.
    std::function<void(GstBuffer* access_unit, GstCaps* caps)> on_video;
    std::function<void(GstClockTime pts, std::span<const std::int16_t> interleaved)> on_audio;
    std::function<void()> on_end_of_stream;
    std::function<void(const std::string& message)> on_error;
  };

  Ingest(std::string url, AudioFormat format, Callbacks callbacks, LogContext log);
  ~Ingest();
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  void start();
  void stop();

 private:
  void build();
  void on_pad_added(GstPad* pad);
  void link_video(GstPad* pad);
  void link_audio(GstPad* pad);
  void watch_bus();
  static void on_source_setup(GstElement* decoder, GstElement* source, gpointer self);
  static GstFlowReturn on_video_sample(GstElement* sink, gpointer self);
  static GstFlowReturn on_audio_sample(GstElement* sink, gpointer self);

  std::string url_;
  AudioFormat format_;
  Callbacks callbacks_;
  LogContext log_;
  GstElementPtr pipeline_;
  std::thread bus_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};
};

}  // namespace livedub::worker
