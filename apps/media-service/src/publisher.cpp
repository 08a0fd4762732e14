#include "publisher.hpp"

#include "livedub/secrets.hpp"
#include "livedub/text.hpp"

#include <gst/app/gstappsrc.h>

#include <algorithm>

namespace livedub::worker {

namespace {
constexpr std::size_t kFlvTagHeaderBytes = 11;
constexpr std::uint8_t kFlvTagVideo = 9;
constexpr auto kMinBackoff = std::chrono::milliseconds(500);
constexpr auto kMaxBackoff = std::chrono::milliseconds(10000);
// RTMP chunks of 4096 bytes, as ffmpeg and nginx-rtmp send, not rtmp2sink's 128: a 3 Mb/s stream
// is then about 90 chunks a second instead of 2900, each one parsed and acknowledged by the server.
constexpr guint kRtmpChunkSize = 4096;
}  // namespace

bool shift_flv_tag_timestamp(std::uint8_t* data, std::size_t size, std::uint32_t offset_ms) {
  if (size < 11) return false;
  std::uint32_t ts = (std::uint32_t{data[7]} << 24) | (std::uint32_t{data[4]} << 16) |
                     (std::uint32_t{data[5]} << 8) | std::uint32_t{data[6]};
  ts += offset_ms;
  data[4] = static_cast<std::uint8_t>(ts >> 16);
  data[5] = static_cast<std::uint8_t>(ts >> 8);
  data[6] = static_cast<std::uint8_t>(ts);
  data[7] = static_cast<std::uint8_t>(ts >> 24);
  return true;
}

bool is_flv_video_tag(const std::uint8_t* data, std::size_t size) {
  return size > kFlvTagHeaderBytes && (data[0] & 0x1F) == kFlvTagVideo;
}

bool is_flv_video_keyframe_tag(const std::uint8_t* data, std::size_t size) {
  return is_flv_video_tag(data, size) && (data[kFlvTagHeaderBytes] >> 4) == 1;
}

Publisher::Publisher(std::string name, RtmpEndpoint destination, LogContext log,
                     std::function<void()> on_reconnect, std::uint32_t timestamp_offset_ms)
    : name_(std::move(name)),
      destination_(std::move(destination)),
      log_(std::move(log)),
      on_reconnect_(std::move(on_reconnect)),
      timestamp_offset_ms_(timestamp_offset_ms) {
  std::lock_guard lock(mutex_);
  build_locked();
  supervisor_ = std::thread([this] { supervise(); });
}

Publisher::~Publisher() {
  stopping_ = true;
  cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  std::lock_guard lock(mutex_);
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
}

void Publisher::build_locked() {
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  pipeline_.reset(GST_ELEMENT(gst_object_ref_sink(gst_pipeline_new(("publish-" + name_).c_str()))));
  source_ = make_element("appsrc");
  GstElement* sink = make_element("rtmp2sink");
  g_object_set(source_, "format", GST_FORMAT_TIME, "is-live", FALSE, "max-bytes",
               G_GUINT64_CONSTANT(16 * 1024 * 1024), "block", FALSE, nullptr);
  if (caps_) g_object_set(source_, "caps", caps_.get(), nullptr);
  g_object_set(sink, "host", destination_.host.c_str(), "port", destination_.port, "application",
               destination_.application.c_str(), "stream", destination_.stream.c_str(), "sync", FALSE,
               "chunk-size", kRtmpChunkSize, nullptr);
  gst_util_set_object_arg(G_OBJECT(sink), "scheme", destination_.scheme.c_str());
  gst_bin_add_many(GST_BIN(pipeline_.get()), source_, sink, nullptr);
  gst_element_link(source_, sink);
  need_keyframe_ = true;
  failed_ = false;
  if (gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    failed_ = true;
  }
}

void Publisher::push(GstSample* flv_tag) {
  std::lock_guard lock(mutex_);
  if (failed_ || eos_sent_ || !source_) return;
  GstCaps* caps = gst_sample_get_caps(flv_tag);
  if (caps && (!caps_ || !gst_caps_is_equal(caps, caps_.get()))) {
    caps_.reset(gst_caps_ref(caps));
    gst_app_src_set_caps(GST_APP_SRC(source_), caps);
  }
  GstBuffer* buffer = gst_sample_get_buffer(flv_tag);
  if (GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_HEADER)) return;  // sent from caps' streamheader
  if (need_keyframe_) {
    GstMapInfo map;
    if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) return;
    const bool video = is_flv_video_tag(map.data, map.size);
    const bool keyframe = is_flv_video_keyframe_tag(map.data, map.size);
    gst_buffer_unmap(buffer, &map);
    // A player needs a keyframe first; audio before it would only precede a black picture.
    if (!video || !keyframe) return;
    need_keyframe_ = false;
  }
  if (timestamp_offset_ms_ == 0) {
    gst_app_src_push_buffer(GST_APP_SRC(source_), gst_buffer_ref(buffer));
    return;
  }
  // rtmp2sink sends each tag with the timestamp written in it. The muxer's buffer is shared
  // with the other destinations: each publisher shifts its own copy.
  GstBuffer* shifted = gst_buffer_copy_deep(buffer);
  GstMapInfo map;
  if (gst_buffer_map(shifted, &map, GST_MAP_WRITE)) {
    shift_flv_tag_timestamp(map.data, map.size, timestamp_offset_ms_);
    gst_buffer_unmap(shifted, &map);
  }
  gst_app_src_push_buffer(GST_APP_SRC(source_), shifted);
}

