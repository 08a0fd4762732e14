#include "speech_segmenter.hpp"
#include "segmenter_fixture.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace livedub;
using namespace livedub::worker;
using namespace std::chrono_literals;

namespace {
using test::kBlock;
using test::kRate;
SegmenterConfig config() { return test::small_segmenter_config(); }

struct Feed {
  SpeechSegmenter segmenter{config(), {kRate, 1}, kBlock};
  std::int64_t next = 0;
  std::vector<Fragment> out;
  // One block per character: 'S' speech (p 0.9), 'w' weak (0.4: continues, never starts),
  // '.' no speech (0.05), 'q' no speech and quiet. Levels: speech loud, pause soft.
  void blocks(const std::string& pattern, double rms_speech = 0.3) {
    for (char c : pattern) {
      AnalyzedBlock b;
      b.audio = AudioBuffer{{kRate, 1}, next * kBlock, std::vector<std::int16_t>(kBlock, static_cast<std::int16_t>(next))};
      b.info.speech_probability = c == 'S' ? 0.9f : c == 'w' ? 0.4f : 0.05f;
      b.info.rms = c == 'S' ? rms_speech : c == 'q' ? 0.001 : 0.02;
      ++next;
      for (auto& f : segmenter.push(std::move(b))) out.push_back(std::move(f));
    }
  }
  void flush() {
    for (auto& f : segmenter.flush()) out.push_back(std::move(f));
  }
  std::vector<const Fragment*> with_speech() const {
    std::vector<const Fragment*> found;
    for (const auto& f : out)
      if (!f.speech.empty()) found.push_back(&f);
    return found;
  }
  std::int64_t total_frames() const {
    std::int64_t n = 0;
    for (const auto& f : out) n += f.audio.frames();
    return n;
  }
};

std::vector<SpeechSpan> spans_in_blocks(const Fragment& f) {
  std::vector<SpeechSpan> out;
  for (auto s : f.speech) out.push_back({s.begin / kBlock, s.end / kBlock});
  return out;
}
}  // namespace

TEST(SpeechSegmenter, MusicAloneNeverBecomesSpeech) {
  Feed feed;
  feed.blocks(std::string(300, '.'));
  feed.flush();
  ASSERT_FALSE(feed.out.empty());
  for (const auto& f : feed.out) EXPECT_TRUE(f.speech.empty());
  EXPECT_EQ(feed.total_frames(), 300 * kBlock) << "every frame comes out exactly once";
  EXPECT_LE(feed.segmenter.held_frames(), 0);
}

TEST(SpeechSegmenter, SpeechlessAudioIsReleasedInPiecesWhileWaiting) {
  Feed feed;
  feed.blocks(std::string(100, '.'));
  // idle_flush (20 blocks) + pre-roll (5) held at most.
  EXPECT_LE(feed.segmenter.held_frames(), 25 * kBlock);
  EXPECT_GE(feed.out.size(), 3u);
}

TEST(SpeechSegmenter, APhraseIsOneFragmentWithPreRollAndTheFollowingPause) {
  Feed feed;
  feed.blocks(std::string(10, '.') + std::string(40, 'S') + std::string(40, '.'));
  feed.flush();
  const Fragment* phrase = nullptr;
  for (const auto& f : feed.out) {
    if (!f.speech.empty()) {
      ASSERT_EQ(phrase, nullptr) << "one phrase, one fragment";
      phrase = &f;
    }
  }
  ASSERT_NE(phrase, nullptr);
  EXPECT_EQ(phrase->audio.start_frame, 5 * kBlock) << "starts one pre-roll (5 blocks) before the onset";
  EXPECT_EQ(spans_in_blocks(*phrase), (std::vector<SpeechSpan>{{5, 45}}));
  EXPECT_EQ(phrase->audio.frames(), (5 + 40 + 20) * kBlock) << "phrase + slot pause (20 blocks)";
  EXPECT_EQ(feed.total_frames(), 90 * kBlock);
}

