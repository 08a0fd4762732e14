#include "sts/piper_voice.hpp"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace livedub::sts {
namespace {

// The symbols Piper's training fixed (piper-phonemize's defaults).
constexpr char32_t kPad = U'_';
constexpr char32_t kBos = U'^';
constexpr char32_t kEos = U'$';

float scale_or(const nlohmann::json& inference, const char* key, float fallback, const std::string& what) {
  if (!inference.contains(key)) return fallback;
  const auto& v = inference.at(key);
  if (!v.is_number() || !(v.get<double>() > 0.0) || v.get<double>() > 10.0) {
    throw VoiceModelError(what + ": inference." + key + " must be a number in (0, 10]");
  }
  return v.get<float>();
}

}  // namespace

PiperVoiceConfig parse_piper_config(std::string_view json, const std::string& what) {
  const auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw VoiceModelError(what + ": not a JSON object");
  PiperVoiceConfig config;
  if (j.contains("phoneme_type") && j.at("phoneme_type") != "espeak") {
    throw VoiceModelError(what + ": phoneme_type " + j.at("phoneme_type").dump() +
                          " is not supported (only Piper's espeak-ng voices)");
  }
  const auto espeak = j.value("espeak", nlohmann::json::object());
  if (!espeak.is_object() || !espeak.contains("voice") || !espeak.at("voice").is_string() ||
      espeak.at("voice").get<std::string>().empty()) {
    throw VoiceModelError(what + ": espeak.voice is missing (which espeak-ng voice phonemises the text)");
  }
  config.espeak_voice = espeak.at("voice").get<std::string>();
  std::string code;
  if (j.contains("language") && j.at("language").is_object() && j.at("language").contains("code") &&
      j.at("language").at("code").is_string()) {
    code = j.at("language").at("code").get<std::string>();
  } else {
    code = config.espeak_voice;
  }
  config.language = code.substr(0, code.find_first_of("_-"));
  std::transform(config.language.begin(), config.language.end(), config.language.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (config.language.size() < 2 || config.language.size() > 3 ||
      !std::all_of(config.language.begin(), config.language.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    throw VoiceModelError(what + ": language.code '" + code + "' does not name a language");
  }

  const auto audio = j.value("audio", nlohmann::json::object());
  if (!audio.is_object() || !audio.contains("sample_rate") || !audio.at("sample_rate").is_number_integer()) {
    throw VoiceModelError(what + ": audio.sample_rate is missing");
  }
  config.sample_rate = audio.at("sample_rate").get<int>();
  if (config.sample_rate < 8000 || config.sample_rate > 48000) {
    throw VoiceModelError(what + ": audio.sample_rate " + std::to_string(config.sample_rate) + " is out of range");
  }
  const auto inference = j.value("inference", nlohmann::json::object());
  if (!inference.is_object()) throw VoiceModelError(what + ": inference is not an object");
  config.noise_scale = scale_or(inference, "noise_scale", config.noise_scale, what);
  config.length_scale = scale_or(inference, "length_scale", config.length_scale, what);
  config.noise_w = scale_or(inference, "noise_w", config.noise_w, what);
  const auto count = [&](const char* key, int fallback) {
    if (!j.contains(key)) return fallback;
    if (!j.at(key).is_number_integer()) throw VoiceModelError(what + ": " + key + " is not a whole number");
    return j.at(key).get<int>();
  };
  config.num_speakers = count("num_speakers", 1);
  if (config.num_speakers < 1) throw VoiceModelError(what + ": num_speakers must be at least 1");
  config.num_symbols = count("num_symbols", 0);

  if (!j.contains("phoneme_id_map") || !j.at("phoneme_id_map").is_object() || j.at("phoneme_id_map").empty()) {
    throw VoiceModelError(what + ": phoneme_id_map is missing");
  }
  for (const auto& [key, ids] : j.at("phoneme_id_map").items()) {
    const auto symbol = decompose(key);
    if (symbol.size() != 1) continue;  // Piper's maps hold single codepoints only
    if (!ids.is_array() || ids.empty()) throw VoiceModelError(what + ": phoneme_id_map[\"" + key + "\"] is not a list of ids");
    auto& out = config.phoneme_id_map[symbol.front()];
    for (const auto& id : ids) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
          (config.num_symbols > 0 && id.get<std::int64_t>() >= config.num_symbols)) {
        throw VoiceModelError(what + ": phoneme_id_map[\"" + key + "\"] holds an id outside 0.." +
                              std::to_string(config.num_symbols - 1) + " (num_symbols)");
      }
      out.push_back(id.get<std::int64_t>());
    }
  }
  for (const char32_t required : {kPad, kBos, kEos}) {
    if (!config.phoneme_id_map.contains(required)) {
      throw VoiceModelError(what + ": phoneme_id_map lacks the symbol '" + std::string(1, static_cast<char>(required)) +
                            "' (pad, start and end are required)");
    }
  }
  return config;
}

