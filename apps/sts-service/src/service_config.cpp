#include "sts/service_config.hpp"

#include "livedub/captions.hpp"

#include "sts/cpu_engine.hpp"
#include "sts/mock_engines.hpp"

namespace livedub::sts {

const std::vector<std::string>& known_modes() {
  static const std::vector<std::string> modes = {kModeMockPassthrough, kModeMockTone, kModeCpu};
  return modes;
}

ServiceConfig load_service_config(const EnvConfig& env) {
  ServiceConfig config;
  config.host = env.string("LIVEDUB_STS_HOST", config.host);
  config.port = static_cast<int>(env.integer("LIVEDUB_STS_PORT", config.port, 0, 65535));
  config.mode = env.one_of("LIVEDUB_STS_MODE", config.mode, known_modes());
  config.mock_delay = env.millis("LIVEDUB_STS_MOCK_DELAY_MS", config.mock_delay,
                                 std::chrono::milliseconds(0), std::chrono::milliseconds(60'000));
  config.mock_tone_hz = env.number("LIVEDUB_STS_MOCK_TONE_HZ", config.mock_tone_hz, 1.0, 20'000.0);
  // Small minimum so tests can provoke 413 cheaply; 1 GiB cap keeps a typo from disabling it.
  config.max_body_bytes = static_cast<std::size_t>(
      env.integer("LIVEDUB_STS_MAX_BODY_BYTES", static_cast<std::int64_t>(config.max_body_bytes),
                  1024, std::int64_t{1} << 30));
  config.port_file = env.raw("LIVEDUB_STS_PORT_FILE");
  const int default_workers = config.mode == kModeCpu ? 2 : 16;
  config.workers = static_cast<int>(env.integer("LIVEDUB_STS_WORKERS", default_workers, 1, 64));
  config.queue_size = static_cast<std::size_t>(
      env.integer("LIVEDUB_STS_QUEUE_SIZE", static_cast<std::int64_t>(config.queue_size), 0, 1024));
  config.streaming_decoders =
      static_cast<int>(env.integer("LIVEDUB_STS_STREAMING_DECODERS", config.streaming_decoders, 0, 256));
  config.deadline = env.millis("LIVEDUB_STS_DEADLINE_MS", config.deadline, std::chrono::milliseconds(100),
                               std::chrono::milliseconds(600'000));
  if (auto token = env.raw("LIVEDUB_STS_TOKEN"); token && !token->empty()) {
    if (token->find_first_of(" \t\r\n") != std::string::npos) {
      throw ConfigError("LIVEDUB_STS_TOKEN", "must not contain whitespace");
    }
    config.token = *token;
  }
  const bool allow_no_token = env.boolean("LIVEDUB_STS_ALLOW_UNAUTHENTICATED", false);
  if (!config.token && !is_loopback_host(config.host) && !allow_no_token) {
    throw ConfigError("LIVEDUB_STS_TOKEN",
                      "is required when LIVEDUB_STS_HOST (" + config.host +
                          ") is reachable from other hosts: without it anyone could use the engines "
                          "(set a token, bind 127.0.0.1, or set LIVEDUB_STS_ALLOW_UNAUTHENTICATED=true on a "
                          "private network)");
  }
  config.drain = env.millis("LIVEDUB_STS_DRAIN_MS", config.drain, std::chrono::milliseconds(0),
                            std::chrono::milliseconds(600'000));
  config.asr_model_dir = env.string("LIVEDUB_STS_ASR_MODEL_DIR", config.asr_model_dir);
  config.apertium_modes_dir = env.string("LIVEDUB_STS_APERTIUM_MODES_DIR", config.apertium_modes_dir);
  config.asr_engine = env.one_of("LIVEDUB_STS_ASR_ENGINE", config.asr_engine, {kAsrPocketsphinx, kAsrWhisper});
  config.model_dir = env.string("LIVEDUB_STS_MODEL_DIR", config.model_dir);
  config.whisper_model = env.string("LIVEDUB_STS_WHISPER_MODEL", config.whisper_model);
  config.whisper_device = env.one_of("LIVEDUB_STS_WHISPER_DEVICE", config.whisper_device, {"auto", "gpu", "cpu"});
  config.whisper_threads = static_cast<int>(env.integer("LIVEDUB_STS_WHISPER_THREADS", config.whisper_threads, 1, 256));
  config.whisper_fit_context = env.boolean("LIVEDUB_STS_WHISPER_FIT_CONTEXT", config.whisper_fit_context);
  if (config.asr_engine == kAsrWhisper && config.mode == kModeCpu) {
    if (!whisper_available()) {
      throw ConfigError("LIVEDUB_STS_ASR_ENGINE",
                        "whisper, but this build has no whisper.cpp (run scripts/fetch-whisper-source and "
                        "configure with -DLIVEDUB_WITH_WHISPER=ON)");
    }
    const auto model = resolve_whisper_model(config.whisper_model, config.model_dir);
    if (config.model_dir.empty() && model.parent_path().empty()) {
      throw ConfigError("LIVEDUB_STS_MODEL_DIR", "must be the directory holding ggml-" + config.whisper_model +
                                                     ".bin (LIVEDUB_STS_WHISPER_MODEL names a model, not a file)");
    }
  }
  config.mt_engine = env.one_of("LIVEDUB_STS_MT_ENGINE", config.mt_engine, {kMtAuto, kMtApertium, kMtMarian, kMtM2M100});
  config.mt_pairs = env.string("LIVEDUB_STS_MT_PAIRS", config.mt_pairs);
  auto& mt = config.neural_mt;
  mt.precision = env.one_of("LIVEDUB_STS_MT_PRECISION", mt.precision, {kMtPrecisionAuto, kMtPrecisionInt8, kMtPrecisionFloat});
  mt.device = env.one_of("LIVEDUB_STS_MT_DEVICE", mt.device, {"auto", "cpu", "gpu"});
  mt.threads = static_cast<int>(env.integer("LIVEDUB_STS_MT_THREADS", mt.threads, 1, 64));
  mt.max_tokens = static_cast<int>(env.integer("LIVEDUB_STS_MT_MAX_TOKENS", mt.max_tokens, 4, 512));
  mt.context = env.boolean("LIVEDUB_STS_MT_CONTEXT", mt.context);
  if (config.mode == kModeCpu && (config.mt_engine == kMtMarian || config.mt_engine == kMtM2M100) &&
      discover_mt_models(config.model_dir).empty()) {
    throw ConfigError("LIVEDUB_STS_MT_ENGINE", config.mt_engine + ", but LIVEDUB_STS_MODEL_DIR (" +
                                                   (config.model_dir.empty() ? std::string("unset") : config.model_dir) +
                                                   ") holds no model under mt/ (scripts/fetch-mt-model NAME DIR)");
  }
  config.tts_engine = env.one_of("LIVEDUB_STS_TTS_ENGINE", config.tts_engine, {kTtsAuto, kTtsPiper, kTtsPico, kTtsEspeak});
  config.tts_voices = env.string("LIVEDUB_STS_TTS_VOICES", config.tts_voices);
  try {
    parse_voice_choices(config.tts_voices);
  } catch (const TtsError& e) {
    throw ConfigError("LIVEDUB_STS_TTS_VOICES", e.what());
  }
  config.tts_threads = static_cast<int>(env.integer("LIVEDUB_STS_TTS_THREADS", config.tts_threads, 1, 64));
  if (config.mode == kModeCpu && config.tts_engine == kTtsPiper && discover_piper_voices(config.model_dir).empty()) {
    throw ConfigError("LIVEDUB_STS_TTS_ENGINE", "piper, but LIVEDUB_STS_MODEL_DIR (" +
                                                    (config.model_dir.empty() ? std::string("unset") : config.model_dir) +
                                                    ") holds no voice under tts/piper (scripts/fetch-voice NAME DIR)");
  }
  config.pico_lang_dir = env.string("LIVEDUB_STS_PICO_LANG_DIR", config.pico_lang_dir);
  if (config.tts_engine == kTtsPico && config.mode == kModeCpu && pico_voices(config.pico_lang_dir).empty()) {
    throw ConfigError("LIVEDUB_STS_PICO_LANG_DIR", "holds no Pico voice (" + config.pico_lang_dir +
                                                       "; install libttspico-data from Debian non-free)");
  }
  config.voice_clone = env.boolean("LIVEDUB_STS_VOICE_CLONE", config.voice_clone);
  config.clone_model = env.string("LIVEDUB_STS_CLONE_MODEL", config.clone_model);
  if (config.clone_model.empty() || config.clone_model.find('/') != std::string::npos || config.clone_model[0] == '.') {
    throw ConfigError("LIVEDUB_STS_CLONE_MODEL", "'" + config.clone_model + "' is not a directory name under tts/pocket");
  }
  config.clone_languages = env.string("LIVEDUB_STS_CLONE_LANGUAGES", config.clone_languages);
  try {
    parse_language_list(config.clone_languages, "");
  } catch (const LanguageListError& e) {
    throw ConfigError("LIVEDUB_STS_CLONE_LANGUAGES", e.what());
  }
  if (config.voice_clone && config.mode == kModeCpu &&
      !std::filesystem::is_directory(std::filesystem::path(config.model_dir) / "tts" / "pocket" / config.clone_model)) {
    throw ConfigError("LIVEDUB_STS_VOICE_CLONE",
                      "on, but LIVEDUB_STS_MODEL_DIR (" + (config.model_dir.empty() ? std::string("unset") : config.model_dir) +
                          ") holds no tts/pocket/" + config.clone_model + " (LIVEDUB_STS_CLONE_MODEL)");
  }
  config.glossary_file = env.string("LIVEDUB_STS_GLOSSARY", config.glossary_file);
  if (!config.glossary_file.empty()) {
    try {
      config.glossary = std::make_shared<const Glossary>(Glossary::load(config.glossary_file));
    } catch (const GlossaryError& e) {
      throw ConfigError("LIVEDUB_STS_GLOSSARY", e.what());
    }
  }
  config.time_fit.min_ratio = env.number("LIVEDUB_STS_STRETCH_MIN_RATIO", config.time_fit.min_ratio, 0.25, 1.0);
  config.time_fit.max_ratio = env.number("LIVEDUB_STS_STRETCH_MAX_RATIO", config.time_fit.max_ratio, 1.0, 4.0);
  config.session_ttl = std::chrono::seconds(
      env.integer("LIVEDUB_STS_SESSION_TTL_S", config.session_ttl.count(), 1, 86'400));
  return config;
}

std::string whisper_model_path(const ServiceConfig& config) {
  return resolve_whisper_model(config.whisper_model, config.model_dir).string();
}

std::shared_ptr<DubbingEngine> make_engine(const ServiceConfig& config) {
  MockOptions mock{config.mock_delay, config.voice_clone};
  if (config.mode == kModeMockPassthrough) return std::make_shared<PassthroughEngine>(mock);
  if (config.mode == kModeMockTone) return std::make_shared<ToneEngine>(config.mock_tone_hz, mock);
  if (config.mode == kModeCpu) {
    CpuEngineOptions options;
    options.asr_model_dir = config.asr_model_dir;
    options.apertium_modes_dir = config.apertium_modes_dir;
    options.model_dir = config.model_dir;
    options.mt_engine = config.mt_engine;
    options.mt_pairs = config.mt_pairs;
    options.neural_mt = config.neural_mt;
    options.recognizers = config.workers;
    options.streaming_decoders = config.streaming_decoders;
    options.time_fit = config.time_fit;
    options.asr_engine = config.asr_engine;
    options.tts_engine = config.tts_engine;
    options.piper.voices = parse_voice_choices(config.tts_voices);
    options.piper.threads = config.tts_threads;
    if (config.voice_clone) {
      options.clone_model_dir = std::filesystem::path(config.model_dir) / "tts" / "pocket" / config.clone_model;
      options.clone_languages = parse_language_list(config.clone_languages, "");
      options.clone.threads = config.tts_threads;
    }
    if (config.glossary) options.glossary = *config.glossary;
    options.pico_lang_dir = config.pico_lang_dir;
    options.whisper.model_path = whisper_model_path(config);
    options.whisper.device = config.whisper_device == "gpu"   ? WhisperDevice::kGpu
                             : config.whisper_device == "cpu" ? WhisperDevice::kCpu
                                                              : WhisperDevice::kAuto;
    options.whisper.threads = config.whisper_threads;
    options.whisper.fit_context = config.whisper_fit_context;
    return std::make_shared<CpuDubbingEngine>(options);
  }
  throw ConfigError("LIVEDUB_STS_MODE", "unknown mode '" + config.mode + "'");
}

}  // namespace livedub::sts
