#pragma once
// Just enough RTMP to rewrite a client's command messages on their way to the media server:
// the chunk stream (RTMP 1.0 spec, section 5.3) in both directions and AMF0 values
// (AMF0 spec). Pure logic over bytes; the proxy (proxy.hpp) moves them.
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace livedub::rtmp {

class RtmpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// The stream is well-formed but would hold more memory than the connection may.
class RtmpLimitError : public RtmpError {
 public:
  using RtmpError::RtmpError;
};

inline constexpr std::size_t kHandshakeClientBytes = 1 + 1536 + 1536;  // C0 + C1 + C2
inline constexpr std::uint8_t kSetChunkSize = 1;
inline constexpr std::uint8_t kAbort = 2;
inline constexpr std::uint8_t kAmf3Command = 17;
inline constexpr std::uint8_t kAmf0Command = 20;

struct Message {
  std::uint32_t chunk_stream = 0;
  std::uint32_t timestamp = 0;  // absolute, ms
  std::uint8_t type = 0;
  std::uint32_t stream_id = 0;
  std::string payload;
};

// What one connection may hold in partial messages, across all its chunk streams: the 8 MiB
// message cap alone would let one connection open 65,599 chunk streams, each with a partial
// message (measured: 100 streams of partial 4 MB messages took 300 MB).
inline constexpr std::size_t kDefaultMaxConnectionBytes = 16 * 1024 * 1024;
// What a chunk stream's bookkeeping costs (its map node and state), counted against that bound.
inline constexpr std::size_t kChunkStreamStateBytes = 128;

// Reassembles messages from chunks (all four header formats, extended timestamps, the
// sender's Set Chunk Size and Abort messages).
class ChunkReader {
 public:
  explicit ChunkReader(std::size_t max_held_bytes = kDefaultMaxConnectionBytes) : max_held_(max_held_bytes) {}
  // Appends bytes and returns the messages they complete. Throws RtmpError on a malformed or
  // oversized stream, or when the connection would hold more than max_held_bytes.
  std::vector<Message> feed(std::string_view bytes);
  std::size_t buffered() const { return buffer_.size(); }
  // Unparsed bytes, partial messages and per-chunk-stream state together.
  std::size_t held_bytes() const { return buffer_.size() + partial_bytes_ + streams_.size() * kChunkStreamStateBytes; }

 private:
  struct StreamState {
    bool seen = false;
    std::uint32_t timestamp = 0, delta = 0, length = 0, stream_id = 0;
    std::uint8_t type = 0;
    bool extended = false;
    std::string partial;
    bool in_message = false;
  };
  void check_held() const;

  std::map<std::uint32_t, StreamState> streams_;
  std::string buffer_;
  std::uint32_t chunk_size_ = 128;
  std::size_t max_held_;
  std::size_t partial_bytes_ = 0;
};

// Writes whole messages as chunks: a full (type 0) header, then type 3 continuations. Follows
// the Set Chunk Size messages it writes.
class ChunkWriter {
 public:
  void write(const Message& message, std::string& out);

 private:
  std::uint32_t chunk_size_ = 128;
};

// AMF0 values (numbers, booleans, strings, objects, arrays, null, undefined, dates).
struct Amf0Value {
  enum class Type : std::uint8_t {
    number = 0, boolean = 1, string = 2, object = 3, null = 5, undefined = 6,
    ecma_array = 8, strict_array = 10, date = 11, long_string = 12
  };
  Type type = Type::null;
  double number = 0;  // number, date (ms), boolean (0/1)
  std::int16_t timezone = 0;
  std::string string;
  std::vector<std::string> keys;  // object, ecma_array: property names, in order
  std::vector<Amf0Value> values;  // their values; strict_array: the items

  static Amf0Value make_string(std::string s);
  const Amf0Value* property(std::string_view key) const;
  Amf0Value* property(std::string_view key);
};

std::vector<Amf0Value> amf0_decode(std::string_view data);  // throws RtmpError
std::string amf0_encode(const std::vector<Amf0Value>& values);

// The media server knows one application, `app` ("live"), with stream names "<id>/in" and
// "<id>/out" (OBS's split: server .../live, key <id>/in). ffmpeg, librtmp and GStreamer's
// rtmp2 split rtmp://host/live/<id>/in as application "live/<id>", stream "in". This rewrites
// the second form into the first, per connection: connect's app and tcUrl, then the stream
// name of publish, play, releaseStream, FCPublish, FCUnpublish, FCSubscribe and deleteStream
// -related calls. Anything else passes unchanged.
class AppSplitNormalizer {
 public:
  explicit AppSplitNormalizer(std::string app = "live") : app_(std::move(app)) {}
  // Returns the message to send upstream (the same one when nothing changes).
  Message rewrite(Message message);
  // Set once a connect named "<app>/<id>": the id moved into stream names.
  const std::string& stream_id() const { return stream_id_; }
  // "app 'live/x' -> 'live'" style summary of the last rewrite, query strings left out.
  const std::string& last_change() const { return last_change_; }
  // Set once the client sent publish or play: the connection is in use, no longer pending.
  bool started() const { return started_; }

 private:
  std::string app_;
  bool started_ = false;
  std::string stream_id_;
  std::string last_change_;
};

}  // namespace livedub::rtmp
