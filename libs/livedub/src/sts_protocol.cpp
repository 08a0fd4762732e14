#include "livedub/sts_protocol.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <type_traits>

#include "livedub/stream_id.hpp"

namespace livedub::sts {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

template <typename T>
T field(const nlohmann::json& j, const char* name) {
  if (!j.contains(name)) throw ProtocolError(std::string("missing field '") + name + "'");
  const auto& value = j.at(name);
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // nlohmann would silently truncate 1.5 to 1 and wrap 2^64-1 to -1.
    bool fits = value.is_number_unsigned()
                    ? value.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                    : value.is_number_integer() &&
                          value.get<std::int64_t>() >= std::numeric_limits<T>::min() &&
                          value.get<std::int64_t>() <= std::numeric_limits<T>::max();
    if (!fits) throw ProtocolError(std::string("field '") + name + "' must be an integer");
  }
  try {
    return value.get<T>();
  } catch (const nlohmann::json::exception&) {
    throw ProtocolError(std::string("field '") + name + "' has the wrong type");
  }
}

template <typename T>
T optional_field(const nlohmann::json& j, const char* name, T fallback) {
  if (!j.contains(name) || j.at(name).is_null()) return fallback;
  return field<T>(j, name);
}

}  // namespace

bool is_valid_language_tag(std::string_view tag) {
  auto dash = tag.find('-');
  auto lang = tag.substr(0, dash);
  if (lang.size() < 2 || lang.size() > 3) return false;
  for (char c : lang)
    if (!std::islower(static_cast<unsigned char>(c))) return false;
  if (dash == std::string_view::npos) return true;
  auto region = tag.substr(dash + 1);
  if (region.empty() || region.size() > 8) return false;
  for (char c : region)
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  return true;
}

bool is_valid_voice_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' ||
          c == '-'))
      return false;
  }
  return true;
}

nlohmann::json to_json(const DubRequestMetadata& m) {
  nlohmann::json j = {{"stream_id", m.stream_id},     {"sequence", m.sequence},
                      {"source_lang", m.source_lang}, {"target_lang", m.target_lang},
                      {"voice", m.voice},             {"duration_ms", m.duration_ms}};
  if (!m.speech.empty()) {
    j["speech"] = nlohmann::json::array();
    for (const auto& s : m.speech) j["speech"].push_back({{"start_ms", s.start_ms}, {"end_ms", s.end_ms}});
  }
  if (m.slot_end_ms) j["slot_end_ms"] = *m.slot_end_ms;
  if (m.deadline_ms) j["deadline_ms"] = *m.deadline_ms;
  if (!m.extra_targets.empty()) {
    j["extra_targets"] = nlohmann::json::array();
    for (const auto& t : m.extra_targets) j["extra_targets"].push_back({{"target_lang", t.target_lang}, {"voice", t.voice}});
  }
  return j;
}

namespace {
std::vector<TimeSpanMs> parse_speech_spans(const nlohmann::json& j, double duration_ms) {
  std::vector<TimeSpanMs> spans;
  if (!j.contains("speech") || j.at("speech").is_null()) return spans;
  const auto& list = j.at("speech");
  if (!list.is_array()) throw ProtocolError("field 'speech' must be an array of {start_ms, end_ms}");
  if (list.size() > kMaxSpeechSpans) {
    throw ProtocolError("field 'speech' has more than " + std::to_string(kMaxSpeechSpans) + " spans");
  }
  for (const auto& item : list) {
    if (!item.is_object()) throw ProtocolError("field 'speech' must be an array of {start_ms, end_ms}");
    TimeSpanMs span{field<double>(item, "start_ms"), field<double>(item, "end_ms")};
    const double previous_end = spans.empty() ? 0.0 : spans.back().end_ms;
    if (!std::isfinite(span.start_ms) || !std::isfinite(span.end_ms) || span.start_ms < previous_end ||
        span.end_ms <= span.start_ms || span.end_ms > duration_ms) {
      throw ProtocolError("field 'speech' must hold sorted, disjoint spans with 0 <= start_ms < end_ms <= duration_ms");
    }
    spans.push_back(span);
  }
  return spans;
}
}  // namespace

