#include "sts/session_store.hpp"

#include <algorithm>

namespace livedub::sts {

SessionStore::SessionStore(std::chrono::seconds ttl, std::size_t max_sessions, std::size_t fragments_per_session)
    : ttl_(ttl), max_sessions_(std::max<std::size_t>(1, max_sessions)),
      fragments_per_session_(std::max<std::size_t>(1, fragments_per_session)) {}

void SessionStore::expire(Clock::time_point now) {
  std::erase_if(sessions_, [&](const auto& entry) { return now - entry.second.last_seen > ttl_; });
}

void SessionStore::record(const std::string& stream_id, FragmentRecord fragment, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  if (sessions_.count(stream_id) == 0 && sessions_.size() >= max_sessions_) {
    // Full: the least recently seen session makes room.
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.last_seen < b.second.last_seen;
    });
    sessions_.erase(oldest);
  }
  auto& session = sessions_[stream_id];
  session.last_seen = now;
  // Responses may complete out of order (several workers): keep the list sorted by sequence.
  auto at = std::upper_bound(session.fragments.begin(), session.fragments.end(), fragment.sequence,
                             [](std::int64_t seq, const FragmentRecord& f) { return seq < f.sequence; });
  session.fragments.insert(at, std::move(fragment));
  while (session.fragments.size() > fragments_per_session_) session.fragments.pop_front();
}

DubContext SessionStore::context_for(const std::string& stream_id, std::int64_t sequence, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  DubContext context;
  auto it = sessions_.find(stream_id);
  if (it == sessions_.end()) return context;
  for (const auto& fragment : it->second.fragments) {
    if (fragment.sequence != sequence - 1) continue;
    context.has_previous = true;
    context.previous_sequence = fragment.sequence;
    context.previous_transcript = fragment.transcript;
    context.previous_translation = fragment.translation;
  }
  return context;
}

std::optional<std::vector<FragmentRecord>> SessionStore::fragments(const std::string& stream_id,
                                                                   Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  auto it = sessions_.find(stream_id);
  if (it == sessions_.end()) return std::nullopt;
  return std::vector<FragmentRecord>(it->second.fragments.begin(), it->second.fragments.end());
}

std::size_t SessionStore::session_count(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  return sessions_.size();
}

nlohmann::json to_json(const FragmentRecord& f) {
  return {{"sequence", f.sequence},       {"source_lang", f.source_lang}, {"target_lang", f.target_lang},
          {"transcript", f.transcript},   {"translation", f.translation}, {"voice", f.voice},
          {"time_fit", f.time_fit},       {"stretch_ratio", f.stretch_ratio},
          {"timings_ms", f.timings_ms},   {"dubbed_at", f.dubbed_at}};
}

}  // namespace livedub::sts
