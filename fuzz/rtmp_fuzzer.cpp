// rtmp-front's client-to-server path: chunk reassembly, AMF0 and the application-split rewrite,
// then re-chunking, on whatever a client sends after the handshake.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rtmp_front/rtmp.hpp"

using namespace livedub::rtmp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ChunkReader reader;
  ChunkWriter writer;
  AppSplitNormalizer normalizer("live");
  std::string out;
  try {
    // In two pieces: a message may straddle reads.
    for (auto piece : {bytes.substr(0, size / 2), bytes.substr(size / 2)}) {
      for (auto& message : reader.feed(piece)) writer.write(normalizer.rewrite(std::move(message)), out);
    }
  } catch (const RtmpError&) {
  }
  try {
    (void)amf0_encode(amf0_decode(bytes));
  } catch (const RtmpError&) {
  }
  return 0;
}
