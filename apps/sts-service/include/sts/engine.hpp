#pragma once
// The seam between the HTTP layer and whatever turns speech into dubbed speech. Mock engines
// live in mock_engines.hpp; real pipelines (ASR -> MT -> TTS -> time stretch) implement the same
// interface and are picked by LIVEDUB_STS_MODE.
#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "livedub/audio.hpp"
#include "livedub/sts_protocol.hpp"

namespace livedub::sts {

// Stage names reported in DubResponse::timings_ms, besides "total".
inline constexpr const char* kStageAsr = "asr";
inline constexpr const char* kStageMt = "mt";
inline constexpr const char* kStageTts = "tts";
inline constexpr const char* kStageStretch = "stretch";

struct DubResult {
  // Same sample rate and channel count as the input, exactly
  // frames_for_duration(request.duration_ms, rate) frames long.
  AudioBuffer audio;
  std::string transcript;
  std::string translation;
  std::string voice;           // the voice actually used
  std::string mt_engine;       // the engine and model that translated it ("marian opus-mt-en-es int8 (CPU)")
  std::string tts_engine;      // the engine and voice that spoke it ("pico es-ES_zl0"); empty for mocks
  double stretch_ratio = 1.0;  // output speech duration / natural TTS duration
  std::string time_fit;        // TimeFitPolicy applied ("exact", "bound_then_pad", ...); empty for mocks
  std::map<std::string, double> stage_timings_ms;  // asr, mt, tts, stretch
  // Where the dubbed speech sits in `audio`, in frames (equal when it is silent).
  std::int64_t speech_begin = 0;
  std::int64_t speech_end = 0;
  // DubContext::also_translate_into's translations, made in the same MT call (one batch on a
  // multilingual model); the handler hands each to its language's dub as known_translation.
  std::map<std::string, std::string> extra_translations;
};

struct LanguagePair {
  std::string source;
  std::string target;
  bool operator==(const LanguagePair&) const = default;
};

struct EngineCapabilities {
  // True: any pair of valid language tags is accepted (mocks). Otherwise only `pairs`.
  bool any_language_pair = false;
  std::vector<LanguagePair> pairs;
  // True: any valid voice name is accepted (mocks ignore it). Otherwise only `voices`.
  bool any_voice = false;
  std::vector<std::string> voices;
  // What each stage has installed (real engines; empty for mocks).
  std::string asr_engine;  // "pocketsphinx (CPU)", "whisper ggml-base.bin (CUDA0: ...)"
  std::vector<std::string> asr_languages;
  std::vector<LanguagePair> mt_pairs;
  std::map<std::string, std::string> mt_engines;  // "en-es" -> "marian" / "m2m100" / "apertium"
  std::vector<std::string> tts_languages;
  std::map<std::string, std::string> tts_engines;  // language -> "pico es-ES_zl0", "espeak-ng ca"
  // The voice-preserving dub: the target languages a stream's own voice can speak (empty: off).
  std::string clone_engine;  // "pocket-tts pocket-tts (CPU)"
  std::vector<std::string> clone_languages;
};

// What the service remembers of the same stream (sts/session_store.hpp), for continuity.
// A job's deadline passed: while it waited in the queue, or between (or inside) its stages.
class DeadlineExpired : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PocketVoice;  // sts/pocket_tts.hpp

struct DubContext {
  // The previous fragment of this stream, if it was dubbed recently.
  bool has_previous = false;
  std::int64_t previous_sequence = -1;
  std::string previous_transcript;
  std::string previous_translation;
  // Past this the result is of no use (the client has given up): engines check it between
  // stages and, where they can, inside one (whisper's abort callback), and throw
  // DeadlineExpired. Default: none.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Set for a further target language of a request already recognised: the engine skips
  // recognition and translates this text (one recognition per fragment, whatever the number
  // of languages).
  std::optional<std::string> known_transcript;
  // The stream's speaker (the voice-preserving dub), when its reference clip was received and
  // this engine cloned it (encode_speaker); null: the configured voice speaks.
  std::shared_ptr<const PocketVoice> speaker;
  // Further target languages of the same request: an engine that can translates them together
  // with the first (DubResult::extra_translations).
  std::vector<std::string> also_translate_into;
  // Set with known_transcript when that translation is already made: the engine skips MT.
  std::optional<std::string> known_translation;
};

// Throws DeadlineExpired naming `stage` when `context`'s deadline has passed.
void check_deadline(const DubContext& context, const char* stage);

inline constexpr double kCalibrationSeconds = 3.0;

// A word the recogniser has heard so far in a phrase still arriving, times in ms from the
// phrase's first sample.
struct HeardWord {
  std::string word;
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  bool operator==(const HeardWord&) const = default;
};

// Recognition that keeps up with the speaker: one open phrase, fed as its audio arrives
// (POST /v1/streams/{id}/phrases/{seq}/chunks/{n}), so that when the phrase ends only its last
// moments remain to decode. Not thread-safe: the service feeds one phrase from one request
// at a time.
class PhraseRecognition {
 public:
  virtual ~PhraseRecognition() = default;
  // The next piece of the phrase, mono, at `sample_rate` (the same for the whole phrase).
  // Throws AsrError when the engine fails.
  virtual void feed(std::span<const std::int16_t> mono, int sample_rate) = 0;
  // The words of the best hypothesis so far (its last word may still change).
  virtual std::vector<HeardWord> heard() = 0;
  // All audio is in: the phrase's transcript, leaving out words centred after `until_ms` (the
  // worker ended the fragment there; what follows is the next fragment's).
  virtual std::string finish(std::int64_t until_ms) = 0;
};

class DubbingEngine {
 public:
  virtual ~DubbingEngine() = default;

