#include "speaker_clip.hpp"

#include <algorithm>
#include <cmath>

namespace livedub::worker {

bool SpeakerClip::add(const AudioBuffer& fragment, const std::vector<SpeechSpan>& speech) {
  if (ready() || speech.empty() || fragment.format.sample_rate <= 0) return false;
  if (rate_ != 0 && fragment.format.sample_rate != rate_) return false;
  const auto mono = downmix_to_mono(fragment.samples, fragment.format.channels);
  const auto frames = static_cast<std::int64_t>(mono.size());
  std::vector<bool> in_speech(mono.size(), false);
  for (const auto& span : speech) {
    for (auto i = std::max<std::int64_t>(0, span.begin); i < std::min(span.end, frames); ++i) in_speech[static_cast<std::size_t>(i)] = true;
  }
  double speech_energy = 0, other_energy = 0;
  std::int64_t speech_frames = 0, other_frames = 0;
  for (std::size_t i = 0; i < mono.size(); ++i) {
    const double v = mono[i] / 32768.0;
    if (in_speech[i]) {
      speech_energy += v * v;
      ++speech_frames;
    } else {
      other_energy += v * v;
      ++other_frames;
    }
  }
  const auto rate = fragment.format.sample_rate;
  if (other_frames < static_cast<std::int64_t>(options_.min_gap_s * rate) || speech_frames == 0) return false;
  const double speech_rms = std::sqrt(speech_energy / static_cast<double>(speech_frames));
  const double other_rms = std::sqrt(other_energy / static_cast<double>(other_frames));
  const double snr_db = 20.0 * std::log10(std::max(speech_rms, 1e-9) / std::max(other_rms, 1e-9));
  if (snr_db < options_.min_snr_db) return false;
  const auto wanted = static_cast<std::size_t>(options_.target_s * rate);
  bool took = false;
  for (const auto& span : speech) {
    const auto begin = std::max<std::int64_t>(0, span.begin);
    const auto end = std::min(span.end, frames);
    if (end - begin < static_cast<std::int64_t>(options_.min_span_s * rate)) continue;
    const auto room = wanted - std::min(wanted, mono_.size());
    const auto take = std::min<std::size_t>(room, static_cast<std::size_t>(end - begin));
    mono_.insert(mono_.end(), mono.begin() + begin, mono.begin() + begin + static_cast<std::ptrdiff_t>(take));
    rate_ = rate;
    took = took || take > 0;
  }
  return took;
}

bool SpeakerClip::ready() const {
  return rate_ > 0 && static_cast<double>(mono_.size()) >= options_.target_s * rate_ - 0.5;
}

double SpeakerClip::seconds() const { return rate_ > 0 ? static_cast<double>(mono_.size()) / rate_ : 0.0; }

AudioBuffer SpeakerClip::clip() const { return AudioBuffer{{rate_, 1}, 0, mono_}; }

void SpeakerClip::reset() {
  mono_.clear();
  rate_ = 0;
}

}  // namespace livedub::worker
