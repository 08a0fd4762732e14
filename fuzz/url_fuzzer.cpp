// URLs and stream paths from configuration and the network: parse_rtmp_url, parse_stream_path,
// is_valid_stream_id and redact_url (which must never return a query value).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "livedub/rtmp_url.hpp"
#include "livedub/secrets.hpp"
#include "livedub/stream_id.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto endpoint = livedub::parse_rtmp_url(text)) {
    if (endpoint->port <= 0 || endpoint->port > 65535 || endpoint->host.empty()) __builtin_trap();
  }
  if (auto path = livedub::parse_stream_path(text)) {
    if (!livedub::is_valid_stream_id(path->stream_id)) __builtin_trap();
  }
  const std::string redacted = livedub::redact_url(text);
  // Every "key=value" of the query comes back as "key=***".
  const auto q = redacted.find('?');
  if (q != std::string::npos) {
    std::string_view query = std::string_view(redacted).substr(q + 1);
    for (std::size_t at = query.find('='); at != std::string_view::npos; at = query.find('=', at + 1)) {
      if (query.substr(at + 1, 3) != "***") __builtin_trap();
    }
  }
  return 0;
}
