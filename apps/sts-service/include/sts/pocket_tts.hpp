#pragma once
// Zero-shot voice cloning: Kyutai's Pocket TTS (100M parameters, CC-BY-4.0 weights) in its
// community ONNX export, on ONNX Runtime. A voice is a few seconds of the speaker's audio,
// encoded once (mimi_encoder) into conditioning frames; each sentence then runs the flow LM
// (voice frames, then text embeddings, then one latent frame per step until its end-of-speech
// logit fires), a flow-matching step per frame, and the streaming codec decoder.
// Layout (DIR): tokenizer.model, onnx/{text_conditioner,mimi_encoder,flow_lm_main,flow_lm_flow,
// mimi_decoder}.onnx. The graphs' state_N inputs start as zeros and are fed back from
// out_state_N; nothing else about their internals is assumed.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "livedub/onnx.hpp"
#include "sts/piper_voice.hpp"

namespace livedub::sts {

inline constexpr int kPocketSampleRate = 24000;
// The voice name a dub in the speaker's own voice reports.
inline constexpr const char* kCloneVoice = "speaker";
inline constexpr int kPocketFrameSamples = 1920;  // 12.5 latent frames per second

// The text as the model was trained to read it: control characters become spaces, whitespace
// is collapsed, the first letter is upper case and a sentence without final punctuation ends
// with a full stop. Empty when nothing is left to say.
std::string pocket_prepare_text(const std::string& text);

// Prepared text cut into the pieces one model call speaks: sentences (after . ! ? ; and the
// Spanish/Asian full stops), and a sentence whose `count_tokens` exceeds `max_tokens` cut
// between words (a piece of one over-long word stays whole). Attention over the text grows with
// its square, and the model was trained on short chunks (its reference code uses 50 tokens).
std::vector<std::string> pocket_text_chunks(const std::string& prepared,
                                            const std::function<std::size_t(const std::string&)>& count_tokens,
                                            std::size_t max_tokens);
inline constexpr std::size_t kPocketMaxTokensPerChunk = 50;

// The most frames a sentence of `tokens` text tokens may take (the reference implementation's
// cap: tokens / 3 + 2 seconds), so a model whose end-of-speech never fires still stops.
int pocket_max_frames(std::size_t tokens);

// The flow-matching steps of one frame: [s, t) pairs covering [0, 1) in `steps` equal parts.
struct FlowStep {
  float s = 0;
  float t = 0;
};
std::vector<FlowStep> pocket_flow_schedule(int steps);

// A reference clip as the encoder takes it: mono PCM16 at any rate -> floats at 24 kHz,
// zero-padded to whole frames. Empty when the clip is shorter than one frame.
std::vector<float> pocket_reference_audio(std::span<const std::int16_t> pcm, int sample_rate);

struct PocketOptions {
  int threads = 1;             // ONNX Runtime threads per call
  int flow_steps = 1;          // flow-matching steps per frame (the model card's default)
  float temperature = 0.7f;    // noise of each frame's starting point
  float eos_threshold = -4.0f; // end-of-speech logit above which the sentence ends...
  int frames_after_eos = 3;    // ...this many frames later
  double max_seconds = 30.0;   // a hard cap per call, whatever the text's length
  onnx::Device device = onnx::Device::kCpu;
};

// A speaker's conditioning frames [frames x dim], from encode_voice().
struct PocketVoice {
  std::vector<float> frames;
  std::int64_t count = 0;
  std::int64_t dim = 0;
  bool empty() const { return count == 0; }
};

class PocketTts {
 public:
  // Loads the five graphs and the tokeniser and checks their contract (names, state pairs,
  // widths). Throws VoiceModelError naming the file at fault.
  PocketTts(const std::filesystem::path& dir, const PocketOptions& options = {});
  ~PocketTts();
  PocketTts(const PocketTts&) = delete;
  PocketTts& operator=(const PocketTts&) = delete;

  // The speaker of a reference clip (pocket_reference_audio's output). Throws TtsError when the
  // clip is shorter than one frame. Thread-safe.
  PocketVoice encode_voice(std::span<const float> audio_24k) const;
  // `text` in `voice`: mono float samples at 24 kHz. Empty text gives no samples. Throws
  // TtsError when the model fails. Thread-safe; `seed` makes the noise reproducible;
  // `max_seconds` (when > 0) lowers the options' cap for this call.
  std::vector<float> synthesize(const std::string& text, const PocketVoice& voice, std::uint64_t seed,
                                double max_seconds = 0) const;
  // Frames the last synthesize() of this thread generated, and whether end-of-speech ended it
  // (false: the length cap did): what tests and the benchmark look at.
  struct Stats {
    int frames = 0;
    bool ended_by_eos = false;
  };
  static Stats last_stats();

  const std::string& device() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livedub::sts
