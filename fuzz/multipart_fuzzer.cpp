// The STS upload parser: a Content-Type line, then the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sts/multipart.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const auto content_type = input.substr(0, newline);
  const auto body = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  try {
    const auto boundary = livedub::sts::multipart_boundary(content_type);
    for (const auto& part : livedub::sts::parse_multipart(body, boundary)) {
      // Every part lies within the body it came from.
      if (part.data.size() > body.size()) __builtin_trap();
    }
  } catch (const livedub::sts::MultipartError&) {
  }
  return 0;
}
