#include "rtmp_front/rtmp.hpp"

#include <bit>
#include <cstring>

#include "livedub/stream_id.hpp"

namespace livedub::rtmp {
namespace {

// A message larger than this is refused: media messages are far smaller, and the reader
// must not buffer without bound for a client that announces gigabytes.
constexpr std::uint32_t kMaxMessageBytes = 8 * 1024 * 1024;
constexpr std::uint32_t kExtendedTimestamp = 0xFFFFFF;

std::uint32_t be(std::string_view b, std::size_t at, int n) {
  std::uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)]);
  return v;
}

std::uint32_t swap32(std::uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xFF00) | ((v << 8) & 0xFF0000) | (v << 24);
}

void put_be(std::string& out, std::uint32_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_basic_header(std::string& out, int fmt, std::uint32_t csid) {
  const auto f = static_cast<std::uint32_t>(fmt) << 6;
  if (csid >= 2 && csid <= 63) {
    out.push_back(static_cast<char>(f | csid));
  } else if (csid >= 64 && csid <= 319) {
    out.push_back(static_cast<char>(f));
    out.push_back(static_cast<char>(csid - 64));
  } else {
    out.push_back(static_cast<char>(f | 1));
    const auto rest = csid - 64;
    out.push_back(static_cast<char>(rest & 0xFF));
    out.push_back(static_cast<char>(rest >> 8));
  }
}

}  // namespace

void ChunkReader::check_held() const {
  if (held_bytes() > max_held_) {
    throw RtmpLimitError("the connection would hold " + std::to_string(held_bytes()) + " bytes across " +
                    std::to_string(streams_.size()) + " chunk streams (limit " + std::to_string(max_held_) + ")");
  }
}

std::vector<Message> ChunkReader::feed(std::string_view bytes) {
  buffer_.append(bytes);
  check_held();
  std::vector<Message> out;
  std::size_t pos = 0;
  while (true) {
    const std::string_view b(buffer_);
    std::size_t p = pos;
    if (p >= b.size()) break;
    const int fmt = static_cast<unsigned char>(b[p]) >> 6;
    std::uint32_t csid = static_cast<unsigned char>(b[p]) & 0x3F;
    ++p;
    if (csid == 0) {
      if (p + 1 > b.size()) break;
      csid = 64 + static_cast<unsigned char>(b[p]);
      p += 1;
    } else if (csid == 1) {
      if (p + 2 > b.size()) break;
      csid = 64 + static_cast<unsigned char>(b[p]) + 256u * static_cast<unsigned char>(b[p + 1]);
      p += 2;
    }
    auto& st = streams_[csid];
    check_held();
    if (fmt != 0 && !st.seen) throw RtmpError("chunk stream " + std::to_string(csid) + " starts without a full header");
    static constexpr std::size_t kHeaderBytes[] = {11, 7, 3, 0};
    const auto header_bytes = kHeaderBytes[fmt];
    if (p + header_bytes > b.size()) break;
    std::uint32_t ts_field = 0, length = st.length, stream_id = st.stream_id;
    std::uint8_t type = st.type;
    if (fmt <= 2) ts_field = be(b, p, 3);
    if (fmt <= 1) {
      length = be(b, p + 3, 3);
      type = static_cast<std::uint8_t>(b[p + 6]);
    }
    if (fmt == 0) stream_id = swap32(be(b, p + 7, 4));  // little-endian on the wire
    p += header_bytes;
    const bool extended = fmt <= 2 ? ts_field == kExtendedTimestamp : st.extended;
    if (extended) {
      if (p + 4 > b.size()) break;
      const auto ext = be(b, p, 4);
      if (fmt <= 2) ts_field = ext;
      p += 4;
    }
    if (st.in_message && fmt != 3) throw RtmpError("a new header interrupts a message on chunk stream " + std::to_string(csid));
    if (length > kMaxMessageBytes) throw RtmpError("message of " + std::to_string(length) + " bytes refused");
    const std::uint32_t have = st.in_message ? static_cast<std::uint32_t>(st.partial.size()) : 0;
    const std::uint32_t take = std::min(chunk_size_, length - have);
    if (p + take > b.size()) break;

    // The whole chunk is here: commit its header to the stream's state.
    if (!st.in_message) {
      if (fmt == 0) {
        st.timestamp = ts_field;
        st.delta = ts_field;
      } else if (fmt <= 2) {
        st.timestamp += ts_field;
        st.delta = ts_field;
      } else {
        st.timestamp += st.delta;
      }
      partial_bytes_ -= st.partial.size();
      st.partial.clear();
      st.in_message = true;
    }
    st.seen = true;
    st.length = length;
    st.type = type;
    st.stream_id = stream_id;
    st.extended = extended;
    st.partial.append(b.substr(p, take));
    partial_bytes_ += take;
    p += take;
    pos = p;
    if (st.partial.size() == st.length) {
      st.in_message = false;
      partial_bytes_ -= st.partial.size();
      Message m{csid, st.timestamp, st.type, st.stream_id, std::move(st.partial)};
      st.partial = std::string();
      if (m.type == kSetChunkSize) {
        if (m.payload.size() < 4) throw RtmpError("short Set Chunk Size message");
        const auto size = be(m.payload, 0, 4) & 0x7FFFFFFF;
        if (size < 1 || size > kMaxMessageBytes) throw RtmpError("Set Chunk Size " + std::to_string(size) + " refused");
        chunk_size_ = size;
      } else if (m.type == kAbort) {
        if (m.payload.size() >= 4) {
          auto it = streams_.find(be(m.payload, 0, 4));
          if (it != streams_.end()) {
            partial_bytes_ -= it->second.partial.size();
            it->second.partial.clear();
            it->second.in_message = false;
          }
        }
        continue;  // consumed here: only whole messages travel on
      }
      out.push_back(std::move(m));
    }
  }
  buffer_.erase(0, pos);
  return out;
}

