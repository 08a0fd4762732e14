#include "speech_segmenter.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace livedub::worker {

SpeechSegmenter::SpeechSegmenter(SegmenterConfig config, AudioFormat format, std::int64_t block_frames)
    : config_(config), format_(format), block_frames_(block_frames) {
  if (block_frames <= 0) throw std::invalid_argument("block_frames must be > 0");
  if (config_.min_fragment > config_.max_fragment) throw std::invalid_argument("min_fragment > max_fragment");
  if (config_.offset_threshold > config_.onset_threshold) throw std::invalid_argument("offset above onset threshold");
}

std::int64_t SpeechSegmenter::blocks(std::chrono::milliseconds duration) const {
  const auto frames = duration.count() * format_.sample_rate / 1000;
  return std::max<std::int64_t>(1, (frames + block_frames_ / 2) / block_frames_);
}

std::int64_t SpeechSegmenter::held_frames() const {
  std::int64_t frames = 0;
  for (const auto& b : pending_) frames += b.audio.frames();
  return frames;
}

std::optional<std::int64_t> SpeechSegmenter::open_fragment_seq() const {
  if (phase_ == Phase::idle) return std::nullopt;
  return next_seq_;
}

AudioBuffer SpeechSegmenter::held_audio(std::int64_t from_frame) const {
  AudioBuffer out;
  out.format = format_;
  std::int64_t at = 0;
  for (const auto& block : pending_) {
    const auto frames = block.audio.frames();
    if (at + frames > from_frame) {
      const auto skip = std::max<std::int64_t>(0, from_frame - at);
      if (out.samples.empty()) out.start_frame = block.audio.start_frame + skip;
      out.samples.insert(out.samples.end(), block.audio.samples.begin() + skip * format_.channels,
                         block.audio.samples.end());
    }
    at += frames;
  }
  return out;
}

void SpeechSegmenter::set_word_gaps(std::int64_t seq, std::vector<SpeechSpan> gaps) {
  if (seq != next_seq_ || phase_ == Phase::idle) return;  // that fragment is out already
  word_gaps_ = std::move(gaps);
}

std::optional<std::size_t> SpeechSegmenter::word_gap_cut(std::size_t first, std::size_t n) const {
  // Of the block boundaries in a pause the recogniser heard between two words (at least a
  // block long; the one nearest its middle, or its neighbours: partial hypotheses place
  // boundaries a frame or two off), the quietest. Touching words are not used: on noisy and
  // telephone speech the recogniser's boundaries between them cut inside loud speech more often
  // than the quietest block does (bench/dub_quality --word-cuts, held-out asterisk set, README).
  std::optional<std::size_t> best;
  double quietest = std::numeric_limits<double>::infinity();
  for (const auto& gap : word_gaps_) {
    if (gap.end - gap.begin < block_frames_) continue;
    const auto middle = (gap.begin + gap.end) / 2;
    const auto centre = std::max<std::int64_t>(0, (middle + block_frames_ / 2) / block_frames_);
    for (auto k = centre - 1; k <= centre + 1; ++k) {
      if (k < static_cast<std::int64_t>(first) || k >= static_cast<std::int64_t>(n)) continue;
      const auto j = static_cast<std::size_t>(k);
      const double level = pending_[j - 1].info.rms + pending_[j].info.rms;
      if (level <= quietest) {  // ties: the later one, for the longer fragment
        quietest = level;
        best = j;
      }
    }
  }
  return best;
}

void SpeechSegmenter::close_phrase(std::size_t end_block) {
  const auto length = static_cast<std::int64_t>(end_block) - static_cast<std::int64_t>(phrase_start_);
  // A phrase carried over from the previous fragment is speech whatever its length here.
  if (length > 0 && (phrase_continues_ || length >= blocks(config_.min_speech))) {
    spans_.emplace_back(phrase_start_, end_block);
  }
  phrase_continues_ = false;
}

void SpeechSegmenter::emit(std::size_t count, std::vector<Fragment>& out) {
  count = std::min(count, pending_.size());
  if (count == 0) return;
  Fragment fragment;
  fragment.seq = next_seq_++;
  fragment.audio.format = format_;
  fragment.audio.start_frame = pending_.front().audio.start_frame;
  bool all_synthetic = true;
  std::vector<std::int64_t> offsets;  // frame offset of each block in the fragment
  for (std::size_t i = 0; i < count; ++i) {
    offsets.push_back(fragment.audio.frames());
    const auto& block = pending_[i];
    fragment.audio.samples.insert(fragment.audio.samples.end(), block.audio.samples.begin(), block.audio.samples.end());
    all_synthetic = all_synthetic && block.synthetic;
  }
  offsets.push_back(fragment.audio.frames());
  fragment.synthetic_silence = all_synthetic;
  std::vector<std::pair<std::size_t, std::size_t>> rest;
  for (auto [begin, end] : spans_) {
    if (begin >= count) {
      rest.emplace_back(begin - count, end - count);
      continue;
    }
    fragment.speech.push_back({offsets[begin], offsets[std::min(end, count)]});
  }
  spans_ = std::move(rest);
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(count));
  phrase_start_ = phrase_start_ >= count ? phrase_start_ - count : 0;
  last_speech_ -= static_cast<std::int64_t>(count);
  pause_start_ = pause_start_ >= count ? pause_start_ - count : 0;
  word_gaps_.clear();  // they were the emitted fragment's; the next one's come with its own chunks
  out.push_back(std::move(fragment));
}

