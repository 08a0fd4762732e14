#include "sts/whisper_model_file.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

namespace livedub::sts {
namespace {

static_assert(std::endian::native == std::endian::little, "ggml model files are little-endian");

constexpr std::int32_t kQuantVersionFactor = 1000;  // GGML_QNT_VERSION_FACTOR
constexpr std::int32_t kMelFftBins = 201;           // n_fft / 2 + 1 for whisper's 400-point FFT
constexpr std::int32_t kFirstSpecialToken = 50257;  // tokens named in the file: the GPT-2 vocabulary

// ggml tensor types a model may use: {block size in elements, bytes per block}.
const std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>>& tensor_types() {
  static const std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>> types = {
      {0, {1, 4}},      {1, {1, 2}},       // f32, f16
      {2, {32, 18}},    {3, {32, 20}},     // q4_0, q4_1
      {6, {32, 22}},    {7, {32, 24}},     // q5_0, q5_1
      {8, {32, 34}},                       // q8_0
      {10, {256, 84}},  {11, {256, 110}},  // q2_k, q3_k
      {12, {256, 144}}, {13, {256, 176}},  // q4_k, q5_k
      {14, {256, 210}},                    // q6_k
  };
  return types;
}

// ggml_ftype values whisper.cpp maps to a weight type.
bool known_ftype(std::int32_t ftype) {
  static const std::set<std::int32_t> known = {0, 1, 2, 3, 7, 8, 9, 10, 11, 12, 13, 14};
  return known.count(ftype) > 0;
}

class Reader {
 public:
  explicit Reader(const std::filesystem::path& path) : path_(path), in_(path, std::ios::binary) {
    std::error_code ec;
    size_ = std::filesystem::file_size(path, ec);
    if (ec || !in_) fail("cannot be read");
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw WhisperModelFileError("whisper model " + path_.string() + ": " + what + " (at byte " +
                                std::to_string(offset_) + " of " + std::to_string(size_) + ")");
  }

  std::int32_t int32(const char* what) {
    std::int32_t value = 0;
    bytes(&value, sizeof value, what);
    return value;
  }

  void bytes(void* out, std::uintmax_t count, const char* what) {
    need(count, what);
    in_.read(static_cast<char*>(out), static_cast<std::streamsize>(count));
    if (!in_) fail(std::string("read error in ") + what);
    offset_ += count;
  }

  void skip(std::uintmax_t count, const char* what) {
    need(count, what);
    offset_ += count;
    in_.seekg(static_cast<std::streamoff>(offset_));
    if (!in_) fail(std::string("seek error in ") + what);
  }

  bool at_end() const { return offset_ == size_; }
  std::uintmax_t size() const { return size_; }

 private:
  void need(std::uintmax_t count, const char* what) const {
    if (count > size_ - offset_) {
      fail(std::string("truncated: ") + what + " needs " + std::to_string(count) + " bytes, " +
           std::to_string(size_ - offset_) + " left");
    }
  }

  std::filesystem::path path_;
  std::ifstream in_;
  std::uintmax_t size_ = 0;
  std::uintmax_t offset_ = 0;
};

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

void check_hparams(const WhisperHparams& h, const Reader& reader) {
  auto positive = [&](std::int32_t value, const char* name, std::int32_t max) {
    if (value <= 0 || value > max) reader.fail(std::string("implausible ") + name + " = " + std::to_string(value));
  };
  positive(h.n_vocab, "n_vocab", 1 << 20);
  positive(h.n_audio_ctx, "n_audio_ctx", 1 << 16);
  positive(h.n_audio_state, "n_audio_state", 1 << 16);
  positive(h.n_audio_head, "n_audio_head", 1024);
  positive(h.n_audio_layer, "n_audio_layer", 1024);
  positive(h.n_text_ctx, "n_text_ctx", 1 << 16);
  positive(h.n_text_state, "n_text_state", 1 << 16);
  positive(h.n_text_head, "n_text_head", 1024);
  positive(h.n_text_layer, "n_text_layer", 1024);
  positive(h.n_mels, "n_mels", 1024);
  if (h.n_text_state != h.n_audio_state) reader.fail("n_text_state differs from n_audio_state");
  if (h.n_audio_state % h.n_audio_head || h.n_text_state % h.n_text_head) {
    reader.fail("the state width is not a multiple of the head count");
  }
  if (h.ftype < 0 || !known_ftype(h.ftype % kQuantVersionFactor)) {
    reader.fail("unknown ftype " + std::to_string(h.ftype));
  }
}

// Deterministic pseudo-random numbers (xorshift64*): the same seed gives the same file.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float uniform(float scale) {  // in [-scale, scale)
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    const auto bits = static_cast<std::uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 40);  // 24 bits
    return (static_cast<float>(bits) / 16777216.0f * 2.0f - 1.0f) * scale;
  }

 private:
  std::uint64_t state_;
};