void ChunkWriter::write(const Message& m, std::string& out) {
  const bool extended = m.timestamp >= kExtendedTimestamp;
  const auto length = static_cast<std::uint32_t>(m.payload.size());
  std::size_t offset = 0;
  bool first = true;
  do {
    put_basic_header(out, first ? 0 : 3, m.chunk_stream);
    if (first) {
      put_be(out, extended ? kExtendedTimestamp : m.timestamp, 3);
      put_be(out, length, 3);
      out.push_back(static_cast<char>(m.type));
      put_be(out, swap32(m.stream_id), 4);
    }
    if (extended) put_be(out, m.timestamp, 4);
    const auto take = std::min<std::size_t>(chunk_size_, m.payload.size() - offset);
    out.append(m.payload, offset, take);
    offset += take;
    first = false;
  } while (offset < m.payload.size());
  if (m.type == kSetChunkSize && m.payload.size() >= 4) chunk_size_ = be(m.payload, 0, 4) & 0x7FFFFFFF;
}

Amf0Value Amf0Value::make_string(std::string s) {
  Amf0Value v;
  v.type = s.size() > 0xFFFF ? Type::long_string : Type::string;
  v.string = std::move(s);
  return v;
}

const Amf0Value* Amf0Value::property(std::string_view key) const {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) return &values[i];
  }
  return nullptr;
}

Amf0Value* Amf0Value::property(std::string_view key) {
  return const_cast<Amf0Value*>(static_cast<const Amf0Value*>(this)->property(key));
}

namespace {

struct Amf0Reader {
  std::string_view data;
  std::size_t pos = 0;
  int depth = 0;

