#include "sts/pocket_tts.hpp"

#include <sentencepiece_processor.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <random>

#include "livedub/audio.hpp"

namespace livedub::sts {
namespace fs = std::filesystem;

std::string pocket_prepare_text(const std::string& text) {
  std::string spaced;
  spaced.reserve(text.size());
  bool gap = false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    // Control characters (and every kind of whitespace) are gaps between words, never text.
    if (u < 0x20 || u == 0x7F || c == ' ') {
      gap = !spaced.empty();
      continue;
    }
    if (gap) spaced += ' ';
    gap = false;
    spaced += c;
  }
  if (spaced.empty()) return spaced;
  // Upper-case the first letter (any script ICU knows), as the model's training text starts.
  std::int32_t i = 0;
  UChar32 first = 0;
  U8_NEXT(reinterpret_cast<const std::uint8_t*>(spaced.data()), i, static_cast<std::int32_t>(spaced.size()), first);
  if (first >= 0) {
    const UChar32 upper = u_toupper(first);
    if (upper != first) {
      char buffer[U8_MAX_LENGTH];
      std::int32_t n = 0;
      UBool error = false;
      U8_APPEND(reinterpret_cast<std::uint8_t*>(buffer), n, U8_MAX_LENGTH, upper, error);
      if (!error) spaced = std::string(buffer, static_cast<std::size_t>(n)) + spaced.substr(static_cast<std::size_t>(i));
    }
  }
  // A sentence that ends in a letter or digit gets a full stop (the model ends speech there).
  std::int32_t end = static_cast<std::int32_t>(spaced.size());
  UChar32 last = 0;
  U8_PREV(reinterpret_cast<const std::uint8_t*>(spaced.data()), 0, end, last);
  if (last >= 0 && u_isalnum(last)) spaced += '.';
  return spaced;
}

std::vector<std::string> pocket_text_chunks(const std::string& prepared,
                                            const std::function<std::size_t(const std::string&)>& count_tokens,
                                            std::size_t max_tokens) {
  // Sentences: a terminator followed by a space (or the end) closes one.
  std::vector<std::string> sentences;
  std::string current;
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    current += prepared[i];
    const bool terminator = std::string_view(".!?;").find(prepared[i]) != std::string_view::npos ||
                            (i >= 2 && prepared.compare(i - 2, 3, "\u3002") == 0);  // 。
    if (terminator && (i + 1 == prepared.size() || prepared[i + 1] == ' ')) {
      sentences.push_back(current);
      current.clear();
      if (i + 1 < prepared.size()) ++i;  // the space
    }
  }
  if (!current.empty()) sentences.push_back(current);
  std::vector<std::string> chunks;
  for (const auto& sentence : sentences) {
    if (count_tokens(sentence) <= max_tokens) {
      chunks.push_back(sentence);
      continue;
    }
    std::string chunk;
    std::size_t start = 0;
    while (start < sentence.size()) {
      auto space = sentence.find(' ', start);
      if (space == std::string::npos) space = sentence.size();
      const auto word = sentence.substr(start, space - start);
      const auto joined = chunk.empty() ? word : chunk + ' ' + word;
      if (!chunk.empty() && count_tokens(joined) > max_tokens) {
        chunks.push_back(chunk);
        chunk = word;
      } else {
        chunk = joined;
      }
      start = space + 1;
    }
    if (!chunk.empty()) chunks.push_back(chunk);
  }
  return chunks;
}

int pocket_max_frames(std::size_t tokens) {
  const double seconds = static_cast<double>(tokens) / 3.0 + 2.0;
  return static_cast<int>(std::ceil(seconds * kPocketSampleRate / kPocketFrameSamples));
}

std::vector<FlowStep> pocket_flow_schedule(int steps) {
  std::vector<FlowStep> out;
  const int n = std::max(steps, 1);
  for (int i = 0; i < n; ++i) {
    out.push_back({static_cast<float>(i) / static_cast<float>(n), static_cast<float>(i + 1) / static_cast<float>(n)});
  }
  return out;
}

