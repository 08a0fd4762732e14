// SparseDetector: which frames the wrapped detector scores, and what the others report.
#include "voice_detector.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace livedub::worker;

namespace {

// Scores frames from a script, one character per frame ('S' speech 0.9, 'w' weak 0.07, '.'
// none 0.02), and records which frames it scored ('s') and which it was only shown ('-').
class ScriptedDetector : public VoiceDetector {
 public:
  ScriptedDetector(std::string script, std::string& log) : script_(std::move(script)), log_(log) {}
  float speech_probability(std::span<const float> frame) override {
    log_ += 's';
    const char c = script_.at(index(frame));
    return c == 'S' ? 0.9f : c == 'w' ? 0.07f : 0.02f;
  }
  void skip(std::span<const float>) override { log_ += '-'; }
  void reset() override { log_ += '|'; }
  std::string name() const override { return "scripted"; }

 private:
  // Each test frame carries its position in the script in its first sample.
  static std::size_t index(std::span<const float> frame) { return static_cast<std::size_t>(frame[0]); }
  std::string script_;
  std::string& log_;
};

struct Run {
  std::string log;
  std::vector<float> scores;
};

Run run(const std::string& script, int stride, int quiet_frames = 4, float wake = SparseDetector::kWake) {
  Run r;
  SparseDetector d(std::make_unique<ScriptedDetector>(script, r.log), stride, quiet_frames, wake);
  std::vector<float> frame(VoiceDetector::kFrameSamples, 0.0f);
  for (std::size_t i = 0; i < script.size(); ++i) {
    frame[0] = static_cast<float>(i);
    r.scores.push_back(d.speech_probability(frame));
  }
  return r;
}

}  // namespace

TEST(SparseDetector, OutsideSpeechOnlyEveryStrideThFrameIsScored) {
  const auto r = run("..........", 2);
  // Four quiet frames scored, then one in two; the others are shown for their context.
  EXPECT_EQ(r.log, "ssss-s-s-s");
  for (float p : r.scores) EXPECT_FLOAT_EQ(p, 0.02f);
  EXPECT_EQ(run(".............", 3).log, "ssss--s--s--s");
}

TEST(SparseDetector, AFrameThatSoundsLikeSpeechBringsBackEveryFrame) {
  const auto r = run("......SSSS......", 2);
  // Frame 6 is passed over (its score repeats frame 5's), frame 7 is heard: from then on every
  // frame is scored until four quiet ones in a row.
  EXPECT_EQ(r.log, "ssss-s-sssssss-s");
  EXPECT_FLOAT_EQ(r.scores[6], 0.02f);
  for (std::size_t i = 7; i < 10; ++i) EXPECT_FLOAT_EQ(r.scores[i], 0.9f) << i;
  // An onset is heard at most stride - 1 frames late.
  const auto late = run("....SSSS", 3);
  EXPECT_EQ(late.log, "ssss--ss");
  EXPECT_FLOAT_EQ(late.scores[5], 0.02f);
  EXPECT_FLOAT_EQ(late.scores[6], 0.9f);
}

TEST(SparseDetector, StrideOneScoresEveryFrameAndResetStartsOver) {
  EXPECT_EQ(run("..........", 1).log, "ssssssssss");
  std::string log;
  SparseDetector d(std::make_unique<ScriptedDetector>("........", log), 2, 2);
  std::vector<float> frame(VoiceDetector::kFrameSamples, 0.0f);
  for (int i = 0; i < 4; ++i) {
    frame[0] = static_cast<float>(i);
    d.speech_probability(frame);
  }
  d.reset();
  for (int i = 4; i < 8; ++i) {
    frame[0] = static_cast<float>(i);
    d.speech_probability(frame);
  }
  EXPECT_EQ(log, "ss-s|ss-s");
  EXPECT_EQ(d.scored_frames(), 6);
}

// LIVEDUB_VAD_THRESHOLD under 0.1: scores between it and 0.1 are speech to the segmenter, so
// they must keep every frame scored (a passed-over frame would only repeat the last score).
TEST(SparseDetector, ScoresTheSegmenterTakesAsSpeechKeepEveryFrameScored) {
  EXPECT_FLOAT_EQ(sparse_wake(0.35f), SparseDetector::kWake);
  EXPECT_FLOAT_EQ(sparse_wake(0.05f), 0.05f);
  EXPECT_EQ(run("wwwwwwww", 2, 4, sparse_wake(0.35f)).log, "ssss-s-s");
  EXPECT_EQ(run("wwwwwwww", 2, 4, sparse_wake(0.05f)).log, "ssssssss");
}
