#include "rtmp_front/rtmp.hpp"

#include "rtmp_front/admission.hpp"

#include <gtest/gtest.h>

namespace livedub::rtmp {
namespace {

Amf0Value number(double n) {
  Amf0Value v;
  v.type = Amf0Value::Type::number;
  v.number = n;
  return v;
}

Amf0Value null_value() { return Amf0Value{}; }

Amf0Value object(std::vector<std::pair<std::string, Amf0Value>> props) {
  Amf0Value v;
  v.type = Amf0Value::Type::object;
  for (auto& [k, val] : props) {
    v.keys.push_back(k);
    v.values.push_back(val);
  }
  return v;
}

Message command(std::vector<Amf0Value> values, std::uint32_t stream_id = 0) {
  return Message{3, 0, kAmf0Command, stream_id, amf0_encode(values)};
}

std::vector<Amf0Value> decoded(const Message& m) { return amf0_decode(m.payload); }

TEST(Amf0, RoundTripsEveryTypeItKnows) {
  Amf0Value date;
  date.type = Amf0Value::Type::date;
  date.number = 1.5e12;
  date.timezone = -60;
  Amf0Value array;
  array.type = Amf0Value::Type::strict_array;
  array.values = {number(1), Amf0Value::make_string("two")};
  Amf0Value ecma = object({{"duration", number(0)}, {"encoder", Amf0Value::make_string("Lavf")}});
  ecma.type = Amf0Value::Type::ecma_array;
  Amf0Value boolean;
  boolean.type = Amf0Value::Type::boolean;
  boolean.number = 1;
  Amf0Value undefined;
  undefined.type = Amf0Value::Type::undefined;
  const std::vector<Amf0Value> values{
      Amf0Value::make_string("connect"), number(1), object({{"app", Amf0Value::make_string("live")}, {"nested", object({{"x", number(-2.25)}})}}),
      null_value(), undefined, boolean, date, array, ecma, Amf0Value::make_string(std::string(70000, 'l'))};
  const auto bytes = amf0_encode(values);
  const auto back = amf0_decode(bytes);
  ASSERT_EQ(back.size(), values.size());
  EXPECT_EQ(amf0_encode(back), bytes);
  EXPECT_EQ(back[2].property("nested")->property("x")->number, -2.25);
  EXPECT_EQ(back[9].type, Amf0Value::Type::long_string);
  EXPECT_EQ(back[6].timezone, -60);
}

TEST(Amf0, MalformedInputIsAnErrorNotACrash) {
  EXPECT_THROW(amf0_decode(std::string("\x02\x00\x09hi", 5)), RtmpError);  // string longer than data
  EXPECT_THROW(amf0_decode(std::string("\x00\x01", 2)), RtmpError);        // short number
  EXPECT_THROW(amf0_decode(std::string("\x0d", 1)), RtmpError);            // unknown marker
  EXPECT_THROW(amf0_decode(std::string(100, '\x03')), RtmpError);          // runs out inside objects
}

TEST(ChunkStream, WriterOutputReadsBackAcrossChunkSizesAndExtendedTimestamps) {
  ChunkWriter writer;
  ChunkReader reader;
  std::string wire;
  std::vector<Message> sent{
      Message{4, 1000, 9, 1, std::string(300, 'v')},           // 3 chunks at 128
      Message{2, 0, kSetChunkSize, 0, std::string("\x00\x00\x10\x00", 4)},  // 4096 from here on
      Message{4, 0x1000000, 9, 1, std::string(5000, 'w')},     // extended timestamp, 2 chunks
      Message{320, 7, 8, 1, std::string(10, 'a')},             // 3-byte chunk stream id
      Message{70, 8, 8, 1, ""},                                // empty message, 2-byte id
  };
  for (const auto& m : sent) writer.write(m, wire);
  // Fed a byte at a time: no message boundary may depend on how TCP cut the stream.
  std::vector<Message> got;
  for (char c : wire) {
    for (auto& m : reader.feed(std::string_view(&c, 1))) got.push_back(std::move(m));
  }
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(got[i].chunk_stream, sent[i].chunk_stream) << i;
    EXPECT_EQ(got[i].timestamp, sent[i].timestamp) << i;
    EXPECT_EQ(got[i].type, sent[i].type) << i;
    EXPECT_EQ(got[i].stream_id, sent[i].stream_id) << i;
    EXPECT_EQ(got[i].payload, sent[i].payload) << i;
  }
  EXPECT_EQ(reader.buffered(), 0u);
}

// Headers that compress against the previous message (what encoders send for audio/video).
TEST(ChunkStream, ReaderAppliesDeltaHeadersAsTheSpecSays) {
  std::string wire;
  // fmt 0: csid 6, ts 100, len 2, type 8, stream 1 (little-endian)
  wire += std::string("\x06\x00\x00\x64\x00\x00\x02\x08\x01\x00\x00\x00", 12) + "ab";
  // fmt 1: ts delta 20, len 3, type 8
  wire += std::string("\x46\x00\x00\x14\x00\x00\x03\x08", 8) + "cde";
  // fmt 2: ts delta 30 (same length 3)
  wire += std::string("\x86\x00\x00\x1e", 4) + "fgh";
  // fmt 3 starting a new message: the same delta again
  wire += std::string("\xc6", 1) + "ijk";
  ChunkReader reader;
  const auto got = reader.feed(wire);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].timestamp, 100u);
  EXPECT_EQ(got[1].timestamp, 120u);
  EXPECT_EQ(got[2].timestamp, 150u);
  EXPECT_EQ(got[3].timestamp, 180u);
  EXPECT_EQ(got[3].payload, "ijk");
  EXPECT_EQ(got[3].stream_id, 1u);
}

