#pragma once
// Audio fixtures shared by the STS tests.
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "livedub/audio.hpp"
#include "livedub/wav.hpp"

namespace livedub::sts::fixtures {

// Interleaved sine, a different frequency per channel so channel order is checkable.
inline AudioBuffer sine_audio(int rate, int channels, std::int64_t frames, double hz = 300.0) {
  AudioBuffer audio;
  audio.format = AudioFormat{rate, channels};
  audio.samples.resize(static_cast<std::size_t>(frames * channels));
  for (std::int64_t f = 0; f < frames; ++f) {
    for (int c = 0; c < channels; ++c) {
      const double t = static_cast<double>(f) / rate;
      audio.samples[static_cast<std::size_t>(f * channels + c)] = static_cast<std::int16_t>(
          std::lround(8000.0 * std::sin(2 * std::numbers::pi * hz * (c + 1) * t)));
    }
  }
  return audio;
}

inline std::string to_string(const std::vector<std::uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

inline std::string wav_bytes(const AudioBuffer& audio) { return to_string(encode_wav(audio)); }

inline AudioBuffer decode_wav_string(const std::string& bytes) {
  return decode_wav({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

// A WAV header declaring 8-bit PCM, which the service must refuse.
inline std::string eight_bit_wav(int rate, std::size_t frames) {
  auto bytes = encode_wav(AudioBuffer{AudioFormat{rate, 1}, 0, {}});
  bytes[32] = 1;   // block align
  bytes[34] = 8;   // bits per sample
  const auto byte_rate = static_cast<std::uint32_t>(rate);
  for (int i = 0; i < 4; ++i) bytes[28 + i] = static_cast<std::uint8_t>(byte_rate >> (8 * i));
  const auto size = static_cast<std::uint32_t>(frames);
  for (int i = 0; i < 4; ++i) bytes[40 + i] = static_cast<std::uint8_t>(size >> (8 * i));
  const auto riff = static_cast<std::uint32_t>(36 + frames);
  for (int i = 0; i < 4; ++i) bytes[4 + i] = static_cast<std::uint8_t>(riff >> (8 * i));
  bytes.insert(bytes.end(), frames, 128);
  return to_string(bytes);
}

// Sign changes between consecutive samples of one channel.
inline int zero_crossings(const std::vector<std::int16_t>& interleaved, int channels, int channel) {
  int crossings = 0;
  for (std::size_t i = static_cast<std::size_t>(channel + channels); i < interleaved.size();
       i += static_cast<std::size_t>(channels)) {
    const auto previous = interleaved[i - static_cast<std::size_t>(channels)];
    const auto current = interleaved[i];
    if ((previous < 0 && current >= 0) || (previous >= 0 && current < 0)) ++crossings;
  }
  return crossings;
}

}  // namespace livedub::sts::fixtures
