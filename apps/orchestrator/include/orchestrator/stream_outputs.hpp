#pragma once
// What each stream is dubbed into and where it goes: the languages (LIVEDUB_SOURCE_LANG,
// LIVEDUB_TARGET_LANGS), each output's path and caption URLs, and the check of the language
// list against the STS service's /v1/capabilities. Pure logic.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace livedub::orchestrator {

struct LanguageSettings {
  std::string source_lang;
  std::vector<std::string> target_langs;  // [0]: live/<id>/out
};

// How far back the rolling caption form reaches (GET .../captions/<lang>/live.vtt).
inline constexpr std::int64_t kLiveCaptionWindowMs = 30'000;

// Per stream: the source captions and one entry per target language, with the output path
// and caption URLs (relative to the orchestrator), e.g.
// {"lang":"ca","kind":"translation","path":"live/abc/out-ca",
//  "captions":"/v1/streams/abc/captions/ca.vtt","live_captions":"/v1/streams/abc/captions/ca/live.vtt"}.
nlohmann::json outputs_json(std::string_view stream_id, const LanguageSettings& languages);

// The "source->target" pairs of `languages` that GET /v1/capabilities (its body) does not
// offer; empty when every one is offered (or any pair is, as with the mocks).
std::vector<std::string> missing_language_pairs(const nlohmann::json& capabilities, const LanguageSettings& languages);

}  // namespace livedub::orchestrator
