#pragma once
// Builds a fragment's output audio: the original as the bed, ducked (with smooth ramps)
// wherever the source speaker or the dubbed voice speaks, plus the dubbed voice in the centre,
// its loudness matched to the original speech. Pure logic on PCM16.
//
// Joins never click: the bed is the same continuous original signal in every fragment and
// only its gain changes, and that gain starts each fragment where the previous one ended
// (MixInput::start_gain) before easing to its own envelope; the voice is faded in and out at
// the fragment's edges.
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fragment_cutter.hpp"
#include "voice_reducer.hpp"

namespace livedub::worker {

enum class BedMode {
  off,   // before this stage existed: dubbed fragments are the STS audio alone (tests)
  duck,    // the original, ducked under speech, with the dubbed voice over it
  reduce,     // as duck, but under speech the original first loses what rises above the
              // background's usual spectrum (the voice): VoiceReducer
  separator,  // as duck, but under speech the bed is a separation model's background stem
              // (LIVEDUB_BED_SEPARATOR_MODEL, ONNX; none ships): OnnxSeparator
};
const char* to_string(BedMode mode);
std::optional<BedMode> parse_bed_mode(std::string_view text);

// Default measured with bench/dub_quality (README): the voice reduction with a -12 dB duck
// leaves about as much music under the dub as a plain -18 dB duck (held-out music: -18.1 vs
// -16.7 dB) and 11 dB less of the original voice (-28.0 vs -16.9 dB).
struct MixConfig {
  BedMode mode = BedMode::reduce;
  double duck_db = -12.0;  // bed gain while someone speaks
  std::chrono::milliseconds ramp_down{120};  // the duck finishes as speech starts
  std::chrono::milliseconds ramp_up{350};    // and recovers after it ends
  std::chrono::milliseconds voice_fade{8};   // dubbed voice at a fragment's edges
  bool match_loudness = true;
  double max_voice_gain_db = 12.0;  // loudness matching never boosts the dub more than this
};

struct MixInput {
  const AudioBuffer* original = nullptr;      // the fragment as it came in (any channels)
  std::span<const SpeechSpan> source_speech;  // where the original speaker talks
  const AudioBuffer* voice = nullptr;         // dubbed voice (mono, same rate and frames), or null
  std::optional<SpeechSpan> voice_span;       // where the dub speaks inside `voice`
  double start_gain = 1.0;                    // bed gain at the end of the previous fragment
  BedVoiceRemover* remover = nullptr;         // reduce/separator: the stream's voice remover
  // The bed to use instead of calling `remover`: its output for this fragment, computed once
  // for every language of the stream (or the original, for a language that falls back).
  const AudioBuffer* bed_source = nullptr;
};

struct MixResult {
  AudioBuffer audio;        // same format and frames as the original
  AudioBuffer bed;          // the original with the bed gain alone (duck mode; for debugging)
  double end_gain = 1.0;    // pass as the next fragment's start_gain
  double voice_gain_db = 0; // applied by loudness matching
};

// Per-frame bed gain: 1 away from `regions`, duck_gain inside them, linear ramps before
// (ramp_down frames) and after (ramp_up frames), eased from start_gain at frame 0.
std::vector<float> duck_envelope(std::int64_t frames, std::span<const SpeechSpan> regions, double duck_gain,
                                 std::int64_t ramp_down, std::int64_t ramp_up, double start_gain);

// The bed gain mix_fragment applies to `input.original`, per frame.
std::vector<float> bed_envelope(const MixInput& input, const MixConfig& config);
// How much of each frame is voice-reduced (BedMode::reduce): 1 at full duck depth, 0 at full
// level, in proportion between.
std::vector<float> reduction_weight(std::span<const float> envelope, const MixConfig& config);

MixResult mix_fragment(const MixInput& input, const MixConfig& config);

// One fragment's output for every target language of a stream (LIVEDUB_TARGET_LANGS): one
// bed for all, the voice remover run once (it also learns the background from it) over where
// the source speaker or any language's dub speaks, each language's dub mixed over it. A
// language without a dub for this fragment while others have one (it fell back alone) plays
// the original, unreduced (so does one that is back at full level). `bed_gains` holds each language's bed gain where its previous
// fragment ended, and is updated.
struct LanguageVoice {
  const AudioBuffer* voice = nullptr;  // null: this language plays the original
  std::optional<SpeechSpan> span;
};
std::vector<MixResult> mix_languages(const AudioBuffer& original, std::span<const SpeechSpan> source_speech,
                                     std::span<const LanguageVoice> voices, std::vector<double>& bed_gains,
                                     BedVoiceRemover* remover, const MixConfig& config);

}  // namespace livedub::worker
