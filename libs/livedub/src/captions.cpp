#include "livedub/captions.hpp"

#include <algorithm>
#include <cstdio>

#include "livedub/sts_protocol.hpp"
#include "livedub/text.hpp"

namespace livedub {

std::vector<std::string> parse_language_list(std::string_view text, std::string_view source_lang) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    const auto item = trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (item.empty()) throw LanguageListError("empty entry in '" + std::string(text) + "' (expected e.g. 'es,ca')");
    const std::string& lang = item;
    if (!sts::is_valid_language_tag(lang)) {
      throw LanguageListError("'" + lang + "' is not a language tag like 'es' or 'pt-BR'");
    }
    if (std::find(out.begin(), out.end(), lang) != out.end()) throw LanguageListError("'" + lang + "' is listed twice");
    if (lower_ascii(lang) == lower_ascii(source_lang)) {
      throw LanguageListError("'" + lang + "' is the source language (LIVEDUB_SOURCE_LANG)");
    }
    out.push_back(lang);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (out.size() > kMaxTargetLanguages) {
    throw LanguageListError(std::to_string(out.size()) + " languages listed; at most " +
                            std::to_string(kMaxTargetLanguages) + " per stream");
  }
  return out;
}

std::string output_leaf_for_language(std::string_view lang, bool first) {
  if (first) return "out";
  return "out-" + lower_ascii(lang);
}

std::optional<std::string> output_url_for_language(std::string_view main_url, std::string_view lang) {
  const auto query = main_url.find('?');
  const auto path = main_url.substr(0, query);
  constexpr std::string_view leaf = "/out";
  if (path.size() < leaf.size() || path.substr(path.size() - leaf.size()) != leaf) return std::nullopt;
  std::string url(path);
  url += '-';
  url += lower_ascii(lang);
  if (query != std::string_view::npos) url += main_url.substr(query);
  return url;
}

std::optional<CaptionCue> cue_for_placed_phrase(std::int64_t seq, std::string lang, bool source, std::string_view text,
                                                std::int64_t fragment_start_ns, std::int64_t begin_frame,
                                                std::int64_t end_frame, int sample_rate, std::int64_t offset_ms) {
  auto words = trim(text);
  if (words.empty()) return std::nullopt;
  if (words.size() > kMaxCaptionCueBytes) words = std::string(utf8_prefix(words, kMaxCaptionCueBytes - 3)) + "\u2026";
  if (end_frame <= begin_frame || sample_rate <= 0) return std::nullopt;
  const auto at_ms = [&](std::int64_t frame) {
    // Rounded to the nearest ms: frames * 1000 / rate, no float drift over long streams.
    return (fragment_start_ns + frame * 1'000'000'000 / sample_rate + 500'000) / 1'000'000 + offset_ms;
  };
  return CaptionCue{seq, std::move(lang), source, at_ms(begin_frame), at_ms(end_frame), std::move(words)};
}

nlohmann::json to_json(const CaptionCue& cue) {
  return {{"seq", cue.seq},         {"lang", cue.lang},       {"kind", cue.source ? "source" : "translation"},
          {"start_ms", cue.start_ms}, {"end_ms", cue.end_ms}, {"text", cue.text}};
}

CaptionCue cue_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("a caption cue is a JSON object");
  try {
    CaptionCue cue;
    cue.seq = j.at("seq").get<std::int64_t>();
    cue.lang = j.at("lang").get<std::string>();
    const auto kind = j.at("kind").get<std::string>();
    if (kind != "source" && kind != "translation") throw std::invalid_argument("kind must be source or translation");
    cue.source = kind == "source";
    cue.start_ms = j.at("start_ms").get<std::int64_t>();
    cue.end_ms = j.at("end_ms").get<std::int64_t>();
    cue.text = j.at("text").get<std::string>();
    if (!sts::is_valid_language_tag(cue.lang)) throw std::invalid_argument("lang is not a language tag");
    if (cue.end_ms < cue.start_ms) throw std::invalid_argument("end_ms before start_ms");
    return cue;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("malformed caption cue: ") + e.what());
  }
}

std::vector<CaptionCue> parse_caption_journal(std::string_view text, std::size_t* skipped) {
  std::vector<CaptionCue> cues;
  std::size_t bad = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const auto line = text.substr(start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    try {
      cues.push_back(cue_from_json(j));
    } catch (const std::invalid_argument&) {
      ++bad;
    }
  }
  if (skipped) *skipped = bad;
  return cues;
}

std::string format_vtt_timestamp(std::int64_t ms) {
  ms = std::max<std::int64_t>(ms, 0);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld.%03lld", static_cast<long long>(ms / 3'600'000),
                static_cast<long long>(ms / 60'000 % 60), static_cast<long long>(ms / 1000 % 60),
                static_cast<long long>(ms % 1000));
  return buf;
}

std::string escape_vtt_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '\n' || c == '\r' || c == '\t') {
      // A blank line would end the cue; keep the text on one line.
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      continue;
    } else {
      out += c;
    }
  }
  // "-->" was already broken up by escaping '>'; what is left is trimmed.
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string format_webvtt(std::span<const CaptionCue> cues, std::string_view lang) {
  std::vector<const CaptionCue*> selected;
  for (const auto& cue : cues) {
    if (cue.lang == lang) selected.push_back(&cue);
  }
  std::stable_sort(selected.begin(), selected.end(),
                   [](const CaptionCue* a, const CaptionCue* b) { return a->start_ms < b->start_ms; });
  std::string out = "WEBVTT\n\n";
  for (const auto* cue : selected) {
    const auto text = escape_vtt_text(cue->text);
    if (text.empty()) continue;
    out += std::to_string(cue->seq);
    out += '\n';
    out += format_vtt_timestamp(cue->start_ms);
    out += " --> ";
    out += format_vtt_timestamp(std::max(cue->end_ms, cue->start_ms + 1));
    out += '\n';
    out += text;
    out += "\n\n";
  }
  return out;
}

std::vector<CaptionCue> recent_cues(std::span<const CaptionCue> cues, std::string_view lang, std::int64_t window_ms) {
  std::int64_t latest = 0;
  bool any = false;
  for (const auto& cue : cues) {
    if (cue.lang != lang) continue;
    latest = any ? std::max(latest, cue.end_ms) : cue.end_ms;
    any = true;
  }
  std::vector<CaptionCue> out;
  for (const auto& cue : cues) {
    if (cue.lang == lang && cue.end_ms >= latest - window_ms) out.push_back(cue);
  }
  return out;
}

}  // namespace livedub
