#pragma once
// Per-stream memory of recently dubbed fragments: gives the engine the previous fragment as
// context and lets operators (and tests) read what a stream's speech was dubbed into via
// GET /v1/sessions/{stream_id}. Sessions idle longer than the TTL are forgotten, and the
// number of sessions and of fragments per session is bounded, so memory stays flat.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <deque>
#include <vector>

#include <nlohmann/json.hpp>

#include "sts/engine.hpp"

namespace livedub::sts {

struct FragmentRecord {
  std::int64_t sequence = 0;
  std::string source_lang;
  std::string target_lang;
  std::string transcript;
  std::string translation;
  std::string voice;
  std::string time_fit;
  double stretch_ratio = 1.0;
  std::map<std::string, double> timings_ms;
  std::string dubbed_at;  // ISO-8601 UTC
};

class SessionStore {
 public:
  using Clock = std::chrono::steady_clock;

  SessionStore(std::chrono::seconds ttl, std::size_t max_sessions = 1000, std::size_t fragments_per_session = 32);

  void record(const std::string& stream_id, FragmentRecord fragment, Clock::time_point now = Clock::now());
  // Context for fragment `sequence` of the stream: its direct predecessor, when remembered.
  DubContext context_for(const std::string& stream_id, std::int64_t sequence, Clock::time_point now = Clock::now());
  // Fragments of a live session, oldest first; nullopt when unknown or expired.
  std::optional<std::vector<FragmentRecord>> fragments(const std::string& stream_id,
                                                       Clock::time_point now = Clock::now());
  std::size_t session_count(Clock::time_point now = Clock::now());

 private:
  struct Session {
    Clock::time_point last_seen;
    std::deque<FragmentRecord> fragments;
  };
  void expire(Clock::time_point now);  // with mutex_ held

  std::chrono::seconds ttl_;
  std::size_t max_sessions_;
  std::size_t fragments_per_session_;
  std::mutex mutex_;
  std::map<std::string, Session> sessions_;
};

nlohmann::json to_json(const FragmentRecord& fragment);

}  // namespace livedub::sts
