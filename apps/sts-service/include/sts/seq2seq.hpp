#pragma once
// The pure parts of neural translation (sts/neural_mt.hpp runs them on ONNX Runtime): a
// model's config.json, and greedy decoding of several rows in lock step over a step function
// (the model with its key/value cache), with forced prefixes and a hard cap on length.
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace livedub::sts {

class MtModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;  // names the file and what is wrong with it
};

enum class Seq2SeqFamily { kMarian, kM2M100 };

// What decoding needs from a Hugging Face config.json of the two families.
struct Seq2SeqConfig {
  Seq2SeqFamily family = Seq2SeqFamily::kMarian;
  std::string model_type;  // "marian", "m2m_100"
  std::int64_t vocab_size = 0;
  int decoder_layers = 0;
  int decoder_heads = 0;
  int d_model = 0;
  std::int64_t pad_token_id = 0;
  std::int64_t eos_token_id = 0;
  std::int64_t decoder_start_token_id = 0;
  int max_positions = 0;

  int head_dim() const { return d_model / decoder_heads; }
};

// Throws MtModelError naming `file` for malformed JSON, another model family, or missing or
// inconsistent fields.
Seq2SeqConfig parse_seq2seq_config(std::string_view json_text, const std::string& file);

struct DecodeRow {
  std::vector<std::int64_t> start;   // fed at the first step (the same length in every row)
  std::vector<std::int64_t> forced;  // emitted before the model chooses (a context's translation)
};

struct DecodeLimits {
  int max_new_tokens = 64;  // per row, forced tokens not counted: random or looping models stop here
  std::int64_t eos = 0;
  std::vector<std::int64_t> banned;  // never chosen (Marian's pad)
};

// Feeds `tokens` (rows x n, the same n in every row) after everything fed before; returns the
// logits of each row's last new position, rows x vocab, valid until the next call.
using DecodeStep = std::function<std::span<const float>(const std::vector<std::vector<std::int64_t>>& tokens)>;

// Each row's chosen tokens (no start, no forced, no eos). `should_stop` is polled between steps
// (a deadline); when it returns true decoding stops with what it has.
std::vector<std::vector<std::int64_t>> greedy_decode(const std::vector<DecodeRow>& rows, const DecodeLimits& limits,
                                                     std::int64_t vocab_size, const DecodeStep& step,
                                                     const std::function<bool()>& should_stop = {});

// The hard cap for a source of `source_tokens`: translations run at most about twice as long as
// their source; `configured` (LIVEDUB_STS_MT_MAX_TOKENS) bounds it.
int output_token_cap(std::size_t source_tokens, int configured);

// A glossary term the model did not reproduce intact is put back where it stood in the source:
// after the word at the same relative position. Returns `translation` unchanged when it already
// holds `term` (case-insensitively, as whole words).
std::string ensure_term(const std::string& translation, const std::string& term, double relative_position);

}  // namespace livedub::sts
