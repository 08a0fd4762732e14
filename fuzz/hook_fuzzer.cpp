// Media-server hooks (nginx-rtmp form bodies, MediaMTX JSON), the credential check on them, and
// the media server's publisher list: only HookError / std::invalid_argument may come out, and
// only valid stream ids.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "livedub/stream_id.hpp"
#include "orchestrator/hook_events.hpp"
#include "orchestrator/media_status.hpp"

using namespace livedub::orchestrator;

namespace {
void check(const HookEvent& event) {
  if (!event.stream_id.empty() && !livedub::is_valid_stream_id(event.stream_id)) __builtin_trap();
  if (event.session.size() > 64) __builtin_trap();
  PublishCredentials credentials;
  credentials.worker_pass = "worker-pass-0123456789";
  credentials.publish_pass = "publish-pass";
  (void)publish_refusal(event, credentials);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    check(parse_nginx_hook(text));
  } catch (const HookError&) {
  }
  for (auto kind : {MediamtxEvent::ready, MediamtxEvent::not_ready}) {
    try {
      check(parse_mediamtx_hook(kind, text));
    } catch (const HookError&) {
    }
  }
  try {
    for (const auto& stream : parse_media_status(text)) {
      if (!livedub::is_valid_stream_id(stream.stream_id)) __builtin_trap();
    }
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
