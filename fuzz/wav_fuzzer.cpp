// decode_wav on arbitrary bytes: the STS service decodes every uploaded fragment with it.
#include <cstddef>
#include <cstdint>
#include <span>

#include "livedub/wav.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto audio = livedub::decode_wav(std::span(data, size));
    // What decoded must be self-consistent: whole frames of the declared channel count.
    if (audio.format.channels <= 0 || audio.samples.size() % static_cast<std::size_t>(audio.format.channels) != 0) {
      __builtin_trap();
    }
  } catch (const livedub::WavError&) {
  }
  return 0;
}
