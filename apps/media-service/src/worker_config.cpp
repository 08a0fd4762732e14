#include "worker_config.hpp"

#include "sts_endpoints.hpp"

#include "livedub/stream_id.hpp"
#include "livedub/sts_protocol.hpp"
#include "livedub/rtmp_url.hpp"

namespace livedub::worker {

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
  c.sts_token = env.raw("LIVEDUB_STS_TOKEN");
  c.fragment = env.millis("LIVEDUB_FRAGMENT_MS", milliseconds(2000), milliseconds(1000), milliseconds(10000));
  c.max_in_flight = static_cast<std::size_t>(env.integer("LIVEDUB_MAX_IN_FLIGHT", 3, 1, 16));
  c.output_margin = env.millis("LIVEDUB_OUTPUT_MARGIN_MS", milliseconds(250), milliseconds(50), milliseconds(2000));
  const auto min_delay = c.fragment + c.output_margin + milliseconds(250);
  c.output_delay = env.millis("LIVEDUB_OUTPUT_DELAY_MS", c.fragment + milliseconds(2500), milliseconds(0),
                              milliseconds(60000));
  if (c.output_delay < min_delay) {
    throw ConfigError("LIVEDUB_OUTPUT_DELAY_MS",
                      "must be at least LIVEDUB_FRAGMENT_MS + LIVEDUB_OUTPUT_MARGIN_MS + 250 (= " +
                          std::to_string(min_delay.count()) + " ms): a fragment is only complete " +
                          "once all of its audio has arrived, and STS needs time to answer");
  }
  c.source_lang = env.string("LIVEDUB_SOURCE_LANG", "en");
  if (!sts::is_valid_language_tag(c.source_lang)) throw ConfigError("LIVEDUB_SOURCE_LANG", "expected a language tag like 'en'");
  c.target_lang = env.string("LIVEDUB_TARGET_LANG", "es");
  if (!sts::is_valid_language_tag(c.target_lang)) throw ConfigError("LIVEDUB_TARGET_LANG", "expected a language tag like 'es'");
  c.voice = env.string("LIVEDUB_VOICE", "default");
  if (!sts::is_valid_voice_name(c.voice)) throw ConfigError("LIVEDUB_VOICE", "expected 1-64 characters of [A-Za-z0-9_.+-]");
  c.sample_rate = static_cast<int>(std::stoi(env.one_of("LIVEDUB_AUDIO_SAMPLE_RATE", "48000", {"16000", "22050", "24000", "32000", "44100", "48000"})));
  c.audio_bitrate = static_cast<int>(env.integer("LIVEDUB_AUDIO_BITRATE", 128000, 32000, 512000));
  c.http_host = env.string("LIVEDUB_WORKER_HTTP_HOST", "127.0.0.1");
  c.http_port = static_cast<int>(env.integer("LIVEDUB_WORKER_HTTP_PORT", 0, 0, 65535));
  return c;
}

}  // namespace livedub::worker
