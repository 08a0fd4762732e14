#include "ingest.hpp"

#include <gst/app/gstappsink.h>

#include "livedub/rtmp_url.hpp"

namespace livedub::worker {

namespace {
// What uridecodebin (inputs other than RTMP) hands us: H.264 as-is (we never re-encode video),
// anything else decoded.
// Raw video is listed only so that a non-H.264 input gets a clear error instead of a stall.
constexpr const char* kDecodebinStopCaps = "video/x-h264; audio/x-raw; video/x-raw";
constexpr guint kRtspLatencyMs = 200;
// Audio this long without any video track: an audio-only publisher (livedub outputs video).
constexpr GstClockTime kVideoDiscoveryTimeout = 8 * GST_SECOND;
// Input bytes this long without any usable video track: refused (see Ingest::watch_tracks).
constexpr std::chrono::seconds kTrackDiscoveryTimeout{10};
}  // namespace

Ingest::Ingest(std::string url, AudioFormat format, Callbacks callbacks, LogContext log)
    : url_(std::move(url)), format_(format), callbacks_(std::move(callbacks)), log_(std::move(log)) {
  build();
}

Ingest::~Ingest() { stop(); }

void Ingest::build() {
  pipeline_.reset(GST_ELEMENT(gst_object_ref_sink(gst_pipeline_new("ingest"))));
  if (auto rtmp = parse_rtmp_url(url_)) {
    // rtmp2src with an explicit application/stream split (see rtmp_url.hpp), then flvdemux by
    // hand rather than decodebin: decodebin puts a multiqueue behind any demuxer, a thread per
    // track, each woken once per frame (about 100 wake-ups a second at 720p30), and RTMP is
    // always FLV. Both tracks then run on rtmp2src's streaming thread: the worker's real-time
    // throttle holds both alike (FLV interleaves them by time), and rtmp2src's own connection
    // thread keeps reading the socket meanwhile.
    GstElement* source = make_element("rtmp2src", "source");
    g_object_set(source, "host", rtmp->host.c_str(), "port", rtmp->port, "application",
                 rtmp->application.c_str(), "stream", rtmp->stream.c_str(), nullptr);
    gst_util_set_object_arg(G_OBJECT(source), "scheme", rtmp->scheme.c_str());
    GstElement* demux = make_element("flvdemux", "demux");
    gst_bin_add_many(GST_BIN(pipeline_.get()), source, demux, nullptr);
    if (!gst_element_link(source, demux)) throw std::runtime_error("cannot link rtmp2src to flvdemux");
    GstPadPtr source_pad(gst_element_get_static_pad(source, "src"));
    gst_pad_add_probe(source_pad.get(), GST_PAD_PROBE_TYPE_BUFFER,
                      +[](GstPad*, GstPadProbeInfo*, gpointer self) {
                        auto* ingest = static_cast<Ingest*>(self);
                        if (!ingest->input_seen_) {
                          ingest->input_seen_at_ = std::chrono::steady_clock::now();
                          ingest->input_seen_ = true;
                        }
                        return GST_PAD_PROBE_REMOVE;  // the first buffer is all it needs
                      },
                      this, nullptr);
    g_signal_connect(demux, "pad-added",
                     G_CALLBACK(+[](GstElement*, GstPad* pad, gpointer self) {
                       static_cast<Ingest*>(self)->on_demuxed_pad(pad);
                     }),
                     this);
    watch_decoder_tracks(demux);
  } else {
    GstCapsPtr stop_caps(gst_caps_from_string(kDecodebinStopCaps));
    GstElement* decoder = make_element("uridecodebin", "decoder");
    g_object_set(decoder, "uri", url_.c_str(), "caps", stop_caps.get(), nullptr);
    g_signal_connect(decoder, "source-setup", G_CALLBACK(&Ingest::on_source_setup), this);
    gst_bin_add(GST_BIN(pipeline_.get()), decoder);
    connect_decoder(decoder);
    watch_decoder_tracks(decoder);
  }
}

void Ingest::watch_decoder_tracks(GstElement* element) {
  g_signal_connect(element, "no-more-pads",
                   G_CALLBACK(+[](GstElement*, gpointer self) { static_cast<Ingest*>(self)->on_no_more_pads(); }),
                   this);
}

void Ingest::connect_decoder(GstElement* decoder) {
  g_signal_connect(decoder, "pad-added",
                   G_CALLBACK(+[](GstElement*, GstPad* pad, gpointer self) {
                     static_cast<Ingest*>(self)->on_pad_added(pad);
                   }),
                   this);
  // A track no installed decoder handles (e.g. MPEG-4 Part 2 video in FLV) would otherwise
  // be dropped without a word.
  g_signal_connect(decoder, "unknown-type",
                   G_CALLBACK(+[](GstElement*, GstPad*, GstCaps* caps, gpointer self) {
                     static_cast<Ingest*>(self)->on_unknown_type(caps);
                   }),
                   this);
}

// flvdemux's tracks: H.264 goes on as it is; audio (AAC, or whatever else FLV may carry) gets a
// decodebin of its own, which for one elementary stream is a parser and a decoder, no queue.
void Ingest::on_demuxed_pad(GstPad* pad) {
  GstCapsPtr caps(gst_pad_get_current_caps(pad));
  if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
  const std::string media = gst_structure_get_name(gst_caps_get_structure(caps.get(), 0));
  if (media == "video/x-h264") {
    link_video(pad);
  } else if (media.rfind("video/", 0) == 0) {
    on_unknown_type(caps.get());
  } else if (media.rfind("audio/", 0) == 0) {
    audio_found_ = true;
    GstCapsPtr raw(gst_caps_from_string("audio/x-raw"));
    GstElement* decoder = make_element("decodebin");
    g_object_set(decoder, "caps", raw.get(), nullptr);
    connect_decoder(decoder);
    gst_bin_add(GST_BIN(pipeline_.get()), decoder);
    gst_element_sync_state_with_parent(decoder);
    GstPadPtr sinkpad(gst_element_get_static_pad(decoder, "sink"));
    if (gst_pad_link(pad, sinkpad.get()) != GST_PAD_LINK_OK && callbacks_.on_error) {
      callbacks_.on_error("cannot link the input's audio to its decoder");
    }
  } else {
    log_warn(log_, "ignoring input stream with caps {}", caps_to_string(caps.get()));
  }
}

void Ingest::unsupported(const std::string& message) {
  if (refused_.exchange(true)) return;
  log_error(log_, "unsupported input: {}", message);
  if (callbacks_.on_unsupported) {
    callbacks_.on_unsupported(message);
  } else if (callbacks_.on_error) {
    callbacks_.on_error(message);
  }
}

void Ingest::watch_tracks() {
  std::unique_lock lock(watch_mutex_);
  while (!stopping_ && !video_linked_ && !refused_) {
    watch_cv_.wait_for(lock, std::chrono::milliseconds(250));
    if (input_seen_ && !video_linked_ && std::chrono::steady_clock::now() - input_seen_at_ > kTrackDiscoveryTimeout) {
      lock.unlock();
      unsupported("no H.264 video track " + std::to_string(kTrackDiscoveryTimeout.count()) +
                  " s after the input started (its video codec is not H.264, or it has no video): "
                  "livedub passes H.264 video through untouched");
      return;
    }
  }
}

void Ingest::on_unknown_type(GstCaps* caps) {
  const std::string media = gst_structure_get_name(gst_caps_get_structure(caps, 0));
  if (media.rfind("video/", 0) == 0) {
    unsupported("input video is " + caps_to_string(caps) +
                ", which livedub cannot pass through: the publisher must send H.264 video");
  } else if (media.rfind("audio/", 0) == 0) {
    unsupported("input audio " + caps_to_string(caps) +
                " cannot be decoded: the publisher must send AAC (or another common codec)");
  } else {
    log_warn(log_, "ignoring input stream with caps {}", caps_to_string(caps));
  }
}

void Ingest::on_no_more_pads() {
  if (!video_linked_) {
    unsupported("the input has no video track (audio-only): livedub dubs a video stream and "
                "passes its H.264 video through");
  } else if (!audio_found_) {
    unsupported("the input has no audio track: there is nothing to dub");
  }
}

// rtsp:// (MediaMTX in the compose stack): interleaved over the RTSP connection, as MediaMTX
// there offers TCP only (UDP needs host networking in Docker); and a small jitter buffer,
// since rtspsrc's 2 s default would add to the stream's constant delay for nothing on a LAN.
void Ingest::on_source_setup(GstElement*, GstElement* source, gpointer self) {
  auto* ingest = static_cast<Ingest*>(self);
  GObjectClass* klass = G_OBJECT_GET_CLASS(source);
  if (g_object_class_find_property(klass, "protocols") && g_object_class_find_property(klass, "latency")) {
    gst_util_set_object_arg(G_OBJECT(source), "protocols", "tcp");
    g_object_set(source, "latency", kRtspLatencyMs, nullptr);
    log_info(ingest->log_, "RTSP input: TCP transport, {} ms jitter buffer", kRtspLatencyMs);
  }
}

void Ingest::on_pad_added(GstPad* pad) {
  GstCapsPtr caps(gst_pad_get_current_caps(pad));
  if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
  const GstStructure* s = gst_caps_get_structure(caps.get(), 0);
  const std::string media = gst_structure_get_name(s);
  if (media == "video/x-h264") {
    link_video(pad);
  } else if (media == "audio/x-raw") {
    audio_found_ = true;
    link_audio(pad);
  } else if (media == "video/x-raw") {
    unsupported("input video is not H.264 (decodebin had to decode it to raw video); livedub passes "
                "video through without re-encoding, so the publisher must send H.264");
  } else {
    log_warn(log_, "ignoring input stream with caps {}", caps_to_string(caps.get()));
  }
}

// No queue in front of either branch: a queue adds a thread per track and two wake-ups per
// buffer. From RTMP both tracks share rtmp2src's streaming thread (see build); from other
// inputs uridecodebin's multiqueue gives each track a thread.
void Ingest::link_video(GstPad* pad) {
  GstElement* parser = make_element("h264parse");
  GstElement* filter = make_element("capsfilter");
  GstElement* sink = make_element("appsink", "video_sink");
  GstCapsPtr avc(gst_caps_from_string("video/x-h264,stream-format=avc,alignment=au"));
  g_object_set(filter, "caps", avc.get(), nullptr);
  // config-interval=-1 would add SPS/PPS in-band; FLV carries them as codec_data instead.
  g_object_set(sink, "sync", FALSE, "emit-signals", TRUE, "max-buffers", 0, nullptr);
  g_signal_connect(sink, "new-sample", G_CALLBACK(&Ingest::on_video_sample), this);
  gst_bin_add_many(GST_BIN(pipeline_.get()), parser, filter, sink, nullptr);
  gst_element_link_many(parser, filter, sink, nullptr);
  for (GstElement* e : {parser, filter, sink}) gst_element_sync_state_with_parent(e);
  GstPadPtr sinkpad(gst_element_get_static_pad(parser, "sink"));
  if (gst_pad_link(pad, sinkpad.get()) != GST_PAD_LINK_OK && callbacks_.on_error) {
    callbacks_.on_error("cannot link the input's H.264 video");
  }
  video_linked_ = true;
  log_info(log_, "input video: H.264 (passed through untouched)");
}

void Ingest::link_audio(GstPad* pad) {
  GstElement* convert = make_element("audioconvert");
  GstElement* resample = make_element("audioresample");
  GstElement* filter = make_element("capsfilter");
  GstElement* sink = make_element("appsink", "audio_sink");
  GstCapsPtr pcm(gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "layout",
                                     G_TYPE_STRING, "interleaved", "rate", G_TYPE_INT, format_.sample_rate,
                                     "channels", G_TYPE_INT, format_.channels, nullptr));
  g_object_set(filter, "caps", pcm.get(), nullptr);
  g_object_set(sink, "sync", FALSE, "emit-signals", TRUE, "max-buffers", 0, nullptr);
  g_signal_connect(sink, "new-sample", G_CALLBACK(&Ingest::on_audio_sample), this);
  gst_bin_add_many(GST_BIN(pipeline_.get()), convert, resample, filter, sink, nullptr);
  gst_element_link_many(convert, resample, filter, sink, nullptr);
  for (GstElement* e : {convert, resample, filter, sink}) gst_element_sync_state_with_parent(e);
  GstPadPtr sinkpad(gst_element_get_static_pad(convert, "sink"));
  if (gst_pad_link(pad, sinkpad.get()) != GST_PAD_LINK_OK && callbacks_.on_error) {
    callbacks_.on_error("cannot link the input's audio");
  }
  log_info(log_, "input audio: decoded to {}-channel PCM16 at {} Hz", format_.channels, format_.sample_rate);
}

