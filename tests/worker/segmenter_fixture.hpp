#pragma once
// The segmenter settings the segmentation tests share: 10 ms blocks at 16 kHz mono, so times
// in the config are block counts x 10.
#include <chrono>
#include <cstdint>

#include "speech_segmenter.hpp"

namespace livedub::worker::test {

inline constexpr int kRate = 16000;
inline constexpr std::int64_t kBlock = 160;

inline SegmenterConfig small_segmenter_config() {
  using namespace std::chrono_literals;
  SegmenterConfig c;
  c.min_speech = 100ms;
  c.min_pause = 100ms;
  c.pre_roll = 50ms;
  c.slot_pause = 200ms;
  c.min_fragment = 300ms;
  c.max_fragment = 1000ms;
  c.max_cut_search = 300ms;
  c.idle_flush = 200ms;
  return c;
}

}  // namespace livedub::worker::test
