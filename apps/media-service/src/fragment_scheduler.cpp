#include "fragment_scheduler.hpp"

#include <stdexcept>

namespace livedub::worker {

const char* to_string(FragmentOutcome outcome) {
  switch (outcome) {
    case FragmentOutcome::dubbed: return "dubbed";
    case FragmentOutcome::fallback_error: return "fallback_error";
    case FragmentOutcome::fallback_timeout: return "fallback_timeout";
    case FragmentOutcome::silence: return "silence";
    case FragmentOutcome::no_speech: return "no_speech";
  }
  return "unknown";
}

FragmentScheduler::FragmentScheduler(std::size_t max_in_flight) : max_in_flight_(max_in_flight) {
  if (max_in_flight == 0) throw std::invalid_argument("max_in_flight must be >= 1");
}

void FragmentScheduler::submit(Fragment fragment, TimePoint deadline) {
  const auto seq = fragment.seq;
  if (!next_to_pop_) next_to_pop_ = seq;
  if (seq < *next_to_pop_ || entries_.count(seq)) {
    throw std::logic_error("fragment " + std::to_string(seq) + " submitted twice or out of order");
  }
  Entry entry{std::move(fragment), deadline, std::nullopt};
  if (entry.fragment.synthetic_silence) {
    resolve_with_original(entry, FragmentOutcome::silence, "");
  } else if (entry.fragment.speech.empty()) {
    resolve_with_original(entry, FragmentOutcome::no_speech, "");
  } else {
    waiting_.push_back(seq);
  }
  entries_.emplace(seq, std::move(entry));
}

std::optional<Dispatch> FragmentScheduler::take_for_dispatch(TimePoint now) {
  while (!waiting_.empty() && in_flight_.size() < max_in_flight_) {
    auto seq = waiting_.front();
    waiting_.pop_front();
    auto& entry = entries_.at(seq);
    if (entry.resolved) continue;  // already fell back while queued
    if (entry.deadline <= now) {
      resolve_with_original(entry, FragmentOutcome::fallback_timeout,
                            "deadline passed before a request slot was free");
      continue;
    }
    in_flight_.insert(seq);
    return Dispatch{seq, entry.fragment.audio, entry.fragment.speech, entry.deadline};
  }
  return std::nullopt;
}

void FragmentScheduler::complete(std::int64_t seq, AudioBuffer dubbed, std::optional<SpeechSpan> voice_span,
                                 std::string sts_metadata, DubExtras extras) {
  in_flight_.erase(seq);
  auto it = entries_.find(seq);
  if (it == entries_.end() || it->second.resolved) return;
  auto& fragment = it->second.fragment;
  dubbed.start_frame = fragment.audio.start_frame;
  it->second.resolved = ResolvedFragment{seq,           std::move(dubbed),      FragmentOutcome::dubbed, "",
                                         fragment.audio, fragment.speech, voice_span,  std::move(sts_metadata),
                                         std::move(extras)};
  for (auto& track : it->second.resolved->texts.extra) {
    if (track.dubbed) track.audio.start_frame = fragment.audio.start_frame;
  }
}

void FragmentScheduler::fail(std::int64_t seq, FragmentOutcome reason, std::string detail) {
  in_flight_.erase(seq);
  auto it = entries_.find(seq);
  if (it == entries_.end() || it->second.resolved) return;
  resolve_with_original(it->second, reason, std::move(detail));
}

void FragmentScheduler::expire(TimePoint now) {
  for (auto& [seq, entry] : entries_) {
    if (!entry.resolved && entry.deadline <= now) {
      resolve_with_original(entry, FragmentOutcome::fallback_timeout,
                            in_flight_.count(seq) ? "STS did not answer before the deadline"
                                                  : "deadline passed while queued");
    }
  }
}

std::vector<ResolvedFragment> FragmentScheduler::pop_in_order() {
  std::vector<ResolvedFragment> out;
  while (next_to_pop_) {
    auto it = entries_.find(*next_to_pop_);
    if (it == entries_.end() || !it->second.resolved) break;
    out.push_back(std::move(*it->second.resolved));
    entries_.erase(it);
    ++*next_to_pop_;
  }
  return out;
}

std::optional<TimePoint> FragmentScheduler::next_deadline() const {
  std::optional<TimePoint> earliest;
  for (const auto& [seq, entry] : entries_) {
    if (!entry.resolved && (!earliest || entry.deadline < *earliest)) earliest = entry.deadline;
  }
  return earliest;
}

void FragmentScheduler::advance_deadlines(std::chrono::nanoseconds by) {
  for (auto& [seq, entry] : entries_) {
    entry.deadline -= std::chrono::duration_cast<TimePoint::duration>(by);
  }
}

void FragmentScheduler::resolve_with_original(Entry& entry, FragmentOutcome reason,
                                              std::string detail) {
  const auto& f = entry.fragment;
  entry.resolved = ResolvedFragment{f.seq, f.audio, reason, std::move(detail), f.audio, f.speech, std::nullopt, {}, {}};
}

}  // namespace livedub::worker
