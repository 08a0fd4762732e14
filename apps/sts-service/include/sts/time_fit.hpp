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

}  // namespace livedub::sts