TEST(ChunkStream, AbortDropsThePartialMessageAndNothingTravelsForIt) {
  std::string wire;
  ChunkWriter writer;
  // First chunk of a 200-byte message on csid 5, then an Abort for csid 5.
  wire += std::string("\x05\x00\x00\x00\x00\x00\xc8\x09\x01\x00\x00\x00", 12) + std::string(128, 'x');
  writer.write(Message{2, 0, kAbort, 0, std::string("\x00\x00\x00\x05", 4)}, wire);
  writer.write(Message{5, 0, 9, 1, "new"}, wire);
  ChunkReader reader;
  const auto got = reader.feed(wire);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "new");
}

TEST(ChunkStream, RefusesMalformedStreams) {
  ChunkReader continuation_first;
  EXPECT_THROW(continuation_first.feed(std::string("\xc4", 1)), RtmpError);
  ChunkReader huge;
  EXPECT_THROW(huge.feed(std::string("\x04\x00\x00\x00\xff\xff\xff\x09\x01\x00\x00\x00", 12)), RtmpError);
  ChunkReader zero_chunk;
  ChunkWriter writer;
  std::string wire;
  writer.write(Message{2, 0, kSetChunkSize, 0, std::string(4, '\0')}, wire);
  EXPECT_THROW(zero_chunk.feed(wire), RtmpError);
}

// The attack measured: partial messages on many chunk streams of one connection.
TEST(ChunkStream, OneConnectionsPartialMessagesAreBoundedAcrossAllItsChunkStreams) {
  const std::size_t limit = 1024 * 1024;
  ChunkReader reader(limit);
  std::string wire;
  ChunkWriter writer;
  writer.write(Message{2, 0, kSetChunkSize, 0, std::string("\x00\x01\x00\x00", 4)}, wire);  // 64 KiB chunks
  reader.feed(wire);
  // First chunk (64 KiB) of a 4 MB message on chunk streams 3, 4, 5, ...: legal one by one.
  auto first_chunk = [](std::uint32_t csid) {
    std::string c;
    c += static_cast<char>(csid);  // fmt 0, csid < 64
    c += std::string("\x00\x00\x00\x3d\x09\x00\x09\x01\x00\x00\x00", 11);  // length 0x3d0900 = 4,000,000
    return c + std::string(64 * 1024, 'v');
  };
  std::size_t fed = 0;
  EXPECT_THROW(
      {
        for (std::uint32_t csid = 3; csid < 63; ++csid) {
          reader.feed(first_chunk(csid));
          fed += 64 * 1024;
          EXPECT_LE(reader.held_bytes(), limit);
        }
      },
      RtmpLimitError);
  EXPECT_GE(fed, limit - 128 * 1024);  // refused at the bound, not before
  EXPECT_LE(fed, limit);
}

