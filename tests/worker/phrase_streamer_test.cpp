#include "phrase_streamer.hpp"
#include "segmenter_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "sts_client.hpp"

using namespace livedub;
using namespace livedub::worker;
using namespace std::chrono_literals;

namespace {
using test::kBlock;
using test::kRate;
SegmenterConfig config() { return test::small_segmenter_config(); }

// Blocks into a segmenter, the streamer polled after each as the worker does.
struct Stream {
  SpeechSegmenter segmenter{config(), {kRate, 1}, kBlock};
  PhraseStreamer streamer{3 * kBlock};  // 30 ms chunks
  std::int64_t next = 0;
  std::vector<PhraseChunk> sent;
  std::vector<Fragment> fragments;
  std::vector<FinishedPhrase> finished;
  void blocks(const std::string& pattern) {
    for (char c : pattern) {
      AnalyzedBlock b;
      std::vector<std::int16_t> samples(kBlock);
      for (std::int64_t i = 0; i < kBlock; ++i) samples[static_cast<std::size_t>(i)] = static_cast<std::int16_t>((next * kBlock + i) % 20000);
      b.audio = AudioBuffer{{kRate, 1}, next * kBlock, std::move(samples)};
      b.info.speech_probability = c == 'S' ? 0.9f : 0.05f;
      b.info.rms = c == 'S' ? 0.3 : 0.02;
      ++next;
      for (auto& f : segmenter.push(std::move(b))) {
        auto done = streamer.finish(f);
        if (done.last) sent.push_back(*done.last);
        finished.push_back(std::move(done));
        fragments.push_back(std::move(f));
      }
      if (auto chunk = streamer.poll(segmenter)) sent.push_back(std::move(*chunk));
    }
  }
  // The samples the STS would hold for `seq`, in order.
  std::vector<std::int16_t> streamed(std::int64_t seq) const {
    std::vector<std::int16_t> out;
    int expected = 0;
    for (const auto& chunk : sent) {
      if (chunk.seq != seq) continue;
      EXPECT_EQ(chunk.n, expected++) << "chunks numbered in order";
      out.insert(out.end(), chunk.audio.samples.begin(), chunk.audio.samples.end());
    }
    return out;
  }
};
}  // namespace

TEST(PhraseStreamer, MusicIsNeverStreamed) {
  Stream s;
  s.blocks(std::string(100, '.'));
  EXPECT_TRUE(s.sent.empty());
  for (const auto& f : s.finished) EXPECT_FALSE(f.streamed);
}

TEST(PhraseStreamer, APhraseGoesOutAsItIsSpokenAndItsCloseCountsItsChunks) {
  Stream s;
  s.blocks(std::string(10, '.') + std::string(40, 'S'));
  ASSERT_FALSE(s.sent.empty()) << "chunks leave before the phrase ends";
  const auto before_end = s.sent.size();
  s.blocks(std::string(30, '.'));
  const Fragment* phrase = nullptr;
  const FinishedPhrase* done = nullptr;
  for (std::size_t i = 0; i < s.fragments.size(); ++i) {
    if (!s.fragments[i].speech.empty()) phrase = &s.fragments[i], done = &s.finished[i];
  }
  ASSERT_NE(phrase, nullptr);
  ASSERT_TRUE(done->streamed);
  EXPECT_GT(before_end, 5u);
  // The STS holds exactly the fragment's audio (the tail sent with the close), in chunks.
  EXPECT_EQ(s.streamed(phrase->seq), phrase->audio.samples);
  EXPECT_EQ(done->chunks, static_cast<int>(std::count_if(s.sent.begin(), s.sent.end(), [&](const PhraseChunk& c) {
              return c.seq == phrase->seq;
            })));
}

TEST(PhraseStreamer, AfterACutTheRestIsStreamedAgainAsTheNextFragment) {
  Stream s;
  s.blocks(std::string(250, 'S') + std::string(40, '.'));
  ASSERT_GE(s.fragments.size(), 3u);
  for (std::size_t i = 0; i < s.fragments.size(); ++i) {
    const auto& f = s.fragments[i];
    if (f.speech.empty()) continue;
    const auto streamed = s.streamed(f.seq);
    ASSERT_GE(streamed.size(), f.audio.samples.size()) << "fragment " << f.seq;
    // What went past a fragment's end (the cut came later than the stream) is trimmed by the
    // service; the fragment itself is the stream's start.
    EXPECT_TRUE(std::equal(f.audio.samples.begin(), f.audio.samples.end(), streamed.begin())) << "fragment " << f.seq;
  }
}

TEST(PhraseStreamer, AFragmentOutBeforeItsFirstChunkIsDubbedWhole) {
  PhraseStreamer streamer(1'000'000);  // chunks never fill
  Stream s;
  s.streamer = streamer;
  s.blocks(std::string(5, '.') + std::string(30, 'S') + std::string(40, '.'));
  EXPECT_TRUE(s.sent.empty());
  for (const auto& f : s.finished) EXPECT_FALSE(f.streamed);
}

TEST(PhraseStreamer, WordGapsComeFromConsecutiveHeardWords) {
  const std::vector<HeardWordMs> words{{0, 300}, {300, 620}, {700, 900}, {850, 1000}};
  const auto gaps = word_gaps(words, 16000);
  ASSERT_EQ(gaps.size(), 3u);
  EXPECT_EQ(gaps[0], (SpeechSpan{4800, 4800}));    // touching words
  EXPECT_EQ(gaps[1], (SpeechSpan{9920, 11200}));   // 80 ms apart
  EXPECT_EQ(gaps[2], (SpeechSpan{14400, 14400}));  // overlapping: the boundary at the first's end
  EXPECT_TRUE(word_gaps({{0, 100}}, 16000).empty());
}