GstFlowReturn Ingest::on_video_sample(GstElement* sink, gpointer user) {
  auto* self = static_cast<Ingest*>(user);
  GstSamplePtr sample(gst_app_sink_pull_sample(GST_APP_SINK(sink)));
  if (!sample) return GST_FLOW_EOS;
  if (self->callbacks_.on_video) {
    self->callbacks_.on_video(gst_sample_get_buffer(sample.get()), gst_sample_get_caps(sample.get()));
  }
  return GST_FLOW_OK;
}

GstFlowReturn Ingest::on_audio_sample(GstElement* sink, gpointer user) {
  auto* self = static_cast<Ingest*>(user);
  GstSamplePtr sample(gst_app_sink_pull_sample(GST_APP_SINK(sink)));
  if (!sample) return GST_FLOW_EOS;
  GstBuffer* buffer = gst_sample_get_buffer(sample.get());
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) return GST_FLOW_ERROR;
  std::span<const std::int16_t> samples(reinterpret_cast<const std::int16_t*>(map.data),
                                        map.size / sizeof(std::int16_t));
  if (!self->video_linked_ && GST_BUFFER_PTS_IS_VALID(buffer)) {
    GstClockTime first = self->first_audio_pts_;
    if (first == GST_CLOCK_TIME_NONE) {
      self->first_audio_pts_ = GST_BUFFER_PTS(buffer);
    } else if (GST_BUFFER_PTS(buffer) > first + kVideoDiscoveryTimeout) {
      self->unsupported("the input has no video track (audio-only; " +
                        std::to_string(kVideoDiscoveryTimeout / GST_SECOND) +
                        " s of audio and no video): livedub dubs a video stream and passes its H.264 "
                        "video through");
    }
  }
  if (self->callbacks_.on_audio) self->callbacks_.on_audio(GST_BUFFER_PTS(buffer), samples);
  gst_buffer_unmap(buffer, &map);
  return GST_FLOW_OK;
}

void Ingest::start() {
  if (gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    throw std::runtime_error("cannot start the input pipeline for " + url_);
  }
  bus_thread_ = std::thread([this] { watch_bus(); });
  track_watch_ = std::thread([this] { watch_tracks(); });
}

void Ingest::watch_bus() {
  GstMessagePtr end = wait_for_pipeline_end(pipeline_.get(), stopping_, log_, "input");
  if (!end) return;
  finished_ = true;
  if (GST_MESSAGE_TYPE(end.get()) == GST_MESSAGE_EOS) {
    log_info(log_, "input ended (end of stream)");
    if (callbacks_.on_end_of_stream) callbacks_.on_end_of_stream();
  } else if (callbacks_.on_error) {
    callbacks_.on_error("input: " + describe_bus_message(end.get()));
  }
}

void Ingest::stop() {
  {
    std::lock_guard lock(watch_mutex_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (track_watch_.joinable()) track_watch_.join();
  if (bus_thread_.joinable()) bus_thread_.join();
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
}

}  // namespace livedub::worker
