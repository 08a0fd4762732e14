#include "sts/pico_tts.hpp"

#include <picoapi.h>

#include <algorithm>
#include <cctype>

namespace livedub::sts {
namespace {

// Pico allocates nothing itself: each system gets this much memory for its lingware and one
// engine. en-US, the largest voice, synthesized 3000 characters in 2.5 MB; 4 MiB leaves room.
constexpr std::size_t kPicoMemoryBytes = 4u << 20;

const pico_Char* pico_text(const std::string& s) { return reinterpret_cast<const pico_Char*>(s.c_str()); }

std::string status_message(pico_System system, pico_Status status) {
  pico_Retstring message{};
  pico_getSystemStatusMessage(system, status, message);
  return std::string(message) + " (" + std::to_string(status) + ")";
}

}  // namespace

// One language: its own Pico system (memory, lingware) and engine. Members are released in
// the reverse order Pico requires: engine, voice definition, resources, system.
struct PicoSynthesizer::Voice {
  std::string tag;   // "en-US"
  std::string name;  // "en-US_lh0"
  std::vector<char> memory = std::vector<char>(kPicoMemoryBytes);
  pico_System system = nullptr;
  pico_Resource text_analysis = nullptr;
  pico_Resource signal_generation = nullptr;
  bool voice_defined = false;
  pico_Engine engine = nullptr;
  std::mutex mutex;

  Voice(const std::filesystem::path& ta, const std::filesystem::path& sg, std::string language_tag)
      : tag(std::move(language_tag)) {
    name = sg.stem().string();
    if (name.size() > 3 && name.ends_with("_sg")) name.resize(name.size() - 3);
    try {
      open(ta, sg);
    } catch (...) {
      release();  // a half-built voice: the destructor will not run
      throw;
    }
  }

  ~Voice() { release(); }
  Voice(const Voice&) = delete;
  Voice& operator=(const Voice&) = delete;

  void open(const std::filesystem::path& ta, const std::filesystem::path& sg) {
    if (const auto status = pico_initialize(memory.data(), static_cast<pico_Uint32>(memory.size()), &system);
        status != PICO_OK) {
      throw TtsError("Pico could not initialise for " + tag + " (" + std::to_string(status) + ")");
    }
    load(ta, text_analysis);
    load(sg, signal_generation);
    pico_Retstring ta_name{}, sg_name{};
    pico_getResourceName(system, text_analysis, ta_name);
    pico_getResourceName(system, signal_generation, sg_name);
    const std::string voice = "livedub-" + tag;
    check(pico_createVoiceDefinition(system, pico_text(voice)), "create voice " + voice);
    voice_defined = true;
    check(pico_addResourceToVoiceDefinition(system, pico_text(voice), reinterpret_cast<pico_Char*>(ta_name)),
          "add " + ta.string());
    check(pico_addResourceToVoiceDefinition(system, pico_text(voice), reinterpret_cast<pico_Char*>(sg_name)),
          "add " + sg.string());
    check(pico_newEngine(system, pico_text(voice), &engine), "start the " + tag + " engine");
  }

  void release() {
    if (system == nullptr) return;
    if (engine != nullptr) pico_disposeEngine(system, &engine);
    if (voice_defined) pico_releaseVoiceDefinition(system, pico_text("livedub-" + tag));
    if (signal_generation != nullptr) pico_unloadResource(system, &signal_generation);
    if (text_analysis != nullptr) pico_unloadResource(system, &text_analysis);
    pico_terminate(&system);
    system = nullptr;
  }

  void load(const std::filesystem::path& file, pico_Resource& resource) {
    check(pico_loadResource(system, pico_text(file.string()), &resource), "load " + file.string());
  }
  void check(pico_Status status, const std::string& what) {
    if (status != PICO_OK) throw TtsError("Pico could not " + what + ": " + status_message(system, status));
  }