char clause_terminator(std::string_view consumed) {
  // espeak-ng reads one character past a clause before it stops (the cursor is left after it),
  // and closing quotes go with the clause they end: from the end, skip spaces and quote marks,
  // at most one other character, spaces and quote marks again; then comes the punctuation or not.
  static constexpr std::string_view kQuotes[] = {"\"", "'", ")", "]", "}", "\xC2\xAB", "\xC2\xBB", "\xC2\xBF", "\xC2\xA1",
                                                 "\xE2\x80\x9C", "\xE2\x80\x9D", "\xE2\x80\x98", "\xE2\x80\x99", "("};
  static constexpr std::pair<std::string_view, char> kMarks[] = {
      {".", '.'}, {",", ','}, {"?", '?'}, {"!", '!'}, {";", ';'}, {":", ':'}, {"\xE2\x80\xA6", '.'} /* … */,
      {"\xE3\x80\x82", '.'} /* 。 */, {"\xEF\xBC\x8C", ','} /* ， */, {"\xE3\x80\x81", ','} /* 、 */,
      {"\xEF\xBC\x9F", '?'} /* ？ */, {"\xEF\xBC\x81", '!'} /* ！ */};
  std::string_view rest = consumed;
  bool lookahead_skipped = false;
  while (!rest.empty()) {
    const char last = rest.back();
    if (last == ' ' || last == '\t' || last == '\r' || last == '\n') {
      rest.remove_suffix(1);
      continue;
    }
    bool quote = false;
    for (const auto q : kQuotes) {
      if (rest.ends_with(q)) {
        rest.remove_suffix(q.size());
        quote = true;
        break;
      }
    }
    if (quote) continue;
    for (const auto& [mark, c] : kMarks) {
      if (rest.ends_with(mark)) return c;
    }
    if (lookahead_skipped) return 0;
    lookahead_skipped = true;
    // One UTF-8 codepoint back: continuation bytes are 10xxxxxx.
    std::size_t n = rest.size() - 1;
    while (n > 0 && (static_cast<unsigned char>(rest[n]) & 0xC0) == 0x80) --n;
    rest = rest.substr(0, n);
  }
  return 0;
}

std::string strip_language_switches(std::string_view ipa) {
  std::string out;
  out.reserve(ipa.size());
  for (std::size_t i = 0; i < ipa.size(); ++i) {
    if (ipa[i] == '(') {
      const auto close = ipa.find(')', i);
      const auto inner = ipa.substr(i + 1, close == std::string_view::npos ? 0 : close - i - 1);
      if (close != std::string_view::npos && !inner.empty() && inner.size() <= 8 &&
          std::all_of(inner.begin(), inner.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '-'; })) {
        i = close;
        continue;
      }
    }
    out.push_back(ipa[i]);
  }
  return out;
}