  // Called concurrently from the HTTP worker threads: implementations must be thread-safe.
  // Throws on failure; the service answers 500 engine_error with the exception's message.
  virtual DubResult dub(const DubRequestMetadata& request, const AudioBuffer& input,
                        const DubContext& context) = 0;
  DubResult dub(const DubRequestMetadata& request, const AudioBuffer& input) {
    return dub(request, input, DubContext{});
  }
  // Reported as DubResponse::engine, e.g. "mock-tone".
  virtual std::string name() const = 0;
  virtual EngineCapabilities capabilities() const = 0;
  // The voice-preserving dub: a stream's reference clip (mono or not, any rate) encoded into its
  // speaker's voice, for DubContext::speaker. Null when this engine does not clone voices.
  // Throws TtsError for a clip it cannot use.
  virtual std::shared_ptr<const PocketVoice> encode_speaker(const AudioBuffer& /*clip*/) { return nullptr; }
  // A fragment for measuring what a dub costs at start (DubHandler::calibrate), in `language`:
  // kCalibrationSeconds of what this engine works on. Here a tone (engines that do not listen);
  // engines that recognise speech return speech.
  virtual AudioBuffer calibration_speech(const std::string& language);
  // A phrase to recognise while it arrives, in `source_lang`; null when this engine recognises
  // a phrase whole once it has ended (whisper, whose encoder takes the whole window and is
  // cheap on a GPU; the mock), or has no decoder free: the service then keeps the audio and
  // the closing request recognises it as POST /v1/dub would.
  virtual std::unique_ptr<PhraseRecognition> begin_phrase(const std::string& /*source_lang*/) { return nullptr; }

  bool supports(const std::string& source_lang, const std::string& target_lang) const;
  bool supports_voice(const std::string& voice) const;
};

// The frame count a dubbed fragment must have: llround(duration_ms * sample_rate / 1000).
std::int64_t frames_for_duration(double duration_ms, int sample_rate);

// A request's speech spans and slot in frames at `sample_rate`. A request without spans is
// one span over the whole fragment; the slot defaults to the fragment's end.
struct SpeechLayout {
  std::int64_t total_frames = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> spans;  // [begin, end) frames, never empty
  std::int64_t slot_end = 0;                                 // frames from the fragment start

  std::int64_t first() const { return spans.front().first; }
  std::int64_t last() const { return spans.back().second; }
};
SpeechLayout speech_layout(const DubRequestMetadata& request, int sample_rate);

}  // namespace livedub::sts