// IEEE half from float, round to nearest; values below the normal range become zero.
std::uint16_t to_half(float value) {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const int exponent = static_cast<int>((bits >> 23) & 0xFF) - 127 + 15;
  if (exponent <= 0) return sign;
  if (exponent >= 31) return static_cast<std::uint16_t>(sign | 0x7C00u);
  std::uint32_t half = (static_cast<std::uint32_t>(exponent) << 10) | ((bits >> 13) & 0x3FFu);
  if (bits & 0x1000u) ++half;  // round; a carry into the exponent is still correct
  return static_cast<std::uint16_t>(sign | half);
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The value a fresh tensor gets: layer-norm gains 1, biases 0, everything else small noise.
enum class Fill { kOnes, kZeros, kNoise };
Fill fill_for(const std::string& name) {
  if (ends_with(name, "ln.weight") || ends_with(name, "ln_post.weight") || ends_with(name, "_ln.weight")) {
    return Fill::kOnes;
  }
  if (ends_with(name, ".bias")) return Fill::kZeros;
  return Fill::kNoise;
}

}  // namespace

std::optional<WhisperHparams> whisper_hparams_for_size(const std::string& size) {
  struct Shape {
    std::int32_t state, heads, audio_layers, text_layers, mels, vocab;
  };
  static const std::map<std::string, Shape> shapes = {
      {"tiny", {384, 6, 4, 4, 80, 51865}},           {"base", {512, 8, 6, 6, 80, 51865}},
      {"small", {768, 12, 12, 12, 80, 51865}},       {"medium", {1024, 16, 24, 24, 80, 51865}},
      {"large-v3", {1280, 20, 32, 32, 128, 51866}},  {"large-v3-turbo", {1280, 20, 32, 4, 128, 51866}},
  };
  const auto found = shapes.find(size);
  if (found == shapes.end()) return std::nullopt;
  const auto& s = found->second;
  WhisperHparams h;
  h.n_vocab = s.vocab;
  h.n_audio_state = h.n_text_state = s.state;
  h.n_audio_head = h.n_text_head = s.heads;
  h.n_audio_layer = s.audio_layers;
  h.n_text_layer = s.text_layers;
  h.n_mels = s.mels;
  h.ftype = 1;
  return h;
}

WhisperHparams tiny_test_whisper_hparams() {
  WhisperHparams h;
  h.n_audio_state = h.n_text_state = 64;
  h.n_audio_head = h.n_text_head = 2;
  h.n_audio_layer = h.n_text_layer = 1;
  h.ftype = 1;  // f16 like real models; whisper.cpp's CPU convolution needs f16 kernels
  return h;
}

std::vector<WhisperTensorSpec> whisper_tensor_layout(const WhisperHparams& h) {
  const std::int64_t audio = h.n_audio_state;
  const std::int64_t text = h.n_text_state;
  std::vector<WhisperTensorSpec> specs = {
      {"encoder.positional_embedding", {audio, h.n_audio_ctx}, false},
      {"encoder.conv1.weight", {3, h.n_mels, audio}, true},
      {"encoder.conv1.bias", {1, audio}, false},
      {"encoder.conv2.weight", {3, audio, audio}, true},
      {"encoder.conv2.bias", {1, audio}, false},
      {"encoder.ln_post.weight", {audio}, false},
      {"encoder.ln_post.bias", {audio}, false},
      {"decoder.positional_embedding", {text, h.n_text_ctx}, false},
      {"decoder.token_embedding.weight", {text, h.n_vocab}, true},
      {"decoder.ln.weight", {text}, false},
      {"decoder.ln.bias", {text}, false},
  };
  // One transformer block's tensors under `prefix` ("encoder.blocks.0.attn" ...).
  auto attention = [&specs](const std::string& prefix, std::int64_t width) {
    specs.push_back({prefix + "_ln.weight", {width}, false});
    specs.push_back({prefix + "_ln.bias", {width}, false});
    specs.push_back({prefix + ".query.weight", {width, width}, true});
    specs.push_back({prefix + ".query.bias", {width}, false});
    specs.push_back({prefix + ".key.weight", {width, width}, true});
    specs.push_back({prefix + ".value.weight", {width, width}, true});
    specs.push_back({prefix + ".value.bias", {width}, false});
    specs.push_back({prefix + ".out.weight", {width, width}, true});
    specs.push_back({prefix + ".out.bias", {width}, false});
  };
  auto mlp = [&specs](const std::string& block, std::int64_t width) {
    specs.push_back({block + ".mlp_ln.weight", {width}, false});
    specs.push_back({block + ".mlp_ln.bias", {width}, false});
    specs.push_back({block + ".mlp.0.weight", {width, 4 * width}, true});
    specs.push_back({block + ".mlp.0.bias", {4 * width}, false});
    specs.push_back({block + ".mlp.2.weight", {4 * width, width}, true});
    specs.push_back({block + ".mlp.2.bias", {width}, false});
  };
  for (int i = 0; i < h.n_audio_layer; ++i) {
    const auto block = "encoder.blocks." + std::to_string(i);
    mlp(block, audio);
    attention(block + ".attn", audio);
  }
  for (int i = 0; i < h.n_text_layer; ++i) {
    const auto block = "decoder.blocks." + std::to_string(i);
    mlp(block, text);
    attention(block + ".attn", text);
    attention(block + ".cross_attn", text);
  }
  return specs;
}

