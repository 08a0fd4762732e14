#pragma once
// STS HTTP API v1 wire types (docs/sts-api.openapi.yaml), shared by the worker (client)
// and the STS service (server). POST /v1/dub, multipart/form-data:
//   part "metadata": application/json  DubRequestMetadata
//   part "audio":    audio/wav         PCM16 fragment
// 200 response: application/json DubResponse (dubbed audio as base64 WAV, exactly duration_ms).
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace livedub::sts {

inline constexpr const char* kDubPath = "/v1/dub";
// Longest fragment a request may ask for (DubRequestMetadata::duration_ms).
inline constexpr double kMaxDurationMs = 60'000;
// duration_ms may exceed the audio's own duration by at most this much: the answer (audio of
// duration_ms at the request's rate and channels) is then never much larger than the request.
inline constexpr double kDurationSlackMs = 100;
// The streaming form (a phrase sent as it is spoken, then closed; DubHandler::phrase_chunk).
// Paths: kStreamsPrefix + "{stream_id}/phrases/{sequence}[/chunks/{n}]".
inline constexpr const char* kStreamsPrefix = "/v1/streams/";
// Highest chunk number of one phrase.
inline constexpr std::int64_t kMaxPhraseChunks = 100'000;

class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Most speech spans one request may carry.
inline constexpr std::size_t kMaxSpeechSpans = 64;

// A stretch of a fragment, in milliseconds from its first sample.
struct TimeSpanMs {
  double start_ms = 0;
  double end_ms = 0;
  bool operator==(const TimeSpanMs&) const = default;
};

// Most further targets one request may name (DubRequestMetadata::extra_targets).
inline constexpr std::size_t kMaxExtraTargets = 3;

// A further language to dub the same fragment into: one recognition, MT and TTS per target.
struct DubTarget {
  std::string target_lang;
  std::string voice = "default";
  bool operator==(const DubTarget&) const = default;
};

struct DubRequestMetadata {
  // The v1 fields in order; speech spans and slot are set by name.
  DubRequestMetadata(std::string stream_id_ = "", std::int64_t sequence_ = 0, std::string source_lang_ = "en",
                     std::string target_lang_ = "es", std::string voice_ = "default", double duration_ms_ = 0)
      : stream_id(std::move(stream_id_)),
        sequence(sequence_),
        source_lang(std::move(source_lang_)),
        target_lang(std::move(target_lang_)),
        voice(std::move(voice_)),
        duration_ms(duration_ms_) {}

  std::string stream_id;
  std::int64_t sequence = 0;
  std::string source_lang = "en";
  std::string target_lang = "es";
  std::string voice = "default";
  double duration_ms = 0;  // the dubbed audio must have exactly this duration
  // Where the speaker talks (sorted, disjoint, inside the fragment). The dub starts where the
  // first span starts; only the spans are transcribed. Empty: the whole fragment is speech and
  // the dub is fitted to all of it (the original v1 behaviour).
  std::vector<TimeSpanMs> speech;
  // How far the dub may run (the phrase plus the pause after it) before it is compressed;
  // at most duration_ms. Unset: duration_ms.
  std::optional<double> slot_end_ms;
  // The client's time budget for this fragment, in ms from when the service receives the
  // request (relative, so clocks need not agree). The service drops the job once it passes:
  // a late dub is never played. Unset: the service's own LIVEDUB_STS_DEADLINE_MS.
  std::optional<double> deadline_ms;
  // Further languages, each answered in DubResponse::extra (same order). Distinct from
  // target_lang and from each other; at most kMaxExtraTargets.
  std::vector<DubTarget> extra_targets;
};

// One further language's dub (DubRequestMetadata::extra_targets). A target that failed
// carries error_code/error and no audio: that language falls back alone.
struct ExtraDub {
  std::string target_lang;
  std::string voice;
  std::string audio_wav_base64;  // empty when failed
  std::string translation;
  std::string mt_engine;
  std::string tts_engine;
  double stretch_ratio = 1.0;
  std::string time_fit;
  double speech_start_ms = 0;
  double speech_end_ms = 0;
  std::map<std::string, double> timings_ms;  // mt, tts, stretch
  std::string error_code;  // empty on success
  std::string error;
};

struct DubResponse {
  std::string stream_id;
  std::int64_t sequence = 0;
  double duration_ms = 0;
  int sample_rate = 0;
  int channels = 0;
  std::string audio_wav_base64;
  std::string transcript;
  std::string translation;
  std::string voice;
  std::string engine;  // e.g. "mock-passthrough"
  // The translation engine and model, e.g. "marian opus-mt-en-es int8 (CPU)" or
  // "apertium eng-spa"; empty from the mocks.
  std::string mt_engine;
  // The TTS engine and voice that spoke the dub, e.g. "pico es-ES_zl0"; empty from the mocks.
  std::string tts_engine;
  double stretch_ratio = 1.0;
  // How the speech was fitted to duration_ms: exact, bound_then_pad, bound_then_trim or
  // silence (sts/time_fit.hpp); empty from engines that do not time-fit (mocks).
  std::string time_fit;
  std::map<std::string, double> timings_ms;  // per stage, plus "total" (and "queue")
  // Where the dubbed speech sits in the returned audio (both 0 when it is silent).
  double speech_start_ms = 0;
  double speech_end_ms = 0;
  std::vector<ExtraDub> extra;  // one per request extra_targets entry, same order
};

nlohmann::json to_json(const DubRequestMetadata& m);
// Validates every field; throws ProtocolError naming the offending field.
DubRequestMetadata parse_request_metadata(std::string_view json_text);

nlohmann::json to_json(const DubResponse& r);
DubResponse parse_response(std::string_view json_text);

std::string base64_encode(std::string_view bytes);
// Throws ProtocolError on characters outside the standard alphabet or bad padding.
std::string base64_decode(std::string_view text);

// "en", "es", "pt-BR": 2-3 letter language, optional region.
bool is_valid_language_tag(std::string_view tag);
// Voice profile names: [A-Za-z0-9_.+-]{1,64}.
bool is_valid_voice_name(std::string_view name);

}  // namespace livedub::sts
