#pragma once
// Stream ids come from the network (hooks, RTMP names); they are validated before they reach
// any log line, URL, path or command line.
#include <optional>
#include <string>
#include <string_view>

namespace livedub {

inline constexpr std::size_t kMaxStreamIdLength = 64;

// 1-64 characters of [A-Za-z0-9_-].
bool is_valid_stream_id(std::string_view id);

enum class StreamDirection { in, out };

struct StreamPath {
  std::string stream_id;
  StreamDirection direction = StreamDirection::in;
  // "live/<id>/out-<lang>": a further language's output (livedub/captions.hpp); empty for
  // "live/<id>/out", the first language's.
  std::string output_lang;
};

// Parses "live/<id>/in", "live/<id>/out" or "live/<id>/out-<lang>" (lower-case language tag;
// a leading '/' and a "?query" suffix are tolerated, as MediaMTX and RTMP clients send them).
// Returns nullopt for anything else.
std::optional<StreamPath> parse_stream_path(std::string_view path);

}  // namespace livedub