WhisperModelSummary inspect_whisper_model(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw WhisperModelFileError("whisper model " + path.string() + " does not exist");
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw WhisperModelFileError("whisper model " + path.string() + " is not a regular file");
  }
  Reader reader(path);
  WhisperModelSummary summary;
  summary.file_bytes = reader.size();

  std::uint32_t magic = 0;
  reader.bytes(&magic, sizeof magic, "the file magic");
  if (magic != kGgmlFileMagic) reader.fail("not a whisper.cpp ggml model (bad magic)");

  auto& h = summary.hparams;
  for (auto* field : {&h.n_vocab, &h.n_audio_ctx, &h.n_audio_state, &h.n_audio_head, &h.n_audio_layer,
                      &h.n_text_ctx, &h.n_text_state, &h.n_text_head, &h.n_text_layer, &h.n_mels, &h.ftype}) {
    *field = reader.int32("the header");
  }
  check_hparams(h, reader);

  const auto filter_mels = reader.int32("the mel filter header");
  const auto filter_bins = reader.int32("the mel filter header");
  if (filter_mels <= 0 || filter_mels > 1024 || filter_bins <= 0 || filter_bins > 4096) {
    reader.fail("implausible mel filter size " + std::to_string(filter_mels) + " x " + std::to_string(filter_bins));
  }
  reader.skip(static_cast<std::uintmax_t>(filter_mels) * static_cast<std::uintmax_t>(filter_bins) * sizeof(float),
              "the mel filters");

  summary.vocab_words = reader.int32("the vocabulary size");
  if (summary.vocab_words < 0 || summary.vocab_words > h.n_vocab) {
    reader.fail("vocabulary of " + std::to_string(summary.vocab_words) + " words for n_vocab " +
                std::to_string(h.n_vocab));
  }
  for (std::int32_t i = 0; i < summary.vocab_words; ++i) {
    const auto length = reader.int32("a vocabulary word");
    if (length < 0 || length > 1024) reader.fail("implausible length " + std::to_string(length) + " of word " + std::to_string(i));
    reader.skip(static_cast<std::uintmax_t>(length), "a vocabulary word");
  }

  std::map<std::string, const WhisperTensorSpec*> expected;
  const auto layout = whisper_tensor_layout(h);
  for (const auto& spec : layout) expected[spec.name] = &spec;
  std::set<std::string> seen;
  while (!reader.at_end()) {
    const auto dims = reader.int32("a tensor header");
    const auto name_length = reader.int32("a tensor header");
    const auto type = reader.int32("a tensor header");
    if (dims < 1 || dims > 4) reader.fail("tensor with " + std::to_string(dims) + " dimensions");
    if (name_length < 1 || name_length > 256) reader.fail("tensor name of " + std::to_string(name_length) + " bytes");
    const auto found_type = tensor_types().find(type);
    if (found_type == tensor_types().end()) reader.fail("unsupported tensor type " + std::to_string(type));
    std::vector<std::int64_t> shape;
    std::int64_t elements = 1;
    for (int d = 0; d < dims; ++d) {
      const auto extent = reader.int32("a tensor shape");
      if (extent <= 0) reader.fail("tensor extent " + std::to_string(extent));
      shape.push_back(extent);
      elements *= extent;
    }
    std::string name(static_cast<std::size_t>(name_length), '\0');
    reader.bytes(name.data(), name.size(), "a tensor name");
    const auto spec = expected.find(name);
    if (spec == expected.end()) reader.fail("unknown tensor '" + name + "'");
    if (!seen.insert(name).second) reader.fail("tensor '" + name + "' appears twice");
    while (shape.size() < spec->second->shape.size()) shape.push_back(1);
    while (shape.size() > spec->second->shape.size() && shape.back() == 1) shape.pop_back();
    if (shape != spec->second->shape) {
      reader.fail("tensor '" + name + "' has shape " + shape_text(shape) + ", expected " +
                  shape_text(spec->second->shape));
    }
    const auto [block, block_bytes] = found_type->second;
    if (shape[0] % block) reader.fail("tensor '" + name + "' rows do not fill whole quantization blocks");
    reader.skip(static_cast<std::uintmax_t>(elements / block * block_bytes), ("the data of '" + name + "'").c_str());
    ++summary.tensors;
  }
  if (seen.size() != layout.size()) {
    for (const auto& spec : layout) {
      if (!seen.count(spec.name)) {
        reader.fail("truncated or incomplete: " + std::to_string(layout.size() - seen.size()) + " of " +
                    std::to_string(layout.size()) + " tensors missing, the first '" + spec.name + "'");
      }
    }
  }
  return summary;
}