  std::vector<std::int16_t> speak(const std::string& markup) {
    std::vector<std::int16_t> samples;
    std::lock_guard lock(mutex);
    // The terminating NUL tells Pico the text is complete, so it flushes the last sentence.
    const auto* text = reinterpret_cast<const pico_Char*>(markup.c_str());
    std::size_t left = markup.size() + 1;
    while (left > 0) {
      // Pico takes at most 32767 bytes per call (a 16-bit count).
      const auto chunk = static_cast<pico_Int16>(std::min<std::size_t>(left, 32767));
      pico_Int16 used = 0;
      if (const auto status = pico_putTextUtf8(engine, text, chunk, &used); status != PICO_OK) {
        pico_resetEngine(engine, PICO_RESET_SOFT);
        throw TtsError("Pico rejected the text (" + std::to_string(status) + ")");
      }
      text += used;
      left -= static_cast<std::size_t>(used);
      pico_Status status = PICO_STEP_BUSY;
      while (status == PICO_STEP_BUSY) {
        std::int16_t buffer[1024];
        pico_Int16 bytes = 0, type = 0;
        status = pico_getData(engine, buffer, sizeof buffer, &bytes, &type);
        samples.insert(samples.end(), buffer, buffer + bytes / 2);
      }
      if (status != PICO_STEP_IDLE) {
        pico_resetEngine(engine, PICO_RESET_SOFT);
        throw TtsError("Pico failed to synthesize (" + std::to_string(status) + ")");
      }
    }
    return samples;
  }
};

std::map<std::string, PicoVoiceFiles> pico_voices(const std::filesystem::path& lang_dir) {
  namespace fs = std::filesystem;
  // One pass over the directory: "en-US_ta.bin" and "en-US_lh0_sg.bin" by tag.
  std::map<std::string, fs::path> text_analysis, signal_generation;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(lang_dir, ec)) {
    const auto file = entry.path().filename().string();
    if (file.size() < 12 || file[5] != '_') continue;
    if (file.size() == 12 && file.ends_with("_ta.bin")) text_analysis[file.substr(0, 5)] = entry.path();
    if (file.ends_with("_sg.bin")) signal_generation[file.substr(0, 5)] = entry.path();
  }
  std::map<std::string, std::vector<std::string>> regions;  // "en" -> {"en-GB", "en-US"}
  for (const auto& [tag, path] : text_analysis) {
    if (signal_generation.contains(tag)) regions[tag.substr(0, 2)].push_back(tag);  // sorted: a map's order
  }
  std::map<std::string, PicoVoiceFiles> voices;
  for (const auto& [language, tags] : regions) {
    std::string upper = language;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::string preferred = language == "en" ? "en-US" : language + "-" + upper;
    const auto tag = std::find(tags.begin(), tags.end(), preferred) != tags.end() ? preferred : tags.front();
    voices[language] = {tag, text_analysis[tag], signal_generation[tag]};
  }
  return voices;
}

std::string pico_markup(const std::string& text, const VoiceProfile& profile) {
  std::string escaped;
  escaped.reserve(text.size());
  // Pico has no character references: markup characters become spaces.
  for (char c : text) escaped += (c == '<' || c == '>') ? ' ' : c;
  return "<pitch level=\"" + std::to_string(profile.pico_pitch) + "\"><speed level=\"" +
         std::to_string(profile.pico_speed) + "\">" + escaped + "</speed></pitch>";
}

PicoSynthesizer::PicoSynthesizer(const std::filesystem::path& lang_dir) {
  const auto found = pico_voices(lang_dir);
  if (found.empty()) {
    throw TtsError("no Pico voice in " + lang_dir.string() +
                   " (install libttspico-data from Debian non-free, or set LIVEDUB_STS_TTS_ENGINE=espeak-ng)");
  }
  for (const auto& [language, files] : found) {
    voices_.emplace(language, std::make_unique<Voice>(files.text_analysis, files.signal_generation, files.tag));
  }
}

PicoSynthesizer::~PicoSynthesizer() = default;

std::vector<std::string> PicoSynthesizer::languages() const {
  std::vector<std::string> out;
  for (const auto& [language, voice] : voices_) out.push_back(language);
  return out;
}

std::string PicoSynthesizer::voice_name(const std::string& language) const {
  const auto it = voices_.find(language);
  if (it == voices_.end()) throw TtsError("no Pico voice for language '" + language + "'");
  return it->second->name;
}

AudioBuffer PicoSynthesizer::synthesize(const std::string& text, const std::string& language,
                                        const std::string& profile_name) {
  const auto& profile = voice_profile(profile_name);
  const auto it = voices_.find(language);
  if (it == voices_.end()) throw TtsError("no Pico voice for language '" + language + "'");
  AudioBuffer audio{{kSampleRate, 1}, 0, {}};
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return audio;
  audio.samples = it->second->speak(pico_markup(text, profile));
  return audio;
}

}  // namespace livedub::sts
