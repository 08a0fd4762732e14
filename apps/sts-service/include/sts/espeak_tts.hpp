#pragma once
// Text-to-speech with libespeak-ng, synthesized to memory. espeak-ng keeps one global engine
// per process, so there is one EspeakSynthesizer (shared()) and calls are serialized.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sts/piper_voice.hpp"
#include "sts/speech_synthesizer.hpp"

namespace livedub::sts {

class EspeakSynthesizer final : public SpeechSynthesizer {
 public:
  // The process's synthesizer, loaded on first use (espeak-ng data from the system, e.g.
  // /usr/lib/x86_64-linux-gnu/espeak-ng-data); throws TtsError if it cannot load. It is never
  // unloaded: libespeak-ng 1.51 deadlocks in espeak_Terminate() once it has been initialised
  // a second time, so one initialisation lives as long as the process.
  static EspeakSynthesizer& shared();
  // shared(), as a pointer that never deletes it.
  static std::shared_ptr<SpeechSynthesizer> shared_ptr();
  EspeakSynthesizer(const EspeakSynthesizer&) = delete;
  EspeakSynthesizer& operator=(const EspeakSynthesizer&) = delete;

  std::string name() const override { return kTtsEspeak; }
  int sample_rate() const { return sample_rate_; }
  // Languages with an installed espeak-ng voice ("en", "es", "fr", ...).
  std::vector<std::string> languages() const override;
  std::string voice_name(const std::string& language) const override { return language; }
  // Mono PCM16 at sample_rate().
  AudioBuffer synthesize(const std::string& text, const std::string& language, const std::string& profile) override;
  // espeak-ng's IPA for `text` read by `voice` ("es", "en-us"), clause by clause, each with the
  // punctuation that ended it: what Piper's voices were trained on. Throws TtsError for an
  // unknown voice.
  std::vector<PhonemeClause> phonemize(const std::string& text, const std::string& voice);

 private:
  EspeakSynthesizer();
  ~EspeakSynthesizer() override = default;

  int sample_rate_ = 0;
  std::vector<std::string> languages_;
  std::mutex mutex_;
};

}  // namespace livedub::sts