std::vector<float> pocket_reference_audio(std::span<const std::int16_t> pcm, int sample_rate) {
  if (sample_rate <= 0) return {};
  const auto at_24k = sample_rate == kPocketSampleRate ? std::vector<std::int16_t>(pcm.begin(), pcm.end())
                                                       : resample_mono(pcm, sample_rate, kPocketSampleRate);
  const std::size_t frames = at_24k.size() / kPocketFrameSamples + (at_24k.size() % kPocketFrameSamples ? 1 : 0);
  if (at_24k.size() < static_cast<std::size_t>(kPocketFrameSamples)) return {};
  std::vector<float> out(frames * kPocketFrameSamples, 0.0f);
  for (std::size_t i = 0; i < at_24k.size(); ++i) out[i] = static_cast<float>(at_24k[i]) / 32768.0f;
  return out;
}

namespace {

thread_local PocketTts::Stats g_last_stats;

// A graph whose state_N inputs are fed from its own out_state_N outputs.
class StatefulGraph {
 public:
  StatefulGraph(const fs::path& file, const onnx::SessionOptions& options, const std::vector<std::string>& inputs,
                const std::vector<std::string>& outputs)
      : file_(file) {
    try {
      session_ = std::make_unique<onnx::Session>(file, options);
    } catch (const onnx::OnnxError& e) {
      throw VoiceModelError(file.string() + ": " + e.what());
    }
    for (const auto& name : inputs) input_index_[name] = index_of(session_->input_names(), name, "input");
    for (const auto& name : outputs) output_index_[name] = index_of(session_->output_names(), name, "output");
    const auto& ins = session_->inputs();
    for (std::size_t i = 0; i < ins.size(); ++i) {
      if (ins[i].name.rfind("state_", 0) != 0) {
        if (!input_index_.contains(ins[i].name)) {
          throw VoiceModelError(file.string() + ": unexpected input '" + ins[i].name + "' (not a Pocket TTS graph)");
        }
        continue;
      }
      if (ins[i].type == onnx::ElementType::kOther) {
        throw VoiceModelError(file.string() + ": state input '" + ins[i].name + "' has an unsupported element type");
      }
      const auto out = "out_" + ins[i].name;
      const auto j = index_of(session_->output_names(), out, "output");
      state_pairs_.push_back({i, j});
    }
    for (const auto& name : session_->output_names()) {
      if (name.rfind("out_state_", 0) != 0) continue;
      if (std::none_of(ins.begin(), ins.end(), [&](const onnx::TensorInfo& t) { return "out_" + t.name == name; })) {
        throw VoiceModelError(file.string() + ": output '" + name + "' has no state input to feed");
      }
    }
  }

  const onnx::Session& session() const { return *session_; }
  const fs::path& file() const { return file_; }
  std::size_t output(const std::string& name) const { return output_index_.at(name); }

  // One call's states, zero-initialised (dynamic dimensions empty).
  std::vector<onnx::Tensor> initial_states() const {
    std::vector<onnx::Tensor> states;
    for (const auto& [in, out] : state_pairs_) {
      (void)out;
      auto shape = session_->inputs()[in].shape;
      for (auto& d : shape) d = std::max<std::int64_t>(d, 0);
      states.push_back(onnx::Tensor::zeros(session_->inputs()[in].type, shape));
    }
    return states;
  }

  // Runs with the named inputs and `states`, which are replaced by the states it returns.
  std::vector<onnx::Tensor> run(const std::map<std::string, const onnx::Tensor*>& named,
                                std::vector<onnx::Tensor>& states) const {
    std::vector<const onnx::Tensor*> inputs(session_->input_names().size(), nullptr);
    for (const auto& [name, tensor] : named) inputs[input_index_.at(name)] = tensor;
    for (std::size_t k = 0; k < state_pairs_.size(); ++k) inputs[state_pairs_[k].first] = &states[k];
    std::vector<onnx::Tensor> outputs;
    try {
      outputs = session_->run(inputs);
    } catch (const onnx::OnnxError& e) {
      throw TtsError(file_.filename().string() + ": " + e.what());
    }
    for (std::size_t k = 0; k < state_pairs_.size(); ++k) states[k] = std::move(outputs[state_pairs_[k].second]);
    return outputs;
  }

