#pragma once
// Text-to-speech with SVOX Pico (Debian non-free: libttspico-dev, libttspico-data): six
// voices (de-DE, en-GB, en-US, es-ES, fr-FR, it-IT), in process, 16 kHz mono. Each language
// gets its own Pico system and engine, loaded once; an engine speaks one text at a time, so
// calls for the same language are serialized and different languages run in parallel.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sts/speech_synthesizer.hpp"

namespace livedub::sts {

inline constexpr const char* kPicoDefaultLangDir = "/usr/share/pico/lang";

// One voice's lingware: text analysis and signal generation.
struct PicoVoiceFiles {
  std::string tag;  // "en-US"
  std::filesystem::path text_analysis;      // <dir>/en-US_ta.bin
  std::filesystem::path signal_generation;  // <dir>/en-US_lh0_sg.bin
};
// The voices a Pico lingware directory holds, by language ("en" -> en-US's files), for every
// <tag>_ta.bin with a matching <tag>_*_sg.bin. Where a language has two regions, en-US and
// <xx>-<XX> win. Empty when the directory is missing or holds none.
std::map<std::string, PicoVoiceFiles> pico_voices(const std::filesystem::path& lang_dir);

// Pico reads XML-like markup in its input: the text is escaped so a translation can never
// inject markup, then wrapped in the profile's pitch and speed.
std::string pico_markup(const std::string& text, const VoiceProfile& profile);

class PicoSynthesizer final : public SpeechSynthesizer {
 public:
  static constexpr int kSampleRate = 16000;

  // Loads every voice in `lang_dir`; throws TtsError naming the directory when it holds none,
  // or the file Pico rejects.
  explicit PicoSynthesizer(const std::filesystem::path& lang_dir = kPicoDefaultLangDir);
  ~PicoSynthesizer() override;
  PicoSynthesizer(const PicoSynthesizer&) = delete;
  PicoSynthesizer& operator=(const PicoSynthesizer&) = delete;

  std::string name() const override { return kTtsPico; }
  std::vector<std::string> languages() const override;
  std::string voice_name(const std::string& language) const override;
  AudioBuffer synthesize(const std::string& text, const std::string& language, const std::string& profile) override;

 private:
  struct Voice;
  std::map<std::string, std::unique_ptr<Voice>> voices_;  // by language
};

}  // namespace livedub::sts
