#include "sts/neural_mt.hpp"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "livedub/files.hpp"
#include "livedub/logging.hpp"
#include "livedub/onnx.hpp"
#include "sts/apertium_mt.hpp"

namespace livedub::sts {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string read_file(const fs::path& file) {
  auto text = read_whole_file(file);
  if (!text) throw MtModelError(file.string() + ": missing or unreadable");
  return std::move(*text);
}

nlohmann::json read_json(const fs::path& file) {
  try {
    return nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw MtModelError(file.string() + ": not valid JSON (" + e.what() + ")");
  }
}

std::unique_ptr<sentencepiece::SentencePieceProcessor> load_spm(const fs::path& file) {
  if (!fs::is_regular_file(file)) throw MtModelError(file.string() + ": missing (the model's SentencePiece tokeniser)");
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = sp->Load(file.string());
  if (!status.ok()) throw MtModelError(file.string() + ": not a SentencePiece model (" + status.ToString() + ")");
  return sp;
}

bool is_language_token(const std::string& piece) {
  return piece.size() > 4 && piece.starts_with("__") && piece.ends_with("__");
}

}  // namespace

struct MtTokenizer::Impl {
  std::unique_ptr<sentencepiece::SentencePieceProcessor> source;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> target;  // == source for M2M100
  std::map<std::string, std::int64_t, std::less<>> ids;
  std::vector<std::string> pieces;  // by id; "" where none
  std::set<std::int64_t> special;
  std::map<std::string, std::int64_t> languages;  // "en" -> id of __en__
};

MtTokenizer::MtTokenizer(const fs::path& dir, const Seq2SeqConfig& config) : impl_(std::make_unique<Impl>()) {
  if (config.family == Seq2SeqFamily::kMarian) {
    impl_->source = load_spm(dir / "source.spm");
    auto target = load_spm(dir / "target.spm");
    impl_->target = std::move(target);
  } else {
    impl_->source = load_spm(dir / "sentencepiece.bpe.model");
  }
  const auto vocab_file = dir / "vocab.json";
  const auto vocab = read_json(vocab_file);
  if (!vocab.is_object() || vocab.empty()) throw MtModelError(vocab_file.string() + ": not an object of piece -> id");
  std::int64_t max_id = -1;
  for (const auto& [piece, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0) {
      throw MtModelError(vocab_file.string() + ": the id of '" + piece + "' is not a non-negative integer");
    }
    impl_->ids.emplace(piece, id.get<std::int64_t>());
    max_id = std::max(max_id, id.get<std::int64_t>());
  }
  std::int64_t next_id = static_cast<std::int64_t>(vocab.size());
  if (config.family == Seq2SeqFamily::kM2M100) {
    // fairseq numbers the language tokens after the vocabulary, in the tokenizer's order.
    const auto map_file = dir / "special_tokens_map.json";
    const auto map = read_json(map_file);
    if (!map.contains("additional_special_tokens") || !map.at("additional_special_tokens").is_array()) {
      throw MtModelError(map_file.string() + ": no additional_special_tokens (M2M100's language tokens)");
    }
    for (const auto& token : map.at("additional_special_tokens")) {
      const auto piece = token.is_string() ? token.get<std::string>() : token.value("content", std::string{});
      if (!is_language_token(piece)) continue;
      impl_->languages.emplace(piece.substr(2, piece.size() - 4), next_id);
      impl_->ids.emplace(piece, next_id);
      impl_->special.insert(next_id);
      max_id = std::max(max_id, next_id);
      ++next_id;
    }
    if (impl_->languages.empty()) throw MtModelError(map_file.string() + ": lists no __xx__ language token");
  }
  if (max_id >= config.vocab_size) {
    throw MtModelError(vocab_file.string() + " numbers pieces up to " + std::to_string(max_id) +
                       " but config.json's vocab_size is " + std::to_string(config.vocab_size) +
                       ": the tokeniser does not belong to this model");
  }
  impl_->pieces.assign(static_cast<std::size_t>(max_id + 1), "");
  for (const auto& [piece, id] : impl_->ids) impl_->pieces[static_cast<std::size_t>(id)] = piece;
  for (const char* name : {"</s>", "<pad>", "<s>", "<unk>"}) {
    if (auto it = impl_->ids.find(name); it != impl_->ids.end()) impl_->special.insert(it->second);
  }
  impl_->special.insert(config.pad_token_id);
  impl_->special.insert(config.eos_token_id);
  const auto unk = impl_->ids.find("<unk>");
  if (unk == impl_->ids.end()) throw MtModelError(vocab_file.string() + ": has no <unk> piece");
  unk_id_ = unk->second;
}

