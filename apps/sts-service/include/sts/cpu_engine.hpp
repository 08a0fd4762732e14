#pragma once
// The embedded dubbing engine: ASR (pocketsphinx on CPU, or whisper.cpp on GPU/CPU) ->
// MT (neural models where installed, Apertium; sts/translator.hpp) -> TTS (Piper voices where
// installed, SVOX Pico, espeak-ng; sts/speech_synthesizer.hpp) -> librubberband time-fit. Everything is loaded once, in the constructor (seconds), never per
// request; the service reports ready only afterwards.
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "sts/apertium_mt.hpp"
#include "sts/engine.hpp"
#include "sts/espeak_tts.hpp"
#include "sts/glossary.hpp"
#include "sts/neural_mt.hpp"
#include "sts/pico_tts.hpp"
#include "sts/piper_tts.hpp"
#include "sts/pocket_tts.hpp"
#include "sts/pocketsphinx_asr.hpp"
#include "sts/time_fit.hpp"
#include "sts/translator.hpp"
#include "sts/whisper_asr.hpp"

namespace livedub::sts {

struct CpuEngineOptions {
  std::string asr_engine = "pocketsphinx";  // or "whisper"
  std::filesystem::path asr_model_dir = "/usr/share/pocketsphinx/model/en-us";
  std::string asr_language = "en";  // the language of that model
  WhisperOptions whisper;           // asr_engine "whisper" 
  std::filesystem::path apertium_modes_dir = "/usr/share/apertium/modes";
  std::filesystem::path model_dir;  // neural models: model_dir/mt (sts/neural_mt.hpp), model_dir/tts/piper
  std::string mt_engine = kMtAuto;  // preferred engine (sts/translator.hpp: route_mt_pairs)
  std::string mt_pairs;             // per-pair overrides, "en-es=apertium,en-fr=m2m100"
  NeuralMtOptions neural_mt;
  std::string tts_engine = kTtsAuto;  // kTtsAuto, kTtsPiper, kTtsPico or kTtsEspeak
  PiperOptions piper;
  std::filesystem::path pico_lang_dir = kPicoDefaultLangDir;
  // The voice-preserving dub: a Pocket TTS directory (empty: off), the target languages it
  // speaks, and its options. A stream whose speaker voice is known (DubContext::speaker) is
  // dubbed in it into those languages; every other dub keeps the selected voice.
  std::filesystem::path clone_model_dir;
  std::vector<std::string> clone_languages;
  PocketOptions clone;
  Glossary glossary;  // applied around MT; its terms are offered to the recogniser
  int recognizers = 1;  // one per engine worker thread: a recognizer serves one call at a time
  // pocketsphinx: phrases decoded while they arrive, at most this many at once (a decoder of
  // their own each, ~0.5 s to load, made as needed); further phrases are decoded whole once
  // they end. 0: none. whisper encodes each phrase once at its end.
  int streaming_decoders = 0;
  TimeFitBounds time_fit;
  std::chrono::milliseconds mt_timeout{10'000};
};

// Leading and trailing samples quieter than -50 dBFS (in 10 ms windows) removed: espeak-ng
// pads its output, and that padding would otherwise eat into the time-fit budget.
AudioBuffer trim_silence(const AudioBuffer& audio);

// The part of a fragment the recogniser hears: the request's speech spans (first start to last
// end) with 150 ms either side; the whole fragment when the request names no spans. Music or
// noise around the phrase is never transcribed.
AudioBuffer speech_region(const AudioBuffer& input, const DubRequestMetadata& request);

// Apertium capitalises the first word of every text it gets as a sentence start. A fragment
// that directly follows a fragment with speech usually continues that sentence, so its first
// letter is lowered again (UTF-8 aware for the Latin-1 range).
std::string continue_sentence(const std::string& translation);

// `request` translated into each of its targets with the glossary applied: Apertium gets its
// terms as placeholders no dictionary knows (they pass through in place); a neural model reads
// the terms' output text, and a term it does not reproduce intact (a name its tokeniser splits
// and the model mangles) is put back where it stood. Targets without glossary terms go to MT in
// one call.
std::vector<std::string> translate_with_glossary(const MtRouter& mt, const Glossary& glossary, MtRequest request);

class CpuDubbingEngine final : public DubbingEngine {
 public:
  explicit CpuDubbingEngine(const CpuEngineOptions& options);  // throws AsrError/MtError/TtsError

  using DubbingEngine::dub;
  DubResult dub(const DubRequestMetadata& request, const AudioBuffer& input, const DubContext& context) override;
  std::string name() const override { return "cpu"; }
  std::shared_ptr<const PocketVoice> encode_speaker(const AudioBuffer& clip) override;
  EngineCapabilities capabilities() const override { return capabilities_; }
  // The engine's own voice saying a sentence of about kCalibrationSeconds (a tone when no voice
  // speaks `language`).
  AudioBuffer calibration_speech(const std::string& language) override;
  // pocketsphinx with a streaming decoder free: a PocketsphinxPhrase; otherwise null.
  std::unique_ptr<PhraseRecognition> begin_phrase(const std::string& source_lang) override;

  std::vector<std::string> asr_languages() const { return capabilities_.asr_languages; }
  // "pocketsphinx (CPU)", "whisper ggml-base.bin (CUDA0: NVIDIA ...)".
  const std::string& asr_description() const { return asr_description_; }
  const MtRouter& translation() const { return mt_; }
  std::vector<std::string> tts_languages() const { return voices_.languages(); }
  // {language -> "piper es_ES-davefx-medium" / "pico es-ES_zl0" / "espeak-ng ca"}.
  std::map<std::string, std::string> tts_engines() const { return voices_.engines(); }

 private:
  class RecognizerLease;
  std::unique_ptr<SpeechRecognizer> acquire_recognizer();
  void release_recognizer(std::unique_ptr<SpeechRecognizer> recognizer);

  CpuEngineOptions options_;
  std::mutex recognizers_mutex_;
  std::condition_variable recognizer_returned_;
  std::vector<std::unique_ptr<SpeechRecognizer>> idle_recognizers_;
  std::string asr_description_;
  struct StreamingDecoders;  // shared with the phrases holding one, which may outlive a dub
  std::shared_ptr<StreamingDecoders> streaming_;
  MtRouter mt_;
  VoiceSelection voices_;
  std::unique_ptr<PocketTts> clone_;  // null: voice cloning off
  EngineCapabilities capabilities_;
};

}  // namespace livedub::sts
