#pragma once
// Speech recognition with whisper.cpp (1.9.1, built in when LIVEDUB_WITH_WHISPER is on): the
// GPU tier's ASR, multilingual, also usable on CPU. The model (weights, on the GPU when there
// is one) is loaded once and shared; each recognizer owns its own decoding state, so engine
// workers transcribe in parallel.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sts/pocketsphinx_asr.hpp"  // AsrError, worth_decoding
#include "sts/speech_recognizer.hpp"
#include "sts/whisper_model_file.hpp"

struct whisper_context;
struct whisper_state;

namespace livedub::sts {

// Whether this build has whisper.cpp, and whether it has a GPU backend with a usable device.
bool whisper_available();
bool whisper_gpu_available();

enum class WhisperDevice { kAuto, kGpu, kCpu };

struct WhisperOptions {
  std::filesystem::path model_path;
  WhisperDevice device = WhisperDevice::kAuto;
  int threads = 4;  // CPU threads per transcription (ggml's CPU work, also with a GPU)
  // Encode only the fragment (plus a margin), not whisper's fixed 30 s window: an order of
  // magnitude less encoder work for 2 s fragments, which matters on a CPU. whisper was trained
  // on full windows, so this may cost accuracy (not measurable here without real weights).
  bool fit_context = false;
};

// Resolves LIVEDUB_STS_WHISPER_MODEL: a name ("base", "large-v3-turbo") becomes
// <model_dir>/ggml-<name>.bin; anything with a '/' or ending in ".bin" is a path.
std::filesystem::path resolve_whisper_model(const std::string& model, const std::filesystem::path& model_dir);

// Checks a model before loading: the file (inspect_whisper_model) and, when a SHA-1 sidecar
// "<model>.sha1" exists (scripts/fetch-whisper-model writes one), its checksum. Throws
// WhisperModelFileError saying what is wrong and how to fetch the model again.
WhisperModelSummary verify_whisper_model(const std::filesystem::path& path);

// The loaded model. Throws AsrError (or WhisperModelFileError) when the model is missing,
// damaged, or a GPU was required and none is usable.
class WhisperModel {
 public:
  explicit WhisperModel(const WhisperOptions& options);
  ~WhisperModel();
  WhisperModel(const WhisperModel&) = delete;
  WhisperModel& operator=(const WhisperModel&) = delete;

  whisper_context* context() const { return context_; }
  const WhisperOptions& options() const { return options_; }
  const WhisperModelSummary& summary() const { return summary_; }
  // "CUDA0: NVIDIA H100 ..." or "CPU".
  const std::string& device_description() const { return device_description_; }
  bool on_gpu() const { return on_gpu_; }
  // Languages it can recognise (ISO 639-1 where whisper has one): all of whisper's for a
  // multilingual model, {"en"} for an English-only one.
  std::vector<std::string> languages() const;

 private:
  WhisperOptions options_;
  WhisperModelSummary summary_;
  whisper_context* context_ = nullptr;
  std::string device_description_ = "CPU";
  bool on_gpu_ = false;
};

// The encoder context (50 frames per second of audio) that covers `samples` at 16 kHz with a
// 0.64 s margin, capped at the model's full window.
int fitted_audio_context(std::size_t samples, int model_audio_context);

// whisper's initial prompt for a request: the glossary's terms ("OBS Studio, livedub.") then
// the stream's previous fragment, each capped so the prompt fits whisper's prompt window.
std::string whisper_prompt(const RecognitionRequest& request);

class WhisperRecognizer final : public SpeechRecognizer {
 public:
  static constexpr int kSampleRate = 16000;

  explicit WhisperRecognizer(std::shared_ptr<const WhisperModel> model);  // throws AsrError
  ~WhisperRecognizer() override;
  WhisperRecognizer(const WhisperRecognizer&) = delete;
  WhisperRecognizer& operator=(const WhisperRecognizer&) = delete;

  Transcript recognize(const AudioBuffer& audio, const RecognitionRequest& request) override;

 private:
  std::shared_ptr<const WhisperModel> model_;
  whisper_state* state_ = nullptr;
};

}  // namespace livedub::sts
