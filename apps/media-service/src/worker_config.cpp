#include "worker_config.hpp"

#include <cmath>

#include "sts_endpoints.hpp"

#include "livedub/stream_id.hpp"
#include "livedub/sts_protocol.hpp"
#include "livedub/rtmp_url.hpp"
#include "livedub/captions.hpp"
#include "livedub/secrets.hpp"

namespace livedub::worker {
namespace {
#ifdef LIVEDUB_DEFAULT_VAD_MODEL
constexpr const char* kDefaultVadModel = LIVEDUB_DEFAULT_VAD_MODEL;
#else
constexpr const char* kDefaultVadModel = "";
#endif
#if LIVEDUB_HAVE_ONNXRUNTIME
constexpr bool kHaveOnnxRuntime = true;
#else
constexpr bool kHaveOnnxRuntime = false;
#endif
}  // namespace

WorkerConfig load_worker_config(const EnvConfig& env) {
  using std::chrono::milliseconds;
  WorkerConfig c;
  c.stream_id = env.required_string("LIVEDUB_STREAM_ID");
  if (!is_valid_stream_id(c.stream_id)) {
    throw ConfigError("LIVEDUB_STREAM_ID", "must be 1-64 characters of [A-Za-z0-9_-]");
  }
  c.input_url = env.required_string("LIVEDUB_INPUT_URL");
  if (!url_scheme(c.input_url)) {
    throw ConfigError("LIVEDUB_INPUT_URL", "expected a URL GStreamer can open (rtmp://, rtsp://, srt://, file://...)");
  }
  c.output_url = env.required_string("LIVEDUB_OUTPUT_URL");
  if (!parse_rtmp_url(c.output_url)) {
    throw ConfigError("LIVEDUB_OUTPUT_URL", "expected rtmp[s]://host[:port]/<application>/<stream>, got '" + c.output_url + "'");
  }
  c.extra_output_url = env.optional_url("LIVEDUB_EXTRA_OUTPUT_URL", {"rtmp", "rtmps"});
  if (c.extra_output_url && !parse_rtmp_url(*c.extra_output_url)) {
    throw ConfigError("LIVEDUB_EXTRA_OUTPUT_URL", "expected rtmp[s]://host[:port]/<application>/<stream>");
  }
  c.sts_urls = parse_sts_endpoints("STS_SERVICE_URL", env.string("STS_SERVICE_URL", "http://127.0.0.1:8000"));
  c.sts_health_interval = env.millis("LIVEDUB_STS_HEALTH_INTERVAL_MS", c.sts_health_interval, milliseconds(100),
                                     milliseconds(60'000));
  c.sts_eject_after_failures =
      static_cast<int>(env.integer("LIVEDUB_STS_EJECT_AFTER_FAILURES", c.sts_eject_after_failures, 1, 100));
  c.sts_streaming = env.boolean("LIVEDUB_STS_STREAMING", c.sts_streaming);
  c.sts_token = env.raw("LIVEDUB_STS_TOKEN");
  c.fragment = env.millis("LIVEDUB_FRAGMENT_MS", c.fragment, milliseconds(1000), milliseconds(10000));
  c.vad = env.one_of("LIVEDUB_VAD", c.vad, {"silero", "energy", "off"});
  c.vad_model = env.string("LIVEDUB_VAD_MODEL", kDefaultVadModel);
  c.vad_stride = static_cast<int>(env.integer("LIVEDUB_VAD_STRIDE", c.vad_stride, 1, 4));
  if (c.vad == "silero" && !kHaveOnnxRuntime) {
    throw ConfigError("LIVEDUB_VAD", "this build has no ONNX Runtime (run scripts/fetch-onnxruntime and rebuild), "
                                     "so 'silero' is unavailable; use 'energy' or 'off'");
  }
  auto& seg = c.segmenter;
  seg.min_fragment = env.millis("LIVEDUB_FRAGMENT_MIN_MS", seg.min_fragment, milliseconds(300), milliseconds(10000));
  seg.max_fragment = env.millis("LIVEDUB_FRAGMENT_MAX_MS", seg.max_fragment, milliseconds(1000), milliseconds(15000));
  if (seg.max_fragment < seg.min_fragment) {
    throw ConfigError("LIVEDUB_FRAGMENT_MAX_MS", "must be at least LIVEDUB_FRAGMENT_MIN_MS (" +
                                                     std::to_string(seg.min_fragment.count()) + " ms)");
  }
  seg.slot_pause = env.millis("LIVEDUB_SLOT_PAUSE_MS", seg.slot_pause, milliseconds(0), milliseconds(5000));
  seg.onset_threshold = static_cast<float>(env.number("LIVEDUB_VAD_THRESHOLD", seg.onset_threshold, 0.05, 0.95));
  seg.offset_threshold = std::min(seg.offset_threshold, seg.onset_threshold);
  c.mix.mode = *parse_bed_mode(env.one_of("LIVEDUB_BED_MODE", to_string(c.mix.mode), {"reduce", "duck", "separator", "off"}));
  if (c.mix.mode == BedMode::separator) {
    const auto model = env.raw("LIVEDUB_BED_SEPARATOR_MODEL");
    if (!model) {
      throw ConfigError("LIVEDUB_BED_SEPARATOR_MODEL",
                        "LIVEDUB_BED_MODE=separator needs the ONNX source-separation model file (none ships with livedub)");
    }
    c.separator_model = *model;
    if (!kHaveOnnxRuntime) {
      throw ConfigError("LIVEDUB_BED_MODE", "'separator' needs a build with ONNX Runtime (scripts/fetch-onnxruntime)");
    }
  }
  c.separator_rate = static_cast<int>(env.integer("LIVEDUB_BED_SEPARATOR_RATE", c.separator_rate, 8000, 192000));
  c.mix.duck_db = env.number("LIVEDUB_BED_DUCK_DB", c.mix.duck_db, -60.0, 0.0);
  c.mix.ramp_down = env.millis("LIVEDUB_BED_RAMP_DOWN_MS", c.mix.ramp_down, milliseconds(0), milliseconds(2000));
  c.mix.ramp_up = env.millis("LIVEDUB_BED_RAMP_UP_MS", c.mix.ramp_up, milliseconds(0), milliseconds(2000));
  c.debug_artifacts = env.boolean("LIVEDUB_DEBUG_ARTIFACTS", c.debug_artifacts);
  c.debug_dir = env.string("LIVEDUB_DEBUG_DIR", c.debug_dir);
  c.debug_max_bytes = static_cast<std::uint64_t>(
      env.integer("LIVEDUB_DEBUG_MAX_MB", static_cast<std::int64_t>(c.debug_max_bytes >> 20), 1, 1 << 20)) << 20;
  c.max_in_flight = static_cast<std::size_t>(env.integer("LIVEDUB_MAX_IN_FLIGHT", 3, 1, 16));
  c.output_margin = env.millis("LIVEDUB_OUTPUT_MARGIN_MS", milliseconds(250), milliseconds(50), milliseconds(2000));
  // The longest fragment is only complete once all of its audio has arrived; then STS answers.
  const auto longest = c.vad == "off" ? c.fragment : seg.max_fragment;
  const auto longest_name = c.vad == "off" ? "LIVEDUB_FRAGMENT_MS" : "LIVEDUB_FRAGMENT_MAX_MS";
  const auto min_delay = longest + c.output_margin + milliseconds(250);
  c.longest_fragment = longest;
  c.min_output_delay = min_delay;
  c.output_delay_from_env = env.raw("LIVEDUB_OUTPUT_DELAY_MS").has_value();
  c.output_delay = env.millis("LIVEDUB_OUTPUT_DELAY_MS", longest + kStsBudget, milliseconds(0), milliseconds(60000));
  if (c.output_delay < min_delay) {
    throw ConfigError("LIVEDUB_OUTPUT_DELAY_MS",
                      std::string("must be at least ") + longest_name + " + LIVEDUB_OUTPUT_MARGIN_MS + 250 (= " +
                          std::to_string(min_delay.count()) + " ms): a fragment is only complete " +
                          "once all of its audio has arrived, and STS needs time to answer");
  }
  c.source_lang = env.string("LIVEDUB_SOURCE_LANG", kDefaultSourceLang);
  if (!sts::is_valid_language_tag(c.source_lang)) throw ConfigError("LIVEDUB_SOURCE_LANG", "expected a language tag like 'en'");
  try {
    c.target_langs = parse_language_list(env.string("LIVEDUB_TARGET_LANGS", kDefaultTargetLangs), c.source_lang);
  } catch (const LanguageListError& e) {
    throw ConfigError("LIVEDUB_TARGET_LANGS", e.what());
  }
  if (c.target_langs.size() > 1 && !output_url_for_language(c.output_url, c.target_langs[1])) {
    throw ConfigError("LIVEDUB_OUTPUT_URL", "with several LIVEDUB_TARGET_LANGS the output URL must end in /out "
                                            "(further languages publish to .../out-<lang>), got '" + redact_url(c.output_url) + "'");
  }
  c.captions_file = env.raw("LIVEDUB_CAPTIONS_FILE");
  c.rtmp_captions = env.boolean("LIVEDUB_RTMP_CAPTIONS", c.rtmp_captions);
  c.voice_clone = env.boolean("LIVEDUB_VOICE_CLONE", c.voice_clone);
  c.voice_clone_seconds = env.number("LIVEDUB_VOICE_CLONE_SECONDS", c.voice_clone_seconds, 2.0, 30.0);
  c.status_file = env.raw("LIVEDUB_WORKER_STATUS_FILE");
  c.voice = env.string("LIVEDUB_VOICE", "default");
  if (!sts::is_valid_voice_name(c.voice)) throw ConfigError("LIVEDUB_VOICE", "expected 1-64 characters of [A-Za-z0-9_.+-]");
  c.sample_rate = static_cast<int>(std::stoi(env.one_of("LIVEDUB_AUDIO_SAMPLE_RATE", "48000", {"16000", "22050", "24000", "32000", "44100", "48000"})));
  c.audio_bitrate = static_cast<int>(env.integer("LIVEDUB_AUDIO_BITRATE", 128000, 32000, 512000));
  c.aac_encoder = env.one_of("LIVEDUB_AAC_ENCODER", c.aac_encoder, {"avenc_aac", "voaacenc"});
  c.http_host = env.string("LIVEDUB_WORKER_HTTP_HOST", "127.0.0.1");
  c.http_port = static_cast<int>(env.integer("LIVEDUB_WORKER_HTTP_PORT", 0, 0, 65535));
  c.exit_reason_file = env.raw("LIVEDUB_WORKER_EXIT_REASON_FILE");
  // RTMP timestamps are 32-bit milliseconds; half the range keeps clear of wrapping (24 days).
  c.output_timestamp_offset_ms = static_cast<std::uint32_t>(
      env.integer("LIVEDUB_OUTPUT_TIMESTAMP_OFFSET_MS", 0, 0, std::int64_t{1} << 31));
  return c;
}

std::chrono::milliseconds planned_output_delay(const WorkerConfig& config, std::optional<PlannedStsCost> cost) {
  using std::chrono::milliseconds;
  if (!cost || !std::isfinite(cost->p95_ms_per_audio_s) || cost->p95_ms_per_audio_s < 0 || cost->samples <= 0) {
    return std::max(config.longest_fragment + kStsBudget, config.min_output_delay);
  }
  const double longest_s = std::chrono::duration<double>(config.longest_fragment).count();
  const double factor = cost->samples < kTrustedCostSamples ? 2.0 : 1.0;
  const auto sts = std::min(milliseconds(std::llround(factor * cost->p95_ms_per_audio_s * longest_s)), kMaxPlannedStsBudget);
  return std::max(config.longest_fragment + sts + kPlannedDelayMargin, config.min_output_delay);
}

}  // namespace livedub::worker
