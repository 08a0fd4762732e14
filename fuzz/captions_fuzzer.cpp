// Caption text from the STS service (transcripts and translations), caption journals and
// language lists: WebVTT escaping, the journal parser, CEA-608 encoding and wrapping, the
// language-list parser. Invariants: escaped text never holds markup or a line break, 608
// bytes always carry odd parity, wrapped rows fit 32 columns.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cea608.hpp"
#include "livedub/captions.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto escaped = livedub::escape_vtt_text(text);
  if (escaped.find_first_of("<>\n\r") != std::string::npos) __builtin_trap();
  for (const auto& cue : livedub::parse_caption_journal(text)) {
    if (cue.end_ms < cue.start_ms) __builtin_trap();
    const auto vtt = livedub::format_webvtt(std::span(&cue, 1), cue.lang);
    if (vtt.rfind("WEBVTT\n\n", 0) != 0) __builtin_trap();
  }
  for (const auto& pair : livedub::worker::encode_cea608_text(text).pairs) {
    for (auto byte : pair) {
      if (std::popcount(static_cast<unsigned>(byte)) % 2 != 1) __builtin_trap();
    }
  }
  for (const auto& rows : livedub::worker::wrap_caption(text)) {
    if (rows.empty() || rows.size() > 2) __builtin_trap();
    for (const auto& row : rows) {
      if (livedub::worker::encode_cea608_text(row).columns > 32) __builtin_trap();
    }
  }
  livedub::worker::Cea608Encoder encoder;
  encoder.add(0, 5'000'000'000, text);
  for (std::int64_t pts = 0; pts < 6'000'000'000; pts += 33'366'667) (void)encoder.next_pair(pts);
  try {
    for (const auto& lang : livedub::parse_language_list(text, "en")) {
      if (!livedub::output_url_for_language("rtmp://h/live/x/out", lang)) __builtin_trap();
    }
  } catch (const livedub::LanguageListError&) {
  }
  return 0;
}
