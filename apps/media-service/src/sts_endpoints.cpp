#include "sts_endpoints.hpp"

#include <algorithm>
#include <sstream>

#include "livedub/config.hpp"

namespace livedub::worker {

std::vector<std::string> parse_sts_endpoints(const std::string& variable, const std::string& value) {
  std::vector<std::string> urls;
  std::stringstream list(value);
  std::string item;
  while (std::getline(list, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    item = item.substr(first, item.find_last_not_of(" \t") - first + 1);
    const auto scheme = url_scheme(item);
    if (!scheme || (*scheme != "http" && *scheme != "https") || item.size() <= scheme->size() + 3) {
      throw ConfigError(variable, "'" + item + "' is not an http(s):// URL");
    }
    while (item.back() == '/') item.pop_back();
    if (std::find(urls.begin(), urls.end(), item) != urls.end()) {
      throw ConfigError(variable, "'" + item + "' is listed twice");
    }
    urls.push_back(item);
  }
  if (urls.empty()) throw ConfigError(variable, "no STS endpoint given");
  return urls;
}

StsEndpointPool::StsEndpointPool(std::vector<std::string> urls, int eject_after_failures)
    : eject_after_failures_(std::max(1, eject_after_failures)) {
  for (auto& url : urls) endpoints_.push_back(Endpoint{std::move(url)});
}

std::optional<std::size_t> StsEndpointPool::acquire(std::optional<std::size_t> preferred) {
  std::lock_guard lock(mutex_);
  if (preferred && *preferred < endpoints_.size() && endpoints_[*preferred].healthy) {
    ++endpoints_[*preferred].in_flight;
    return preferred;
  }
  std::optional<std::size_t> best;
  for (std::size_t step = 0; step < endpoints_.size(); ++step) {
    const auto i = (next_ + step) % endpoints_.size();
    if (!endpoints_[i].healthy) continue;
    if (!best || endpoints_[i].in_flight < endpoints_[*best].in_flight) best = i;
  }
  if (!best) return std::nullopt;
  ++endpoints_[*best].in_flight;
  next_ = (*best + 1) % endpoints_.size();
  return best;
}

bool StsEndpointPool::release(std::size_t index, CallOutcome outcome, std::chrono::milliseconds took,
                              std::chrono::milliseconds budget) {
  std::lock_guard lock(mutex_);
  auto& e = endpoints_.at(index);
  e.in_flight = std::max(0, e.in_flight - 1);
  switch (outcome) {
    case CallOutcome::ok: {
      e.consecutive_failures = 0;
      e.consecutive_slow = 0;
      const auto ms = static_cast<double>(took.count());
      e.typical_ms = e.typical_ms == 0 ? std::max(1.0, ms) : 0.8 * e.typical_ms + 0.2 * ms;
      return false;
    }
    case CallOutcome::rejected:
      return false;
    case CallOutcome::failed:
      ++e.consecutive_failures;
      break;
    case CallOutcome::deadline_missed: {
      const bool endpoints_fault =
          e.typical_ms > 0 && static_cast<double>(budget.count()) >= kSlownessFactor * e.typical_ms;
      if (!endpoints_fault) return false;
      ++e.consecutive_slow;
      const auto in_service = std::count_if(endpoints_.begin(), endpoints_.end(), [](const Endpoint& x) { return x.healthy; });
      if (in_service <= 1) return false;  // slowness alone never takes out the last one
      break;
    }
  }
  const int streak = outcome == CallOutcome::failed ? e.consecutive_failures : e.consecutive_slow;
  if (e.healthy && streak >= eject_after_failures_) {
    e.healthy = false;
    return true;
  }
  return false;
}

std::chrono::milliseconds StsEndpointPool::typical_latency(std::size_t index) const {
  std::lock_guard lock(mutex_);
  return std::chrono::milliseconds(static_cast<std::int64_t>(endpoints_.at(index).typical_ms));
}

bool StsEndpointPool::health_checked(std::size_t index, bool ready) {
  std::lock_guard lock(mutex_);
  auto& e = endpoints_.at(index);
  if (!ready || e.healthy) return false;
  e.healthy = true;
  e.consecutive_failures = 0;
  e.consecutive_slow = 0;
  return true;
}

std::vector<std::size_t> StsEndpointPool::out_of_service() const {
  std::lock_guard lock(mutex_);
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    if (!endpoints_[i].healthy) out.push_back(i);
  }
  return out;
}

bool StsEndpointPool::healthy(std::size_t index) const {
  std::lock_guard lock(mutex_);
  return endpoints_.at(index).healthy;
}

std::size_t StsEndpointPool::healthy_count() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(endpoints_.begin(), endpoints_.end(), [](const Endpoint& e) { return e.healthy; }));
}

}  // namespace livedub::worker
