#pragma once
// The whisper.cpp ggml model file format (as read by whisper.cpp 1.9.1's whisper_model_load),
// known here so that:
//  - the service checks a model file completely before handing it to whisper.cpp, which
//    accepts some damaged files (a file cut off before its first tensor loads as an "empty
//    model for testing") and reports others only as "failed to load";
//  - tests and benchmarks can write a model with random weights in exactly that layout,
//    since real weights cannot be downloaded where they run.
// Pure C++: no whisper.cpp needed to build or test this.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace livedub::sts {

class WhisperModelFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::uint32_t kGgmlFileMagic = 0x67676d6c;  // "ggml", little-endian

// The header of a model file, in file order.
struct WhisperHparams {
  std::int32_t n_vocab = 51865;
  std::int32_t n_audio_ctx = 1500;
  std::int32_t n_audio_state = 512;
  std::int32_t n_audio_head = 8;
  std::int32_t n_audio_layer = 6;
  std::int32_t n_text_ctx = 448;
  std::int32_t n_text_state = 512;
  std::int32_t n_text_head = 8;
  std::int32_t n_text_layer = 6;
  std::int32_t n_mels = 80;
  std::int32_t ftype = 1;  // ggml_ftype (+ 1000 x quantization version): 0 f32, 1 f16, ...

  bool operator==(const WhisperHparams&) const = default;
};

// The shapes of OpenAI's released sizes ("tiny", "base", "small", "medium", "large-v3",
// "large-v3-turbo"), f16; std::nullopt for other names.
std::optional<WhisperHparams> whisper_hparams_for_size(const std::string& size);

// A tensor whisper.cpp expects: name and ggml shape (ne[0] varies fastest), and whether it is
// stored in the model's weight type (matrices, and the convolution kernels as f16) or as f32.
struct WhisperTensorSpec {
  std::string name;
  std::vector<std::int64_t> shape;
  bool in_weight_type = false;
};
std::vector<WhisperTensorSpec> whisper_tensor_layout(const WhisperHparams& hparams);

// What a model file holds, once checked.
struct WhisperModelSummary {
  WhisperHparams hparams;
  std::int32_t vocab_words = 0;  // tokens named in the file (special tokens are implied)
  std::size_t tensors = 0;
  std::uintmax_t file_bytes = 0;
  bool multilingual() const { return hparams.n_vocab >= 51865; }
};

// Reads the whole structure of `path` (skipping tensor data) and throws WhisperModelFileError
// with the path, the byte offset and what is wrong when the file is missing, is not a whisper
// ggml model, is truncated, has trailing bytes, or lacks or misshapes any tensor whisper.cpp
// needs.
WhisperModelSummary inspect_whisper_model(const std::filesystem::path& path);

// Writes a model of shape `hparams` (ftype 0 = f32 or 1 = f16 only) with deterministic pseudo-
// random weights from `seed`. Its vocabulary: tokens 0-255 are the single bytes, the rest short
// ASCII syllables. Loads and runs in whisper.cpp like a real model; transcribes nothing useful.
void write_random_whisper_model(const std::filesystem::path& path, const WhisperHparams& hparams,
                                std::uint64_t seed = 1);

// The tiny shape the tests use: multilingual vocabulary, 1 layer of width 64 each side, f16
// (~8 MB; loads and transcribes in milliseconds).
WhisperHparams tiny_test_whisper_hparams();

}  // namespace livedub::sts
