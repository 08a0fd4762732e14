#include "livedub/rtmp_url.hpp"

#include <charconv>

namespace livedub {

std::optional<RtmpEndpoint> parse_rtmp_url(std::string_view url) {
  RtmpEndpoint ep;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  ep.scheme = std::string(url.substr(0, sep));
  if (ep.scheme != "rtmp" && ep.scheme != "rtmps") return std::nullopt;
  if (ep.scheme == "rtmps") ep.port = 443;
  auto rest = url.substr(sep + 3);
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto authority = rest.substr(0, slash);
  auto path = rest.substr(slash + 1);
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    auto port_text = authority.substr(colon + 1);
    int port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port <= 0 || port > 65535) {
      return std::nullopt;
    }
    ep.port = port;
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return std::nullopt;
  ep.host = std::string(authority);
  auto app_end = path.find('/');
  if (app_end == std::string_view::npos || app_end == 0 || app_end + 1 >= path.size()) {
    return std::nullopt;
  }
  ep.application = std::string(path.substr(0, app_end));
  ep.stream = std::string(path.substr(app_end + 1));
  return ep;
}

}  // namespace livedub