  void need(std::size_t n) const {
    if (pos + n > data.size()) throw RtmpError("AMF0 value runs past the end of the message");
  }
  std::string read_string(int length_bytes) {
    need(static_cast<std::size_t>(length_bytes));
    const auto n = be(data, pos, length_bytes);
    pos += static_cast<std::size_t>(length_bytes);
    need(n);
    std::string s(data.substr(pos, n));
    pos += n;
    return s;
  }
  void read_properties(Amf0Value& v) {
    while (true) {
      auto key = read_string(2);
      need(1);
      if (key.empty() && static_cast<unsigned char>(data[pos]) == 9) {
        ++pos;
        return;
      }
      v.keys.push_back(std::move(key));
      v.values.push_back(read());
    }
  }
  Amf0Value read() {
    if (++depth > 32) throw RtmpError("AMF0 nesting too deep");
    need(1);
    Amf0Value v;
    const auto marker = static_cast<unsigned char>(data[pos++]);
    switch (marker) {
      case 0: {
        need(8);
        const std::uint64_t bits = (std::uint64_t{be(data, pos, 4)} << 32) | be(data, pos + 4, 4);
        v.type = Amf0Value::Type::number;
        v.number = std::bit_cast<double>(bits);
        pos += 8;
        break;
      }
      case 1:
        need(1);
        v.type = Amf0Value::Type::boolean;
        v.number = data[pos++] != 0 ? 1 : 0;
        break;
      case 2:
        v.type = Amf0Value::Type::string;
        v.string = read_string(2);
        break;
      case 12:
        v.type = Amf0Value::Type::long_string;
        v.string = read_string(4);
        break;
      case 3:
        v.type = Amf0Value::Type::object;
        read_properties(v);
        break;
      case 8:
        need(4);
        pos += 4;  // the count is advisory; the end marker ends it
        v.type = Amf0Value::Type::ecma_array;
        read_properties(v);
        break;
      case 10: {
        need(4);
        const auto n = be(data, pos, 4);
        pos += 4;
        if (n > data.size()) throw RtmpError("AMF0 array longer than its message");
        v.type = Amf0Value::Type::strict_array;
        for (std::uint32_t i = 0; i < n; ++i) v.values.push_back(read());
        break;
      }
      case 5:
        v.type = Amf0Value::Type::null;
        break;
      case 6:
        v.type = Amf0Value::Type::undefined;
        break;
      case 11: {
        need(10);
        const std::uint64_t bits = (std::uint64_t{be(data, pos, 4)} << 32) | be(data, pos + 4, 4);
        v.type = Amf0Value::Type::date;
        v.number = std::bit_cast<double>(bits);
        v.timezone = static_cast<std::int16_t>(be(data, pos + 8, 2));
        pos += 10;
        break;
      }
      default:
        throw RtmpError("unsupported AMF0 type marker " + std::to_string(marker));
    }
    --depth;
    return v;
  }
};

void write_value(const Amf0Value& v, std::string& out);

void write_properties(const Amf0Value& v, std::string& out) {
  for (std::size_t i = 0; i < v.keys.size(); ++i) {
    put_be(out, static_cast<std::uint32_t>(v.keys[i].size()), 2);
    out += v.keys[i];
    write_value(v.values[i], out);
  }
  out += std::string("\0\0\x09", 3);
}

void write_double(double d, std::string& out) {
  const auto bits = std::bit_cast<std::uint64_t>(d);
  put_be(out, static_cast<std::uint32_t>(bits >> 32), 4);
  put_be(out, static_cast<std::uint32_t>(bits), 4);
}

void write_value(const Amf0Value& v, std::string& out) {
  using T = Amf0Value::Type;
  out.push_back(static_cast<char>(v.type));
  switch (v.type) {
    case T::number: write_double(v.number, out); break;
    case T::boolean: out.push_back(v.number != 0 ? 1 : 0); break;
    case T::string:
      put_be(out, static_cast<std::uint32_t>(v.string.size()), 2);
      out += v.string;
      break;
    case T::long_string:
      put_be(out, static_cast<std::uint32_t>(v.string.size()), 4);
      out += v.string;
      break;
    case T::object: write_properties(v, out); break;
    case T::ecma_array:
      put_be(out, static_cast<std::uint32_t>(v.keys.size()), 4);
      write_properties(v, out);
      break;
    case T::strict_array:
      put_be(out, static_cast<std::uint32_t>(v.values.size()), 4);
      for (const auto& item : v.values) write_value(item, out);
      break;
    case T::date:
      write_double(v.number, out);
      put_be(out, static_cast<std::uint16_t>(v.timezone), 2);
      break;
    case T::null:
    case T::undefined: break;
  }
}

bool is_string(const Amf0Value& v) {
  return v.type == Amf0Value::Type::string || v.type == Amf0Value::Type::long_string;
}

}  // namespace

