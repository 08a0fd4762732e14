#pragma once
// Which client connections rtmp-front takes, as plain bookkeeping (the proxy does the I/O).
// An idle TCP connection costs an attacker nothing, so connections are capped in total and,
// while they have not yet published or played ("pending"), per client address: a flood from
// one address then fills its own quota, not the port. Established connections are not capped
// per address: the stream workers all connect from the media host's one address.
#include <cstddef>
#include <string>
#include <unordered_map>

namespace livedub::rtmp {

struct AdmissionLimits {
  std::size_t max_connections = 1000;
  std::size_t max_pending_per_address = 8;
};

enum class Refusal { none, too_many_connections, too_many_pending_from_address };

const char* refusal_name(Refusal refusal);

class Admission {
 public:
  explicit Admission(AdmissionLimits limits) : limits_(limits) {}
  // Counts the connection as open and pending when it returns Refusal::none.
  Refusal admit(const std::string& address);
  // A pending connection published or played: it leaves its address's pending quota.
  void established(const std::string& address);
  // An admitted connection closed; `pending` says whether it never established.
  void closed(const std::string& address, bool pending);

  std::size_t open() const { return open_; }
  std::size_t pending() const { return pending_total_; }
  std::size_t pending_from(const std::string& address) const;

 private:
  AdmissionLimits limits_;
  std::size_t open_ = 0;
  std::size_t pending_total_ = 0;
  std::unordered_map<std::string, std::size_t> pending_;  // only addresses with pending > 0
};

}  // namespace livedub::rtmp
