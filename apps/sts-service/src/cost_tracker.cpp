#include "sts/cost_tracker.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace livedub::sts {

namespace {

// Nearest-rank percentile of sorted `values` (not empty).
double percentile(const std::vector<double>& values, double p) {
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

}  // namespace

CostTracker::CostTracker(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

void CostTracker::add(double audio_ms, double total_ms) {
  if (!(audio_ms >= kCostMinAudioMs) || !(total_ms >= 0) || !std::isfinite(total_ms)) return;
  std::lock_guard lock(mutex_);
  samples_.push_back({total_ms / (audio_ms / 1000.0), total_ms});
  while (samples_.size() > capacity_) samples_.pop_front();
}

std::optional<CostSummary> CostTracker::summary() const {
  std::vector<double> ratios, totals;
  {
    std::lock_guard lock(mutex_);
    if (samples_.size() < kCostMinSamples) return std::nullopt;
    for (const auto& s : samples_) {
      ratios.push_back(s.ms_per_audio_s);
      totals.push_back(s.total_ms);
    }
  }
  std::sort(ratios.begin(), ratios.end());
  std::sort(totals.begin(), totals.end());
  return CostSummary{ratios.size(), percentile(ratios, 0.5), percentile(ratios, 0.95), percentile(totals, 0.95)};
}

}  // namespace livedub::sts