std::vector<Amf0Value> amf0_decode(std::string_view data) {
  Amf0Reader reader{data};
  std::vector<Amf0Value> values;
  while (reader.pos < data.size()) values.push_back(reader.read());
  return values;
}

std::string amf0_encode(const std::vector<Amf0Value>& values) {
  std::string out;
  for (const auto& v : values) write_value(v, out);
  return out;
}

Message AppSplitNormalizer::rewrite(Message message) {
  last_change_.clear();  // describes this message only (media messages change nothing)
  if (message.type != kAmf0Command && message.type != kAmf3Command) return message;
  // An AMF3 command message is an AMF0 body after one format byte.
  const std::size_t skip = message.type == kAmf3Command ? 1 : 0;
  if (message.payload.size() <= skip) return message;
  std::vector<Amf0Value> values;
  try {
    values = amf0_decode(std::string_view(message.payload).substr(skip));
  } catch (const RtmpError&) {
    return message;  // not ours to judge: the media server answers it
  }
  if (values.empty() || !is_string(values[0])) return message;
  const auto& name = values[0].string;
  if (name == "publish" || name == "play") started_ = true;
  if (name == "connect") {
    if (values.size() < 3 || values[2].type != Amf0Value::Type::object) return message;
    auto* app = values[2].property("app");
    if (!app || !is_string(*app)) return message;
    // "live/<id>" (a trailing '/' or query tolerated); anything else is left to the server.
    std::string given = app->string.substr(0, app->string.find('?'));
    while (!given.empty() && given.back() == '/') given.pop_back();
    const auto prefix = app_ + "/";
    if (given.rfind(prefix, 0) != 0) return message;
    const auto id = given.substr(prefix.size());
    if (!is_valid_stream_id(id)) return message;
    stream_id_ = id;
    last_change_ = "app '" + given + "' -> '" + app_ + "'";
    app->string = app_;
    if (auto* tc = values[2].property("tcUrl"); tc && is_string(*tc)) {
      auto url = tc->string.substr(0, tc->string.find('?'));
      while (!url.empty() && url.back() == '/') url.pop_back();
      const auto suffix = "/" + id;
      if (url.size() > suffix.size() && url.compare(url.size() - suffix.size(), suffix.size(), suffix) == 0) {
        tc->string = url.substr(0, url.size() - suffix.size());
      }
    }
  } else if (!stream_id_.empty() &&
             (name == "publish" || name == "play" || name == "releaseStream" || name == "FCPublish" ||
              name == "FCUnpublish" || name == "FCSubscribe" || name == "getStreamLength")) {
    // [name, transaction id, null, stream name, ...]
    if (values.size() < 4 || !is_string(values[3])) return message;
    auto& stream = values[3].string;
    if (stream.rfind(stream_id_ + "/", 0) == 0) return message;  // already the full name
    const auto base = stream.substr(0, stream.find('?'));
    last_change_ = name + " '" + base + "' -> '" + stream_id_ + "/" + base + "'";
    stream = stream_id_ + "/" + stream;
  } else {
    return message;
  }
  message.payload = message.payload.substr(0, skip) + amf0_encode(values);
  return message;
}

}  // namespace livedub::rtmp