MtTokenizer::~MtTokenizer() = default;

std::vector<std::int64_t> MtTokenizer::encode(const std::string& text) const {
  return encode_with(*impl_->source, text);
}

std::vector<std::int64_t> MtTokenizer::encode_target(const std::string& text) const {
  return encode_with(impl_->target ? *impl_->target : *impl_->source, text);
}

std::vector<std::int64_t> MtTokenizer::encode_with(const sentencepiece::SentencePieceProcessor& sp,
                                                   const std::string& text) const {
  std::vector<std::string> pieces;
  if (const auto status = sp.Encode(text, &pieces); !status.ok()) {
    throw MtError("cannot tokenise the text: " + status.ToString());
  }
  std::vector<std::int64_t> ids;
  ids.reserve(pieces.size());
  for (const auto& piece : pieces) {
    auto it = impl_->ids.find(piece);
    ids.push_back(it == impl_->ids.end() ? unk_id_ : it->second);
  }
  return ids;
}

std::string MtTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::vector<std::string> pieces;
  for (const auto id : ids) {
    if (id < 0 || id >= static_cast<std::int64_t>(impl_->pieces.size()) || impl_->special.count(id) != 0) continue;
    const auto& piece = impl_->pieces[static_cast<std::size_t>(id)];
    if (!piece.empty()) pieces.push_back(piece);
  }
  std::string text;
  const auto& sp = impl_->target ? *impl_->target : *impl_->source;
  if (const auto status = sp.Decode(pieces, &text); !status.ok()) {
    throw MtError("cannot detokenise the translation: " + status.ToString());
  }
  return text;
}

