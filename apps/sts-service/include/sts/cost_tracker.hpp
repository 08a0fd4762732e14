#pragma once
// What dubbing costs this service lately, for the stream workers that plan their output delay
// on it (GET /v1/capabilities: "cost"): processing time (queue included) per second of audio,
// over its most recent dubs. Short fragments are left out: a fixed per-request cost would make
// their ratio say little about the longest fragment, which is what a delay is planned for.
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace livedub::sts {

inline constexpr double kCostMinAudioMs = 1000.0;
inline constexpr std::size_t kCostMinSamples = 1;

struct CostSummary {
  std::size_t samples = 0;
  double p50_ms_per_audio_s = 0;
  double p95_ms_per_audio_s = 0;
  double p95_total_ms = 0;
};

class CostTracker {
 public:
  explicit CostTracker(std::size_t capacity = 200);
  // One dub: `audio_ms` of input answered after `total_ms`. Thread-safe.
  void add(double audio_ms, double total_ms);
  // Nothing until kCostMinSamples dubs of at least kCostMinAudioMs are known. Thread-safe.
  std::optional<CostSummary> summary() const;

 private:
  struct Sample {
    double ms_per_audio_s;
    double total_ms;
  };
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<Sample> samples_;
};

}  // namespace livedub::sts