TEST(ChunkStream, HeldBytesReturnToTheStreamStateOnceMessagesComplete) {
  ChunkReader reader(64 * 1024);
  ChunkWriter writer;
  std::string wire;
  for (int i = 0; i < 200; ++i) writer.write(Message{4, static_cast<std::uint32_t>(i), 9, 1, std::string(40 * 1024, 'x')}, wire);
  // 8 MB through a 64 KiB bound: whole messages never accumulate.
  std::size_t messages = 0;
  for (std::size_t at = 0; at < wire.size(); at += 16 * 1024) messages += reader.feed(std::string_view(wire).substr(at, 16 * 1024)).size();
  EXPECT_EQ(messages, 200u);
  EXPECT_EQ(reader.held_bytes(), kChunkStreamStateBytes);  // one chunk stream's state, nothing partial
}

TEST(Admission, CapsPendingConnectionsPerAddressAndAllConnectionsInTotal) {
  Admission admission({.max_connections = 5, .max_pending_per_address = 2});
  EXPECT_EQ(admission.admit("10.0.0.9"), Refusal::none);
  EXPECT_EQ(admission.admit("10.0.0.9"), Refusal::none);
  EXPECT_EQ(admission.admit("10.0.0.9"), Refusal::too_many_pending_from_address);
  // Another address is not held back by the first one's flood.
  EXPECT_EQ(admission.admit("127.0.0.1"), Refusal::none);
  // Once one publishes, its address may open another (workers share one address).
  admission.established("127.0.0.1");
  EXPECT_EQ(admission.admit("127.0.0.1"), Refusal::none);
  EXPECT_EQ(admission.pending_from("127.0.0.1"), 1u);
  EXPECT_EQ(admission.open(), 4u);
  admission.established("127.0.0.1");
  EXPECT_EQ(admission.admit("127.0.0.1"), Refusal::none);
  EXPECT_EQ(admission.admit("10.0.0.7"), Refusal::too_many_connections);
  EXPECT_EQ(admission.open(), 5u);
  // Closing frees both the total and the address's pending quota.
  admission.closed("10.0.0.9", true);
  EXPECT_EQ(admission.pending_from("10.0.0.9"), 1u);
  EXPECT_EQ(admission.admit("10.0.0.9"), Refusal::none);
  admission.closed("127.0.0.1", false);
  EXPECT_EQ(admission.pending_from("127.0.0.1"), 1u);
  EXPECT_EQ(admission.open(), 4u);
  EXPECT_STREQ(refusal_name(Refusal::too_many_pending_from_address), "max_pending_per_address");
}

std::vector<Amf0Value> connect_values(const std::string& app, const std::string& tc_url) {
  return {Amf0Value::make_string("connect"), number(1),
          object({{"app", Amf0Value::make_string(app)}, {"type", Amf0Value::make_string("nonprivate")},
                  {"tcUrl", Amf0Value::make_string(tc_url)}})};
}

Message publish(const std::string& name) {
  return command({Amf0Value::make_string("publish"), number(5), null_value(), Amf0Value::make_string(name),
                  Amf0Value::make_string("live")},
                 1);
}

