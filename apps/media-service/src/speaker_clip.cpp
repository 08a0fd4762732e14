#include "speaker_clip.hpp"

#include <algorithm>
#include <cmath>
#include <span>

namespace livedub::worker {
namespace {

// The RMS (full scale 1) of the 5th-percentile `window`-frame window: the level a stretch of
// speech falls to between its words.
double quiet_floor(std::span<const std::int16_t> mono, std::size_t window) {
  std::vector<double> levels;
  for (std::size_t at = 0; window > 0 && at + window <= mono.size(); at += window) levels.push_back(rms(mono.subspan(at, window)));
  if (levels.empty()) return 0.0;
  const auto nth = levels.begin() + static_cast<std::ptrdiff_t>(levels.size() / 20);
  std::nth_element(levels.begin(), nth, levels.end());
  return *nth;
}

}  // namespace

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
  if (speech_frames == 0) return false;
  double other_rms = 0;
  if (other_frames >= static_cast<std::int64_t>(options_.min_gap_s * rate)) {
    other_rms = std::sqrt(other_energy / static_cast<double>(other_frames));
    background_rms_ = other_rms;  // measured even when this fragment is refused: the next may need it
    background_begin_ = fragment.start_frame;
    background_end_ = fragment.end_frame();
  } else {
    // Fragments complete out of order (several in flight): the measurement may lie either side.
    const auto apart = std::max(fragment.start_frame - background_end_, background_begin_ - fragment.end_frame());
    if (background_rms_ < 0 || apart > static_cast<std::int64_t>(options_.background_valid_s * rate)) return false;
    // Music that began under the phrase since then: speech has stops between words that fall
    // near the background, music under it does not (the fragment's quietest 20 ms windows).
    other_rms = std::max(background_rms_, quiet_floor(mono, static_cast<std::size_t>(rate / 50)));
  }
  const double speech_rms = std::sqrt(speech_energy / static_cast<double>(speech_frames));
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
  background_rms_ = -1.0;
}

}  // namespace livedub::worker
