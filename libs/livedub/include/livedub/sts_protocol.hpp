#pragma once
// STS HTTP API v1 wire types (docs/sts-api.openapi.yaml), shared by the worker (client)
// and the STS service (server). POST /v1/dub, multipart/form-data:
//   part "metadata": application/json  DubRequestMetadata
//   part "audio":    audio/wav         PCM16 fragment
// 200 response: application/json DubResponse (dubbed audio as base64 WAV, exactly duration_ms).
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace livedub::sts {

inline constexpr const char* kDubPath = "/v1/dub";
// Longest fragment a request may ask for (DubRequestMetadata::duration_ms).
inline constexpr double kMaxDurationMs = 60'000;

class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DubRequestMetadata {
  std::string stream_id;
  std::int64_t sequence = 0;
  std::string source_lang = "en";
  std::string target_lang = "es";
  std::string voice = "default";
  double duration_ms = 0;  // the dubbed audio must have exactly this duration
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
  double stretch_ratio = 1.0;
  // How the speech was fitted to duration_ms: exact, bound_then_pad, bound_then_trim or
  // silence (sts/time_fit.hpp); empty from engines that do not time-fit (mocks).
  std::string time_fit;
  std::map<std::string, double> timings_ms;  // per stage, plus "total" (and "queue")
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
