#include "sts/speech_synthesizer.hpp"

#include <algorithm>

namespace livedub::sts {

const std::map<std::string, VoiceProfile>& voice_profiles() {
  // Pico has one (female) voice per language: "male" lowers its pitch;
  // espeak-ng switches variant. Pico at its own pace speaks the same sentences 1.3x (en) to
  // 1.5x (es) longer than espeak-ng at 170 wpm (bench/tts_cost), and a dub has to fit the
  // phrase it replaces: 115 % keeps it natural and needs less compression.
  static const std::map<std::string, VoiceProfile> profiles{
      {"default", {"", 50, 170, 100, 115}}, {"female", {"f3", 62, 170, 110, 115}},
      {"male", {"m3", 42, 165, 75, 112}},   {"fast", {"", 50, 220, 100, 150}},
      {"slow", {"", 50, 130, 100, 88}}};
  return profiles;
}

const VoiceProfile& voice_profile(const std::string& name) {
  const auto it = voice_profiles().find(name);
  if (it == voice_profiles().end()) throw TtsError("unknown voice profile '" + name + "'");
  return it->second;
}

bool SpeechSynthesizer::has_language(const std::string& language) const {
  const auto all = languages();
  return std::find(all.begin(), all.end(), language) != all.end();
}

VoiceSelection::VoiceSelection(const std::vector<std::shared_ptr<SpeechSynthesizer>>& by_preference) {
  for (const auto& engine : by_preference) {
    if (!engine) continue;
    for (const auto& language : engine->languages()) by_language_.emplace(language, engine);  // first wins
  }
}

std::vector<std::string> VoiceSelection::languages() const {
  std::vector<std::string> out;
  for (const auto& [language, engine] : by_language_) out.push_back(language);
  return out;
}

SpeechSynthesizer& VoiceSelection::for_language(const std::string& language) const {
  const auto it = by_language_.find(language);
  if (it == by_language_.end()) throw TtsError("no voice for language '" + language + "'");
  return *it->second;
}

std::string VoiceSelection::describe(const std::string& language) const {
  auto& engine = for_language(language);
  return engine.name() + " " + engine.voice_name(language);
}

std::map<std::string, std::string> VoiceSelection::engines() const {
  std::map<std::string, std::string> out;
  for (const auto& [language, engine] : by_language_) out[language] = describe(language);
  return out;
}

}  // namespace livedub::sts
