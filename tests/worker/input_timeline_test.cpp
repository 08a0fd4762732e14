#include "input_timeline.hpp"

#include <gtest/gtest.h>

namespace livedub::worker {
namespace {

using Kind = InputTimeline::Kind;
constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t hour = 3600'000 * ms;

TEST(InputTimeline, ContinuousInputPassesUnchanged) {
  InputTimeline t;
  for (std::int64_t i = 0; i < 500; ++i) {
    EXPECT_EQ(t.map(Kind::audio, 1000 * ms + i * 21 * ms, 21 * ms).ts_ns, 1000 * ms + i * 21 * ms);
    EXPECT_EQ(t.map(Kind::video, 1000 * ms + i * 33 * ms, 0).ts_ns, 1000 * ms + i * 33 * ms);
  }
  // Ordinary gaps (a stalled connection, B-frame reordering) are not discontinuities.
  EXPECT_FALSE(t.map(Kind::audio, 1000 * ms + 500 * 21 * ms + 3000 * ms, 21 * ms).jump_ns);
  EXPECT_FALSE(t.map(Kind::video, 1000 * ms + 499 * 33 * ms - 66 * ms, 0).jump_ns);
  EXPECT_EQ(t.discontinuities(), 0);
}

// The case measured: +1 h in the middle of a stream, audio and video both.
TEST(InputTimeline, AForwardJumpContinuesTheTimelineAndKeepsAudioAndVideoAligned) {
  InputTimeline t;
  std::int64_t a = 0, v = 0;
  for (; a < 10'000 * ms; a += 20 * ms) t.map(Kind::audio, a, 20 * ms);
  for (; v < 10'000 * ms; v += 40 * ms) t.map(Kind::video, v, 40 * ms);
  // Then the publisher's clock jumps an hour; audio 5 ms ahead of video, as it was sent.
  const auto jumped_audio = t.map(Kind::audio, a + hour + 5 * ms, 20 * ms);
  ASSERT_TRUE(jumped_audio.jump_ns);
  EXPECT_EQ(*jumped_audio.jump_ns, hour + 25 * ms);  // from the last audio (9,980 ms)
  EXPECT_EQ(jumped_audio.ts_ns, 10'000 * ms);  // right after the last audio
  const auto jumped_video = t.map(Kind::video, v + hour, 40 * ms);
  ASSERT_TRUE(jumped_video.jump_ns);
  EXPECT_EQ(jumped_audio.ts_ns - jumped_video.ts_ns, 5 * ms);  // the publisher's A/V offset kept
  // And it keeps going from there, monotonic.
  EXPECT_EQ(t.map(Kind::audio, a + hour + 25 * ms, 20 * ms).ts_ns, 10'020 * ms);
  EXPECT_FALSE(t.map(Kind::video, v + hour + 40 * ms, 40 * ms).jump_ns);
  EXPECT_EQ(t.discontinuities(), 2);
}

TEST(InputTimeline, BackwardJumpsAndWrapsContinueForward) {
  InputTimeline t;
  for (std::int64_t a = 0; a <= 20'000 * ms; a += 20 * ms) t.map(Kind::audio, a, 20 * ms);
  const auto back = t.map(Kind::audio, 10'000 * ms, 20 * ms);  // 10 s back
  ASSERT_TRUE(back.jump_ns);
  EXPECT_EQ(back.ts_ns, 20'020 * ms);
  // RTMP's 32-bit millisecond clock wrapping to 0.
  InputTimeline w;
  const std::int64_t wrap = 4'294'967'295LL * ms;
  w.map(Kind::audio, wrap - 40 * ms, 20 * ms);
  w.map(Kind::audio, wrap - 20 * ms, 20 * ms);
  EXPECT_EQ(w.map(Kind::audio, 0, 20 * ms).ts_ns, wrap);
  EXPECT_EQ(w.map(Kind::audio, 20 * ms, 20 * ms).ts_ns, wrap + 20 * ms);
}

TEST(InputTimeline, AKindThatStartsAfterAJumpJoinsTheRepairedTimeline) {
  InputTimeline t;
  t.map(Kind::audio, 0, 20 * ms);
  t.map(Kind::audio, 20 * ms, 20 * ms);
  t.map(Kind::audio, hour, 20 * ms);
  EXPECT_EQ(t.map(Kind::video, hour + 10 * ms, 40 * ms).ts_ns, 50 * ms);
}

}  // namespace
}  // namespace livedub::worker
