#include "fragment_cutter.hpp"

#include <gtest/gtest.h>

#include <numeric>

using namespace livedub;
using namespace livedub::worker;

namespace {
constexpr int kRate = 48000;
constexpr std::int64_t kFrames = 96000;  // 2 s
std::vector<std::int16_t> ramp(std::size_t n, std::int16_t start = 1) {
  std::vector<std::int16_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}
std::int64_t ns(std::int64_t frames) { return samples_to_ns(frames, kRate); }
}  // namespace

TEST(FragmentCutter, CutsContiguousAudioIntoExactFragments) {
  FragmentCutter cutter({kRate, 1}, kFrames);
  std::vector<Fragment> out;
  for (std::int64_t at = 0; at < 5 * kFrames / 2; at += 1024) {
    auto chunk = std::vector<std::int16_t>(1024, 7);
    for (auto& f : cutter.push(ns(at), chunk)) out.push_back(std::move(f));
  }
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].seq, 0);
  EXPECT_EQ(out[1].seq, 1);
  EXPECT_EQ(out[0].audio.start_frame, 0);
  EXPECT_EQ(out[1].audio.start_frame, kFrames);
  EXPECT_EQ(out[0].audio.frames(), kFrames);
  EXPECT_EQ(out[1].audio.start_ns(), 2'000'000'000);
  auto last = cutter.flush();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->seq, 2);
  EXPECT_EQ(last->audio.start_frame, 2 * kFrames);
  EXPECT_FALSE(last->synthetic_silence);
  EXPECT_FALSE(cutter.flush().has_value());
}

TEST(FragmentCutter, KeepsSamplesContiguousDespiteMillisecondTimestampJitter) {
  // FLV timestamps are whole milliseconds: 1024-frame AAC packets arrive at 0, 21, 43, 64 ms...
  FragmentCutter cutter({kRate, 1}, 4096);
  std::vector<Fragment> out;
  std::int16_t value = 0;
  for (int packet = 0; packet < 4; ++packet) {
    const std::int64_t pts_ms = packet * 1024 * 1000 / kRate;  // truncated to ms
    auto chunk = ramp(1024, value);
    value = static_cast<std::int16_t>(value + 1024);
    for (auto& f : cutter.push(pts_ms * 1'000'000, chunk)) out.push_back(std::move(f));
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(cutter.stats().gap_frames_filled, 0);
  EXPECT_EQ(cutter.stats().overlap_frames_dropped, 0);
  for (std::size_t i = 0; i < out[0].audio.samples.size(); ++i) {
    ASSERT_EQ(out[0].audio.samples[i], static_cast<std::int16_t>(i)) << i;
  }
}

TEST(FragmentCutter, FillsTimestampGapsWithSilenceSoAudioStaysInPlace) {
  FragmentCutter cutter({kRate, 1}, 4800);
  auto first = cutter.push(0, std::vector<std::int16_t>(1000, 5));
  auto second = cutter.push(ns(3000), std::vector<std::int16_t>(1800, 9));  // 2000-frame gap
  ASSERT_TRUE(first.empty());
  ASSERT_EQ(second.size(), 1u);
  const auto& s = second[0].audio.samples;
  EXPECT_EQ(s[999], 5);
  EXPECT_EQ(s[1000], 0);
  EXPECT_EQ(s[2999], 0);
  EXPECT_EQ(s[3000], 9);
  EXPECT_EQ(cutter.stats().gap_frames_filled, 2000);
}

TEST(FragmentCutter, DropsOverlappingAudio) {
  FragmentCutter cutter({kRate, 1}, 4800);
  (void)cutter.push(0, std::vector<std::int16_t>(4000, 1));
  auto out = cutter.push(ns(2000), ramp(4000));  // first 2000 frames overlap what we have
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].audio.samples[3999], 1);
  EXPECT_EQ(out[0].audio.samples[4000], 2001);  // ramp value of frame 2000 within the chunk
  EXPECT_EQ(cutter.stats().overlap_frames_dropped, 2000);
}

TEST(FragmentCutter, AdvancesWithSilenceWhenNoAudioArrives) {
  FragmentCutter cutter({kRate, 1}, kFrames);
  EXPECT_TRUE(cutter.advance_to(1'900'000'000).empty());  // first fragment not over yet
  auto out = cutter.advance_to(4'100'000'000);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].synthetic_silence);
  EXPECT_EQ(out[1].audio.start_frame, kFrames);
  // Audio that shows up later continues the same timeline.
  auto more = cutter.push(4'000'000'000, std::vector<std::int16_t>(kFrames, 3));
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].seq, 2);
  EXPECT_FALSE(more[0].synthetic_silence);
}

TEST(FragmentCutter, StereoFramesAreCountedAsFrames) {
  FragmentCutter cutter({kRate, 2}, 100);
  auto out = cutter.push(0, std::vector<std::int16_t>(400, 1));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].audio.frames(), 100);
  EXPECT_EQ(out[1].audio.start_frame, 100);
  EXPECT_THROW((void)cutter.push(ns(200), std::vector<std::int16_t>(3, 1)), std::invalid_argument);
}

TEST(FragmentCutter, IgnoresAudioBeforeTheTimelineOrigin) {
  FragmentCutter cutter({kRate, 1}, 100);
  auto out = cutter.push(-ns(50), ramp(150));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].audio.start_frame, 0);
  EXPECT_EQ(out[0].audio.samples[0], 51);
}
