#pragma once
// Neural voices: Piper (VITS) voices on ONNX Runtime, phonemised by the process's espeak-ng.
// Layout (scripts/fetch-voice, scripts/make-test-models): MODEL_DIR/tts/piper/NAME.onnx and
// NAME.onnx.json, as Piper itself ships them ("es_ES-davefx-medium"). One voice per language is
// used: the one LIVEDUB_STS_TTS_VOICES names, else the first in name order.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sts/piper_voice.hpp"
#include "sts/speech_synthesizer.hpp"

namespace livedub::onnx {
class Session;
}

namespace livedub::sts {

inline constexpr const char* kTtsPiper = "piper";

// NAME.onnx files under model_dir/tts/piper, sorted; none when the directory does not exist.
std::vector<std::filesystem::path> discover_piper_voices(const std::filesystem::path& model_dir);

// "es=es_ES-davefx-medium,fr=fr_FR-siwis-medium" -> {es: ..., fr: ...}; throws TtsError naming
// the entry that is not LANG=VOICE.
std::map<std::string, std::string> parse_voice_choices(const std::string& spec);

struct PiperOptions {
  std::map<std::string, std::string> voices;  // language -> voice name (LIVEDUB_STS_TTS_VOICES)
  int threads = 1;                            // per call (LIVEDUB_STS_TTS_THREADS)
};

class PiperSynthesizer final : public SpeechSynthesizer {
 public:
  // Loads the chosen voice of every language and speaks a word with each, so that a model that
  // does not match its config fails here. Throws VoiceModelError naming the file (or the
  // LIVEDUB_STS_TTS_VOICES entry) at fault.
  PiperSynthesizer(const std::filesystem::path& model_dir, const PiperOptions& options);
  ~PiperSynthesizer() override;

  std::string name() const override { return kTtsPiper; }
  std::vector<std::string> languages() const override;
  std::string voice_name(const std::string& language) const override;
  int sample_rate(const std::string& language) const;
  // Mono PCM16 at the voice's rate; sentences joined by 0.2 s of silence. The profile's rate
  // sets the pace (length scale); VITS has no pitch control, so its pitch is not applied.
  AudioBuffer synthesize(const std::string& text, const std::string& language, const std::string& profile) override;

 private:
  struct Voice;
  std::map<std::string, std::shared_ptr<Voice>> by_language_;
};

}  // namespace livedub::sts
