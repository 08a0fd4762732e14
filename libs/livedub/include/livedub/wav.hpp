#pragma once
// Strict RIFF/WAVE PCM16 codec. Decoding rejects anything ambiguous with a WavError whose
// message says exactly what is wrong, so an HTTP peer gets a useful 400.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "livedub/audio.hpp"

namespace livedub {

class WavError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct WavLimits {
  int min_sample_rate = 8000;
  int max_sample_rate = 192000;
  int max_channels = 8;
};

std::vector<std::uint8_t> encode_wav(const AudioBuffer& audio);
// Returns audio with start_frame 0.
AudioBuffer decode_wav(std::span<const std::uint8_t> bytes, const WavLimits& limits = {});
// decode_wav of a file; throws WavError naming the path when it cannot be read or decoded.
AudioBuffer read_wav_file(const std::string& path, const WavLimits& limits = {});

}  // namespace livedub
