#pragma once
// RAII owners for GStreamer/GLib objects and small helpers shared by the pipeline adapters.
#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "livedub/logging.hpp"

namespace livedub::worker {

struct GstObjectUnref {
  void operator()(gpointer object) const { if (object) gst_object_unref(object); }
};
struct GstBufferUnref {
  void operator()(GstBuffer* buffer) const { if (buffer) gst_buffer_unref(buffer); }
};
struct GstCapsUnref {
  void operator()(GstCaps* caps) const { if (caps) gst_caps_unref(caps); }
};
struct GstSampleUnref {
  void operator()(GstSample* sample) const { if (sample) gst_sample_unref(sample); }
};
struct GstMessageUnref {
  void operator()(GstMessage* message) const { if (message) gst_message_unref(message); }
};
struct GErrorFree {
  void operator()(GError* error) const { if (error) g_error_free(error); }
};
struct GFree {
  void operator()(gpointer p) const { g_free(p); }
};

using GstElementPtr = std::unique_ptr<GstElement, GstObjectUnref>;
using GstBusPtr = std::unique_ptr<GstBus, GstObjectUnref>;
using GstPadPtr = std::unique_ptr<GstPad, GstObjectUnref>;
using GstBufferPtr = std::unique_ptr<GstBuffer, GstBufferUnref>;
using GstCapsPtr = std::unique_ptr<GstCaps, GstCapsUnref>;
using GstSamplePtr = std::unique_ptr<GstSample, GstSampleUnref>;
using GstMessagePtr = std::unique_ptr<GstMessage, GstMessageUnref>;
using GErrorPtr = std::unique_ptr<GError, GErrorFree>;
using GCharPtr = std::unique_ptr<gchar, GFree>;

// Creates an element or throws naming the missing plugin.
inline GstElement* make_element(const char* factory, const char* name = nullptr) {
  GstElement* element = gst_element_factory_make(factory, name);
  if (!element) {
    throw std::runtime_error(std::string("GStreamer element '") + factory +
                             "' is missing: install the GStreamer plugin packages (scripts/setup)");
  }
  return element;
}

inline std::string caps_to_string(const GstCaps* caps) {
  if (!caps) return "(none)";
  GCharPtr text(gst_caps_to_string(caps));
  return text ? text.get() : "";
}

// "<element>: <message> (<debug>)" for an ERROR/WARNING bus message.
inline std::string describe_bus_message(GstMessage* message) {
  GError* raw_error = nullptr;
  gchar* raw_debug = nullptr;
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    gst_message_parse_error(message, &raw_error, &raw_debug);
  } else {
    gst_message_parse_warning(message, &raw_error, &raw_debug);
  }
  GErrorPtr error(raw_error);
  GCharPtr debug(raw_debug);
  std::string text = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(message))) + ": " +
                     (error ? error->message : "unknown error");
  if (debug) text += " (" + std::string(debug.get()) + ")";
  return text;
}

// Waits on `pipeline`'s bus for its end: returns the EOS or ERROR message, or nullptr once
// `stopping` is set. Warnings on the way are logged as "<what>: ...".
inline GstMessagePtr wait_for_pipeline_end(GstElement* pipeline, const std::atomic<bool>& stopping,
                                           const LogContext& log, const char* what) {
  GstBusPtr bus(gst_element_get_bus(pipeline));
  while (!stopping) {
    GstMessagePtr message(gst_bus_timed_pop_filtered(
        bus.get(), 100 * GST_MSECOND,
        static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_WARNING)));
    if (!message) continue;
    if (GST_MESSAGE_TYPE(message.get()) != GST_MESSAGE_WARNING) return message;
    log_warn(log, "{}: {}", what, describe_bus_message(message.get()));
  }
  return nullptr;
}

}  // namespace livedub::worker
