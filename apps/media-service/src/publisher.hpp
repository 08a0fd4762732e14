#pragma once
// Publishes the muxed FLV stream to one RTMP destination and keeps doing so: when the
// connection fails it reconnects with backoff and resumes at the next video keyframe.
#include <gst/gst.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "gst_util.hpp"
#include "livedub/logging.hpp"
#include "livedub/rtmp_url.hpp"

namespace livedub::worker {

// FLV tag inspection, pure: byte 0 is the tag type (9 = video); the first data byte's high
// nibble is the frame type (1 = keyframe).
bool is_flv_video_keyframe_tag(const std::uint8_t* data, std::size_t size);
bool is_flv_video_tag(const std::uint8_t* data, std::size_t size);
// Adds `offset_ms` to an FLV tag's 32-bit timestamp (bytes 4-6, then byte 7 as the high
// byte), wrapping as RTMP timestamps do; false when `size` is too short for a tag header.
bool shift_flv_tag_timestamp(std::uint8_t* data, std::size_t size, std::uint32_t offset_ms);

class Publisher {
 public:
  // `timestamp_offset_ms` moves every tag later: a restarted worker continues the timeline its
  // predecessor left (players that stayed connected see timestamps keep rising).
  Publisher(std::string name, RtmpEndpoint destination, LogContext log,
            std::function<void()> on_reconnect = {}, std::uint32_t timestamp_offset_ms = 0);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  void push(GstSample* flv_tag);  // drops data while disconnected
  void end_of_stream();
  bool wait_finished(std::chrono::milliseconds timeout);
  bool connected() const { return connected_; }
  const std::string& name() const { return name_; }

 private:
  void build_locked();
  void supervise();

  std::string name_;
  RtmpEndpoint destination_;
  LogContext log_;
  std::function<void()> on_reconnect_;
  std::uint32_t timestamp_offset_ms_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  GstElementPtr pipeline_;
  GstElement* source_ = nullptr;
  GstCapsPtr caps_;
  bool need_keyframe_ = true;
  bool failed_ = false;
  bool eos_sent_ = false;
  bool finished_ = false;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};
  std::thread supervisor_;
};

}  // namespace livedub::worker
