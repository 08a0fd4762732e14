#pragma once
// Time-fit: makes synthesized speech last exactly as long as the fragment it replaces.
// The decision (plan_time_fit) is pure; stretch_speech adapts librubberband.
#include <cstdint>
#include <string>

#include "livedub/audio.hpp"

namespace livedub::sts {

struct TimeFitBounds {
  // Time ratio = output duration / natural speech duration. Outside these bounds speech
  // sounds unnatural, so it is stretched only up to the bound (see TimeFitPolicy).
  double min_ratio = 0.75;  // at most ~1.33x faster
  double max_ratio = 1.25;  // at most 1.25x slower
};

enum class TimeFitPolicy {
  exact,           // stretched to exactly the target duration
  bound_then_pad,  // speech too short even at max_ratio: stretched by max_ratio, silence appended
  bound_then_trim, // speech too long even at min_ratio: compressed by min_ratio, end trimmed with a fade
  silence,         // no speech at all: the fragment is silent
  fits_slot,       // natural speed: longer than the phrase, but it fits the pause after it
};
const char* to_string(TimeFitPolicy policy);

struct TimeFitPlan {
  double ratio = 1.0;  // applied time ratio
  TimeFitPolicy policy = TimeFitPolicy::exact;
};

TimeFitPlan plan_time_fit(std::int64_t speech_frames, std::int64_t target_frames, const TimeFitBounds& bounds);

// Stretches mono/multichannel PCM16 by `ratio` (pitch preserved) with librubberband.
AudioBuffer stretch_speech(const AudioBuffer& speech, double ratio);

struct FittedSpeech {
  AudioBuffer audio;  // exactly target_frames frames
  TimeFitPlan plan;
};

// Plans, stretches, then pads or trims (with a 30 ms fade-out) to exactly `target_frames`.
FittedSpeech fit_speech(const AudioBuffer& speech, std::int64_t target_frames, const TimeFitBounds& bounds);

// Where a dub may go inside a fragment: it starts where the source phrase starts (`offset`),
// should last about as long as the phrase (`phrase_frames`), and may run on into the pause
// after it up to `slot_frames` (from `offset`) before it is compressed.
struct SpeechSlot {
  std::int64_t total_frames = 0;  // the fragment
  std::int64_t offset = 0;
  std::int64_t phrase_frames = 0;
  std::int64_t slot_frames = 0;   // >= phrase_frames
};

// Shorter than the phrase: slowed towards it within max_ratio (exact / bound_then_pad);
// between the phrase and the slot: natural speed (fits_slot); longer than the slot: compressed
// to it within min_ratio (exact / bound_then_trim). Same as plan_time_fit when the slot is
// the phrase.
TimeFitPlan plan_placement(std::int64_t speech_frames, const SpeechSlot& slot, const TimeFitBounds& bounds);

struct PlacedSpeech {
  AudioBuffer audio;  // exactly slot.total_frames frames: silence, the dub, silence
  TimeFitPlan plan;
  std::int64_t speech_begin = 0;  // where the dub sits in `audio`
  std::int64_t speech_end = 0;
};

// Plans, stretches and places `speech` at slot.offset; anything past the slot is cut with a
// 30 ms fade-out.
PlacedSpeech place_speech(const AudioBuffer& speech, const SpeechSlot& slot, const TimeFitBounds& bounds);

}  // namespace livedub::sts
