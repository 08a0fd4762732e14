// The STS request metadata and response JSON: every field validated or refused with a
// ProtocolError, never another exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "livedub/stream_id.hpp"
#include "livedub/sts_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto metadata = livedub::sts::parse_request_metadata(text);
    if (!livedub::is_valid_stream_id(metadata.stream_id)) __builtin_trap();
    if (!(metadata.duration_ms > 0 && metadata.duration_ms <= livedub::sts::kMaxDurationMs)) __builtin_trap();
    (void)livedub::sts::to_json(metadata).dump();
  } catch (const livedub::sts::ProtocolError&) {
  }
  try {
    (void)livedub::sts::parse_response(text);
  } catch (const livedub::sts::ProtocolError&) {
  }
  return 0;
}
