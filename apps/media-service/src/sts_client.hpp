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
  // Set when the fragment's audio went to this endpoint as it was spoken, in this many chunks:
  // the request closes that phrase (POST /v1/streams/{id}/phrases/{seq}) without the audio.
  // Should the service have lost the phrase (it restarted, 404/409), the same call sends the
  // audio after all (POST /v1/dub).
  std::optional<int> streamed_chunks;
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

// How long a request for a fragment due at `deadline` may take, sent as its deadline_ms and
// waited for: at most a minute. None once the deadline has passed: a dub that late is never
// played, so the fragment falls back without a call (the service would only refuse it).
std::optional<std::chrono::milliseconds> sts_request_budget(std::chrono::steady_clock::time_point deadline,
                                                            std::chrono::steady_clock::time_point now);

StsResult call_sts(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                   const StsRequest& request, std::chrono::milliseconds timeout);

// The streaming form: chunk `n` of fragment `seq` while the speaker talks (mono, 16-bit
// big-endian 'audio/L16', the speaker's language as Content-Language). On 200: the words the
// STS heard so far, in ms from the fragment's first sample.
struct HeardWordMs {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
};
struct ChunkCall {
  int http_status = 0;  // 0: no answer
  std::string error;    // set unless 200
  std::vector<HeardWordMs> words;
};
ChunkCall send_phrase_chunk(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                            const std::string& stream_id, std::int64_t seq, int n, const AudioBuffer& audio,
                            const std::string& language, std::chrono::milliseconds timeout);
// DELETE the phrase (it will not be closed: its chunks could not all be sent).
void abandon_phrase(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                    const std::string& stream_id, std::int64_t seq, std::chrono::milliseconds timeout);
// The gaps between consecutive heard words, in frames at `sample_rate` (for
// SpeechSegmenter::set_word_gaps).
std::vector<SpeechSpan> word_gaps(const std::vector<HeardWordMs>& words, int sample_rate);

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
// `streamed`: the cost of phrases streamed while spoken ("streamed_cost": what is left once the
// speaker stops), where the STS has timed any; else that of whole fragments ("cost").
StsCost parse_sts_cost(const std::string& capabilities_json, bool streamed = false);
StsCost fetch_sts_cost(HttpClient& http, const std::string& base_url, const std::optional<std::string>& token,
                       std::chrono::milliseconds timeout, bool streamed = false);

// Sets config.output_delay once, before the output starts (it stays constant for the whole
// stream): planned_output_delay on the worst cost any of config.sts_urls reports, logged with
// what it rests on.
void plan_output_delay(WorkerConfig& config, const LogContext& log);

}  // namespace livedub::worker