void write_random_whisper_model(const std::filesystem::path& path, const WhisperHparams& h, std::uint64_t seed) {
  if (h.ftype != 0 && h.ftype != 1) throw WhisperModelFileError("write_random_whisper_model: ftype must be 0 or 1");
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw WhisperModelFileError("cannot write " + path.string());
  auto put_i32 = [&out](std::int32_t value) { out.write(reinterpret_cast<const char*>(&value), sizeof value); };
  auto put_u32 = [&out](std::uint32_t value) { out.write(reinterpret_cast<const char*>(&value), sizeof value); };

  put_u32(kGgmlFileMagic);
  for (const auto value : {h.n_vocab, h.n_audio_ctx, h.n_audio_state, h.n_audio_head, h.n_audio_layer, h.n_text_ctx,
                           h.n_text_state, h.n_text_head, h.n_text_layer, h.n_mels, h.ftype}) {
    put_i32(value);
  }

  // Triangular mel filters over the 201 FFT bins, like the real ones in shape if not in scale.
  put_i32(h.n_mels);
  put_i32(kMelFftBins);
  std::vector<float> filters(static_cast<std::size_t>(h.n_mels) * kMelFftBins, 0.0f);
  for (int m = 0; m < h.n_mels; ++m) {
    const double centre = (m + 1.0) * (kMelFftBins - 1) / (h.n_mels + 1.0);
    const double width = std::max(1.0, (kMelFftBins - 1.0) / (h.n_mels + 1.0));
    for (int bin = 0; bin < kMelFftBins; ++bin) {
      filters[static_cast<std::size_t>(m) * kMelFftBins + static_cast<std::size_t>(bin)] =
          static_cast<float>(std::max(0.0, 1.0 - std::abs(bin - centre) / width));
    }
  }
  out.write(reinterpret_cast<const char*>(filters.data()), static_cast<std::streamsize>(filters.size() * sizeof(float)));

  const std::int32_t words = std::min(h.n_vocab, kFirstSpecialToken);
  put_i32(words);
  static constexpr std::array<const char*, 8> kOnsets = {"k", "t", "m", "s", "l", "n", "r", "d"};
  static constexpr std::array<const char*, 5> kVowels = {"a", "e", "i", "o", "u"};
  for (std::int32_t id = 0; id < words; ++id) {
    std::string word;
    if (id < 256) {
      word.assign(1, static_cast<char>(id));
    } else {
      if (id % 3 == 0) word += ' ';
      word += kOnsets[static_cast<std::size_t>(id) % kOnsets.size()];
      word += kVowels[static_cast<std::size_t>(id / 8) % kVowels.size()];
    }
    put_u32(static_cast<std::uint32_t>(word.size()));
    out.write(word.data(), static_cast<std::streamsize>(word.size()));
  }

  Random random(seed);
  std::vector<char> data;
  for (const auto& spec : whisper_tensor_layout(h)) {
    const bool half = spec.in_weight_type && h.ftype == 1;
    std::int64_t elements = 1;
    for (const auto extent : spec.shape) elements *= extent;
    put_i32(static_cast<std::int32_t>(spec.shape.size()));
    put_i32(static_cast<std::int32_t>(spec.name.size()));
    put_i32(half ? 1 : 0);
    for (const auto extent : spec.shape) put_i32(static_cast<std::int32_t>(extent));
    out.write(spec.name.data(), static_cast<std::streamsize>(spec.name.size()));

    const auto fill = fill_for(spec.name);
    // Noise scaled like a trained layer's fan-in keeps activations in range.
    const auto fan_in = spec.shape.size() == 3 ? spec.shape[0] * spec.shape[1] : spec.shape[0];
    const float scale = 1.0f / std::sqrt(static_cast<float>(fan_in));
    data.resize(static_cast<std::size_t>(elements) * (half ? 2u : 4u));
    for (std::int64_t i = 0; i < elements; ++i) {
      const float value = fill == Fill::kOnes ? 1.0f : fill == Fill::kZeros ? 0.0f : random.uniform(scale);
      if (half) {
        const auto bits = to_half(value);
        std::memcpy(data.data() + i * 2, &bits, 2);
      } else {
        std::memcpy(data.data() + i * 4, &value, 4);
      }
    }
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  out.close();
  if (!out) throw WhisperModelFileError("failed writing " + path.string());
}

}  // namespace livedub::sts
