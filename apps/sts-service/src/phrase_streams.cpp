#include "sts/phrase_streams.hpp"

#include <exception>

namespace livedub::sts {

const char* to_string(ChunkStatus status) {
  switch (status) {
    case ChunkStatus::accepted: return "accepted";
    case ChunkStatus::duplicate: return "duplicate";
    case ChunkStatus::out_of_order: return "out_of_order";
    case ChunkStatus::too_long: return "too_long";
    case ChunkStatus::format_mismatch: return "format_mismatch";
    case ChunkStatus::too_many_open: return "too_many_open";
  }
  return "unknown";
}

PhraseStreams::PhraseStreams(PhraseLimits limits) : limits_(limits) {}

ChunkOutcome PhraseStreams::add_chunk(const std::string& stream_id, std::int64_t sequence, int n, AudioFormat format,
                                      std::span<const std::int16_t> samples, const RecognitionFactory& open_recognition,
                                      Clock::time_point now) {
  ChunkOutcome outcome;
  std::shared_ptr<Phrase> phrase;
  {
    std::lock_guard lock(mutex_);
    auto it = phrases_.find({stream_id, sequence});
    if (it == phrases_.end()) {
      if (n != 0) {
        // Chunk 0 never came (or the phrase expired): the client must start over or close
        // with the whole audio.
        outcome.status = ChunkStatus::out_of_order;
        outcome.expected_chunk = 0;
        return outcome;
      }
      if (phrases_.size() >= limits_.max_open) {
        outcome.status = ChunkStatus::too_many_open;
        return outcome;
      }
      it = phrases_.emplace(Key{stream_id, sequence}, std::make_shared<Phrase>()).first;
      it->second->audio.format = format;
    }
    phrase = it->second;
    phrase->last_seen = now;
  }

  std::unique_lock phrase_lock(phrase->mutex);
  outcome.expected_chunk = phrase->chunks;
  const auto held_ms = [&] {
    return static_cast<double>(phrase->audio.frames()) * 1000.0 / std::max(1, phrase->audio.format.sample_rate);
  };
  outcome.received_ms = held_ms();
  if (phrase->gone) {  // taken or dropped while this request waited for the phrase
    outcome.status = ChunkStatus::out_of_order;
    outcome.expected_chunk = 0;
    return outcome;
  }
  if (n < phrase->chunks) {
    outcome.status = ChunkStatus::duplicate;
    outcome.recognising = phrase->recognition != nullptr;
    outcome.heard = phrase->heard;
    return outcome;
  }
  if (n > phrase->chunks) {
    outcome.status = ChunkStatus::out_of_order;
    return outcome;
  }
  if (format != phrase->audio.format) {
    outcome.status = ChunkStatus::format_mismatch;
    return outcome;
  }
  const auto frames = static_cast<std::int64_t>(samples.size()) / std::max(1, format.channels);
  const double added_ms = static_cast<double>(frames) * 1000.0 / std::max(1, format.sample_rate);
  if (outcome.received_ms + added_ms > limits_.max_phrase_ms) {
    // Nothing the client sends after this can be dubbed: the phrase goes, and with it its memory.
    phrase->gone = true;
    phrase_lock.unlock();
    std::lock_guard lock(mutex_);
    auto it = phrases_.find({stream_id, sequence});
    if (it != phrases_.end() && it->second == phrase) phrases_.erase(it);
    outcome.status = ChunkStatus::too_long;
    return outcome;
  }
  phrase->audio.samples.insert(phrase->audio.samples.end(), samples.begin(), samples.end());
  ++phrase->chunks;
  outcome.expected_chunk = phrase->chunks;
  outcome.received_ms = held_ms();
  if (n == 0 && open_recognition) phrase->recognition = open_recognition();
  if (phrase->recognition) {
    try {
      if (format.channels == 1) {
        phrase->recognition->feed(samples, format.sample_rate);
      } else {
        const auto mono = downmix_to_mono(samples, format.channels);
        phrase->recognition->feed(mono, format.sample_rate);
      }
      phrase->heard = phrase->recognition->heard();
    } catch (const std::exception& e) {
      // The audio is kept: the close recognises it whole instead.
      outcome.recognition_error = e.what();
      phrase->recognition.reset();
      phrase->heard.clear();
    }
  }
  outcome.recognising = phrase->recognition != nullptr;
  outcome.heard = phrase->heard;
  return outcome;
}

std::optional<ClosedPhrase> PhraseStreams::take(const std::string& stream_id, std::int64_t sequence,
                                                Clock::time_point now) {
  std::shared_ptr<Phrase> phrase;
  {
    std::lock_guard lock(mutex_);
    auto it = phrases_.find({stream_id, sequence});
    if (it == phrases_.end()) return std::nullopt;
    if (now - it->second->last_seen > limits_.idle_timeout) {
      it->second->gone = true;
      phrases_.erase(it);
      return std::nullopt;
    }
    phrase = it->second;
    phrases_.erase(it);
  }
  std::lock_guard phrase_lock(phrase->mutex);  // a chunk still being fed finishes first
  phrase->gone = true;
  ClosedPhrase closed;
  closed.audio = std::move(phrase->audio);
  closed.chunks = phrase->chunks;
  closed.recognition = std::move(phrase->recognition);
  return closed;
}

bool PhraseStreams::abandon(const std::string& stream_id, std::int64_t sequence) {
  std::shared_ptr<Phrase> phrase;
  {
    std::lock_guard lock(mutex_);
    auto it = phrases_.find({stream_id, sequence});
    if (it == phrases_.end()) return false;
    phrase = it->second;
    phrases_.erase(it);
  }
  std::lock_guard phrase_lock(phrase->mutex);
  phrase->gone = true;
  phrase->recognition.reset();
  return true;
}

std::size_t PhraseStreams::expire(Clock::time_point now) {
  std::vector<std::shared_ptr<Phrase>> dropped;  // destroyed outside the lock (decoders go back)
  {
    std::lock_guard lock(mutex_);
    for (auto it = phrases_.begin(); it != phrases_.end();) {
      if (now - it->second->last_seen > limits_.idle_timeout) {
        dropped.push_back(it->second);
        it = phrases_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& phrase : dropped) {
    std::lock_guard phrase_lock(phrase->mutex);
    phrase->gone = true;
    phrase->recognition.reset();
  }
  return dropped.size();
}

std::size_t PhraseStreams::open_count() {
  std::lock_guard lock(mutex_);
  return phrases_.size();
}

}  // namespace livedub::sts
