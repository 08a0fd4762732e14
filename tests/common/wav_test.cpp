#include "livedub/wav.hpp"

#include <cstring>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace livedub {
namespace {

using ::testing::HasSubstr;
using Bytes = std::vector<std::uint8_t>;

void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put_u32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_tag(Bytes& out, const char* tag) { out.insert(out.end(), tag, tag + 4); }

// A chunk with its word-alignment pad byte when the body size is odd.
Bytes chunk(const char* tag, const Bytes& body) {
  Bytes out;
  put_tag(out, tag);
  put_u32(out, static_cast<std::uint32_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  if (body.size() % 2 == 1) out.push_back(0);
  return out;
}

Bytes fmt_body(std::uint16_t format_tag, std::uint16_t channels, std::uint32_t rate,
               std::uint16_t bits) {
  Bytes body;
  const auto block_align = static_cast<std::uint16_t>(channels * bits / 8);
  put_u16(body, format_tag);
  put_u16(body, channels);
  put_u32(body, rate);
  put_u32(body, rate * block_align);
  put_u16(body, block_align);
  put_u16(body, bits);
  return body;
}

Bytes pcm16_body(const std::vector<std::int16_t>& samples) {
  Bytes body;
  for (auto s : samples) put_u16(body, static_cast<std::uint16_t>(s));
  return body;
}

Bytes riff(const std::vector<Bytes>& chunks) {
  Bytes payload;
  put_tag(payload, "WAVE");
  for (const auto& c : chunks) payload.insert(payload.end(), c.begin(), c.end());
  Bytes out;
  put_tag(out, "RIFF");
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::string decode_error(const Bytes& bytes) {
  try {
    decode_wav(bytes);
  } catch (const WavError& e) {
    return e.what();
  }
  return "<decoded without error>";
}

AudioBuffer make_audio(int rate, int channels, std::vector<std::int16_t> samples) {
  AudioBuffer audio;
  audio.format = AudioFormat{rate, channels};
  audio.samples = std::move(samples);
  return audio;
}

TEST(Wav, RoundTripMono) {
  auto audio = make_audio(16000, 1, {0, 1, -1, 32767, -32768, 1234, -4321});
  auto bytes = encode_wav(audio);
  EXPECT_EQ(bytes.size(), 44u + 2 * audio.samples.size());
  auto decoded = decode_wav(bytes);
  EXPECT_EQ(decoded.format, audio.format);
  EXPECT_EQ(decoded.samples, audio.samples);
  EXPECT_EQ(decoded.start_frame, 0);
}

TEST(Wav, RoundTripStereo) {
  auto audio = make_audio(48000, 2, {1, -1, 2, -2, 32767, -32768});
  auto decoded = decode_wav(encode_wav(audio));
  EXPECT_EQ(decoded.format, (AudioFormat{48000, 2}));
  EXPECT_EQ(decoded.frames(), 3);
  EXPECT_EQ(decoded.samples, audio.samples);
}

TEST(Wav, EncodedHeaderFieldsAreConsistent) {
  auto bytes = encode_wav(make_audio(44100, 2, std::vector<std::int16_t>(10, 7)));
  ASSERT_EQ(bytes.size(), 64u);
  auto u32 = [&](std::size_t at) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) value |= static_cast<std::uint32_t>(bytes[at + i]) << (8 * i);
    return value;
  };
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "RIFF");
  EXPECT_EQ(u32(4), 56u);                // file size - 8
  EXPECT_EQ(u32(28), 44100u * 2 * 2);    // byte rate
  EXPECT_EQ(u32(40), 20u);               // data size
}

TEST(Wav, ZeroFramesRoundTrip) {
  auto decoded = decode_wav(encode_wav(make_audio(8000, 1, {})));
  EXPECT_EQ(decoded.frames(), 0);
}

TEST(Wav, RejectsInputShorterThanRiffHeader) {
  EXPECT_THAT(decode_error({}), HasSubstr("shorter than a RIFF header"));
  EXPECT_THAT(decode_error(Bytes{'R', 'I', 'F', 'F', 0, 0}), HasSubstr("shorter than a RIFF header"));
}