 private:
  std::size_t index_of(const std::vector<std::string>& names, const std::string& name, const char* what) const {
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      throw VoiceModelError(file_.string() + ": no " + what + " '" + name + "' (not a Pocket TTS export)");
    }
    return static_cast<std::size_t>(it - names.begin());
  }

  fs::path file_;
  std::unique_ptr<onnx::Session> session_;
  std::map<std::string, std::size_t> input_index_;
  std::map<std::string, std::size_t> output_index_;
  std::vector<std::pair<std::size_t, std::size_t>> state_pairs_;  // (input, output)
};

std::int64_t last_dim(const onnx::Session& session, bool input, const std::string& name) {
  const auto& infos = input ? session.inputs() : session.outputs();
  for (const auto& info : infos) {
    if (info.name == name && !info.shape.empty()) return info.shape.back();
  }
  return -1;
}

}  // namespace

struct PocketTts::Impl {
  PocketOptions options;
  sentencepiece::SentencePieceProcessor tokenizer;
  std::unique_ptr<StatefulGraph> conditioner, encoder, main, flow, decoder;
  std::int64_t dim = 0;     // conditioning width (1024 in the real model)
  std::int64_t latent = 0;  // latent frame width (32)
  std::string device = "CPU";

  // One chunk of text in `voice`: appends up to `max_frames` latent frames; `ended` says whether
  // end-of-speech (not the cap) ended it. Returns the frames appended.
  int generate(std::vector<std::int64_t> ids, const onnx::Tensor& voice, std::mt19937_64& rng, int max_frames,
               std::vector<float>& latents, bool& ended) const {
    auto tokens = onnx::Tensor::int64s(ids, {1, static_cast<std::int64_t>(ids.size())});
    std::vector<onnx::Tensor> none;
    auto text_out = conditioner->run({{"token_ids", &tokens}}, none);
    const auto& text_embeddings = text_out[conditioner->output("embeddings")];

    // The voice's frames, then the text, go into the flow LM's cache; then one frame per step.
    auto states = main->initial_states();
    auto no_frames = onnx::Tensor::zeros(onnx::ElementType::kFloat, {1, 0, latent});
    auto no_text = onnx::Tensor::zeros(onnx::ElementType::kFloat, {1, 0, dim});
    main->run({{"sequence", &no_frames}, {"text_embeddings", &voice}}, states);
    main->run({{"sequence", &no_frames}, {"text_embeddings", &text_embeddings}}, states);

    const auto width = static_cast<std::size_t>(latent);
    std::vector<float> current(width, std::numeric_limits<float>::quiet_NaN());  // start of speech
    const float temperature = std::max(options.temperature, 0.0f);
    std::normal_distribution<float> noise(0.0f, std::sqrt(temperature));
    const auto schedule = pocket_flow_schedule(options.flow_steps);
    std::vector<std::array<float, 1>> s_values(schedule.size()), t_values(schedule.size());
    std::optional<int> eos_step;
    int frames = 0;
    for (int step = 0; step < max_frames; ++step) {
      auto sequence = onnx::Tensor::floats(current, {1, 1, latent});
      auto out = main->run({{"sequence", &sequence}, {"text_embeddings", &no_text}}, states);
      const auto eos = out[main->output("eos_logit")].float_data();
      if (!eos.empty() && eos[0] > options.eos_threshold && !eos_step) eos_step = step;
      if (eos_step && step >= *eos_step + options.frames_after_eos) break;
      const auto& conditioning = out[main->output("conditioning")];
      std::vector<float> x(width);
      for (auto& v : x) v = temperature > 0 ? noise(rng) : 0.0f;
      for (std::size_t k = 0; k < schedule.size(); ++k) {
        s_values[k][0] = schedule[k].s;
        t_values[k][0] = schedule[k].t;
        auto x_tensor = onnx::Tensor::floats(x, {1, latent});
        auto s_tensor = onnx::Tensor::floats(s_values[k], {1, 1});
        auto t_tensor = onnx::Tensor::floats(t_values[k], {1, 1});
        auto flow_out = flow->run({{"c", &conditioning}, {"s", &s_tensor}, {"t", &t_tensor}, {"x", &x_tensor}}, none);
        const auto velocity = flow_out[flow->output("flow_dir")].float_data();
        if (velocity.size() != width) throw TtsError("flow_lm_flow returned a frame of an unexpected width");
        const float dt = schedule[k].t - schedule[k].s;
        for (std::size_t i = 0; i < width; ++i) x[i] += velocity[i] * dt;
      }
      latents.insert(latents.end(), x.begin(), x.end());
      current = std::move(x);
      ++frames;
    }
    ended = eos_step.has_value();
    return frames;
  }
};

