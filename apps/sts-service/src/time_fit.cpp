#include "sts/time_fit.hpp"

#include <rubberband/RubberBandStretcher.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace livedub::sts {

const char* to_string(TimeFitPolicy policy) {
  switch (policy) {
    case TimeFitPolicy::exact: return "exact";
    case TimeFitPolicy::bound_then_pad: return "bound_then_pad";
    case TimeFitPolicy::bound_then_trim: return "bound_then_trim";
    case TimeFitPolicy::silence: return "silence";
    case TimeFitPolicy::fits_slot: return "fits_slot";
  }
  return "unknown";
}

TimeFitPlan plan_time_fit(std::int64_t speech_frames, std::int64_t target_frames, const TimeFitBounds& bounds) {
  if (bounds.min_ratio <= 0 || bounds.min_ratio > 1 || bounds.max_ratio < 1) {
    throw std::invalid_argument("time-fit bounds must satisfy 0 < min_ratio <= 1 <= max_ratio");
  }
  if (speech_frames <= 0 || target_frames <= 0) return {1.0, TimeFitPolicy::silence};
  const double wanted = static_cast<double>(target_frames) / static_cast<double>(speech_frames);
  if (wanted > bounds.max_ratio) return {bounds.max_ratio, TimeFitPolicy::bound_then_pad};
  if (wanted < bounds.min_ratio) return {bounds.min_ratio, TimeFitPolicy::bound_then_trim};
  return {wanted, TimeFitPolicy::exact};
}

AudioBuffer stretch_speech(const AudioBuffer& speech, double ratio) {
  const auto channels = static_cast<std::size_t>(speech.format.channels);
  const auto frames = static_cast<std::size_t>(speech.frames());
  AudioBuffer out{speech.format, speech.start_frame, {}};
  if (frames == 0) return out;
  using RubberBand::RubberBandStretcher;
  // Offline: the whole utterance is known, so the stretcher can study it first (best quality).
  RubberBandStretcher stretcher(static_cast<std::size_t>(speech.format.sample_rate), channels,
                                RubberBandStretcher::OptionProcessOffline | RubberBandStretcher::OptionEngineFiner,
                                ratio, 1.0);
  // Fed in blocks, with the output drained after each: rubberband's output buffer holds only
  // about 32k frames, and whatever one process() call makes beyond that is lost (this cut every
  // utterance longer than ~1.5 s at 22 kHz to 1.5 s).
  constexpr std::size_t kBlock = 4096;
  stretcher.setExpectedInputDuration(frames);
  stretcher.setMaxProcessSize(kBlock);
  std::vector<std::vector<float>> planar(channels, std::vector<float>(frames));
  for (std::size_t f = 0; f < frames; ++f) {
    for (std::size_t c = 0; c < channels; ++c) planar[c][f] = speech.samples[f * channels + c] / 32768.0f;
  }
  std::vector<const float*> in_ptrs(channels);
  for (std::size_t c = 0; c < channels; ++c) in_ptrs[c] = planar[c].data();
  stretcher.study(in_ptrs.data(), frames, true);  // offline: the whole utterance is known first
  std::vector<std::vector<float>> chunk(channels);
  std::vector<float*> out_ptrs(channels);
  auto drain = [&] {
    while (true) {
      const int available = stretcher.available();
      if (available <= 0) return available;
      for (std::size_t c = 0; c < channels; ++c) {
        chunk[c].resize(static_cast<std::size_t>(available));
        out_ptrs[c] = chunk[c].data();
      }
      const auto got = stretcher.retrieve(out_ptrs.data(), static_cast<std::size_t>(available));
      for (std::size_t f = 0; f < got; ++f) {
        for (std::size_t c = 0; c < channels; ++c) {
          const float v = std::clamp(chunk[c][f], -1.0f, 1.0f);
          out.samples.push_back(static_cast<std::int16_t>(std::lround(v * 32767.0f)));
        }
      }
    }
  };
  for (std::size_t offset = 0; offset < frames; offset += kBlock) {
    const auto n = std::min(kBlock, frames - offset);
    std::vector<const float*> block(channels);
    for (std::size_t c = 0; c < channels; ++c) block[c] = in_ptrs[c] + offset;
    stretcher.process(block.data(), n, offset + n == frames);
    drain();
  }
  drain();
  return out;
}

namespace {
// Cuts `audio` to `frames`; a hard cut clicks, so the last 30 ms before it fade out.
void cut_with_fade(AudioBuffer& audio, std::int64_t frames) {
  const auto channels = audio.format.channels;
  const bool trimmed = audio.frames() > frames;
  fit_to_frames(audio.samples, channels, frames);
  if (!trimmed) return;
  const auto fade = std::min<std::int64_t>(frames, audio.format.sample_rate * 3 / 100);
  for (std::int64_t i = 0; i < fade; ++i) {
    const double gain = static_cast<double>(fade - i) / static_cast<double>(fade);
    for (int c = 0; c < channels; ++c) {
      auto& s = audio.samples[static_cast<std::size_t>((frames - fade + i) * channels + c)];
      s = static_cast<std::int16_t>(std::lround(s * gain));
    }
  }
}
}  // namespace

FittedSpeech fit_speech(const AudioBuffer& speech, std::int64_t target_frames, const TimeFitBounds& bounds) {
  FittedSpeech fitted;
  fitted.plan = plan_time_fit(speech.frames(), target_frames, bounds);
  fitted.audio = fitted.plan.policy == TimeFitPolicy::silence
                     ? AudioBuffer{speech.format, speech.start_frame, {}}
                     : stretch_speech(speech, fitted.plan.ratio);
  cut_with_fade(fitted.audio, target_frames);
  return fitted;
}

TimeFitPlan plan_placement(std::int64_t speech_frames, const SpeechSlot& slot, const TimeFitBounds& bounds) {
  const auto phrase = std::max<std::int64_t>(slot.phrase_frames, 1);
  const auto room = std::max(slot.slot_frames, phrase);
  if (speech_frames > phrase && speech_frames <= room) {
    plan_time_fit(speech_frames, phrase, bounds);  // validates the bounds all the same
    return {1.0, TimeFitPolicy::fits_slot};
  }
  // Shorter than the phrase: slow towards the phrase; longer than the slot: compress to it.
  return plan_time_fit(speech_frames, speech_frames <= phrase ? phrase : room, bounds);
}

PlacedSpeech place_speech(const AudioBuffer& speech, const SpeechSlot& slot, const TimeFitBounds& bounds) {
  PlacedSpeech placed;
  placed.plan = plan_placement(speech.frames(), slot, bounds);
  const auto channels = static_cast<std::size_t>(std::max(speech.format.channels, 1));
  placed.audio = AudioBuffer{speech.format, speech.start_frame, {}};
  placed.audio.samples.assign(static_cast<std::size_t>(slot.total_frames) * channels, 0);
  if (placed.plan.policy == TimeFitPolicy::silence) return placed;
  auto voice = placed.plan.ratio == 1.0 ? speech : stretch_speech(speech, placed.plan.ratio);
  const auto offset = std::clamp<std::int64_t>(slot.offset, 0, slot.total_frames);
  const auto room = std::min(std::max(slot.slot_frames, slot.phrase_frames), slot.total_frames - offset);
  cut_with_fade(voice, std::min(voice.frames(), room));
  std::copy(voice.samples.begin(), voice.samples.end(),
            placed.audio.samples.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(offset) * channels));
  placed.speech_begin = offset;
  placed.speech_end = offset + voice.frames();
  return placed;
}

}  // namespace livedub::sts