// ffmpeg, librtmp and GStreamer's rtmp2 for rtmp://h:1935/live/cam-1/in.
TEST(AppSplitNormalizer, MovesTheIdFromTheApplicationIntoTheStreamName) {
  AppSplitNormalizer normalizer("live");
  const auto connect = normalizer.rewrite(command(connect_values("live/cam-1", "rtmp://h:1935/live/cam-1")));
  const auto c = decoded(connect);
  EXPECT_EQ(c[2].property("app")->string, "live");
  EXPECT_EQ(c[2].property("tcUrl")->string, "rtmp://h:1935/live");
  EXPECT_EQ(c[2].property("type")->string, "nonprivate");  // everything else kept
  EXPECT_EQ(normalizer.stream_id(), "cam-1");
  EXPECT_EQ(normalizer.last_change(), "app 'live/cam-1' -> 'live'");

  for (const char* call : {"releaseStream", "FCPublish"}) {
    auto m = normalizer.rewrite(command({Amf0Value::make_string(call), number(2), null_value(), Amf0Value::make_string("in")}));
    EXPECT_EQ(decoded(m)[3].string, "cam-1/in") << call;
  }
  // A query (a publish password) stays with the stream name, and out of the log line.
  auto p = normalizer.rewrite(publish("in?pass=secret"));
  EXPECT_EQ(decoded(p)[3].string, "cam-1/in?pass=secret");
  EXPECT_EQ(decoded(p)[4].string, "live");
  EXPECT_EQ(p.stream_id, 1u);
  EXPECT_EQ(normalizer.last_change().find("secret"), std::string::npos);
  // Media after it changes nothing and says so (it once repeated the publish line per frame).
  Message media;
  media.type = 9;
  media.payload = "\x17\x01";
  normalizer.rewrite(media);
  EXPECT_EQ(normalizer.last_change(), "");
  auto play = normalizer.rewrite(command({Amf0Value::make_string("play"), number(0), null_value(), Amf0Value::make_string("out"), number(-2000)}));
  EXPECT_EQ(decoded(play)[3].string, "cam-1/out");
  EXPECT_EQ(decoded(play)[4].number, -2000);
}

TEST(AppSplitNormalizer, TheCanonicalSplitAndForeignApplicationsPassUnchanged) {
  AppSplitNormalizer obs("live");  // OBS: server .../live, key cam-1/in
  const auto connect = command(connect_values("live", "rtmp://h/live"));
  EXPECT_EQ(obs.rewrite(connect).payload, connect.payload);
  const auto p = publish("cam-1/in");
  EXPECT_EQ(obs.rewrite(p).payload, p.payload);

  for (const char* app : {"other/cam-1", "live/bad id", "live/a/b", "live"}) {
    AppSplitNormalizer n("live");
    const auto c = command(connect_values(app, std::string("rtmp://h/") + app));
    EXPECT_EQ(n.rewrite(c).payload, c.payload) << app;
    EXPECT_EQ(n.rewrite(publish("in")).payload, publish("in").payload) << app;
  }
  // Not a command, or a command it cannot parse: untouched.
  AppSplitNormalizer n("live");
  Message video{4, 0, 9, 1, "\x17\x00 whatever"};
  EXPECT_EQ(n.rewrite(video).payload, video.payload);
  Message broken{3, 0, kAmf0Command, 0, "\x02\xff"};
  EXPECT_EQ(n.rewrite(broken).payload, broken.payload);
}

TEST(AppSplitNormalizer, Amf3CommandsKeepTheirFormatByte) {
  AppSplitNormalizer normalizer("live");
  Message connect = command(connect_values("live/x1/", "rtmp://h/live/x1/"));
  connect.type = kAmf3Command;
  connect.payload = std::string(1, '\0') + connect.payload;
  const auto out = normalizer.rewrite(connect);
  ASSERT_EQ(out.payload[0], '\0');
  const auto values = amf0_decode(std::string_view(out.payload).substr(1));
  EXPECT_EQ(values[2].property("app")->string, "live");
  EXPECT_EQ(values[2].property("tcUrl")->string, "rtmp://h/live");
}

}  // namespace
}  // namespace livedub::rtmp
