#pragma once
// Piper voices (rhasspy/piper: VITS trained on espeak-ng phonemes, exported to ONNX), the pure
// part: a voice's NAME.onnx.json, and text -> phoneme ids exactly as Piper trains them (each
// Unicode codepoint of espeak-ng's IPA, decomposed (NFD), is one symbol; BOS "^", then the pad
// "_" after every symbol, then EOS "$"; a sentence per inference call). The engine that runs the
// ONNX file is sts/piper_tts.hpp.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sts/speech_synthesizer.hpp"

namespace livedub::sts {

// A voice file that is missing, unreadable or does not match its config; the message names it.
class VoiceModelError : public TtsError {
 public:
  using TtsError::TtsError;
};

struct PiperVoiceConfig {
  std::string language;      // "es" (from language.code "es_ES", else espeak.voice)
  std::string espeak_voice;  // the espeak-ng voice that phonemises its text ("es", "en-us")
  int sample_rate = 22050;
  float noise_scale = 0.667f;
  float length_scale = 1.0f;  // > 1 speaks slower
  float noise_w = 0.8f;
  int num_speakers = 1;       // > 1: the model takes a speaker id ("sid"); speaker 0 is used
  int num_symbols = 0;        // the model's embedding size: every id must be below it
  std::map<char32_t, std::vector<std::int64_t>> phoneme_id_map;
};

// Parses a NAME.onnx.json; throws VoiceModelError("<what>: <why>") naming `what` (the file).
PiperVoiceConfig parse_piper_config(std::string_view json, const std::string& what);

// One clause as espeak-ng phonemised it, and the punctuation that ended it in the text ('.',
// ',', '?', '!', ';', ':'; 0 for none).
struct PhonemeClause {
  std::string ipa;  // UTF-8
  char terminator = 0;
};

// The punctuation ending a clause of `consumed` text (what espeak-ng read for it): the last
// non-space character, with the full stop also for '…' and the CJK full stop, the comma for the
// CJK commas; 0 when the clause ended without punctuation (a long clause espeak-ng split).
char clause_terminator(std::string_view consumed);

// Removes espeak-ng's language-switch marks ("(en)...(es)") from a clause's IPA.
std::string strip_language_switches(std::string_view ipa);

// Canonical decomposition (NFD) of UTF-8 text into codepoints ("ç" -> "c" + U+0327), as Piper
// does before mapping; throws TtsError on invalid UTF-8.
std::u32string decompose(std::string_view utf8);

struct PhonemeIds {
  std::vector<std::vector<std::int64_t>> sentences;  // one inference call each
  std::size_t unknown = 0;  // codepoints the voice has no symbol for (skipped)
};

// Clauses joined as Piper does: a sentence ends at '.', '?' or '!' (the mark is kept as a
// symbol); ',', ';' and ':' are kept followed by a space; clauses without punctuation are joined
// by a space. Empty sentences are dropped.
PhonemeIds piper_phoneme_ids(const std::vector<PhonemeClause>& clauses, const PiperVoiceConfig& config);

// A voice profile's speaking rate as Piper's length scale (a profile's 170 wpm is the voice's own
// pace; faster profiles shorten it), clamped to 0.5..2.
float piper_length_scale(const PiperVoiceConfig& config, const VoiceProfile& profile);

// PCM16 from the model's float output, its peak brought to -1 dBFS as Piper does (VITS output
// level varies with the sentence; the mixer expects speech at a steady level, never clipped).
std::vector<std::int16_t> normalized_pcm16(const float* samples, std::size_t count);

}  // namespace livedub::sts