std::u32string decompose(std::string_view utf8) {
  UErrorCode status = U_ZERO_ERROR;
  const auto* nfd = icu::Normalizer2::getNFDInstance(status);
  if (U_FAILURE(status)) throw TtsError(std::string("Unicode normalisation unavailable: ") + u_errorName(status));
  const auto in = icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  // fromUTF8 turns invalid bytes into U+FFFD: refuse them rather than speak a replacement mark.
  if (in.indexOf(static_cast<UChar>(0xFFFD)) >= 0 && utf8.find("\xEF\xBF\xBD") == std::string_view::npos) {
    throw TtsError("text is not valid UTF-8");
  }
  const auto out = nfd->normalize(in, status);
  if (U_FAILURE(status)) throw TtsError(std::string("Unicode normalisation failed: ") + u_errorName(status));
  std::u32string codepoints;
  for (int32_t i = 0; i < out.length(); i = out.moveIndex32(i, 1)) codepoints.push_back(static_cast<char32_t>(out.char32At(i)));
  return codepoints;
}

PhonemeIds piper_phoneme_ids(const std::vector<PhonemeClause>& clauses, const PiperVoiceConfig& config) {
  PhonemeIds out;
  const auto& map = config.phoneme_id_map;
  std::u32string sentence;
  auto finish = [&] {
    // Nothing but punctuation and spaces (an ellipsis on its own) is no sentence to speak.
    if (std::all_of(sentence.begin(), sentence.end(), [](char32_t c) { return c < 0x80 && std::string_view(" !,.:;?").find(static_cast<char>(c)) != std::string_view::npos; })) {
      sentence.clear();
      return;
    }
    while (!sentence.empty() && sentence.back() == U' ') sentence.pop_back();
    std::vector<std::int64_t> ids;
    const auto& pad = map.at(kPad);
    auto add = [&](char32_t symbol) {
      const auto it = map.find(symbol);
      if (it == map.end()) {
        ++out.unknown;
        return;
      }
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      ids.insert(ids.end(), pad.begin(), pad.end());
    };
    add(kBos);
    for (const char32_t symbol : sentence) add(symbol);
    const auto& eos = map.at(kEos);
    ids.insert(ids.end(), eos.begin(), eos.end());
    out.sentences.push_back(std::move(ids));
    sentence.clear();
  };
  for (const auto& clause : clauses) {
    auto symbols = decompose(strip_language_switches(clause.ipa));
    // espeak-ng separates words with spaces and may start a clause with one: one space between.
    std::erase_if(symbols, [](char32_t c) { return c == U'\n' || c == U'\t' || c == U'\r'; });
    while (!symbols.empty() && symbols.front() == U' ') symbols.erase(symbols.begin());
    while (!symbols.empty() && symbols.back() == U' ') symbols.pop_back();
    sentence += symbols;
    if (clause.terminator != 0) {
      while (!sentence.empty() && sentence.back() == U' ') sentence.pop_back();  // "sol ." -> "sol."
    }
    switch (clause.terminator) {
      case '.':
      case '?':
      case '!':
        sentence.push_back(static_cast<char32_t>(clause.terminator));
        finish();
        break;
      case ',':
      case ';':
      case ':':
        sentence.push_back(static_cast<char32_t>(clause.terminator));
        sentence.push_back(U' ');
        break;
      default:
        if (!sentence.empty()) sentence.push_back(U' ');
        break;
    }
  }
  finish();
  return out;
}

float piper_length_scale(const PiperVoiceConfig& config, const VoiceProfile& profile) {
  const float rate = profile.rate_wpm > 0 ? 170.0f / static_cast<float>(profile.rate_wpm) : 1.0f;
  return std::clamp(config.length_scale * rate, 0.5f, 2.0f);
}

std::vector<std::int16_t> normalized_pcm16(const float* samples, std::size_t count) {
  float peak = 0.0f;
  for (std::size_t i = 0; i < count; ++i) {
    if (std::isfinite(samples[i])) peak = std::max(peak, std::fabs(samples[i]));
  }
  // -1 dBFS; a near-silent output (peak < 0.01) is not blown up to full scale.
  const float gain = 0.891f / std::max(0.01f, peak);
  std::vector<std::int16_t> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    const float v = std::isfinite(samples[i]) ? samples[i] * gain : 0.0f;
    out[i] = static_cast<std::int16_t>(std::lround(std::clamp(v, -1.0f, 1.0f) * 32767.0f));
  }
  return out;
}

}  // namespace livedub::sts