std::optional<std::int64_t> MtTokenizer::language_token(const std::string& language) const {
  auto it = impl_->languages.find(language);
  if (it == impl_->languages.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> MtTokenizer::languages() const {
  std::vector<std::string> out;
  for (const auto& [code, id] : impl_->languages) out.push_back(code);
  return out;
}

// The two ONNX sessions and one decoding step with the key/value cache.
struct NeuralTranslator::Model {
  std::unique_ptr<onnx::Session> encoder;
  std::unique_ptr<onnx::Session> decoder;
  std::vector<std::string> past_names;  // the decoder's past_key_values.* inputs, in input order
  fs::path encoder_file;
  fs::path decoder_file;
};

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void require_inputs(const onnx::Session& session, const fs::path& file, const std::vector<std::string>& required) {
  for (const auto& name : required) {
    const auto& inputs = session.input_names();
    if (std::find(inputs.begin(), inputs.end(), name) == inputs.end()) {
      throw MtModelError(file.string() + ": has no input '" + name + "' (inputs: " + join(inputs) +
                         "); livedub runs the Optimum / transformers.js export with a merged decoder");
    }
  }
}

}  // namespace

NeuralTranslator::NeuralTranslator(const fs::path& model_dir, const NeuralMtOptions& options)
    : name_(model_dir.filename().string()), options_(options), model_(std::make_unique<Model>()) {
  const auto config_file = model_dir / "config.json";
  config_ = parse_seq2seq_config(read_file(config_file), config_file.string());
  tokenizer_ = std::make_unique<MtTokenizer>(model_dir, config_);
  if (config_.family == Seq2SeqFamily::kMarian) {
    // OPUS-MT names its one direction: opus-mt-SRC-TGT (tokenizer_config.json where it says).
    const auto tok_file = model_dir / "tokenizer_config.json";
    if (fs::exists(tok_file)) {
      const auto tok = read_json(tok_file);
      source_ = tok.value("source_lang", std::string{});
      target_ = tok.value("target_lang", std::string{});
    }
    if ((source_.size() != 2 || target_.size() != 2) && name_.starts_with("opus-mt-")) {
      const auto rest = name_.substr(8);
      const auto dash = rest.find('-');
      if (dash != std::string::npos) {
        source_ = rest.substr(0, dash);
        target_ = rest.substr(dash + 1);
      }
    }
    if (source_.empty() || target_.empty() || target_.find('-') != std::string::npos) {
      throw MtModelError(model_dir.string() + ": cannot tell the language pair (name the directory opus-mt-SRC-TGT, "
                                              "as scripts/fetch-mt-model does)");
    }
  }
  const auto onnx_dir = model_dir / "onnx";
  const bool has_int8 = fs::exists(onnx_dir / "encoder_model_quantized.onnx") &&
                        fs::exists(onnx_dir / "decoder_model_merged_quantized.onnx");
  if (options.precision == kMtPrecisionInt8 && !has_int8) {
    throw MtModelError(onnx_dir.string() + ": no encoder_model_quantized.onnx + decoder_model_merged_quantized.onnx "
                                           "(LIVEDUB_STS_MT_PRECISION=int8)");
  }
  const bool int8 = options.precision == kMtPrecisionInt8 ||
                    (options.precision == kMtPrecisionAuto && has_int8 && options.device != "gpu");
  precision_ = int8 ? kMtPrecisionInt8 : kMtPrecisionFloat;
  const std::string suffix = int8 ? "_quantized" : "";
  model_->encoder_file = onnx_dir / ("encoder_model" + suffix + ".onnx");
  model_->decoder_file = onnx_dir / ("decoder_model_merged" + suffix + ".onnx");
  onnx::SessionOptions session_options;
  session_options.intra_op_threads = options.threads;
  session_options.device = options.device == "gpu"   ? onnx::Device::kCuda
                           : options.device == "cpu" ? onnx::Device::kCpu
                                                     : onnx::Device::kAuto;
  for (const auto* file : {&model_->encoder_file, &model_->decoder_file}) {
    if (!fs::is_regular_file(*file)) throw MtModelError(file->string() + ": missing");
  }
  try {
    model_->encoder = std::make_unique<onnx::Session>(model_->encoder_file, session_options);
    model_->decoder = std::make_unique<onnx::Session>(model_->decoder_file, session_options);
  } catch (const onnx::OnnxError& e) {
    throw MtModelError(e.what());
  }
  require_inputs(*model_->encoder, model_->encoder_file, {"input_ids", "attention_mask"});
  require_inputs(*model_->decoder, model_->decoder_file,
                 {"encoder_attention_mask", "input_ids", "encoder_hidden_states", "use_cache_branch"});
  for (const auto& name : model_->decoder->input_names()) {
    if (name.starts_with("past_key_values.")) model_->past_names.push_back(name);
  }
  if (model_->past_names.size() != static_cast<std::size_t>(4 * config_.decoder_layers)) {
    throw MtModelError(model_->decoder_file.string() + ": " + std::to_string(model_->past_names.size()) +
                       " past_key_values inputs, but config.json's " + std::to_string(config_.decoder_layers) +
                       " decoder layers need " + std::to_string(4 * config_.decoder_layers) +
                       ": the files are from different models");
  }
  // One short translation now, so a model that does not fit its tokeniser or config fails at
  // start, not on a viewer's first sentence.
  MtRequest probe;
  probe.source = pairs().front().source;
  probe.targets = {pairs().front().target};
  probe.text = "hello";
  try {
    translate_ids(probe, 2);
  } catch (const std::exception& e) {
    throw MtModelError(model_dir.string() + ": the model does not run: " + e.what());
  }
}

NeuralTranslator::~NeuralTranslator() = default;

std::string NeuralTranslator::engine() const {
  return config_.family == Seq2SeqFamily::kMarian ? kMtMarian : kMtM2M100;
}

const std::string& NeuralTranslator::device() const { return model_->encoder->device(); }

std::vector<LanguagePair> NeuralTranslator::pairs() const {
  if (config_.family == Seq2SeqFamily::kMarian) return {{source_, target_}};
  std::vector<LanguagePair> out;
  const auto languages = tokenizer_->languages();
  for (const auto& s : languages) {
    for (const auto& t : languages) {
      if (s != t) out.push_back({s, t});
    }
  }
  return out;
}

std::string NeuralTranslator::describe(const LanguagePair&) const {
  return engine() + " " + name_ + " " + precision_ + " (" + device() + ")";
}

std::vector<std::vector<std::int64_t>> NeuralTranslator::translate_ids(const MtRequest& request, int max_new_tokens) {
  const bool marian = config_.family == Seq2SeqFamily::kMarian;
  const bool with_context = options_.context && !request.previous_source.empty();
  // The source: [__src__] pieces </s>, the previous sentence first when it is context.
  std::vector<std::int64_t> source_ids;
  if (!marian) {
    const auto lang = tokenizer_->language_token(request.source);
    if (!lang) throw MtError(name_ + " does not know the source language '" + request.source + "'");
    source_ids.push_back(*lang);
  }
  auto text_ids = tokenizer_->encode(with_context ? request.previous_source + " " + request.text : request.text);
  // Positions beyond the model's table do not exist; a fragment's sentence never gets near.
  const auto room = static_cast<std::size_t>(std::max(8, config_.max_positions / 2));
  if (text_ids.size() > room) text_ids.erase(text_ids.begin(), text_ids.end() - static_cast<std::ptrdiff_t>(room));
  source_ids.insert(source_ids.end(), text_ids.begin(), text_ids.end());
  source_ids.push_back(config_.eos_token_id);

  std::vector<DecodeRow> rows;
  for (std::size_t i = 0; i < request.targets.size(); ++i) {
    const auto& target = request.targets[i];
    DecodeRow row;
    if (marian) {
      if (request.source != source_ || target != target_) {
        throw MtError(name_ + " translates " + source_ + " -> " + target_ + " only, not " + request.source + " -> " + target);
      }
      row.start = {config_.decoder_start_token_id};
    } else {
      const auto lang = tokenizer_->language_token(target);
      if (!lang) throw MtError(name_ + " does not know the target language '" + target + "'");
      row.start = {config_.decoder_start_token_id, *lang};
    }
    if (with_context && i < request.previous_translations.size() && !request.previous_translations[i].empty()) {
      row.forced = tokenizer_->encode_target(request.previous_translations[i]);
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) return {};

  const auto batch = static_cast<std::int64_t>(rows.size());
  const auto source_length = static_cast<std::int64_t>(source_ids.size());
  std::vector<std::int64_t> encoder_ids = source_ids;
  std::vector<std::int64_t> encoder_mask(source_ids.size(), 1);
  std::vector<onnx::Tensor> encoder_out;
  {
    auto ids = onnx::Tensor::int64s(encoder_ids, {1, source_length});
    auto mask = onnx::Tensor::int64s(encoder_mask, {1, source_length});
    std::vector<const onnx::Tensor*> inputs;
    for (const auto& name : model_->encoder->input_names()) inputs.push_back(name == "input_ids" ? &ids : &mask);
    encoder_out = model_->encoder->run(inputs);
  }
  // Every target reads the same source: its hidden states repeated once per row.
  const auto hidden = encoder_out.front().float_data();
  std::vector<float> hidden_rows;
  hidden_rows.reserve(hidden.size() * rows.size());
  for (std::int64_t r = 0; r < batch; ++r) hidden_rows.insert(hidden_rows.end(), hidden.begin(), hidden.end());
  std::vector<std::int64_t> cross_mask(static_cast<std::size_t>(batch * source_length), 1);
  auto hidden_tensor = onnx::Tensor::floats(hidden_rows, {batch, source_length, config_.d_model});
  auto mask_tensor = onnx::Tensor::int64s(cross_mask, {batch, source_length});

  // Past key/values: empty at the first step, then the previous step's present.* outputs.
  std::vector<float> no_past(1, 0.0f);
  std::vector<onnx::Tensor> empty_past;
  for (std::size_t i = 0; i < model_->past_names.size(); ++i) {
    empty_past.push_back(onnx::Tensor::floats(std::span<float>(no_past.data(), 0),
                                              {batch, config_.decoder_heads, 0, config_.head_dim()}));
  }
  std::map<std::string, std::size_t> present_index;  // past name -> index in the decoder's outputs
  const auto& outputs = model_->decoder->output_names();
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    if (outputs[o].starts_with("present.")) present_index["past_key_values." + outputs[o].substr(8)] = o;
  }
  for (const auto& name : model_->past_names) {
    if (present_index.count(name) == 0) {
      throw MtModelError(model_->decoder_file.string() + ": no output for " + name);
    }
  }
  std::vector<onnx::Tensor> previous;  // the last step's outputs
  std::vector<float> last_logits;
  std::vector<std::int64_t> feed_ids;
  std::vector<std::vector<std::int64_t>> history(rows.size());  // everything fed, per row (no cache)
  bool first = true;
  bool use_cache[1] = {false};
  const DecodeStep step = [&](const std::vector<std::vector<std::int64_t>>& tokens) -> std::span<const float> {
    const bool cached = options_.kv_cache && !first;
    for (std::size_t r = 0; r < tokens.size(); ++r) history[r].insert(history[r].end(), tokens[r].begin(), tokens[r].end());
    const auto& fed = options_.kv_cache ? tokens : history;
    const auto n = static_cast<std::int64_t>(fed.front().size());
    feed_ids.clear();
    for (const auto& row : fed) feed_ids.insert(feed_ids.end(), row.begin(), row.end());
    auto ids = onnx::Tensor::int64s(feed_ids, {batch, n});
    use_cache[0] = cached;
    auto cache_flag = onnx::Tensor::bools(std::span<bool>(use_cache, 1), {1});
    std::vector<const onnx::Tensor*> inputs;
    std::size_t past_i = 0;
    for (const auto& name : model_->decoder->input_names()) {
      if (name == "encoder_attention_mask") {
        inputs.push_back(&mask_tensor);
      } else if (name == "input_ids") {
        inputs.push_back(&ids);
      } else if (name == "encoder_hidden_states") {
        inputs.push_back(&hidden_tensor);
      } else if (name == "use_cache_branch") {
        inputs.push_back(&cache_flag);
      } else {
        inputs.push_back(cached ? &previous[present_index.at(name)] : &empty_past[past_i]);
        ++past_i;
      }
    }
    auto result = model_->decoder->run(inputs);
    first = false;
    const auto shape = result.front().shape();
    const auto logits = result.front().float_data();
    if (shape.size() != 3 || shape[0] != batch || shape[1] != n) {
      throw MtModelError(model_->decoder_file.string() + ": logits of an unexpected shape");
    }
    const auto vocab = shape[2];
    last_logits.clear();
    for (std::int64_t r = 0; r < batch; ++r) {
      const auto offset = static_cast<std::size_t>((r * n + n - 1) * vocab);
      last_logits.insert(last_logits.end(), logits.begin() + static_cast<std::ptrdiff_t>(offset),
                         logits.begin() + static_cast<std::ptrdiff_t>(offset + static_cast<std::size_t>(vocab)));
    }
    previous = std::move(result);
    return last_logits;
  };
  DecodeLimits limits;
  limits.max_new_tokens = max_new_tokens;
  limits.eos = config_.eos_token_id;
  limits.banned = {config_.pad_token_id};
  bool expired = false;
  auto out = greedy_decode(rows, limits, config_.vocab_size, step, [&] {
    expired = Clock::now() >= request.deadline;
    return expired;
  });
  if (expired) throw DeadlineExpired("deadline passed while translating (" + name_ + ")");
  return out;
}

std::vector<std::string> NeuralTranslator::translate(const MtRequest& request) {
  std::vector<std::string> out(request.targets.size());
  if (request.text.find_first_not_of(" \t\r\n") == std::string::npos) return out;
  const auto source_tokens = tokenizer_->encode(request.text).size();
  const auto ids = translate_ids(request, output_token_cap(source_tokens, options_.max_tokens));
  for (std::size_t i = 0; i < ids.size(); ++i) out[i] = tokenizer_->decode(ids[i]);
  return out;
}

std::vector<fs::path> discover_mt_models(const fs::path& model_dir) {
  std::vector<fs::path> out;
  const auto root = model_dir / "mt";
  std::error_code ec;
  if (model_dir.empty() || !fs::is_directory(root, ec)) return out;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    // Every directory is a model: one without its config.json (an interrupted copy) fails to
    // load, loudly, rather than being skipped.
    if (entry.is_directory() && !entry.path().filename().string().starts_with(".")) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::shared_ptr<NeuralTranslator>> load_mt_models(const fs::path& model_dir,
                                                              const NeuralMtOptions& options) {
  std::vector<std::shared_ptr<NeuralTranslator>> out;
  for (const auto& dir : discover_mt_models(model_dir)) {
    const auto started = Clock::now();
    auto translator = std::make_shared<NeuralTranslator>(dir, options);
    logging::write(spdlog::level::info, {}, "translation model loaded",
                   {{"model", translator->name()},
                    {"engine", translator->engine()},
                    {"precision", translator->precision()},
                    {"device", translator->device()},
                    {"pairs", translator->pairs().size()},
                    {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()}});
    out.push_back(std::move(translator));
  }
  return out;
}

}  // namespace livedub::sts
