#pragma once
// Neural translation on ONNX Runtime, for the models users download from the Hugging Face hub
// in the standard ONNX export (Optimum / transformers.js): onnx/encoder_model.onnx and
// onnx/decoder_model_merged.onnx (one decoder with and without past key/values), plus the
// SentencePiece tokenisers and vocab.json of the original repository.
//   marian  OPUS-MT (Helsinki-NLP/opus-mt-SRC-TGT): one direction per model, small, fast on a CPU
//   m2m100  M2M100 (facebook/m2m100_418M): one model, 100 languages; several targets of one
//           request decode as one batch
// scripts/fetch-mt-model writes MODEL_DIR/mt/<name>/; scripts/make-test-models writes the same
// layout with random weights. Greedy decoding with the key/value cache and a hard cap on length
// (sts/seq2seq.hpp); int8 weights (*_quantized.onnx) on the CPU when present.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sts/seq2seq.hpp"
#include "sts/translator.hpp"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace livedub::sts {

inline constexpr const char* kMtPrecisionAuto = "auto";
inline constexpr const char* kMtPrecisionInt8 = "int8";
inline constexpr const char* kMtPrecisionFloat = "float";

struct NeuralMtOptions {
  std::string precision = kMtPrecisionAuto;  // auto: int8 on the CPU where the files exist, float on a GPU
  std::string device = "auto";               // auto | cpu | gpu (ONNX Runtime's CUDA provider)
  int threads = 1;                           // per call: the STS runs LIVEDUB_STS_WORKERS calls at once
  int max_tokens = 96;                       // hard cap on a translation's length, in tokens
  bool context = false;                      // the previous sentence as context (see the README)
  // false: every step re-runs the decoder over the whole output so far, without past
  // key/values (tests compare the two; benchmarks show what the cache saves).
  bool kv_cache = true;
};

// Subword tokenisation of one model: SentencePiece pieces numbered by vocab.json, and for
// M2M100 the language tokens (__en__) that follow the vocabulary.
class MtTokenizer {
 public:
  // Throws MtModelError naming the file that is missing, unreadable or does not match `config`.
  MtTokenizer(const std::filesystem::path& model_dir, const Seq2SeqConfig& config);
  ~MtTokenizer();
  MtTokenizer(const MtTokenizer&) = delete;
  MtTokenizer& operator=(const MtTokenizer&) = delete;

  std::vector<std::int64_t> encode(const std::string& text) const;  // no special tokens
  std::vector<std::int64_t> encode_target(const std::string& text) const;  // target side (Marian's target.spm)
  std::string decode(const std::vector<std::int64_t>& ids) const;   // special tokens skipped
  std::optional<std::int64_t> language_token(const std::string& language) const;
  std::vector<std::string> languages() const;  // M2M100's; empty for Marian
  std::int64_t unk_id() const { return unk_id_; }

 private:
  std::vector<std::int64_t> encode_with(const sentencepiece::SentencePieceProcessor& sp, const std::string& text) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::int64_t unk_id_ = 0;
};

// One model directory: its language pairs, and translation with it.
class NeuralTranslator final : public Translator {
 public:
  // Loads config, tokenisers and both ONNX files and translates one sentence to check they fit
  // together; throws MtModelError naming the file at fault.
  NeuralTranslator(const std::filesystem::path& model_dir, const NeuralMtOptions& options);
  ~NeuralTranslator() override;

  std::string engine() const override;  // kMtMarian or kMtM2M100
  std::vector<LanguagePair> pairs() const override;
  std::string describe(const LanguagePair& pair) const override;
  std::vector<std::string> translate(const MtRequest& request) override;

  const std::string& name() const { return name_; }  // the directory's name: "opus-mt-en-es"
  const std::string& precision() const { return precision_; }
  const std::string& device() const;
  const MtTokenizer& tokenizer() const { return *tokenizer_; }
  // The token ids of one row's output for `text` (tests and benchmarks: random weights produce
  // token salad, but its length and determinism are observable).
  std::vector<std::vector<std::int64_t>> translate_ids(const MtRequest& request, int max_new_tokens);

 private:
  struct Model;
  std::string name_;
  std::string precision_;
  NeuralMtOptions options_;
  Seq2SeqConfig config_;
  std::unique_ptr<MtTokenizer> tokenizer_;
  std::unique_ptr<Model> model_;
  std::string source_;  // Marian: the one direction
  std::string target_;
};

// The model directories under MODEL_DIR/mt (every directory not starting with '.'), sorted.
std::vector<std::filesystem::path> discover_mt_models(const std::filesystem::path& model_dir);

// Every model under MODEL_DIR/mt loaded; throws MtModelError for a damaged one (never skips it
// silently: a deployment that fetched a model expects it to serve).
std::vector<std::shared_ptr<NeuralTranslator>> load_mt_models(const std::filesystem::path& model_dir,
                                                              const NeuralMtOptions& options);

}  // namespace livedub::sts