void Publisher::end_of_stream() {
  std::lock_guard lock(mutex_);
  eos_sent_ = true;
  if (source_ && !failed_) {
    gst_app_src_end_of_stream(GST_APP_SRC(source_));
  } else {
    finished_ = true;
    cv_.notify_all();
  }
}

bool Publisher::wait_finished(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [this] { return finished_; });
}

void Publisher::supervise() {
  auto backoff = kMinBackoff;
  auto connected_since = std::chrono::steady_clock::now();
  while (!stopping_) {
    GstBusPtr bus;
    {
      std::lock_guard lock(mutex_);
      bus.reset(gst_element_get_bus(pipeline_.get()));
    }
    GstMessagePtr message(gst_bus_timed_pop_filtered(
        bus.get(), 100 * GST_MSECOND,
        static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_STATE_CHANGED)));
    std::unique_lock lock(mutex_);
    if (!message) {
      if (connected_ && std::chrono::steady_clock::now() - connected_since > std::chrono::seconds(30)) {
        backoff = kMinBackoff;  // stable again: next failure retries quickly
      }
      if (!failed_) continue;
    } else if (GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_STATE_CHANGED) {
      if (GST_MESSAGE_SRC(message.get()) == GST_OBJECT(pipeline_.get())) {
        GstState old_state, new_state;
        gst_message_parse_state_changed(message.get(), &old_state, &new_state, nullptr);
        if (new_state == GST_STATE_PLAYING && !connected_) {
          connected_ = true;
          connected_since = std::chrono::steady_clock::now();
          // Redacted: a third-party destination's stream key is a secret.
          log_info(log_, "publishing to {} ({})", name_,
                   redact_url(destination_.scheme + "://" + destination_.host + ":" +
                              std::to_string(destination_.port) + "/" + destination_.application + "/" +
                              destination_.stream));
        }
      }
      continue;
    } else if (GST_MESSAGE_TYPE(message.get()) == GST_MESSAGE_EOS) {
      finished_ = true;
      cv_.notify_all();
      return;
    } else {
      // GStreamer's error text may quote the stream name, which may be a key.
      std::string why = describe_bus_message(message.get());
      if (!destination_.stream.empty()) replace_all(why, destination_.stream, "***");
      log_warn(log_, "output {} failed: {}; reconnecting in {} ms", name_, why, backoff.count());
      failed_ = true;
    }
    connected_ = false;
    if (eos_sent_) {
      finished_ = true;
      cv_.notify_all();
      return;
    }
    gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
    cv_.wait_for(lock, backoff, [this] { return stopping_.load(); });
    if (stopping_) return;
    backoff = std::min(backoff * 2, kMaxBackoff);
    build_locked();
    if (on_reconnect_) on_reconnect_();
  }
}

}  // namespace livedub::worker
