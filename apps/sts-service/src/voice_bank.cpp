#include "sts/voice_bank.hpp"

#include <algorithm>

namespace livedub::sts {

void VoiceBank::expire(Clock::time_point now) {
  std::erase_if(voices_, [&](const auto& item) { return now - item.second.last_used > ttl_; });
}

void VoiceBank::put(const std::string& stream_id, std::shared_ptr<const PocketVoice> voice, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  voices_[stream_id] = Entry{std::move(voice), now};
  while (voices_.size() > std::max<std::size_t>(max_voices_, 1)) {
    const auto oldest = std::min_element(voices_.begin(), voices_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    voices_.erase(oldest);
  }
}

std::shared_ptr<const PocketVoice> VoiceBank::get(const std::string& stream_id, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  const auto it = voices_.find(stream_id);
  if (it == voices_.end()) return nullptr;
  it->second.last_used = now;
  return it->second.voice;
}

bool VoiceBank::forget(const std::string& stream_id) {
  std::lock_guard lock(mutex_);
  return voices_.erase(stream_id) > 0;
}

std::size_t VoiceBank::size(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire(now);
  return voices_.size();
}

}  // namespace livedub::sts
