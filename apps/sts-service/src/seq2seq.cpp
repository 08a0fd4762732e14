#include "sts/seq2seq.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "livedub/text.hpp"

namespace livedub::sts {
namespace {

std::int64_t required_int(const nlohmann::json& j, const char* key, const std::string& file, std::int64_t min,
                          std::int64_t max) {
  if (!j.contains(key) || !j.at(key).is_number_integer()) {
    throw MtModelError(file + ": field '" + key + "' is missing or not an integer");
  }
  const auto value = j.at(key).get<std::int64_t>();
  if (value < min || value > max) {
    throw MtModelError(file + ": field '" + key + "' = " + std::to_string(value) + " is out of range");
  }
  return value;
}

bool word_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || u >= 0x80 || c == '\'';
}

// Start offsets of the words of `text`.
std::vector<std::size_t> word_starts(const std::string& text) {
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!std::isspace(static_cast<unsigned char>(text[i])) &&
        (i == 0 || std::isspace(static_cast<unsigned char>(text[i - 1])))) {
      starts.push_back(i);
    }
  }
  return starts;
}

}  // namespace

Seq2SeqConfig parse_seq2seq_config(std::string_view json_text, const std::string& file) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw MtModelError(file + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw MtModelError(file + ": not a JSON object");
  Seq2SeqConfig config;
  config.model_type = j.value("model_type", std::string{});
  if (config.model_type == "marian") {
    config.family = Seq2SeqFamily::kMarian;
  } else if (config.model_type == "m2m_100") {
    config.family = Seq2SeqFamily::kM2M100;
  } else {
    throw MtModelError(file + ": model_type '" + config.model_type +
                       "' is not a translation family livedub runs (marian: OPUS-MT; m2m_100: M2M100)");
  }
  constexpr std::int64_t kBig = std::int64_t{1} << 31;
  config.vocab_size = required_int(j, "vocab_size", file, 8, kBig);
  config.decoder_layers = static_cast<int>(required_int(j, "decoder_layers", file, 1, 128));
  config.decoder_heads = static_cast<int>(required_int(j, "decoder_attention_heads", file, 1, 256));
  config.d_model = static_cast<int>(required_int(j, "d_model", file, 1, 1 << 16));
  config.pad_token_id = required_int(j, "pad_token_id", file, 0, config.vocab_size - 1);
  config.eos_token_id = required_int(j, "eos_token_id", file, 0, config.vocab_size - 1);
  config.decoder_start_token_id = required_int(j, "decoder_start_token_id", file, 0, config.vocab_size - 1);
  config.max_positions = static_cast<int>(required_int(j, "max_position_embeddings", file, 8, 1 << 20));
  if (config.d_model % config.decoder_heads != 0) {
    throw MtModelError(file + ": d_model " + std::to_string(config.d_model) + " is not a multiple of " +
                       std::to_string(config.decoder_heads) + " heads");
  }
  return config;
}

std::vector<std::vector<std::int64_t>> greedy_decode(const std::vector<DecodeRow>& rows, const DecodeLimits& limits,
                                                     std::int64_t vocab_size, const DecodeStep& step,
                                                     const std::function<bool()>& should_stop) {
  std::vector<std::vector<std::int64_t>> out(rows.size());
  if (rows.empty()) return out;
  const auto start_length = rows.front().start.size();
  if (start_length == 0) throw std::invalid_argument("greedy_decode: a row has no start tokens");
  for (const auto& row : rows) {
    if (row.start.size() != start_length) throw std::invalid_argument("greedy_decode: rows start with different lengths");
  }
  std::vector<std::vector<std::int64_t>> feed;
  for (const auto& row : rows) feed.push_back(row.start);
  std::vector<bool> done(rows.size(), false);
  std::vector<std::size_t> forced_used(rows.size(), 0);
  std::size_t longest_forced = 0;
  for (const auto& row : rows) longest_forced = std::max(longest_forced, row.forced.size());
  const auto max_steps = longest_forced + static_cast<std::size_t>(std::max(0, limits.max_new_tokens));
  for (std::size_t s = 0; s < max_steps; ++s) {
    if (should_stop && should_stop()) break;
    const auto logits = step(feed);
    if (logits.size() != rows.size() * static_cast<std::size_t>(vocab_size)) {
      throw MtModelError("the decoder returned " + std::to_string(logits.size()) + " logits for " +
                         std::to_string(rows.size()) + " rows of " + std::to_string(vocab_size) +
                         " tokens: the model does not match its config.json");
    }
    bool all_done = true;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::int64_t next = limits.eos;
      if (done[r]) {
        next = limits.eos;  // finished rows keep step with the others; what they are fed is ignored
      } else if (forced_used[r] < rows[r].forced.size()) {
        next = rows[r].forced[forced_used[r]++];
      } else {
        const auto row_logits = logits.subspan(r * static_cast<std::size_t>(vocab_size), static_cast<std::size_t>(vocab_size));
        float best = -std::numeric_limits<float>::infinity();
        std::int64_t best_id = limits.eos;
        for (std::int64_t id = 0; id < vocab_size; ++id) {
          const float value = row_logits[static_cast<std::size_t>(id)];
          if (value > best && std::find(limits.banned.begin(), limits.banned.end(), id) == limits.banned.end()) {
            best = value;
            best_id = id;
          }
        }
        next = best_id;
        if (next == limits.eos || static_cast<int>(out[r].size()) >= limits.max_new_tokens) {
          done[r] = true;
        } else {
          out[r].push_back(next);
          if (static_cast<int>(out[r].size()) >= limits.max_new_tokens) done[r] = true;
        }
      }
      feed[r].assign(1, next);
      all_done = all_done && done[r];
    }
    if (all_done) break;
  }
  return out;
}

int output_token_cap(std::size_t source_tokens, int configured) {
  const auto natural = 2 * static_cast<std::int64_t>(source_tokens) + 8;
  return static_cast<int>(std::clamp<std::int64_t>(natural, 1, std::max(1, configured)));
}

std::string ensure_term(const std::string& translation, const std::string& term, double relative_position) {
  if (term.empty()) return translation;
  const auto folded = lower_ascii(translation);
  const auto folded_term = lower_ascii(term);
  for (auto at = folded.find(folded_term); at != std::string::npos; at = folded.find(folded_term, at + 1)) {
    const auto end = at + folded_term.size();
    if ((at == 0 || !word_char(folded[at - 1])) && (end == folded.size() || !word_char(folded[end]))) return translation;
  }
  const auto starts = word_starts(translation);
  if (starts.empty()) return term;
  const auto clamped = std::clamp(relative_position, 0.0, 1.0);
  const auto index = static_cast<std::size_t>(std::lround(clamped * static_cast<double>(starts.size())));
  if (index == 0) return term + " " + translation;
  if (index >= starts.size()) {
    auto end = translation.find_last_not_of(" \t\r\n");
    std::string out = translation.substr(0, end + 1);
    // Before a final full stop or question mark, not after it.
    std::string tail;
    while (!out.empty() && (out.back() == '.' || out.back() == '?' || out.back() == '!')) {
      tail.insert(tail.begin(), out.back());
      out.pop_back();
    }
    out.append(" ").append(term).append(tail);
    return out;
  }
  std::string out = translation.substr(0, starts[index]);
  out.append(term).append(" ").append(translation.substr(starts[index]));
  return out;
}

}  // namespace livedub::sts
