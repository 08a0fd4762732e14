#include "livedub/secrets.hpp"

#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <stdexcept>

#include "livedub/rtmp_url.hpp"
#include "livedub/stream_id.hpp"

namespace livedub {
namespace {

constexpr std::string_view kMask = "***";

// "a=1&b=2" -> "a=***&b=***": which arguments were given is useful, their values may not be.
std::string redact_query(std::string_view query) {
  std::string out;
  while (true) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    out += pair.substr(0, eq);
    if (eq != std::string_view::npos) {
      out += '=';
      out += kMask;
    }
    if (amp == std::string_view::npos) break;
    out += '&';
    query.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool bearer_token_matches(std::string_view authorization_header, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (token.empty() || authorization_header.size() <= kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization_header[i])) != kScheme[i]) return false;
  }
  return constant_time_equal(authorization_header.substr(kScheme.size()), token);
}

std::string redact_url(std::string_view url) {
  std::string_view query;
  bool has_query = false;
  if (auto q = url.find('?'); q != std::string_view::npos) {
    query = url.substr(q + 1);
    url = url.substr(0, q);
    has_query = true;
  }
  std::string out(url);
  // user:password@host -> user:***@host
  if (auto scheme = out.find("://"); scheme != std::string::npos) {
    const auto authority_start = scheme + 3;
    const auto authority_end = out.find('/', authority_start);
    const auto at = out.rfind('@', authority_end == std::string::npos ? out.npos : authority_end);
    if (at != std::string::npos && at > authority_start) {
      const auto colon = out.find(':', authority_start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, kMask);
    }
  }
  if (auto endpoint = parse_rtmp_url(out); endpoint && !endpoint->stream.empty()) {
    // The stream of rtmp://host/live/<id>/out is "<id>/out"; anything else is a key.
    const std::string path = endpoint->application + "/" + endpoint->stream;
    if (!parse_stream_path(path)) {
      out.replace(out.size() - endpoint->stream.size(), endpoint->stream.size(), kMask);
    }
  }
  if (has_query) {
    out += '?';
    out += redact_query(query);
  }
  return out;
}

std::string sha256_hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return to_hex(std::span(digest.data(), length));
}

std::string to_hex(std::span<const unsigned char> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 0xf];
  }
  return hex;
}

}  // namespace livedub