TEST(SpeechSegmenter, CutsInThePauseBeforeTheNextPhrase) {
  Feed feed;
  feed.blocks(std::string(40, 'S') + std::string(15, '.') + std::string(40, 'S') + std::string(30, '.'));
  feed.flush();
  const auto speech = feed.with_speech();
  ASSERT_EQ(speech.size(), 2u);
  // Pause: blocks 40..54; next onset 55; cut one pre-roll before it, at 50.
  EXPECT_EQ(speech[0]->audio.end_frame(), 50 * kBlock);
  EXPECT_EQ(speech[1]->audio.start_frame, 50 * kBlock);
  EXPECT_EQ(spans_in_blocks(*speech[1]), (std::vector<SpeechSpan>{{5, 45}}));
}

TEST(SpeechSegmenter, ShortPhrasesShareAFragmentUntilTheMinimum) {
  Feed feed;
  // 12-block phrases with 12-block pauses: each alone would be 24 blocks < 30 (minimum).
  feed.blocks(std::string(12, 'S') + std::string(12, '.') + std::string(12, 'S') + std::string(40, '.'));
  feed.flush();
  const auto speech = feed.with_speech();
  ASSERT_EQ(speech.size(), 1u);
  EXPECT_EQ(spans_in_blocks(*speech[0]), (std::vector<SpeechSpan>{{0, 12}, {24, 36}}));
}

TEST(SpeechSegmenter, WeakFramesContinueButNeverStartSpeech) {
  Feed feed;
  feed.blocks(std::string(30, 'w'));
  feed.blocks(std::string(20, 'S') + std::string(8, 'w') + std::string(20, 'S') + std::string(40, '.'));
  feed.flush();
  const auto speech = feed.with_speech();
  ASSERT_EQ(speech.size(), 1u);
  EXPECT_EQ(speech[0]->speech.size(), 1u) << "the weak stretch inside speech does not split it";
}

TEST(SpeechSegmenter, BlipsShorterThanMinSpeechAreNotSpeech) {
  Feed feed;
  feed.blocks(std::string(20, '.') + "SSS" + std::string(60, '.'));
  feed.flush();
  for (const auto& f : feed.out) EXPECT_TRUE(f.speech.empty());
  EXPECT_EQ(feed.total_frames(), 83 * kBlock);
}

TEST(SpeechSegmenter, ALongPhraseIsCutAtTheQuietestPointBeforeTheMaximum) {
  Feed feed;
  // 200 blocks of speech; a quiet dip (still speech to the detector) at blocks 80-81.
  for (int i = 0; i < 200; ++i) feed.blocks("S", (i == 80 || i == 81) ? 0.01 : 0.3);
  feed.blocks(std::string(40, '.'));
  feed.flush();
  ASSERT_GE(feed.out.size(), 2u);
  const auto& first = feed.out[0];
  EXPECT_LE(first.audio.frames(), 100 * kBlock) << "never longer than the maximum";
  EXPECT_EQ(first.audio.end_frame(), 81 * kBlock) << "cut between the two quiet blocks";
  EXPECT_EQ(spans_in_blocks(first), (std::vector<SpeechSpan>{{0, 81}}));
  EXPECT_EQ(spans_in_blocks(feed.out[1]).front().begin, 0) << "the phrase continues at the next fragment's start";
  for (const auto& f : feed.out) EXPECT_LE(f.audio.frames(), 100 * kBlock);
  EXPECT_EQ(feed.total_frames(), 240 * kBlock);
}

TEST(SpeechSegmenter, NeverCutsInsideSpeechWhileAPauseIsReachable) {
  Feed feed;
  // Phrases of 30 blocks with 12-block pauses, for a long time: every cut lands in a pause.
  std::string pattern;
  for (int i = 0; i < 10; ++i) pattern += std::string(30, 'S') + std::string(12, '.');
  feed.blocks(pattern);
  feed.flush();
  std::int64_t at = 0;
  for (const auto& f : feed.out) {
    at += f.audio.frames() / kBlock;
    if (at >= static_cast<std::int64_t>(pattern.size())) break;
    EXPECT_EQ(pattern[static_cast<std::size_t>(at - 1)], '.') << "cut after block " << at - 1;
    EXPECT_LE(f.audio.frames(), 100 * kBlock);
  }
}