TEST(Wav, RejectsTruncatedFile) {
  auto bytes = encode_wav(make_audio(16000, 1, {1, 2, 3, 4}));
  bytes.resize(30);  // cut inside the fmt chunk
  EXPECT_THAT(decode_error(bytes), HasSubstr("truncated WAV"));
}

TEST(Wav, RejectsWrongMagic) {
  auto bytes = encode_wav(make_audio(16000, 1, {1, 2}));
  auto rifx = bytes;
  std::memcpy(rifx.data(), "RIFX", 4);
  EXPECT_THAT(decode_error(rifx), HasSubstr("missing 'RIFF' magic"));
  auto avi = bytes;
  std::memcpy(avi.data() + 8, "AVI ", 4);
  EXPECT_THAT(decode_error(avi), HasSubstr("not 'WAVE'"));
}

TEST(Wav, Rejects8BitWithClearMessage) {
  auto bytes = riff({chunk("fmt ", fmt_body(1, 1, 16000, 8)), chunk("data", Bytes(16, 128))});
  auto message = decode_error(bytes);
  EXPECT_THAT(message, HasSubstr("8-bit"));
  EXPECT_THAT(message, HasSubstr("only 16-bit PCM"));
}

TEST(Wav, Rejects24BitWithClearMessage) {
  auto bytes = riff({chunk("fmt ", fmt_body(1, 1, 16000, 24)), chunk("data", Bytes(12, 0))});
  EXPECT_THAT(decode_error(bytes), HasSubstr("24-bit"));
}

TEST(Wav, RejectsFloatWithClearMessage) {
  auto bytes = riff({chunk("fmt ", fmt_body(3, 1, 16000, 32)), chunk("data", Bytes(16, 0))});
  auto message = decode_error(bytes);
  EXPECT_THAT(message, HasSubstr("format tag 3"));
  EXPECT_THAT(message, HasSubstr("only integer PCM"));
}

Bytes extensible_fmt(std::uint16_t sub_format, std::uint16_t bits) {
  Bytes body = fmt_body(0xFFFE, 2, 48000, bits);
  put_u16(body, 22);    // cbSize
  put_u16(body, bits);  // valid bits per sample
  put_u32(body, 3);     // channel mask: front left + right
  put_u16(body, sub_format);
  // Rest of the KSDATAFORMAT_SUBTYPE GUID.
  const std::uint8_t guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                      0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
  body.insert(body.end(), guid_tail, guid_tail + 14);
  return body;
}

TEST(Wav, AcceptsExtensiblePcm16) {
  auto bytes = riff({chunk("fmt ", extensible_fmt(1, 16)), chunk("data", pcm16_body({5, -5, 6, -6}))});
  auto audio = decode_wav(bytes);
  EXPECT_EQ(audio.format, (AudioFormat{48000, 2}));
  EXPECT_EQ(audio.samples, (std::vector<std::int16_t>{5, -5, 6, -6}));
}

TEST(Wav, RejectsExtensibleFloat) {
  auto bytes = riff({chunk("fmt ", extensible_fmt(3, 32)), chunk("data", Bytes(16, 0))});
  EXPECT_THAT(decode_error(bytes), HasSubstr("only integer PCM"));
}

TEST(Wav, RejectsDataSizeNotWholeFrames) {
  auto mono = riff({chunk("fmt ", fmt_body(1, 1, 16000, 16)), chunk("data", Bytes{1, 2, 3})});
  EXPECT_THAT(decode_error(mono), HasSubstr("not a whole number of sample frames"));
  auto stereo = riff({chunk("fmt ", fmt_body(1, 2, 16000, 16)), chunk("data", Bytes(6, 0))});
  EXPECT_THAT(decode_error(stereo), HasSubstr("data size 6"));
}

TEST(Wav, RejectsDataBeforeFmt) {
  auto bytes = riff({chunk("data", pcm16_body({1, 2})), chunk("fmt ", fmt_body(1, 1, 16000, 16))});
  EXPECT_THAT(decode_error(bytes), HasSubstr("'data' chunk before 'fmt '"));
}

