#include "egress.hpp"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>

#include <stdexcept>
#include <utility>

namespace livedub::worker {

namespace {
// AAC encoders emit priming frames that FLV cannot signal, so decoders play them: the audio
// comes out that many frames late unless video is shifted to match. Measured per encoder (the
// onset of a tone burst after encode + decode; bench/aac_encoders.sh's delay column).
std::int64_t aac_priming_frames(const std::string& element) { return element == "voaacenc" ? 1600 : 1024; }

// The configured encoder, or the other one when its plugin is missing (gstreamer1.0-libav has
// avenc_aac, gstreamer1.0-plugins-bad voaacenc): a host without one still gets an output.
std::pair<GstElement*, std::string> make_aac_encoder(const AacEncoding& encoding, const LogContext& log) {
  const std::string other = encoding.element == "voaacenc" ? "avenc_aac" : "voaacenc";
  for (const std::string& name : {encoding.element, other}) {
    if (GstElement* enc = gst_element_factory_make(name.c_str(), nullptr)) {
      if (name != encoding.element) {
        log_warn(log, "AAC encoder {} is not installed; using {}", encoding.element, name);
      }
      g_object_set(enc, "bitrate", encoding.bitrate, nullptr);
      return {enc, name};
    }
  }
  throw std::runtime_error("no AAC encoder: install gstreamer1.0-libav (avenc_aac) or gstreamer1.0-plugins-bad (voaacenc)");
}

// aacparse re-announces the bitrate whenever it drifts, and flvmux answers every tag event with
// a fresh onMetaData: with speech (variable bitrate) that was several per second on the live
// output. The initial metadata comes from the caps, so tag events are dropped before the muxer.
GstPadProbeReturn drop_tag_events(GstPad*, GstPadProbeInfo* info, gpointer) {
  return GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_TAG ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}
}  // namespace

Egress::Egress(AudioFormat format, const AacEncoding& encoding, Callbacks callbacks, LogContext log)
    : sample_rate_(format.sample_rate),
      callbacks_(std::move(callbacks)),
      log_(std::move(log)) {
  pipeline_.reset(GST_ELEMENT(gst_object_ref_sink(gst_pipeline_new("egress"))));
  video_src_ = make_element("appsrc", "video_src");
  audio_src_ = make_element("appsrc", "audio_src");
  GstElement* convert = make_element("audioconvert");
  GstElement* stereo = make_element("capsfilter");
  auto [encoder, encoder_name] = make_aac_encoder(encoding, log_);
  video_shift_ns_ = samples_to_ns(aac_priming_frames(encoder_name), format.sample_rate);
  GstElement* aac_parse = make_element("aacparse");
  GstElement* mux = make_element("flvmux", "mux");
  GstElement* sink = make_element("appsink", "flv_sink");

  // Not live: the muxer waits for both tracks and interleaves strictly by timestamp. Pacing
  // comes from the worker releasing video at its due time.
  for (GstElement* src : {video_src_, audio_src_}) {
    g_object_set(src, "format", GST_FORMAT_TIME, "is-live", FALSE, "max-bytes", G_GUINT64_CONSTANT(0),
                 "block", FALSE, nullptr);
  }
  GstCapsPtr pcm(gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "layout",
                                     G_TYPE_STRING, "interleaved", "rate", G_TYPE_INT, format.sample_rate,
                                     "channels", G_TYPE_INT, format.channels, nullptr));
  g_object_set(audio_src_, "caps", pcm.get(), nullptr);
  GstCapsPtr two_channels(gst_caps_new_simple("audio/x-raw", "channels", G_TYPE_INT, 2, nullptr));
  g_object_set(stereo, "caps", two_channels.get(), nullptr);
  // No queues before the muxer: each appsrc already pushes from a thread of its own and holds
  // (unbounded, bounded by our delay) everything the muxer waits on. A queue there added a
  // thread and two wake-ups per buffer for nothing.
  g_object_set(mux, "streamable", TRUE, nullptr);
  g_object_set(sink, "sync", FALSE, "emit-signals", TRUE, nullptr);
  g_signal_connect(sink, "new-sample", G_CALLBACK(&Egress::on_flv_sample), this);

  gst_bin_add_many(GST_BIN(pipeline_.get()), video_src_, audio_src_, convert, stereo, encoder, aac_parse, mux, sink,
                   nullptr);
  bool linked = gst_element_link_pads(video_src_, "src", mux, "video") &&
                gst_element_link_many(audio_src_, convert, stereo, encoder, aac_parse, nullptr) &&
                gst_element_link_pads(aac_parse, "src", mux, "audio") && gst_element_link(mux, sink);
  if (!linked) throw std::runtime_error("cannot build the output pipeline (flvmux/AAC encoder linking failed)");
  for (GstElement* before_mux : {video_src_, aac_parse}) {
    GstPad* pad = gst_element_get_static_pad(before_mux, "src");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &drop_tag_events, nullptr, nullptr);
    gst_object_unref(pad);
  }
}

Egress::~Egress() { stop(); }

void Egress::start() {
  if (gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    throw std::runtime_error("cannot start the output pipeline");
  }
  bus_thread_ = std::thread([this] { watch_bus(); });
}

void Egress::set_video_caps(GstCaps* caps) {
  gst_app_src_set_caps(GST_APP_SRC(video_src_), caps);
  video_caps_set_ = true;
}

void Egress::push_video(GstBuffer* buffer) {
  const auto shift = static_cast<GstClockTime>(video_shift_ns_);
  if (GST_BUFFER_PTS_IS_VALID(buffer)) GST_BUFFER_PTS(buffer) += shift;
  if (GST_BUFFER_DTS_IS_VALID(buffer)) GST_BUFFER_DTS(buffer) += shift;
  gst_app_src_push_buffer(GST_APP_SRC(video_src_), buffer);
}

void Egress::push_audio(const AudioBuffer& audio) {
  const auto bytes = audio.samples.size() * sizeof(std::int16_t);
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, bytes, nullptr);
  gst_buffer_fill(buffer, 0, audio.samples.data(), bytes);
  GST_BUFFER_PTS(buffer) = static_cast<GstClockTime>(audio.start_ns());
  GST_BUFFER_DURATION(buffer) = static_cast<GstClockTime>(audio.duration_ns());
  gst_app_src_push_buffer(GST_APP_SRC(audio_src_), buffer);
}

void Egress::end_of_stream() {
  gst_app_src_end_of_stream(GST_APP_SRC(video_src_));
  gst_app_src_end_of_stream(GST_APP_SRC(audio_src_));
}

bool Egress::wait_finished(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return finished_cv_.wait_for(lock, timeout, [this] { return finished_; });
}

GstFlowReturn Egress::on_flv_sample(GstElement* sink, gpointer user) {
  auto* self = static_cast<Egress*>(user);
  GstSamplePtr sample(gst_app_sink_pull_sample(GST_APP_SINK(sink)));
  if (!sample) return GST_FLOW_EOS;
  if (self->callbacks_.on_flv) self->callbacks_.on_flv(sample.get());
  return GST_FLOW_OK;
}

void Egress::watch_bus() {
  GstMessagePtr end = wait_for_pipeline_end(pipeline_.get(), stopping_, log_, "output");
  if (!end) return;
  if (GST_MESSAGE_TYPE(end.get()) == GST_MESSAGE_ERROR && callbacks_.on_error) {
    callbacks_.on_error("output: " + describe_bus_message(end.get()));
  }
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  finished_cv_.notify_all();
}

void Egress::stop() {
  stopping_ = true;
  if (bus_thread_.joinable()) bus_thread_.join();
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
}

}  // namespace livedub::worker