PocketTts::PocketTts(const fs::path& dir, const PocketOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  const auto tokenizer_file = dir / "tokenizer.model";
  if (!fs::is_regular_file(tokenizer_file)) {
    throw VoiceModelError(tokenizer_file.string() + ": missing (Pocket TTS's SentencePiece tokeniser)");
  }
  if (const auto status = impl_->tokenizer.Load(tokenizer_file.string()); !status.ok()) {
    throw VoiceModelError(tokenizer_file.string() + ": not a SentencePiece model (" + status.ToString() + ")");
  }
  onnx::SessionOptions session_options;
  session_options.intra_op_threads = std::max(1, options.threads);
  session_options.device = options.device;
  const auto graph = [&](const char* name, std::vector<std::string> inputs, std::vector<std::string> outputs) {
    const auto file = dir / "onnx" / (std::string(name) + ".onnx");
    if (!fs::is_regular_file(file)) throw VoiceModelError(file.string() + ": missing (one of Pocket TTS's five graphs)");
    return std::make_unique<StatefulGraph>(file, session_options, inputs, outputs);
  };
  impl_->conditioner = graph("text_conditioner", {"token_ids"}, {"embeddings"});
  impl_->encoder = graph("mimi_encoder", {"audio"}, {"latents"});
  impl_->main = graph("flow_lm_main", {"sequence", "text_embeddings"}, {"conditioning", "eos_logit"});
  impl_->flow = graph("flow_lm_flow", {"c", "s", "t", "x"}, {"flow_dir"});
  impl_->decoder = graph("mimi_decoder", {"latent"}, {"audio_frame"});
  impl_->device = impl_->main->session().device();

  // The widths every graph must agree on, from their declarations.
  const auto& main_session = impl_->main->session();
  impl_->dim = last_dim(main_session, true, "text_embeddings");
  impl_->latent = last_dim(main_session, true, "sequence");
  if (impl_->dim <= 0 || impl_->latent <= 0) {
    throw VoiceModelError(impl_->main->file().string() + ": sequence and text_embeddings need a fixed last dimension");
  }
  const auto expect = [&](const StatefulGraph& g, bool input, const std::string& name, std::int64_t want) {
    const auto got = last_dim(g.session(), input, name);
    if (got > 0 && got != want) {
      throw VoiceModelError(g.file().string() + ": '" + name + "' is " + std::to_string(got) + " wide, flow_lm_main takes " +
                            std::to_string(want) + " (files from different models?)");
    }
  };
  expect(*impl_->conditioner, false, "embeddings", impl_->dim);
  expect(*impl_->encoder, false, "latents", impl_->dim);
  expect(*impl_->flow, true, "c", impl_->dim);
  expect(*impl_->flow, true, "x", impl_->latent);
  expect(*impl_->decoder, true, "latent", impl_->latent);
  if (impl_->tokenizer.GetPieceSize() <= 0) throw VoiceModelError(tokenizer_file.string() + ": an empty vocabulary");
}

PocketTts::~PocketTts() = default;

const std::string& PocketTts::device() const { return impl_->device; }

PocketTts::Stats PocketTts::last_stats() { return g_last_stats; }