TEST(Wav, RejectsMissingChunks) {
  EXPECT_THAT(decode_error(riff({chunk("fmt ", fmt_body(1, 1, 16000, 16))})),
              HasSubstr("no 'data' chunk"));
  EXPECT_THAT(decode_error(riff({chunk("LIST", Bytes(4, 'x'))})), HasSubstr("no 'fmt ' chunk"));
}

TEST(Wav, SkipsUnknownChunksIncludingOddSizedPadding) {
  Bytes list_body;
  put_tag(list_body, "INFO");
  list_body.insert(list_body.end(), {'I', 'S', 'F', 'T', 3, 0, 0, 0, 'a', 'b', 'c'});
  ASSERT_EQ(list_body.size() % 2, 1u);  // exercises the pad byte
  auto bytes = riff({chunk("fmt ", fmt_body(1, 1, 22050, 16)), chunk("LIST", list_body),
                     chunk("junk", Bytes{9}), chunk("data", pcm16_body({100, -100, 200}))});
  auto audio = decode_wav(bytes);
  EXPECT_EQ(audio.format, (AudioFormat{22050, 1}));
  EXPECT_EQ(audio.samples, (std::vector<std::int16_t>{100, -100, 200}));
}

TEST(Wav, RejectsRiffSizeLargerThanFile) {
  auto bytes = encode_wav(make_audio(16000, 1, {1, 2, 3, 4}));
  bytes[4] = static_cast<std::uint8_t>(bytes[4] + 10);
  EXPECT_THAT(decode_error(bytes), HasSubstr("RIFF header declares"));
}

TEST(Wav, RejectsChunkRunningPastEnd) {
  auto bytes = riff({chunk("fmt ", fmt_body(1, 1, 16000, 16)), chunk("data", pcm16_body({1, 2}))});
  bytes[bytes.size() - 8] = 200;  // data chunk size byte: 200 > remaining bytes
  EXPECT_THAT(decode_error(bytes), HasSubstr("chunk 'data' runs past the end"));
}

TEST(Wav, IgnoresBytesAfterTheRiffForm) {
  auto bytes = encode_wav(make_audio(16000, 1, {7, 8}));
  bytes.insert(bytes.end(), {1, 2, 3});
  EXPECT_EQ(decode_wav(bytes).samples, (std::vector<std::int16_t>{7, 8}));
}

TEST(Wav, RejectsUnsupportedRateChannelsAndInconsistentFmt) {
  EXPECT_THAT(decode_error(riff({chunk("fmt ", fmt_body(1, 1, 4000, 16)), chunk("data", Bytes(2, 0))})),
              HasSubstr("unsupported sample rate 4000"));
  EXPECT_THAT(decode_error(riff({chunk("fmt ", fmt_body(1, 0, 16000, 16)), chunk("data", Bytes(2, 0))})),
              HasSubstr("unsupported channel count 0"));
  EXPECT_THAT(decode_error(riff({chunk("fmt ", fmt_body(1, 9, 16000, 16)), chunk("data", Bytes(18, 0))})),
              HasSubstr("unsupported channel count 9"));
  auto bad_align = fmt_body(1, 2, 16000, 16);
  bad_align[12] = 2;  // block align 2 for stereo 16-bit (should be 4)
  EXPECT_THAT(decode_error(riff({chunk("fmt ", bad_align), chunk("data", Bytes(4, 0))})),
              HasSubstr("block align"));
  EXPECT_THAT(decode_error(riff({chunk("fmt ", Bytes(14, 0)), chunk("data", Bytes(4, 0))})),
              HasSubstr("shorter than 16 bytes"));
}

TEST(Wav, LimitsAreConfigurable) {
  auto bytes = encode_wav(make_audio(96000, 1, {1}));
  EXPECT_NO_THROW(decode_wav(bytes));
  WavLimits narrow;
  narrow.max_sample_rate = 48000;
  EXPECT_THROW(decode_wav(bytes, narrow), WavError);
}

}  // namespace
}  // namespace livedub