DubRequestMetadata parse_request_metadata(std::string_view json_text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for numbers beyond a double ("duration_ms": 1e400).
    throw ProtocolError(std::string("metadata is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw ProtocolError("metadata must be a JSON object");
  DubRequestMetadata m;
  m.stream_id = field<std::string>(j, "stream_id");
  if (!is_valid_stream_id(m.stream_id)) {
    throw ProtocolError("field 'stream_id' must be 1-64 characters of [A-Za-z0-9_-]");
  }
  m.sequence = field<std::int64_t>(j, "sequence");
  if (m.sequence < 0) throw ProtocolError("field 'sequence' must be >= 0");
  m.source_lang = optional_field<std::string>(j, "source_lang", "en");
  m.target_lang = optional_field<std::string>(j, "target_lang", "es");
  if (!is_valid_language_tag(m.source_lang)) throw ProtocolError("field 'source_lang' is not a language tag like 'en'");
  if (!is_valid_language_tag(m.target_lang)) throw ProtocolError("field 'target_lang' is not a language tag like 'es'");
  m.voice = optional_field<std::string>(j, "voice", "default");
  if (!is_valid_voice_name(m.voice)) throw ProtocolError("field 'voice' must be 1-64 characters of [A-Za-z0-9_.+-]");
  m.duration_ms = field<double>(j, "duration_ms");
  if (!std::isfinite(m.duration_ms) || m.duration_ms <= 0 || m.duration_ms > kMaxDurationMs) {
    throw ProtocolError("field 'duration_ms' must be > 0 and <= 60000");
  }
  m.speech = parse_speech_spans(j, m.duration_ms);
  if (j.contains("slot_end_ms") && !j.at("slot_end_ms").is_null()) {
    const double slot = field<double>(j, "slot_end_ms");
    const double first = m.speech.empty() ? 0.0 : m.speech.front().start_ms;
    if (!std::isfinite(slot) || slot <= first || slot > m.duration_ms) {
      throw ProtocolError("field 'slot_end_ms' must be after the first speech span's start and <= duration_ms");
    }
    m.slot_end_ms = slot;
  }
  if (j.contains("deadline_ms") && !j.at("deadline_ms").is_null()) {
    const double deadline = field<double>(j, "deadline_ms");
    if (!std::isfinite(deadline) || deadline <= 0 || deadline > kMaxDurationMs) {
      throw ProtocolError("field 'deadline_ms' must be > 0 and <= 60000");
    }
    m.deadline_ms = deadline;
  }
  if (j.contains("extra_targets") && !j.at("extra_targets").is_null()) {
    const auto& list = j.at("extra_targets");
    if (!list.is_array()) throw ProtocolError("field 'extra_targets' must be an array of {target_lang, voice}");
    if (list.size() > kMaxExtraTargets) {
      throw ProtocolError("field 'extra_targets' has more than " + std::to_string(kMaxExtraTargets) + " entries");
    }
    for (const auto& item : list) {
      if (!item.is_object()) throw ProtocolError("field 'extra_targets' must be an array of {target_lang, voice}");
      DubTarget target{field<std::string>(item, "target_lang"), optional_field<std::string>(item, "voice", "default")};
      if (!is_valid_language_tag(target.target_lang)) {
        throw ProtocolError("field 'extra_targets[].target_lang' is not a language tag like 'ca'");
      }
      if (!is_valid_voice_name(target.voice)) {
        throw ProtocolError("field 'extra_targets[].voice' must be 1-64 characters of [A-Za-z0-9_.+-]");
      }
      const bool repeated = target.target_lang == m.target_lang ||
                            std::any_of(m.extra_targets.begin(), m.extra_targets.end(),
                                        [&](const DubTarget& t) { return t.target_lang == target.target_lang; });
      if (repeated) throw ProtocolError("field 'extra_targets' repeats target language '" + target.target_lang + "'");
      m.extra_targets.push_back(std::move(target));
    }
  }
  return m;
}

nlohmann::json to_json(const DubResponse& r) {
  nlohmann::json j = {{"stream_id", r.stream_id},
          {"sequence", r.sequence},
          {"duration_ms", r.duration_ms},
          {"sample_rate", r.sample_rate},
          {"channels", r.channels},
          {"audio_wav_base64", r.audio_wav_base64},
          {"transcript", r.transcript},
          {"translation", r.translation},
          {"voice", r.voice},
          {"engine", r.engine},
          {"mt_engine", r.mt_engine},
          {"tts_engine", r.tts_engine},
          {"stretch_ratio", r.stretch_ratio},
          {"time_fit", r.time_fit},
          {"timings_ms", r.timings_ms},
          {"speech_start_ms", r.speech_start_ms},
          {"speech_end_ms", r.speech_end_ms}};
  if (!r.extra.empty()) {
    auto& list = j["extra"] = nlohmann::json::array();
    for (const auto& e : r.extra) {
      nlohmann::json item = {{"target_lang", e.target_lang}, {"voice", e.voice}};
      if (!e.error_code.empty()) {
        item["error"] = {{"code", e.error_code}, {"message", e.error}};
      } else {
        item.update({{"audio_wav_base64", e.audio_wav_base64},
                     {"translation", e.translation},
                     {"mt_engine", e.mt_engine},
                     {"tts_engine", e.tts_engine},
                     {"stretch_ratio", e.stretch_ratio},
                     {"time_fit", e.time_fit},
                     {"speech_start_ms", e.speech_start_ms},
                     {"speech_end_ms", e.speech_end_ms},
                     {"timings_ms", e.timings_ms}});
      }
      list.push_back(std::move(item));
    }
  }
  return j;
}

DubResponse parse_response(std::string_view json_text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw ProtocolError(std::string("response is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw ProtocolError("response must be a JSON object");
  DubResponse r;
  r.stream_id = field<std::string>(j, "stream_id");
  r.sequence = field<std::int64_t>(j, "sequence");
  r.duration_ms = field<double>(j, "duration_ms");
  r.sample_rate = field<int>(j, "sample_rate");
  r.channels = field<int>(j, "channels");
  r.audio_wav_base64 = field<std::string>(j, "audio_wav_base64");
  r.transcript = optional_field<std::string>(j, "transcript", "");
  r.translation = optional_field<std::string>(j, "translation", "");
  r.voice = optional_field<std::string>(j, "voice", "");
  r.engine = optional_field<std::string>(j, "engine", "");
  r.mt_engine = optional_field<std::string>(j, "mt_engine", "");
  r.tts_engine = optional_field<std::string>(j, "tts_engine", "");
  r.stretch_ratio = optional_field<double>(j, "stretch_ratio", 1.0);
  r.time_fit = optional_field<std::string>(j, "time_fit", "");
  r.timings_ms = optional_field<std::map<std::string, double>>(j, "timings_ms", {});
  r.speech_start_ms = optional_field<double>(j, "speech_start_ms", 0.0);
  r.speech_end_ms = optional_field<double>(j, "speech_end_ms", r.speech_start_ms);
  if (!std::isfinite(r.speech_start_ms) || !std::isfinite(r.speech_end_ms) || r.speech_start_ms < 0 ||
      r.speech_end_ms < r.speech_start_ms || r.speech_end_ms > r.duration_ms + 1) {
    throw ProtocolError("fields 'speech_start_ms'/'speech_end_ms' must satisfy 0 <= start <= end <= duration_ms");
  }
  if (j.contains("extra") && !j.at("extra").is_null()) {
    if (!j.at("extra").is_array()) throw ProtocolError("field 'extra' must be an array");
    for (const auto& item : j.at("extra")) {
      if (!item.is_object()) throw ProtocolError("field 'extra' must be an array of objects");
      ExtraDub e;
      e.target_lang = field<std::string>(item, "target_lang");
      e.voice = optional_field<std::string>(item, "voice", "");
      if (item.contains("error") && !item.at("error").is_null()) {
        const auto& error = item.at("error");
        if (!error.is_object()) throw ProtocolError("field 'extra[].error' must be {code, message}");
        e.error_code = optional_field<std::string>(error, "code", "error");
        e.error = optional_field<std::string>(error, "message", "");
        if (e.error_code.empty()) e.error_code = "error";
      } else {
        e.audio_wav_base64 = field<std::string>(item, "audio_wav_base64");
        e.translation = optional_field<std::string>(item, "translation", "");
        e.mt_engine = optional_field<std::string>(item, "mt_engine", "");
        e.tts_engine = optional_field<std::string>(item, "tts_engine", "");
        e.stretch_ratio = optional_field<double>(item, "stretch_ratio", 1.0);
        e.time_fit = optional_field<std::string>(item, "time_fit", "");
        e.speech_start_ms = optional_field<double>(item, "speech_start_ms", 0.0);
        e.speech_end_ms = optional_field<double>(item, "speech_end_ms", e.speech_start_ms);
        e.timings_ms = optional_field<std::map<std::string, double>>(item, "timings_ms", {});
        if (!std::isfinite(e.speech_start_ms) || !std::isfinite(e.speech_end_ms) || e.speech_start_ms < 0 ||
            e.speech_end_ms < e.speech_start_ms || e.speech_end_ms > r.duration_ms + 1) {
          throw ProtocolError("fields 'extra[].speech_start_ms'/'speech_end_ms' must satisfy 0 <= start <= end <= duration_ms");
        }
      }
      r.extra.push_back(std::move(e));
    }
  }
  return r;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto n = static_cast<unsigned char>(bytes[i]) << 16 |
             static_cast<unsigned char>(bytes[i + 1]) << 8 | static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view text) {
  static const std::array<int, 256> table = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
    return t;
  }();
  if (text.size() % 4 != 0) throw ProtocolError("base64 length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else {
        if (pad > 0) throw ProtocolError("base64 padding in the middle");
        v[k] = table[static_cast<unsigned char>(c)];
        if (v[k] < 0) throw ProtocolError("invalid base64 character");
      }
    }
    unsigned n = static_cast<unsigned>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
    out += static_cast<char>((n >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(n & 0xFF);
  }
  return out;
}

}  // namespace livedub::sts
