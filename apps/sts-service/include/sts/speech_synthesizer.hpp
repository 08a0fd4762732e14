#pragma once
// The TTS stage's interface: Piper's neural voices (sts/piper_tts.hpp: any language a voice is
// installed for), SVOX Pico (five languages, far more natural than espeak-ng) and espeak-ng
// (every language it has) are interchangeable behind it. VoiceSelection picks one engine per
// target language, once at start-up, from LIVEDUB_STS_TTS_ENGINE.
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "livedub/audio.hpp"

namespace livedub::sts {

class TtsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a request's "voice" name selects. Each engine maps it onto its own controls.
struct VoiceProfile {
  std::string variant;     // espeak-ng variant ("f3", "m3"...), empty = language default
  int pitch = 50;          // espeak-ng pitch, 0-100
  int rate_wpm = 170;      // espeak-ng words per minute, 80-450
  int pico_pitch = 100;    // Pico <pitch level>, percent of the voice's own (50-200)
  int pico_speed = 100;    // Pico <speed level>, percent (20-500)
};

// Built-in profiles: default, female, male, fast, slow.
const std::map<std::string, VoiceProfile>& voice_profiles();
// Throws TtsError for a name that is not a profile.
const VoiceProfile& voice_profile(const std::string& name);

class SpeechSynthesizer {
 public:
  virtual ~SpeechSynthesizer() = default;
  // "piper", "pico", "espeak-ng".
  virtual std::string name() const = 0;
  // Languages it can speak ("en", "es", ...), sorted.
  virtual std::vector<std::string> languages() const = 0;
  bool has_language(const std::string& language) const;
  // The voice that speaks `language`, for capabilities and responses ("es-ES_zl0", "es").
  virtual std::string voice_name(const std::string& language) const = 0;
  // Mono PCM16. Empty text gives empty audio. Thread-safe. Throws TtsError for an unknown
  // language or profile, or when the engine fails.
  virtual AudioBuffer synthesize(const std::string& text, const std::string& language,
                                 const std::string& profile) = 0;
};

// LIVEDUB_STS_TTS_ENGINE.
inline constexpr const char* kTtsAuto = "auto";      // a Piper voice, else Pico, else espeak-ng
inline constexpr const char* kTtsPico = "pico";      // Pico only: languages it lacks are not offered
inline constexpr const char* kTtsEspeak = "espeak-ng";

// One synthesizer per target language.
class VoiceSelection {
 public:
  // Engines by preference: each language goes to the first that speaks it; nulls are skipped.
  explicit VoiceSelection(const std::vector<std::shared_ptr<SpeechSynthesizer>>& by_preference);

  std::vector<std::string> languages() const;
  bool has_language(const std::string& language) const { return by_language_.contains(language); }
  // "piper es_ES-davefx-medium", "pico es-ES_zl0", "espeak-ng ca". Throws TtsError for a language nobody speaks.
  std::string describe(const std::string& language) const;
  // {language -> describe(language)}.
  std::map<std::string, std::string> engines() const;
  SpeechSynthesizer& for_language(const std::string& language) const;

 private:
  std::map<std::string, std::shared_ptr<SpeechSynthesizer>> by_language_;
};

}  // namespace livedub::sts
