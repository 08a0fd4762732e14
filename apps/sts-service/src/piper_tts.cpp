#include "sts/piper_tts.hpp"

#include <algorithm>
#include <sstream>

#include "livedub/files.hpp"
#include "livedub/logging.hpp"
#include "livedub/onnx.hpp"
#include "sts/espeak_tts.hpp"

namespace livedub::sts {
namespace fs = std::filesystem;

namespace {
constexpr double kSentenceSilenceS = 0.2;  // Piper's own default between sentences

std::string read_file(const fs::path& file) {
  auto text = read_whole_file(file);
  if (!text) throw VoiceModelError(file.string() + ": missing or unreadable (each voice is NAME.onnx + NAME.onnx.json)");
  return std::move(*text);
}

// Control characters (other than whitespace) are not text to speak; espeak-ng gets plain text,
// never SSML, so markup in a translation is read as the characters it is.
std::string speakable(const std::string& text) {
  std::string out = text;
  for (auto& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = ' ';
  }
  return out;
}
}  // namespace

struct PiperSynthesizer::Voice {
  std::string name;
  fs::path onnx_file;
  PiperVoiceConfig config;
  std::unique_ptr<onnx::Session> session;
  bool takes_speaker = false;

  std::vector<float> run(std::vector<std::int64_t> ids, float length_scale) const {
    std::int64_t length[1] = {static_cast<std::int64_t>(ids.size())};
    float scales[3] = {config.noise_scale, length_scale, config.noise_w};
    std::int64_t speaker[1] = {0};
    auto input = onnx::Tensor::int64s(ids, {1, length[0]});
    auto lengths = onnx::Tensor::int64s(std::span<std::int64_t>(length, 1), {1});
    auto scale_tensor = onnx::Tensor::floats(std::span<float>(scales, 3), {3});
    auto sid = onnx::Tensor::int64s(std::span<std::int64_t>(speaker, 1), {1});
    std::vector<const onnx::Tensor*> inputs;
    for (const auto& n : session->input_names()) {
      if (n == "input") {
        inputs.push_back(&input);
      } else if (n == "input_lengths") {
        inputs.push_back(&lengths);
      } else if (n == "scales") {
        inputs.push_back(&scale_tensor);
      } else {
        inputs.push_back(&sid);
      }
    }
    try {
      auto out = session->run(inputs);
      const auto data = out.front().float_data();
      return {data.begin(), data.end()};
    } catch (const onnx::OnnxError& e) {
      throw TtsError(onnx_file.string() + ": " + e.what());
    }
  }
};

std::vector<fs::path> discover_piper_voices(const fs::path& model_dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  const auto root = model_dir / "tts" / "piper";
  if (model_dir.empty() || !fs::is_directory(root, ec)) return out;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.path().extension() == ".onnx" && !entry.path().filename().string().starts_with(".")) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, std::string> parse_voice_choices(const std::string& spec) {
  std::map<std::string, std::string> out;
  std::stringstream in(spec);
  std::string entry;
  while (std::getline(in, entry, ',')) {
    entry.erase(0, entry.find_first_not_of(' '));
    entry.erase(entry.find_last_not_of(' ') + 1);
    if (entry.empty()) continue;
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size() || entry.find_first_of("/\\") != std::string::npos) {
      throw TtsError("'" + entry + "' is not LANG=VOICE (e.g. es=es_ES-davefx-medium)");
    }
    out[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return out;
}

PiperSynthesizer::PiperSynthesizer(const fs::path& model_dir, const PiperOptions& options) {
  std::map<std::string, fs::path> chosen;  // language -> .onnx
  for (const auto& onnx_file : discover_piper_voices(model_dir)) {
    const auto json_file = fs::path(onnx_file.string() + ".json");
    const auto config = parse_piper_config(read_file(json_file), json_file.string());
    const auto wanted = options.voices.find(config.language);
    const auto name = onnx_file.stem().string();
    if (wanted != options.voices.end() ? wanted->second == name : !chosen.contains(config.language)) {
      chosen[config.language] = onnx_file;
    }
  }
  for (const auto& [language, name] : options.voices) {
    const auto it = chosen.find(language);
    if (it == chosen.end() || it->second.stem().string() != name) {
      throw VoiceModelError("LIVEDUB_STS_TTS_VOICES: no voice " + name + " for '" + language + "' under " +
                            (model_dir / "tts" / "piper").string() + " (scripts/fetch-voice " + name + ")");
    }
  }
  onnx::SessionOptions session_options;
  session_options.intra_op_threads = options.threads;
  for (const auto& [language, onnx_file] : chosen) {
    auto voice = std::make_shared<Voice>();
    voice->name = onnx_file.stem().string();
    voice->onnx_file = onnx_file;
    const auto json_file = fs::path(onnx_file.string() + ".json");
    voice->config = parse_piper_config(read_file(json_file), json_file.string());
    try {
      voice->session = std::make_unique<onnx::Session>(onnx_file, session_options);
    } catch (const onnx::OnnxError& e) {
      throw VoiceModelError(onnx_file.string() + ": not a loadable ONNX model (" + e.what() + ")");
    }
    const auto& inputs = voice->session->input_names();
    const auto has = [&](const char* n) { return std::find(inputs.begin(), inputs.end(), n) != inputs.end(); };
    if (!has("input") || !has("input_lengths") || !has("scales") || inputs.size() > 4 ||
        (inputs.size() == 4 && !has("sid")) || voice->session->output_names().empty()) {
      throw VoiceModelError(onnx_file.string() + ": not a Piper voice (inputs input, input_lengths, scales[, sid])");
    }
    voice->takes_speaker = has("sid");
    if (voice->takes_speaker != (voice->config.num_speakers > 1)) {
      throw VoiceModelError(json_file.string() + ": num_speakers " + std::to_string(voice->config.num_speakers) +
                            " does not match " + onnx_file.filename().string() +
                            (voice->takes_speaker ? " (it takes a speaker id)" : " (it takes no speaker id)"));
    }
    // Every symbol of the map once: an id the model's embedding lacks fails here, not mid-stream.
    std::vector<std::int64_t> ids;
    for (const auto& [symbol, symbol_ids] : voice->config.phoneme_id_map) ids.insert(ids.end(), symbol_ids.begin(), symbol_ids.end());
    try {
      if (voice->run(ids, voice->config.length_scale).empty()) throw TtsError("it produced no audio");
    } catch (const TtsError& e) {
      throw VoiceModelError(onnx_file.string() + " does not match " + json_file.filename().string() + ": " + e.what());
    }
    logging::write(spdlog::level::info, {}, "voice loaded",
                   {{"engine", kTtsPiper}, {"voice", voice->name}, {"language", language},
                    {"sample_rate", voice->config.sample_rate}, {"device", voice->session->device()}});
    by_language_[language] = std::move(voice);
  }
}

PiperSynthesizer::~PiperSynthesizer() = default;

std::vector<std::string> PiperSynthesizer::languages() const {
  std::vector<std::string> out;
  for (const auto& [language, voice] : by_language_) out.push_back(language);
  return out;
}

std::string PiperSynthesizer::voice_name(const std::string& language) const {
  const auto it = by_language_.find(language);
  return it == by_language_.end() ? std::string() : it->second->name;
}

int PiperSynthesizer::sample_rate(const std::string& language) const {
  const auto it = by_language_.find(language);
  return it == by_language_.end() ? 0 : it->second->config.sample_rate;
}

AudioBuffer PiperSynthesizer::synthesize(const std::string& text, const std::string& language,
                                         const std::string& profile) {
  const auto& voice_profile_used = voice_profile(profile);
  const auto it = by_language_.find(language);
  if (it == by_language_.end()) throw TtsError("no Piper voice for language '" + language + "'");
  const auto& voice = *it->second;
  AudioBuffer audio{{voice.config.sample_rate, 1}, 0, {}};
  const auto clauses = EspeakSynthesizer::shared().phonemize(speakable(text), voice.config.espeak_voice);
  const auto ids = piper_phoneme_ids(clauses, voice.config);
  const float length_scale = piper_length_scale(voice.config, voice_profile_used);
  const auto gap = static_cast<std::size_t>(kSentenceSilenceS * voice.config.sample_rate);
  for (const auto& sentence : ids.sentences) {
    if (!audio.samples.empty()) audio.samples.insert(audio.samples.end(), gap, 0);
    const auto samples = voice.run(sentence, length_scale);
    const auto pcm = normalized_pcm16(samples.data(), samples.size());
    audio.samples.insert(audio.samples.end(), pcm.begin(), pcm.end());
  }
  return audio;
}

}  // namespace livedub::sts
