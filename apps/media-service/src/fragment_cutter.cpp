#include "fragment_cutter.hpp"

#include <algorithm>
#include <stdexcept>

namespace livedub::worker {

FragmentCutter::FragmentCutter(AudioFormat format, std::int64_t frames_per_fragment,
                               std::int64_t jitter_tolerance_ns)
    : format_(format),
      frames_per_fragment_(frames_per_fragment),
      jitter_tolerance_frames_(ns_to_samples(jitter_tolerance_ns, format.sample_rate)) {
  if (frames_per_fragment <= 0) throw std::invalid_argument("frames_per_fragment must be > 0");
  pending_.format = format_;
}

std::optional<std::int64_t> FragmentCutter::position_frames() const { return next_frame_; }

void FragmentCutter::append(std::span<const std::int16_t> samples, bool silent,
                            std::vector<Fragment>& out) {
  const auto channels = static_cast<std::size_t>(format_.channels);
  std::size_t offset = 0;
  while (offset < samples.size()) {
    if (pending_.samples.empty()) pending_.start_frame = *next_frame_;
    const auto room = static_cast<std::size_t>(frames_per_fragment_ - pending_.frames()) * channels;
    const auto take = std::min(room, samples.size() - offset);
    if (silent) {
      pending_.samples.insert(pending_.samples.end(), take, 0);
    } else {
      pending_.samples.insert(pending_.samples.end(), samples.begin() + static_cast<std::ptrdiff_t>(offset),
                              samples.begin() + static_cast<std::ptrdiff_t>(offset + take));
      pending_real_frames_ += static_cast<std::int64_t>(take / channels);
    }
    offset += take;
    *next_frame_ += static_cast<std::int64_t>(take / channels);
    if (pending_.frames() == frames_per_fragment_) {
      out.push_back(make_fragment());
    }
  }
}

Fragment FragmentCutter::make_fragment() {
  Fragment f{next_seq_++, std::move(pending_), pending_real_frames_ == 0, {}};
  if (!f.synthetic_silence) f.speech.push_back({0, f.audio.frames()});
  pending_ = AudioBuffer{format_, 0, {}};
  pending_real_frames_ = 0;
  return f;
}

void FragmentCutter::append_silence(std::int64_t frames, std::vector<Fragment>& out) {
  // Chunked so a long gap never allocates more than one fragment at a time.
  std::vector<std::int16_t> chunk;
  while (frames > 0) {
    auto n = std::min(frames, frames_per_fragment_);
    chunk.assign(static_cast<std::size_t>(n * format_.channels), 0);
    append(chunk, true, out);
    frames -= n;
  }
}

std::vector<Fragment> FragmentCutter::push(std::int64_t pts_ns, std::span<const std::int16_t> samples) {
  std::vector<Fragment> out;
  if (samples.size() % static_cast<std::size_t>(format_.channels) != 0) {
    throw std::invalid_argument("sample count is not a whole number of frames");
  }
  auto frame = ns_to_samples(std::max<std::int64_t>(pts_ns, 0), format_.sample_rate);
  if (pts_ns < 0) {
    // Audio from before the timeline origin: keep only the part from 0 on.
    auto skip = ns_to_samples(-pts_ns, format_.sample_rate) * format_.channels;
    if (skip >= static_cast<std::int64_t>(samples.size())) return out;
    samples = samples.subspan(static_cast<std::size_t>(skip));
  }
  if (!next_frame_) next_frame_ = frame;
  const auto drift = frame - *next_frame_;
  if (drift > jitter_tolerance_frames_) {
    stats_.gap_frames_filled += drift;
    append_silence(drift, out);
  } else if (drift < -jitter_tolerance_frames_) {
    auto drop = std::min<std::int64_t>(-drift * format_.channels, static_cast<std::int64_t>(samples.size()));
    stats_.overlap_frames_dropped += drop / format_.channels;
    samples = samples.subspan(static_cast<std::size_t>(drop));
  }
  append(samples, false, out);
  return out;
}

std::vector<Fragment> FragmentCutter::advance_to(std::int64_t pts_ns) {
  std::vector<Fragment> out;
  auto frame = ns_to_samples(std::max<std::int64_t>(pts_ns, 0), format_.sample_rate);
  if (!next_frame_) {
    // No audio yet: start the timeline on a fragment boundary at the origin.
    next_frame_ = 0;
  }
  // Only whole fragments are closed: a partial one may still receive real audio.
  auto target = frame - frame % frames_per_fragment_;
  auto pending_end = next_frame_.value();
  auto fragment_end = pending_.samples.empty() ? pending_end + frames_per_fragment_
                                               : pending_.start_frame + frames_per_fragment_;
  while (fragment_end <= target) {
    append_silence(fragment_end - *next_frame_, out);
    fragment_end = *next_frame_ + frames_per_fragment_;
  }
  return out;
}

std::optional<Fragment> FragmentCutter::flush() {
  if (pending_.samples.empty()) return std::nullopt;
  return make_fragment();
}

}  // namespace livedub::worker