std::vector<Fragment> SpeechSegmenter::push(AnalyzedBlock block) {
  std::vector<Fragment> out;
  const float p = block.synthetic ? 0.0f : block.info.speech_probability;
  pending_.push_back(std::move(block));
  const std::size_t i = pending_.size() - 1;
  const auto pre_roll = static_cast<std::size_t>(blocks(config_.pre_roll));

  switch (phase_) {
    case Phase::idle:
      if (p >= config_.onset_threshold) {
        // Speech starts: what came before the pre-roll has no speech and leaves now.
        if (i > pre_roll) emit(i - pre_roll, out);
        phase_ = Phase::speech;
        phrase_start_ = pending_.size() - 1;
        last_speech_ = static_cast<std::int64_t>(phrase_start_);
      } else if (pending_.size() >= static_cast<std::size_t>(blocks(config_.idle_flush)) + pre_roll) {
        emit(pending_.size() - pre_roll, out);
      }
      break;
    case Phase::speech:
      if (p >= config_.offset_threshold) {
        last_speech_ = static_cast<std::int64_t>(i);
      } else if (static_cast<std::int64_t>(i) - last_speech_ >= blocks(config_.min_pause)) {
        const auto end = static_cast<std::size_t>(std::max<std::int64_t>(last_speech_ + 1, 0));
        close_phrase(std::max(end, phrase_start_));
        if (spans_.empty()) {
          // Only a blip: the held audio is speechless after all.
          phase_ = Phase::idle;
          if (pending_.size() > pre_roll) emit(pending_.size() - pre_roll, out);
        } else {
          phase_ = Phase::pause;
          pause_start_ = spans_.back().second;
        }
      }
      break;
    case Phase::pause: {
      const auto fragment_blocks = static_cast<std::int64_t>(pending_.size());
      if (p >= config_.onset_threshold) {
        // The next phrase: cut before its pre-roll (or mid-pause if the pause is shorter),
        // unless the fragment is still too short to stand alone.
        const auto mid = pause_start_ + (i - pause_start_) / 2;
        const auto cut = std::max(mid, i >= pre_roll ? i - pre_roll : 0);
        if (static_cast<std::int64_t>(cut) >= blocks(config_.min_fragment)) {
          emit(cut, out);
        }
        phase_ = Phase::speech;
        phrase_start_ = pending_.size() - 1;
        last_speech_ = static_cast<std::int64_t>(phrase_start_);
      } else if (static_cast<std::int64_t>(i + 1 - pause_start_) >= blocks(config_.slot_pause) &&
                 fragment_blocks >= blocks(config_.min_fragment)) {
        emit(pending_.size(), out);
        phase_ = Phase::idle;
      }
      break;
    }
  }

  if (phase_ != Phase::idle && static_cast<std::int64_t>(pending_.size()) >= blocks(config_.max_fragment)) {
    if (phase_ == Phase::pause) {
      emit(pending_.size(), out);
      phase_ = Phase::idle;
    } else {
      // A phrase longer than the maximum: cut in the search window between two words the
      // recogniser heard, else at the quietest block boundary (the two blocks around it
      // quietest together); never at the fragment's start.
      const auto n = pending_.size();
      const auto window = static_cast<std::size_t>(blocks(config_.max_cut_search));
      const std::size_t first = std::max<std::size_t>(phrase_start_ + 1, n > window ? n - window : 1);
      std::size_t cut = n;
      if (const auto at_gap = word_gap_cut(first, n)) {
        cut = *at_gap;
        ++cut_stats_.at_word_gap;
      } else {
        double quietest = std::numeric_limits<double>::infinity();
        for (std::size_t j = first; j < n; ++j) {
          const double level = pending_[j - 1].info.rms + pending_[j].info.rms;
          if (level < quietest) {
            quietest = level;
            cut = j;
          }
        }
        ++cut_stats_.at_quietest_block;
      }
      spans_.emplace_back(phrase_start_, cut);
      emit(cut, out);
      phrase_start_ = 0;
      phrase_continues_ = true;
    }
  }
  return out;
}

std::vector<Fragment> SpeechSegmenter::flush() {
  std::vector<Fragment> out;
  if (phase_ == Phase::speech) {
    close_phrase(static_cast<std::size_t>(std::max<std::int64_t>(last_speech_ + 1, 0)));
  }
  phase_ = Phase::idle;
  emit(pending_.size(), out);
  return out;
}

}  // namespace livedub::worker
