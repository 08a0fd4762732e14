#pragma once
// Calls the STS service for one fragment and turns the answer into audio in the worker's
// format, or into an error string. Never throws for network or protocol trouble.
#include <chrono>
#include <optional>
#include <string>

#include "fragment_cutter.hpp"
#include "livedub/audio.hpp"
#include "livedub/http_client.hpp"
#include "livedub/logging.hpp"
#include "livedub/sts_protocol.hpp"
#include "worker_config.hpp"

namespace livedub::worker {

struct StsRequest {
  sts::DubRequestMetadata metadata;
  const AudioBuffer* audio = nullptr;
};

// A further target language's share of the answer (sts::DubRequestMetadata::extra_targets).
struct ExtraStsResult {
  std::string lang;
  std::optional<AudioBuffer> audio;      // set on success, like StsResult::audio
  std::optional<SpeechSpan> voice_span;
  std::string translation;
  std::string error;                     // set on failure: this language falls back alone
};

struct StsResult {
  std::optional<AudioBuffer> audio;  // set on success: mono, the fragment's rate and frames
  std::optional<SpeechSpan> voice_span;  // where the dub speaks in `audio` (frames)
  std::string error;                 // set on failure
  bool timed_out = false;
  int http_status = 0;               // 0 when no HTTP answer came
  sts::DubResponse response;         // metadata (audio fields cleared)
  std::vector<ExtraStsResult> extra;  // one per request extra target, in its order
};

StsResult call_sts(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                   const StsRequest& request, std::chrono::milliseconds timeout);

// The voice-preserving dub: PUT /v1/streams/{stream_id}/voice with the speaker's clip (WAV),
// and DELETE it when the stream ends. The HTTP status (0: no answer), and the error text when
// it was not 204.
struct SpeakerCall {
  int http_status = 0;
  std::string error;
};
SpeakerCall put_speaker_clip(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                             const std::string& stream_id, const AudioBuffer& clip, std::chrono::milliseconds timeout);
SpeakerCall forget_speaker(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                           const std::string& stream_id, std::chrono::milliseconds timeout);

// What the STS says a dub costs it lately (GET /v1/capabilities, "cost"), for planning the
// output delay: its p95 processing ms per second of audio, or nothing with the reason (no
// answer, an error status, no figure yet, an answer without one).
struct StsCost {
  std::optional<double> p95_ms_per_audio_s;
  int samples = 0;  // the dubs behind the figure
  std::string why_not;
};
StsCost parse_sts_cost(const std::string& capabilities_json);
StsCost fetch_sts_cost(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                       std::chrono::milliseconds timeout);

// Sets config.output_delay once, before the output starts (it stays constant for the whole
// stream): planned_output_delay on the worst cost any of config.sts_urls reports, logged with
// what it rests on.
void plan_output_delay(WorkerConfig& config, const LogContext& log);

}  // namespace livedub::worker
