#include "fragment_scheduler.hpp"

#include <gtest/gtest.h>

using namespace livedub;
using namespace livedub::worker;
using namespace std::chrono_literals;

namespace {
Fragment fragment(std::int64_t seq, std::int16_t value, bool silence = false) {
  Fragment f;
  f.seq = seq;
  f.audio.format = {48000, 1};
  f.audio.start_frame = seq * 10;
  f.audio.samples.assign(10, value);
  f.synthetic_silence = silence;
  if (!silence) f.speech.push_back({0, 10});
  return f;
}
AudioBuffer dubbed(std::int16_t value) {
  AudioBuffer a;
  a.format = {48000, 1};
  a.samples.assign(10, value);
  return a;
}
const TimePoint t0{};
}  // namespace

TEST(FragmentScheduler, NeverHasMoreThanMaxInFlight) {
  FragmentScheduler s(2);
  for (int i = 0; i < 5; ++i) s.submit(fragment(i, 1), t0 + 10s);
  auto a = s.take_for_dispatch(t0);
  auto b = s.take_for_dispatch(t0);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->seq, 0);
  EXPECT_EQ(b->seq, 1);
  EXPECT_FALSE(s.take_for_dispatch(t0).has_value());
  EXPECT_EQ(s.in_flight(), 2u);
  s.complete(1, dubbed(9));
  auto c = s.take_for_dispatch(t0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->seq, 2);
}

TEST(FragmentScheduler, ReleasesStrictlyInOrderWhenResultsArriveOutOfOrder) {
  FragmentScheduler s(3);
  for (int i = 0; i < 3; ++i) s.submit(fragment(i, 1), t0 + 10s);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.take_for_dispatch(t0));
  s.complete(2, dubbed(22));
  s.complete(1, dubbed(11));
  EXPECT_TRUE(s.pop_in_order().empty());  // 0 still open
  s.complete(0, dubbed(0));
  auto out = s.pop_in_order();
  ASSERT_EQ(out.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].seq, i);
    EXPECT_EQ(out[i].outcome, FragmentOutcome::dubbed);
    EXPECT_EQ(out[i].audio.start_frame, i * 10) << "dubbed audio keeps its fragment's position";
  }
  EXPECT_EQ(out[2].audio.samples[0], 22);
  EXPECT_TRUE(s.drained());
}

TEST(FragmentScheduler, FailureFallsBackToOriginalAudio) {
  FragmentScheduler s(1);
  s.submit(fragment(0, 42), t0 + 10s);
  ASSERT_TRUE(s.take_for_dispatch(t0));
  s.fail(0, FragmentOutcome::fallback_error, "HTTP 500");
  auto out = s.pop_in_order();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, FragmentOutcome::fallback_error);
  EXPECT_EQ(out[0].audio.samples[0], 42);
  EXPECT_EQ(out[0].detail, "HTTP 500");
  EXPECT_EQ(s.in_flight(), 0u);
}

TEST(FragmentScheduler, DeadlineFallsBackAndALateAnswerIsIgnoredButFreesItsSlot) {
  FragmentScheduler s(1);
  s.submit(fragment(0, 42), t0 + 2s);
  s.submit(fragment(1, 43), t0 + 4s);
  ASSERT_TRUE(s.take_for_dispatch(t0));
  s.expire(t0 + 1s);
  EXPECT_TRUE(s.pop_in_order().empty());
  EXPECT_EQ(s.next_deadline(), t0 + 2s);
  s.expire(t0 + 2s);
  auto out = s.pop_in_order();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, FragmentOutcome::fallback_timeout);
  EXPECT_EQ(out[0].audio.samples[0], 42);
  EXPECT_FALSE(s.take_for_dispatch(t0 + 2s)) << "the timed-out request still holds its slot";
  s.complete(0, dubbed(7));  // too late: dropped
  auto next = s.take_for_dispatch(t0 + 2s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->seq, 1);
}

TEST(FragmentScheduler, QueuedFragmentsPastTheirDeadlineAreNotSent) {
  FragmentScheduler s(1);
  s.submit(fragment(0, 1), t0 + 1s);
  s.submit(fragment(1, 2), t0 + 1s);
  ASSERT_TRUE(s.take_for_dispatch(t0));
  s.complete(0, dubbed(5));
  EXPECT_FALSE(s.take_for_dispatch(t0 + 3s).has_value());
  auto out = s.pop_in_order();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].outcome, FragmentOutcome::fallback_timeout);
}

TEST(FragmentScheduler, SilenceNeedsNoRequest) {
  FragmentScheduler s(1);
  s.submit(fragment(0, 0, true), t0 + 1s);
  EXPECT_FALSE(s.take_for_dispatch(t0).has_value());
  auto out = s.pop_in_order();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, FragmentOutcome::silence);
}

TEST(FragmentScheduler, RejectsDuplicateSequenceNumbers) {
  FragmentScheduler s(1);
  s.submit(fragment(0, 0), t0 + 1s);
  EXPECT_THROW(s.submit(fragment(0, 0), t0 + 1s), std::logic_error);
  EXPECT_THROW(FragmentScheduler(0), std::invalid_argument);
}

TEST(FragmentScheduler, FragmentsWithoutSpeechAreKeptAndNeverDispatched) {
  FragmentScheduler s(2);
  auto music = fragment(0, 5);
  music.speech.clear();
  s.submit(std::move(music), t0 + 10s);
  s.submit(fragment(1, 6), t0 + 10s);
  auto job = s.take_for_dispatch(t0);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->seq, 1) << "the speechless fragment is not sent to STS";
  EXPECT_EQ(job->speech, (std::vector<SpeechSpan>{{0, 10}}));
  s.complete(1, dubbed(9), SpeechSpan{2, 8});
  auto out = s.pop_in_order();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].outcome, FragmentOutcome::no_speech);
  EXPECT_EQ(out[0].audio.samples[0], 5) << "its original audio is the output";
  EXPECT_EQ(out[1].outcome, FragmentOutcome::dubbed);
  EXPECT_EQ(out[1].original.samples[0], 6) << "a dubbed fragment keeps its original as the bed";
  EXPECT_EQ(out[1].audio.samples[0], 9);
  EXPECT_EQ(out[1].voice_span, (SpeechSpan{2, 8}));
}
