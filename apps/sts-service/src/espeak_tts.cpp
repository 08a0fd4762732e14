#include "sts/espeak_tts.hpp"

#include <espeak-ng/speak_lib.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace livedub::sts {

namespace {

int collect_samples(short* wav, int count, espeak_EVENT* events) {
  if (wav != nullptr && count > 0 && events != nullptr) {
    auto* out = static_cast<std::vector<std::int16_t>*>(events->user_data);
    out->insert(out->end(), wav, wav + count);
  }
  return 0;  // keep going
}
}  // namespace

EspeakSynthesizer& EspeakSynthesizer::shared() {
  // Deliberately never destroyed (see the header); a failed load throws and is retried on the
  // next call.
  static EspeakSynthesizer* instance = new EspeakSynthesizer();
  return *instance;
}

std::shared_ptr<SpeechSynthesizer> EspeakSynthesizer::shared_ptr() {
  return std::shared_ptr<SpeechSynthesizer>(&shared(), [](SpeechSynthesizer*) {});
}

EspeakSynthesizer::EspeakSynthesizer() {
  sample_rate_ = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, 0);
  if (sample_rate_ <= 0) {
    throw TtsError("espeak-ng failed to initialize (is the espeak-ng-data package installed?)");
  }
  espeak_SetSynthCallback(collect_samples);
  std::set<std::string> languages;
  for (const espeak_VOICE** v = espeak_ListVoices(nullptr); v != nullptr && *v != nullptr; ++v) {
    // `languages` is a list of (priority byte, NUL-terminated name), ended by a zero byte.
    for (const char* p = (*v)->languages; p != nullptr && *p != 0; p += std::strlen(p + 1) + 2) {
      languages.insert(std::string(p + 1));
    }
  }
  languages_.assign(languages.begin(), languages.end());
}

std::vector<std::string> EspeakSynthesizer::languages() const { return languages_; }

AudioBuffer EspeakSynthesizer::synthesize(const std::string& text, const std::string& language,
                                          const std::string& profile_name) {
  const auto* profile = &voice_profile(profile_name);
  if (!std::binary_search(languages_.begin(), languages_.end(), language)) throw TtsError("no espeak-ng voice for language '" + language + "'");
  AudioBuffer audio{{sample_rate_, 1}, 0, {}};
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return audio;
  std::lock_guard lock(mutex_);
  const std::string voice = profile->variant.empty() ? language : language + "+" + profile->variant;
  if (espeak_SetVoiceByName(voice.c_str()) != EE_OK) throw TtsError("espeak-ng cannot select voice '" + voice + "'");
  espeak_SetParameter(espeakRATE, profile->rate_wpm, 0);
  espeak_SetParameter(espeakPITCH, profile->pitch, 0);
  if (espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr, &audio.samples) !=
      EE_OK) {
    throw TtsError("espeak-ng failed to synthesize");
  }
  espeak_Synchronize();
  return audio;
}

std::vector<PhonemeClause> EspeakSynthesizer::phonemize(const std::string& text, const std::string& voice) {
  std::vector<PhonemeClause> out;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return out;
  std::lock_guard lock(mutex_);
  // Piper's configs name a voice file ("fr", "en-us") or a language code ("fr-fr"): try both.
  espeak_VOICE by_language{};
  by_language.languages = voice.c_str();
  if (espeak_SetVoiceByName(voice.c_str()) != EE_OK && espeak_SetVoiceByProperties(&by_language) != EE_OK) {
    throw TtsError("espeak-ng has no voice '" + voice + "' to phonemise with");
  }
  const char* const begin = text.c_str();
  const char* const end = begin + text.size();
  const void* cursor = begin;
  // espeak-ng reads one clause per call and moves the cursor past it (null at the end); what it
  // read tells which punctuation ended the clause, which its IPA leaves out.
  while (cursor != nullptr) {
    const auto* before = static_cast<const char*>(cursor);
    const char* ipa = espeak_TextToPhonemes(&cursor, espeakCHARS_UTF8, espeakPHONEMES_IPA);
    const char* after = cursor != nullptr ? static_cast<const char*>(cursor) : end;
    if (after < before || after > end) after = end;
    out.push_back({ipa != nullptr ? ipa : "", clause_terminator(std::string_view(before, static_cast<std::size_t>(after - before)))});
  }
  return out;
}

}  // namespace livedub::sts
