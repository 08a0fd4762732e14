#include "livedub/wav.hpp"

#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

namespace livedub {
namespace {

constexpr std::uint16_t kFormatPcm = 1;
constexpr std::uint16_t kFormatExtensible = 0xFFFE;

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put_tag(std::vector<std::uint8_t>& out, const char* tag) { out.insert(out.end(), tag, tag + 4); }

std::uint32_t get_u32(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) | static_cast<std::uint32_t>(b[at + 1]) << 8 |
         static_cast<std::uint32_t>(b[at + 2]) << 16 | static_cast<std::uint32_t>(b[at + 3]) << 24;
}
std::uint16_t get_u16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] | b[at + 1] << 8);
}
bool tag_is(std::span<const std::uint8_t> b, std::size_t at, const char* tag) {
  return std::memcmp(b.data() + at, tag, 4) == 0;
}

}  // namespace

std::vector<std::uint8_t> encode_wav(const AudioBuffer& audio) {
  const auto data_bytes = audio.samples.size() * sizeof(std::int16_t);
  if (data_bytes > std::numeric_limits<std::uint32_t>::max() - 36) {
    throw WavError("audio too long for a WAV file");
  }
  const auto channels = static_cast<std::uint16_t>(audio.format.channels);
  const auto rate = static_cast<std::uint32_t>(audio.format.sample_rate);
  std::vector<std::uint8_t> out;
  out.reserve(44 + data_bytes);
  put_tag(out, "RIFF");
  put_u32(out, static_cast<std::uint32_t>(36 + data_bytes));
  put_tag(out, "WAVE");
  put_tag(out, "fmt ");
  put_u32(out, 16);
  put_u16(out, kFormatPcm);
  put_u16(out, channels);
  put_u32(out, rate);
  put_u32(out, rate * channels * 2);
  put_u16(out, static_cast<std::uint16_t>(channels * 2));
  put_u16(out, 16);
  put_tag(out, "data");
  put_u32(out, static_cast<std::uint32_t>(data_bytes));
  for (auto s : audio.samples) put_u16(out, static_cast<std::uint16_t>(s));
  return out;
}

AudioBuffer decode_wav(std::span<const std::uint8_t> bytes, const WavLimits& limits) {
  if (bytes.size() < 12) throw WavError("not a WAV file: shorter than a RIFF header (12 bytes)");
  if (!tag_is(bytes, 0, "RIFF")) throw WavError("not a WAV file: missing 'RIFF' magic");
  if (!tag_is(bytes, 8, "WAVE")) throw WavError("not a WAV file: RIFF form type is not 'WAVE'");
  const std::uint64_t riff_end = 8ULL + get_u32(bytes, 4);
  if (riff_end > bytes.size()) {
    throw WavError("truncated WAV: RIFF header declares " + std::to_string(riff_end) +
                   " bytes but only " + std::to_string(bytes.size()) + " were received");
  }

  bool have_fmt = false;
  AudioBuffer audio;
  std::size_t pos = 12;
  while (pos + 8 <= riff_end) {
    const std::uint64_t chunk_size = get_u32(bytes, pos + 4);
    const std::size_t body = pos + 8;
    if (body + chunk_size > riff_end) {
      throw WavError("truncated WAV: chunk '" +
                     std::string(reinterpret_cast<const char*>(bytes.data() + pos), 4) +
                     "' runs past the end of the file");
    }
    if (tag_is(bytes, pos, "fmt ")) {
      if (chunk_size < 16) throw WavError("invalid WAV: 'fmt ' chunk shorter than 16 bytes");
      const auto format_tag = get_u16(bytes, body);
      const auto channels = get_u16(bytes, body + 2);
      const auto rate = get_u32(bytes, body + 4);
      const auto byte_rate = get_u32(bytes, body + 8);
      const auto block_align = get_u16(bytes, body + 12);
      const auto bits = get_u16(bytes, body + 14);
      bool pcm = format_tag == kFormatPcm;
      if (format_tag == kFormatExtensible && chunk_size >= 40) {
        // The sub-format GUID starts with the plain format tag.
        pcm = get_u16(bytes, body + 24) == kFormatPcm;
      }
      if (!pcm) {
        throw WavError("unsupported WAV encoding (format tag " + std::to_string(format_tag) +
                       "): only integer PCM is accepted");
      }
      if (bits != 16) {
        throw WavError("unsupported WAV sample format: " + std::to_string(bits) +
                       "-bit; only 16-bit PCM is accepted");
      }
      if (channels < 1 || channels > limits.max_channels) {
        throw WavError("unsupported channel count " + std::to_string(channels));
      }
      if (rate < static_cast<std::uint32_t>(limits.min_sample_rate) ||
          rate > static_cast<std::uint32_t>(limits.max_sample_rate)) {
        throw WavError("unsupported sample rate " + std::to_string(rate) + " Hz (accepted: " +
                       std::to_string(limits.min_sample_rate) + ".." +
                       std::to_string(limits.max_sample_rate) + ")");
      }
      if (block_align != channels * 2 || byte_rate != rate * block_align) {
        throw WavError("invalid WAV: block align / byte rate inconsistent with channels and rate");
      }
      audio.format = AudioFormat{static_cast<int>(rate), static_cast<int>(channels)};
      have_fmt = true;
    } else if (tag_is(bytes, pos, "data")) {
      if (!have_fmt) throw WavError("invalid WAV: 'data' chunk before 'fmt ' chunk");
      const auto block = static_cast<std::uint64_t>(audio.format.channels) * 2;
      if (chunk_size % block != 0) {
        throw WavError("invalid WAV: data size " + std::to_string(chunk_size) +
                       " is not a whole number of sample frames");
      }
      audio.samples.resize(chunk_size / 2);
      for (std::size_t i = 0; i < audio.samples.size(); ++i) {
        audio.samples[i] = static_cast<std::int16_t>(get_u16(bytes, body + 2 * i));
      }
      return audio;
    }
    pos = body + chunk_size + (chunk_size & 1);  // chunks are word-aligned
  }
  throw WavError(have_fmt ? "invalid WAV: no 'data' chunk" : "invalid WAV: no 'fmt ' chunk");
}

AudioBuffer read_wav_file(const std::string& path, const WavLimits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw WavError("cannot read " + path);
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return decode_wav(bytes, limits);
  } catch (const WavError& e) {
    throw WavError(path + ": " + e.what());
  }
}

}  // namespace livedub
