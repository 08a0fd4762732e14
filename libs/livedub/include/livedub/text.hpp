#pragma once
// Small string helpers shared by the services' parsers (Apertium modes, glossary files,
// corpus transcripts).
#include <string>
#include <string_view>

namespace livedub {

// `s` without leading and trailing spaces, tabs, CR and LF.
std::string trim(std::string_view s);

// `s` with ASCII letters lower-cased (language tags, header names, media types).
std::string lower_ascii(std::string_view s);

// Every occurrence of `from` in `text` replaced by `to`, left to right; the replacement text
// itself is never searched again.
void replace_all(std::string& text, std::string_view from, std::string_view to);

// The longest prefix of `text` of at most `max_bytes` that does not end inside a UTF-8
// character (text longer than a bound is cut there).
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

}  // namespace livedub