PocketVoice PocketTts::encode_voice(std::span<const float> audio_24k) const {
  if (audio_24k.size() < static_cast<std::size_t>(kPocketFrameSamples)) {
    throw TtsError("a reference clip needs at least one frame (80 ms at 24 kHz)");
  }
  std::vector<float> audio(audio_24k.begin(), audio_24k.end());
  audio.resize((audio.size() + kPocketFrameSamples - 1) / kPocketFrameSamples * kPocketFrameSamples, 0.0f);
  auto input = onnx::Tensor::floats(audio, {1, 1, static_cast<std::int64_t>(audio.size())});
  std::vector<onnx::Tensor> no_state;
  auto out = impl_->encoder->run({{"audio", &input}}, no_state);
  const auto& latents = out[impl_->encoder->output("latents")];
  const auto shape = latents.shape();
  if (shape.size() != 3 || shape[2] != impl_->dim) throw TtsError("mimi_encoder returned latents of an unexpected shape");
  const auto data = latents.float_data();
  return PocketVoice{std::vector<float>(data.begin(), data.end()), shape[1], shape[2]};
}

std::vector<float> PocketTts::synthesize(const std::string& text, const PocketVoice& voice, std::uint64_t seed,
                                         double max_seconds) const {
  g_last_stats = {};
  const auto prepared = pocket_prepare_text(text);
  if (prepared.empty()) return {};
  if (voice.empty() || voice.dim != impl_->dim) throw TtsError("Pocket TTS needs a voice encoded by this model");
  const auto encode = [&](const std::string& piece) {
    std::vector<int> ids;
    impl_->tokenizer.Encode(piece, &ids);
    return ids;
  };
  const auto chunks = pocket_text_chunks(
      prepared, [&](const std::string& piece) { return encode(piece).size(); }, kPocketMaxTokensPerChunk);
  const double cap_s = max_seconds > 0 ? std::min(max_seconds, impl_->options.max_seconds) : impl_->options.max_seconds;
  const int frames_cap = static_cast<int>(std::lround(cap_s * kPocketSampleRate / kPocketFrameSamples));

  // The voice's frames, as the flow LM's first input of every chunk (copied once per call).
  std::vector<float> voice_frames = voice.frames;
  const auto voice_tensor = onnx::Tensor::floats(voice_frames, {1, voice.count, voice.dim});
  std::vector<float> latents;
  std::mt19937_64 rng(seed);
  int frames = 0;
  bool all_ended = !chunks.empty();
  for (const auto& chunk : chunks) {
    if (frames >= frames_cap) {
      all_ended = false;
      break;
    }
    const auto pieces = encode(chunk);
    if (pieces.empty()) continue;
    bool ended = false;
    frames += impl_->generate(std::vector<std::int64_t>(pieces.begin(), pieces.end()), voice_tensor, rng,
                              std::min(pocket_max_frames(pieces.size()), frames_cap - frames), latents, ended);
    all_ended = all_ended && ended;
  }
  g_last_stats = {frames, frames > 0 && all_ended};
  const auto latent_width = static_cast<std::size_t>(impl_->latent);

  // The codec decoder streams: chunks of frames, its states carried between them.
  constexpr int kChunkFrames = 15;
  auto decoder_states = impl_->decoder->initial_states();
  std::vector<float> audio;
  audio.reserve(static_cast<std::size_t>(frames) * kPocketFrameSamples);
  for (int first = 0; first < frames; first += kChunkFrames) {
    const int count = std::min(kChunkFrames, frames - first);
    std::vector<float> chunk(latents.begin() + static_cast<std::ptrdiff_t>(first * latent_width),
                             latents.begin() + static_cast<std::ptrdiff_t>((first + count) * latent_width));
    auto latent = onnx::Tensor::floats(chunk, {1, count, impl_->latent});
    auto out = impl_->decoder->run({{"latent", &latent}}, decoder_states);
    const auto samples = out[impl_->decoder->output("audio_frame")].float_data();
    audio.insert(audio.end(), samples.begin(), samples.end());
  }
  return audio;
}

}  // namespace livedub::sts
