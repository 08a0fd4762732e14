#pragma once
// Text-to-speech with libespeak-ng, synthesized to memory. espeak-ng keeps one global engine
// per process, so there is one EspeakSynthesizer (shared()) and calls are serialized.
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "livedub/audio.hpp"

namespace livedub::sts {

class TtsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a request's "voice" name selects.
struct VoiceProfile {
  std::string variant;  // espeak-ng variant ("f3", "m3"...), empty = language default
  int pitch = 50;       // 0-100
  int rate_wpm = 170;   // words per minute, 80-450
};

// Built-in profiles: default, female, male, fast, slow.
const std::map<std::string, VoiceProfile>& voice_profiles();

class EspeakSynthesizer {
 public:
  // The process's synthesizer, loaded on first use (espeak-ng data from the system, e.g.
  // /usr/lib/x86_64-linux-gnu/espeak-ng-data); throws TtsError if it cannot load. It is never
  // unloaded: libespeak-ng 1.51 deadlocks in espeak_Terminate() once it has been initialised
  // a second time, so one initialisation lives as long as the process.
  static EspeakSynthesizer& shared();
  EspeakSynthesizer(const EspeakSynthesizer&) = delete;
  EspeakSynthesizer& operator=(const EspeakSynthesizer&) = delete;

  int sample_rate() const { return sample_rate_; }
  // Languages with an installed espeak-ng voice ("en", "es", "fr", ...).
  std::vector<std::string> languages() const;
  bool has_language(const std::string& language) const;
  // Mono PCM16 at sample_rate(). Empty text gives empty audio. Throws TtsError for an
  // unknown language or profile.
  AudioBuffer synthesize(const std::string& text, const std::string& language, const std::string& profile);

 private:
  EspeakSynthesizer();
  ~EspeakSynthesizer() = default;

  int sample_rate_ = 0;
  std::vector<std::string> languages_;
  std::mutex mutex_;
};

}  // namespace livedub::sts