TEST(SpeechSegmenter, SyntheticSilenceIsNeverSpeechAndFlushClosesTheOpenPhrase) {
  Feed feed;
  feed.blocks(std::string(30, 'S'));
  feed.flush();
  ASSERT_EQ(feed.out.size(), 1u);
  EXPECT_EQ(spans_in_blocks(feed.out[0]), (std::vector<SpeechSpan>{{0, 30}}));
}

TEST(SpeechSegmenter, ALongPhraseIsCutBetweenTheWordsTheRecogniserHeard) {
  Feed feed;
  // Speech from block 0. Quiet blocks: 80-81 (a stop inside a word: no word boundary there),
  // 74-75 (softer, where two words touch) and 86-87 (a short pause between two words).
  const auto level = [](int i) {
    return (i == 80 || i == 81) ? 0.01 : (i == 74 || i == 75) ? 0.05 : (i == 86 || i == 87) ? 0.1 : 0.3;
  };
  for (int i = 0; i < 60; ++i) feed.blocks("S", level(i));
  ASSERT_EQ(feed.segmenter.open_fragment_seq(), 0);
  // Gaps between heard words (frames from the fragment start): touching words at block 75, a
  // 40 ms pause around block 86, one outside the 70-100 search window.
  feed.segmenter.set_word_gaps(0, {{75 * kBlock, 75 * kBlock}, {84 * kBlock, 88 * kBlock}, {20 * kBlock, 30 * kBlock}});
  for (int i = 60; i < 200; ++i) feed.blocks("S", level(i));
  ASSERT_GE(feed.out.size(), 2u);
  EXPECT_EQ(feed.out[0].audio.end_frame(), 87 * kBlock)
      << "cut in the pause heard between two words: not inside the word at 80, not where two words touch";
  EXPECT_EQ(feed.segmenter.cut_stats().at_word_gap, 1);
  // The next fragment has no word timings yet (they were the first one's): quietest block.
  EXPECT_GE(feed.segmenter.cut_stats().at_quietest_block, 1);
}

TEST(SpeechSegmenter, WordGapsOfAFragmentAlreadyOutAreIgnored) {
  Feed feed;
  feed.blocks(std::string(10, '.') + std::string(40, 'S'));
  EXPECT_EQ(feed.segmenter.open_fragment_seq(), 1);  // the music before the pre-roll left as fragment 0
  feed.segmenter.set_word_gaps(0, {{85 * kBlock, 87 * kBlock}});  // stale: fragment 0 is out
  for (int i = 0; i < 200; ++i) feed.blocks("S", (i == 40 || i == 41) ? 0.01 : 0.3);
  EXPECT_EQ(feed.segmenter.cut_stats().at_word_gap, 0);
}

TEST(SpeechSegmenter, HeldAudioIsWhatTheNextFragmentStartsWith) {
  Feed feed;
  EXPECT_FALSE(feed.segmenter.open_fragment_seq()) << "nothing is streamed before speech";
  feed.blocks(".." + std::string(20, 'S'));
  ASSERT_TRUE(feed.segmenter.open_fragment_seq());
  const auto held = feed.segmenter.held_audio(0);
  EXPECT_EQ(held.frames(), feed.segmenter.held_frames());
  const auto tail = feed.segmenter.held_audio(2 * kBlock);
  EXPECT_EQ(tail.frames(), held.frames() - 2 * kBlock);
  EXPECT_EQ(tail.start_frame, held.start_frame + 2 * kBlock);
  feed.blocks(std::string(30, '.'));
  feed.flush();
  const auto phrases = feed.with_speech();
  ASSERT_EQ(phrases.size(), 1u);
  EXPECT_EQ(phrases[0]->audio.start_frame, held.start_frame);
}
