#pragma once
// sts-service configuration: environment variables, validated once at start-up.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "livedub/config.hpp"
#include "sts/engine.hpp"
#include "sts/glossary.hpp"
#include "sts/neural_mt.hpp"
#include "sts/pico_tts.hpp"
#include "sts/time_fit.hpp"

namespace livedub::sts {

inline constexpr const char* kModeMockPassthrough = "mock-passthrough";
inline constexpr const char* kModeMockTone = "mock-tone";
inline constexpr const char* kModeCpu = "cpu";  // embedded engines: pocketsphinx, apertium, espeak-ng, rubberband

inline constexpr const char* kAsrPocketsphinx = "pocketsphinx";
inline constexpr const char* kAsrWhisper = "whisper";

// Values of LIVEDUB_STS_MODE this build can run.
const std::vector<std::string>& known_modes();

struct ServiceConfig {
  std::string host = "127.0.0.1";                        // LIVEDUB_STS_HOST
  int port = 8000;                                       // LIVEDUB_STS_PORT, 0 = any free port
  std::string mode = kModeMockPassthrough;               // LIVEDUB_STS_MODE
  std::chrono::milliseconds mock_delay{0};               // LIVEDUB_STS_MOCK_DELAY_MS
  double mock_tone_hz = 440.0;                           // LIVEDUB_STS_MOCK_TONE_HZ
  std::size_t max_body_bytes = 16 * 1024 * 1024;         // LIVEDUB_STS_MAX_BODY_BYTES
  std::optional<std::string> port_file;                  // LIVEDUB_STS_PORT_FILE
  // Engine workers (fragments dubbed at once). Default 2 for cpu (one per core here, each with
  // its own recognizer), 16 for the mocks, which only sleep.
  int workers = 2;                                       // LIVEDUB_STS_WORKERS
  std::size_t queue_size = 8;                            // LIVEDUB_STS_QUEUE_SIZE
  // pocketsphinx: phrases recognised while they arrive, at once (a decoder each, ~40 MB);
  // 0 turns it off (phrases are recognised once they end).
  int streaming_decoders = 4;                            // LIVEDUB_STS_STREAMING_DECODERS
  std::chrono::milliseconds deadline{15'000};            // LIVEDUB_STS_DEADLINE_MS
  std::optional<std::string> token;                      // LIVEDUB_STS_TOKEN (bearer on /v1)
  // LIVEDUB_STS_DRAIN_MS: on SIGTERM, running jobs get this long to finish, then the process
  // exits regardless (a stuck engine must not hold a deploy or a restart).
  std::chrono::milliseconds drain{10'000};
  std::string asr_model_dir = "/usr/share/pocketsphinx/model/en-us";  // LIVEDUB_STS_ASR_MODEL_DIR
  std::string apertium_modes_dir = "/usr/share/apertium/modes";       // LIVEDUB_STS_APERTIUM_MODES_DIR
  // cpu mode's ASR: "pocketsphinx" (English, CPU) or "whisper" (whisper.cpp, GPU when usable).
  std::string asr_engine = kAsrPocketsphinx;                          // LIVEDUB_STS_ASR_ENGINE
  // whisper models, and translation models under mt/ (scripts/fetch-mt-model writes both).
  std::string model_dir;                                              // LIVEDUB_STS_MODEL_DIR
  std::string whisper_model = "base";                                 // LIVEDUB_STS_WHISPER_MODEL
  std::string whisper_device = "auto";                                // LIVEDUB_STS_WHISPER_DEVICE
  int whisper_threads = 4;                                            // LIVEDUB_STS_WHISPER_THREADS
  bool whisper_fit_context = false;                                   // LIVEDUB_STS_WHISPER_FIT_CONTEXT
  // cpu mode's MT: which engine serves each pair ("auto": a neural model under MODEL_DIR/mt
  // where one is present, else Apertium), per-pair overrides, and the neural engines' settings.
  std::string mt_engine = kMtAuto;                                    // LIVEDUB_STS_MT_ENGINE
  std::string mt_pairs;                                               // LIVEDUB_STS_MT_PAIRS
  // LIVEDUB_STS_MT_PRECISION, _DEVICE, _THREADS, _MAX_TOKENS, _CONTEXT
  NeuralMtOptions neural_mt;
  // cpu mode's TTS: "auto" (a Piper voice under MODEL_DIR/tts/piper where one is installed, SVOX
  // Pico for its five languages, espeak-ng for the rest), "piper", "pico" or "espeak-ng".
  std::string tts_engine = kTtsAuto;                                  // LIVEDUB_STS_TTS_ENGINE
  std::string tts_voices;  // "es=es_ES-davefx-medium,...": which Piper voice  // LIVEDUB_STS_TTS_VOICES
  int tts_threads = 1;     // per synthesis call                     // LIVEDUB_STS_TTS_THREADS
  std::string pico_lang_dir = kPicoDefaultLangDir;                    // LIVEDUB_STS_PICO_LANG_DIR
  // The voice-preserving dub (sts/pocket_tts.hpp): off unless the deployment turns it on, and
  // only where the speaker consented. The model under MODEL_DIR/tts/pocket/NAME and the target
  // languages it speaks.
  bool voice_clone = false;                                           // LIVEDUB_STS_VOICE_CLONE
  std::string clone_model = "pocket-tts";                             // LIVEDUB_STS_CLONE_MODEL
  std::string clone_languages = "en";                                 // LIVEDUB_STS_CLONE_LANGUAGES
  // Terms never translated and forced translations (sts/glossary.hpp for the format).
  std::string glossary_file;                                          // LIVEDUB_STS_GLOSSARY
  std::shared_ptr<const Glossary> glossary;                           // parsed at start
  TimeFitBounds time_fit;  // LIVEDUB_STS_STRETCH_MIN_RATIO / LIVEDUB_STS_STRETCH_MAX_RATIO
  std::chrono::seconds session_ttl{300};                 // LIVEDUB_STS_SESSION_TTL_S
};

// Throws ConfigError naming the first invalid variable.
ServiceConfig load_service_config(const EnvConfig& env);

// The whisper model file the configuration names (LIVEDUB_STS_WHISPER_MODEL resolved against
// LIVEDUB_STS_MODEL_DIR).
std::string whisper_model_path(const ServiceConfig& config);

// The engine for config.mode; throws ConfigError (LIVEDUB_STS_MODE) for an unknown mode, and
// the engines' own errors when their data cannot be loaded. Real engines take seconds.
std::shared_ptr<DubbingEngine> make_engine(const ServiceConfig& config);

}  // namespace livedub::sts
