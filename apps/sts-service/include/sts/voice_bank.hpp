#pragma once
// Per-stream speaker voices for the voice-preserving dub: what each stream's speaker sounds
// like, encoded once from the reference clip its worker sends (PUT /v1/streams/{id}/voice).
// Nothing outlives the stream: a voice goes when its worker says the stream ended (DELETE),
// after `ttl` without a dub that used it (a worker that died), or, past `max_voices`, the one
// used longest ago goes first. Only the encoded conditioning frames are kept, never the audio.
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "sts/pocket_tts.hpp"

namespace livedub::sts {

class VoiceBank {
 public:
  using Clock = std::chrono::steady_clock;

  VoiceBank(std::chrono::seconds ttl, std::size_t max_voices) : ttl_(ttl), max_voices_(max_voices) {}

  // Replaces the stream's voice.
  void put(const std::string& stream_id, std::shared_ptr<const PocketVoice> voice, Clock::time_point now = Clock::now());
  // The stream's voice (its use keeps it), or null.
  std::shared_ptr<const PocketVoice> get(const std::string& stream_id, Clock::time_point now = Clock::now());
  // True when the stream had one.
  bool forget(const std::string& stream_id);
  std::size_t size(Clock::time_point now = Clock::now());

 private:
  struct Entry {
    std::shared_ptr<const PocketVoice> voice;
    Clock::time_point last_used;
  };
  void expire(Clock::time_point now);  // with mutex_ held

  std::chrono::seconds ttl_;
  std::size_t max_voices_;
  std::mutex mutex_;
  std::map<std::string, Entry> voices_;
};

}  // namespace livedub::sts
