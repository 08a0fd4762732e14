#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "dub_mixer.hpp"
#include "livedub/config.hpp"
#include "speech_segmenter.hpp"

namespace livedub::worker {

struct WorkerConfig {
  std::string stream_id;
  std::string input_url;
  std::string output_url;
  std::optional<std::string> extra_output_url;  // third-party RTMP destination
  std::vector<std::string> sts_urls;  // STS_SERVICE_URL: one or more, comma-separated
  std::optional<std::string> sts_token;
  std::chrono::milliseconds sts_health_interval{2000};  // health checks of endpoints taken out
  int sts_eject_after_failures = 2;                      // consecutive failures that take one out
  // Phrases sent to STS while they are spoken (VAD on), so that it recognises as they arrive
  // and only the phrase's end is left to do once the speaker stops. LIVEDUB_STS_STREAMING.
  bool sts_streaming = true;
  std::chrono::milliseconds fragment{2000};  // fixed-length fragments (vad == off)
  // Voice-activity detection: "silero" (Silero VAD v5 on ONNX Runtime), "energy" (loudness
  // only: cannot tell music from speech) or "off" (fixed-length fragments, all sent to STS).
  std::string vad = "silero";
  std::string vad_model;  // Silero model file
  // Silero scores every n-th 32 ms block once it has heard no speech for 256 ms (music, silence,
  // pauses), every block again as soon as one sounds like speech. LIVEDUB_VAD_STRIDE.
  int vad_stride = 2;
  SegmenterConfig segmenter;
  MixConfig mix;
  std::string separator_model;  // LIVEDUB_BED_MODE=separator: the ONNX model file
  int separator_rate = 44100;   // the rate the model works at
  // Per-fragment WAVs + STS metadata for debugging (off by default), capped in size.
  bool debug_artifacts = false;
  std::string debug_dir = "/tmp/livedub-debug";
  std::uint64_t debug_max_bytes = 200ull << 20;
  std::size_t max_in_flight = 3;
  // The output runs this far behind the input, constant for the whole stream. From
  // LIVEDUB_OUTPUT_DELAY_MS when set (output_delay_from_env); else planned at start from the
  // STS's measured cost (planned_output_delay), longest_fragment + kStsBudget until then.
  std::chrono::milliseconds output_delay{4500};
  bool output_delay_from_env = false;
  std::chrono::milliseconds longest_fragment{2000};  // LIVEDUB_FRAGMENT_MAX_MS, or _MS without VAD
  std::chrono::milliseconds min_output_delay{2500};  // longest_fragment + output_margin + 250
  // Audio must be handed to the encoder this long before the video it accompanies.
  std::chrono::milliseconds output_margin{250};
  std::string source_lang = "en";
  // LIVEDUB_TARGET_LANGS: the first language goes to output_url, each further one to
  // output_url_for_language() (".../out-<lang>"); one recognition per fragment for all.
  std::vector<std::string> target_langs{"es"};
  std::string voice = "default";
  int sample_rate = 48000;
  int audio_bitrate = 128000;
  // LIVEDUB_AAC_ENCODER: avenc_aac (FFmpeg's) or voaacenc, about a third of its CPU
  // (bench/aac_encoders.sh); the README gives both's cost and SNR.
  std::string aac_encoder = "avenc_aac";
  std::string http_host = "127.0.0.1";
  int http_port = 0;
  // Set by the orchestrator: where to say why the input was refused (kWorkerExitUnsupportedInput).
  std::optional<std::string> exit_reason_file;
  // Set by the orchestrator on a restart: where the stream's output timeline has got to.
  std::uint32_t output_timestamp_offset_ms = 0;
  // Set by the orchestrator: where captions go (JSON lines, livedub/captions.hpp) and where
  // the worker's status (its /healthz body) is kept for the status page. Unset: neither.
  std::optional<std::string> captions_file;
  // LIVEDUB_RTMP_CAPTIONS: CEA-608 captions (each output's language) in the H.264 of every
  // output, as YouTube and Twitch ingest them.
  bool rtmp_captions = true;
  // LIVEDUB_VOICE_CLONE: dub in the speaker's own voice where the STS can (it must be on there
  // too, LIVEDUB_STS_VOICE_CLONE). Needs the speaker's consent: off unless turned on. The worker
  // gathers the first seconds of the speaker alone (speaker_clip.hpp) and sends them once.
  bool voice_clone = false;
  double voice_clone_seconds = 6.0;  // LIVEDUB_VOICE_CLONE_SECONDS: clean speech the clip holds
  std::optional<std::string> status_file;
};

// Reads and validates every LIVEDUB_* / STS_* variable the worker uses (see .env.example).
WorkerConfig load_worker_config(const EnvConfig& env);

// The delay when LIVEDUB_OUTPUT_DELAY_MS is not set: the longest fragment must have arrived,
// then the STS answers it (`cost.p95_ms_per_audio_s`, what its recent dubs took per second of
// audio at the 95th percentile, times the longest fragment), then kPlannedDelayMargin covers
// the upload, the mix and the output margin. A figure from fewer than kTrustedCostSamples dubs
// (a fresh STS: its one calibration dub, clean synthetic speech) counts double: real speech
// over music costs a recogniser more. Never below min_output_delay; at most longest_fragment +
// kMaxPlannedStsBudget (a slower STS falls back more instead of drifting far behind live).
// Without a figure: longest_fragment + kStsBudget.
inline constexpr std::chrono::milliseconds kStsBudget{2500};
inline constexpr std::chrono::milliseconds kPlannedDelayMargin{500};
inline constexpr std::chrono::milliseconds kMaxPlannedStsBudget{8000};
inline constexpr int kTrustedCostSamples = 20;
// A phrase streams to STS in chunks of this much audio: each is one request, and the last one
// (sent when the phrase ends) is at most this long, so little is left to recognise then.
inline constexpr std::chrono::milliseconds kStreamChunk{320};
struct PlannedStsCost {
  double p95_ms_per_audio_s = 0;
  int samples = 0;
};
std::chrono::milliseconds planned_output_delay(const WorkerConfig& config, std::optional<PlannedStsCost> cost);

}  // namespace livedub::worker
