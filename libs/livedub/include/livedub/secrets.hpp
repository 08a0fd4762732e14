#pragma once
// Credentials: comparing them without a timing leak, and keeping them out of anything printed
// (logs, API replies, metric labels).
#include <span>
#include <string>
#include <string_view>

namespace livedub {

// Compares without an early exit, so response timing does not reveal how much of a guessed
// secret was right (only whether its length was).
bool constant_time_equal(std::string_view a, std::string_view b);

// Bearer-token check of an Authorization header value (scheme case-insensitive, token compared
// in constant time). An empty token never matches.
bool bearer_token_matches(std::string_view authorization_header, std::string_view token);

// `url` fit for a log line: the password of a user:password@ part, every query value and,
// for rtmp(s) URLs, the stream key are replaced by "***". A livedub stream path
// ("<app>/<id>/in" or "<app>/<id>/out") is no secret and stays readable; a third-party
// destination's key ("live2/<key>") does not. Text that is not a URL comes back unchanged
// apart from a query part.
std::string redact_url(std::string_view url);

// Lower-case hex of `bytes` (digests).
std::string to_hex(std::span<const unsigned char> bytes);

// Hex SHA-256 of `text`, for deriving one secret from another without revealing it.
std::string sha256_hex(std::string_view text);

}  // namespace livedub
