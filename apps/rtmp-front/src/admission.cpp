#include "rtmp_front/admission.hpp"

namespace livedub::rtmp {

const char* refusal_name(Refusal refusal) {
  switch (refusal) {
    case Refusal::none: return "none";
    case Refusal::too_many_connections: return "max_connections";
    case Refusal::too_many_pending_from_address: return "max_pending_per_address";
  }
  return "unknown";
}

Refusal Admission::admit(const std::string& address) {
  if (open_ >= limits_.max_connections) return Refusal::too_many_connections;
  auto& pending = pending_[address];
  if (pending >= limits_.max_pending_per_address) return Refusal::too_many_pending_from_address;
  ++pending;
  ++pending_total_;
  ++open_;
  return Refusal::none;
}

void Admission::established(const std::string& address) {
  auto it = pending_.find(address);
  if (it == pending_.end() || it->second == 0) return;
  --pending_total_;
  if (--it->second == 0) pending_.erase(it);
}

void Admission::closed(const std::string& address, bool pending) {
  if (open_ > 0) --open_;
  if (pending) established(address);  // leaves the pending quota the same way
}

std::size_t Admission::pending_from(const std::string& address) const {
  auto it = pending_.find(address);
  return it == pending_.end() ? 0 : it->second;
}

}  // namespace livedub::rtmp
