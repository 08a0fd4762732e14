#pragma once
// RTMP URLs are ambiguous about where the application name ends: ffmpeg, librtmp and
// GStreamer's rtmp2 take "live/<id>" as the application of rtmp://h/live/<id>/in, while
// nginx-rtmp only knows the application "live". livedub always splits after the FIRST path
// segment (application "live", stream "<id>/in"), which nginx-rtmp and MediaMTX both accept.
#include <optional>
#include <string>
#include <string_view>

namespace livedub {

struct RtmpEndpoint {
  std::string scheme;  // rtmp or rtmps
  std::string host;
  int port = 1935;
  std::string application;
  std::string stream;  // may contain '/' and a "?query"
};

std::optional<RtmpEndpoint> parse_rtmp_url(std::string_view url);

}  // namespace livedub
