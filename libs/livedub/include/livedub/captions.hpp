#pragma once
// Live captions: the source transcript and each translation as timed cues on the OUTPUT
// timeline (the output stream's RTMP/FLV timestamps, in ms), and the language list that names
// a stream's outputs. Pure logic: the worker writes cues as JSON lines (one journal per
// stream), the orchestrator turns them into WebVTT for players.
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace livedub {

// LIVEDUB_SOURCE_LANG and LIVEDUB_TARGET_LANGS when unset (worker and orchestrator alike).
inline constexpr const char* kDefaultSourceLang = "en";
inline constexpr const char* kDefaultTargetLangs = "es";

// Most target languages one stream may be dubbed into at once: each costs MT + TTS per
// fragment and an AAC encoder (README: "Several languages").
inline constexpr std::size_t kMaxTargetLanguages = 4;

class LanguageListError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// "es,ca" -> {"es", "ca"}: language tags (sts::is_valid_language_tag), comma-separated,
// spaces around commas allowed, no duplicates, none equal to `source_lang`, 1 to
// kMaxTargetLanguages. Throws LanguageListError saying what is wrong.
std::vector<std::string> parse_language_list(std::string_view text, std::string_view source_lang);

// The path of a language's output: the first target language uses the stream's own output
// ("live/<id>/out"), each other one "live/<id>/out-<lang>". Lower-cased, so "pt-BR" gives
// "out-pt-br" (RTMP names are case-sensitive on some servers).
std::string output_leaf_for_language(std::string_view lang, bool first);
// The output URL for a language, from the first language's URL: ".../out" becomes
// ".../out-<lang>", the query (credentials) kept. nullopt when `main_url`'s path does not end
// in "/out".
std::optional<std::string> output_url_for_language(std::string_view main_url, std::string_view lang);

struct CaptionCue {
  std::int64_t seq = 0;  // the fragment it came from
  std::string lang;      // the language of `text`
  bool source = false;   // the transcript (true) or a translation
  std::int64_t start_ms = 0;  // output timeline
  std::int64_t end_ms = 0;
  std::string text;
  bool operator==(const CaptionCue&) const = default;
};

// A cue's text is cut to this many bytes (on a character boundary, "…" appended): a phrase of
// speech is a few hundred bytes in any language, and a misbehaving STS must not put megabytes
// into the journal, the WebVTT file and every client's JSON.
inline constexpr std::size_t kMaxCaptionCueBytes = 600;

// The cue for a phrase placed at frames [begin, end) of a fragment that starts at
// `fragment_start_ns` on the output timeline, shifted by `offset_ms` (the output's timestamp
// offset). nullopt when there is nothing to show: blank text or an empty span. Text beyond
// kMaxCaptionCueBytes is cut.
std::optional<CaptionCue> cue_for_placed_phrase(std::int64_t seq, std::string lang, bool source, std::string_view text,
                                                std::int64_t fragment_start_ns, std::int64_t begin_frame,
                                                std::int64_t end_frame, int sample_rate, std::int64_t offset_ms);

// One JSON object per line in the journal.
nlohmann::json to_json(const CaptionCue& cue);
// Throws std::invalid_argument for anything that is not a cue (a torn last line, say).
CaptionCue cue_from_json(const nlohmann::json& j);
// Every well-formed cue of a journal, in file order; malformed lines are skipped and counted.
std::vector<CaptionCue> parse_caption_journal(std::string_view text, std::size_t* skipped = nullptr);

// "HH:MM:SS.mmm" (WebVTT allows more than 99 hours; negative times are clamped to 0).
std::string format_vtt_timestamp(std::int64_t ms);
// Cue text as WebVTT needs it: & < > escaped, line breaks and "-->" (which would end the
// cue's text or be read as a timing line) replaced, control characters dropped.
std::string escape_vtt_text(std::string_view text);
// A WebVTT file of the cues in `lang`, sorted by start; cue identifiers are "<seq>".
std::string format_webvtt(std::span<const CaptionCue> cues, std::string_view lang);

// The cues in `lang` that end within `window_ms` of the latest cue's end: the rolling live
// form a player polls.
std::vector<CaptionCue> recent_cues(std::span<const CaptionCue> cues, std::string_view lang, std::int64_t window_ms);

}  // namespace livedub
