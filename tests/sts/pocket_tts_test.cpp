// Pocket TTS (zero-shot voice cloning) on models scripts/make-test-models generates with random
// weights in the files and ONNX contract of the model's community export: tokenizer, voice
// encoding, the stateful flow LM, flow steps and the streaming decoder all run for real; random
// weights say nothing of how the voice sounds, so what is tested is what the engine does.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "command.hpp"
#include "sts/pocket_tts.hpp"

namespace livedub::sts {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(PocketText, ReadsAsTheModelWasTrained) {
  EXPECT_EQ(pocket_prepare_text("hola a todos"), "Hola a todos.");
  EXPECT_EQ(pocket_prepare_text("  ¿qué tal?  "), "¿qué tal?");
  EXPECT_EQ(pocket_prepare_text("élan vital"), "Élan vital.");
  EXPECT_EQ(pocket_prepare_text("über\talles\n\x01 jetzt"), "Über alles jetzt.");
  EXPECT_EQ(pocket_prepare_text("10 metros"), "10 metros.");
  EXPECT_EQ(pocket_prepare_text("Hecho!"), "Hecho!");
  EXPECT_EQ(pocket_prepare_text(" \x02\r\n "), "");
  // Markup is text like any other: read as the characters it is, never interpreted.
  EXPECT_EQ(pocket_prepare_text("<speak>hola</speak>"), "<speak>hola</speak>");
}

TEST(PocketText, LongTextIsCutIntoSentencesThenBetweenWords) {
  const auto words = [](const std::string& s) { return static_cast<std::size_t>(1 + std::count(s.begin(), s.end(), ' ')); };
  EXPECT_EQ(pocket_text_chunks("Hola. ¿Qué tal? Bien", words, 50),
            (std::vector<std::string>{"Hola.", "¿Qué tal?", "Bien"}));
  EXPECT_EQ(pocket_text_chunks("uno dos tres cuatro cinco.", words, 2),
            (std::vector<std::string>{"uno dos", "tres cuatro", "cinco."}));
  EXPECT_EQ(pocket_text_chunks("3.5 metros", words, 50), (std::vector<std::string>{"3.5 metros"}));
  EXPECT_EQ(pocket_text_chunks("これは。テスト。", words, 50), (std::vector<std::string>{"これは。テスト。"}));
}

TEST(PocketText, LengthCapAndFlowSchedule) {
  EXPECT_EQ(pocket_max_frames(0), 25);   // 2 s at 12.5 frames/s
  EXPECT_EQ(pocket_max_frames(30), 150);  // 10 s + 2 s
  const auto one = pocket_flow_schedule(1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_FLOAT_EQ(one[0].s, 0.0f);
  EXPECT_FLOAT_EQ(one[0].t, 1.0f);
  const auto four = pocket_flow_schedule(4);
  ASSERT_EQ(four.size(), 4u);
  EXPECT_FLOAT_EQ(four[1].s, 0.25f);
  EXPECT_FLOAT_EQ(four[3].t, 1.0f);
  EXPECT_EQ(pocket_flow_schedule(0).size(), 1u);
}

TEST(PocketText, ReferenceClipIsResampledToWholeFrames) {
  std::vector<std::int16_t> second_at_16k(16000, 8192);
  const auto audio = pocket_reference_audio(second_at_16k, 16000);
  // 24000 samples -> 13 frames of 1920 (the last one zero-padded).
  ASSERT_EQ(audio.size(), 13u * kPocketFrameSamples);
  EXPECT_NEAR(audio[1000], 0.25f, 0.01f);
  EXPECT_EQ(audio.back(), 0.0f);
  EXPECT_TRUE(pocket_reference_audio(std::vector<std::int16_t>(1000, 1), 24000).empty());
  EXPECT_TRUE(pocket_reference_audio(second_at_16k, 0).empty());
}

class PocketTtsModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::path(::testing::TempDir()) / ("pocket-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    const auto made = test_support::run_command(
        {"/bin/bash", std::string(LIVEDUB_SOURCE_DIR) + "/scripts/make-test-models", "--only", "tts", dir_->string()}, {},
        std::chrono::seconds(180));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    tts_ = new PocketTts(model("test"));
  }
  static void TearDownTestSuite() {
    delete tts_;
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path model(const std::string& name) { return *dir_ / "tts" / "pocket" / name; }
  static fs::path copy_of(const std::string& name, const std::string& as) {
    const auto to = *dir_ / "copies" / as;
    fs::remove_all(to);
    fs::create_directories(to.parent_path());
    fs::copy(model(name), to, fs::copy_options::recursive);
    return to;
  }
  static std::string load_error(const fs::path& dir) {
    try {
      PocketTts tts(dir);
    } catch (const VoiceModelError& e) {
      return e.what();
    }
    return "";
  }
  // A second of a vowel-like tone at 16 kHz: a reference clip.
  static std::vector<float> clip(double hz) {
    std::vector<std::int16_t> pcm(16000);
    for (std::size_t i = 0; i < pcm.size(); ++i) {
      pcm[i] = static_cast<std::int16_t>(8000 * std::sin(2 * M_PI * hz * static_cast<double>(i) / 16000.0));
    }
    return pocket_reference_audio(pcm, 16000);
  }
  static fs::path* dir_;
  static PocketTts* tts_;
};
fs::path* PocketTtsModel::dir_ = nullptr;
PocketTts* PocketTtsModel::tts_ = nullptr;

TEST_F(PocketTtsModel, EncodesAReferenceClipIntoOneConditioningFramePerFrame) {
  const auto voice = tts_->encode_voice(clip(180));
  EXPECT_EQ(voice.count, 13);
  EXPECT_EQ(voice.dim, 64);  // the small shape's width (1024 in the real model)
  EXPECT_EQ(voice.frames.size(), 13u * 64u);
  EXPECT_THROW(tts_->encode_voice(std::vector<float>(100, 0.1f)), TtsError);
}

TEST_F(PocketTtsModel, SpeaksUntilTheLengthCapWhenEndOfSpeechNeverFires) {
  const auto voice = tts_->encode_voice(clip(180));
  const auto audio = tts_->synthesize("go forward ten meters", voice, 1);
  const auto stats = PocketTts::last_stats();
  EXPECT_FALSE(stats.ended_by_eos);
  EXPECT_GE(stats.frames, 25);  // at least the cap's 2 s floor
  EXPECT_EQ(audio.size(), static_cast<std::size_t>(stats.frames) * kPocketFrameSamples);
  float peak = 0;
  for (const auto v : audio) {
    ASSERT_TRUE(std::isfinite(v));
    peak = std::max(peak, std::abs(v));
  }
  EXPECT_GT(peak, 0.0f);
  EXPECT_LE(peak, 1.0f);
}

TEST_F(PocketTtsModel, StopsThreeFramesAfterEndOfSpeech) {
  PocketTts tts(model("test-eos"));  // its end-of-speech logit fires once 6 frames were fed
  const auto voice = tts.encode_voice(clip(180));
  const auto audio = tts.synthesize("hola", voice, 1);
  const auto stats = PocketTts::last_stats();
  EXPECT_TRUE(stats.ended_by_eos);
  EXPECT_EQ(stats.frames, 8);  // EOS seen at step 5, then 3 more frames
  EXPECT_EQ(audio.size(), 8u * kPocketFrameSamples);
}

TEST_F(PocketTtsModel, TheVoiceAndTheSeedShapeTheAudio) {
  const auto low = tts_->encode_voice(clip(120));
  const auto high = tts_->encode_voice(clip(400));
  const auto a = tts_->synthesize("thank you for watching", low, 7);
  EXPECT_EQ(a, tts_->synthesize("thank you for watching", low, 7));  // reproducible
  EXPECT_NE(a, tts_->synthesize("thank you for watching", high, 7));  // another speaker
  EXPECT_NE(a, tts_->synthesize("thank you for watching", low, 8));   // other noise
}

TEST_F(PocketTtsModel, EmptyMarkupAndVeryLongText) {
  const auto voice = tts_->encode_voice(clip(180));
  EXPECT_TRUE(tts_->synthesize(" \n\x01 ", voice, 1).empty());
  EXPECT_FALSE(tts_->synthesize("<speak><break time=\"9s\"/>hola</speak>\x07", voice, 1).empty());
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "the stream starts in five minutes ";
  PocketOptions options;
  options.max_seconds = 4.0;
  PocketTts capped(model("test"), options);
  const auto audio = capped.synthesize(long_text, voice, 1);
  EXPECT_EQ(PocketTts::last_stats().frames, 50);  // 4 s: the per-call cap, not the text's length
  EXPECT_EQ(audio.size(), 50u * kPocketFrameSamples);
}

TEST_F(PocketTtsModel, AVoiceFromAnotherModelIsRefused) {
  PocketVoice foreign{std::vector<float>(3 * 16, 0.0f), 3, 16};
  EXPECT_THROW(tts_->synthesize("hola", foreign, 1), TtsError);
}

TEST_F(PocketTtsModel, MissingOrMismatchedFilesAreNamed) {
  auto dir = copy_of("test", "no-flow");
  fs::remove(dir / "onnx" / "flow_lm_flow.onnx");
  EXPECT_THAT(load_error(dir), HasSubstr("flow_lm_flow.onnx: missing"));

  dir = copy_of("test", "no-tokenizer");
  fs::remove(dir / "tokenizer.model");
  EXPECT_THAT(load_error(dir), HasSubstr("tokenizer.model: missing"));

  dir = copy_of("test", "bad-tokenizer");
  std::ofstream(dir / "tokenizer.model") << "not a model";
  EXPECT_THAT(load_error(dir), HasSubstr("tokenizer.model: not a SentencePiece model"));

  dir = copy_of("test", "truncated");
  fs::resize_file(dir / "onnx" / "mimi_decoder.onnx", 1000);
  EXPECT_THAT(load_error(dir), HasSubstr("mimi_decoder.onnx"));

  // A graph in another graph's place: its contract does not match.
  dir = copy_of("test", "swapped");
  fs::copy_file(dir / "onnx" / "mimi_encoder.onnx", dir / "onnx" / "flow_lm_main.onnx",
                fs::copy_options::overwrite_existing);
  EXPECT_THAT(load_error(dir), HasSubstr("flow_lm_main.onnx: no input 'sequence'"));
}

}  // namespace
}  // namespace livedub::sts
