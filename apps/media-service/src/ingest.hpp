#pragma once
// Ingest pipeline: opens the input URL, hands out H.264 access units untouched (AVC format,
// with their caps) and decoded audio as interleaved PCM16 (AudioFormat: rate and channels) at the worker's sample rate.
#include <gst/gst.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
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
    // The input can never be dubbed as published (no video, video that is not H.264, no
    // decodable audio): retrying the same stream cannot help.
    std::function<void(const std::string& message)> on_unsupported;
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
  void on_demuxed_pad(GstPad* pad);
  void watch_decoder_tracks(GstElement* element);
  void connect_decoder(GstElement* decoder);  // its decoded tracks and the ones it cannot decode
  void on_unknown_type(GstCaps* caps);
  void on_no_more_pads();
  void unsupported(const std::string& message);
  void watch_tracks();
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
  std::atomic<bool> video_linked_{false};
  // An audio track exists (its decoder may not have exposed it yet when the demuxer says it has
  // found all its tracks).
  std::atomic<bool> audio_found_{false};
  std::atomic<bool> refused_{false};
  // Audio flowing this long with no video track means an audio-only publisher, also where the
  // demuxer never signals that it has found all its tracks.
  std::atomic<GstClockTime> first_audio_pts_{GST_CLOCK_TIME_NONE};
  // Bytes arriving for this long with no H.264 track linked: a codec the demuxer or decoder
  // drops without a word (through uridecodebin, MPEG-4 Part 2 in FLV exposed nothing at all,
  // audio included).
  std::atomic<bool> input_seen_{false};
  std::chrono::steady_clock::time_point input_seen_at_;  // set once, before input_seen_
  std::mutex watch_mutex_;
  std::condition_variable watch_cv_;
  std::thread track_watch_;
};

}  // namespace livedub::worker
