// whisper.cpp behind the SpeechRecognizer interface, with a generated tiny model of random
// weights: loading, the inference plumbing, timestamps, concurrency and error paths.
// Accuracy cannot be asserted without real weights (none can be downloaded here).
#include "sts/whisper_asr.hpp"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "command.hpp"
#include "sts/cpu_engine.hpp"
#include "sts/espeak_tts.hpp"
#include "test_audio.hpp"

namespace livedub::sts {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;

std::string sha1_of(const fs::path& path) {
  return test_support::run_command({"/usr/bin/sha1sum", path.string()}).output.substr(0, 40);
}

class WhisperAsr : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("livedub-whisper-asr-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    write_random_whisper_model(model_path(), tiny_test_whisper_hparams());
    WhisperOptions options;
    options.model_path = model_path();
    options.device = WhisperDevice::kCpu;
    options.threads = 2;
    model_ = new std::shared_ptr<const WhisperModel>(std::make_shared<const WhisperModel>(options));
  }
  static void TearDownTestSuite() {
    delete model_;
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path model_path() { return *dir_ / "ggml-test.bin"; }

  static AudioBuffer english_speech_48k_stereo(const std::string& text) {
    const auto speech = EspeakSynthesizer::shared().synthesize(text, "en", "default");
    return conform_audio(speech, {48000, 2}, speech.frames() * 48000 / speech.format.sample_rate);
  }

  static fs::path* dir_;
  static std::shared_ptr<const WhisperModel>* model_;
};
fs::path* WhisperAsr::dir_ = nullptr;
std::shared_ptr<const WhisperModel>* WhisperAsr::model_ = nullptr;

TEST_F(WhisperAsr, LoadsAGeneratedModelOnTheCpu) {
  const auto& model = **model_;
  EXPECT_FALSE(model.on_gpu());
  EXPECT_EQ(model.device_description(), "CPU");
  EXPECT_EQ(model.summary().hparams, tiny_test_whisper_hparams());
  // Multilingual vocabulary: every whisper language, including both ends of eng-spa.
  EXPECT_THAT(model.languages(), Contains("en"));
  EXPECT_THAT(model.languages(), Contains("es"));
  EXPECT_GT(model.languages().size(), 90u);
}

TEST_F(WhisperAsr, SpeechRunsThroughTheWholeDecoderWithTimestampsInsideTheFragment) {
  WhisperRecognizer recognizer(*model_);
  const auto audio = english_speech_48k_stereo("go forward ten meters and then turn left");
  const auto duration_ms = audio.frames() * 1000 / 48000;
  const auto started = std::chrono::steady_clock::now();
  const auto transcript = recognizer.recognize(audio, {"en", "the previous fragment", {}});
  const auto elapsed = std::chrono::steady_clock::now() - started;
  // Random weights decode to arbitrary tokens; what must hold is the plumbing around them.
  // Greedy decoding of the seeded model is deterministic and yields at least one segment.
  ASSERT_FALSE(transcript.segments.empty());
  EXPECT_EQ(drop_invalid_utf8(transcript.text), transcript.text) << "transcript must be valid UTF-8";
  std::string joined;
  std::int64_t previous_end = 0;
  for (const auto& segment : transcript.segments) {
    EXPECT_FALSE(segment.text.empty());
    EXPECT_NE(segment.text.front(), ' ');
    EXPECT_GE(segment.start_ms, previous_end - 1000) << "segments in order";
    EXPECT_GE(segment.start_ms, 0);
    EXPECT_LE(segment.start_ms, segment.end_ms);
    EXPECT_LE(segment.end_ms, duration_ms);
    previous_end = segment.end_ms;
    joined += (joined.empty() ? "" : " ");
    joined += segment.text;
  }
  EXPECT_EQ(joined, transcript.text);
  EXPECT_LT(elapsed, std::chrono::seconds(30));
}

// whisper's abort callback: a fragment whose client has given up stops mid-decode.
TEST_F(WhisperAsr, ADeadlineStopsTheDecodeEarly) {
  WhisperRecognizer recognizer(*model_);
  const auto audio = english_speech_48k_stereo("go forward ten meters and then turn left at the second door");
  auto timed = [&](std::chrono::steady_clock::time_point deadline) {
    const auto started = std::chrono::steady_clock::now();
    bool expired = false;
    try {
      recognizer.recognize(audio, {"en", "", {}, deadline});
    } catch (const DeadlineExpired&) {
      expired = true;
    }
    return std::make_pair(expired, std::chrono::steady_clock::now() - started);
  };
  const auto [full_expired, full] = timed(std::chrono::steady_clock::time_point::max());
  EXPECT_FALSE(full_expired);
  const auto [past_expired, past] = timed(std::chrono::steady_clock::now());
  EXPECT_TRUE(past_expired);
  const auto [soon_expired, soon] = timed(std::chrono::steady_clock::now() + full / 5);
  EXPECT_TRUE(soon_expired);
  std::cout << "whisper decode: full " << std::chrono::duration<double>(full).count() << " s, deadline at a fifth: "
            << std::chrono::duration<double>(soon).count() << " s, past deadline: " << std::chrono::duration<double>(past).count()
            << " s" << std::endl;
  // Early, with room for an encoder step that is slow on a busy machine (the tests run two at
  // a time): the deadline is at a fifth of a full decode.
  EXPECT_LT(soon, full * 3 / 4);
  EXPECT_LT(past, full / 2);
}

TEST_F(WhisperAsr, FittedContextEncodesJustTheFragment) {
  WhisperOptions options;
  options.model_path = model_path();
  options.device = WhisperDevice::kCpu;
  options.fit_context = true;
  WhisperRecognizer recognizer(std::make_shared<const WhisperModel>(options));
  const auto audio = english_speech_48k_stereo("this sentence is a little longer than two seconds of speech");
  const auto duration_ms = audio.frames() * 1000 / 48000;
  ASSERT_GT(duration_ms, 2500);
  const auto transcript = recognizer.recognize(audio, {"en", "", {}});
  EXPECT_EQ(drop_invalid_utf8(transcript.text), transcript.text);
  for (const auto& segment : transcript.segments) EXPECT_LE(segment.end_ms, duration_ms);
}

TEST_F(WhisperAsr, SilenceIsNeverDecoded) {
  WhisperRecognizer recognizer(*model_);
  AudioBuffer silence{{48000, 2}, 0, std::vector<std::int16_t>(48000 * 2 * 2, 0)};
  const auto started = std::chrono::steady_clock::now();
  const auto transcript = recognizer.recognize(silence, {"en", "", {}});
  EXPECT_TRUE(transcript.text.empty());
  EXPECT_TRUE(transcript.segments.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(200));
}

TEST_F(WhisperAsr, FragmentsShorterThanWhisperAcceptsArePadded) {
  WhisperRecognizer recognizer(*model_);
  const auto tone = fixtures::sine_audio(16000, 1, 1600);  // 100 ms, whisper's lower limit
  const auto transcript = recognizer.recognize(tone, {"en", "", {}});
  for (const auto& segment : transcript.segments) EXPECT_LE(segment.end_ms, 100);
}

TEST_F(WhisperAsr, UnknownLanguageIsAnError) {
  WhisperRecognizer recognizer(*model_);
  try {
    recognizer.recognize(fixtures::sine_audio(16000, 1, 16000), {"xx", "", {}});
    FAIL() << "expected AsrError";
  } catch (const AsrError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'xx'"));
  }
}

TEST_F(WhisperAsr, RecognizersSharingOneModelRunInParallel) {
  const auto audio = english_speech_48k_stereo("hello there");
  std::vector<std::future<Transcript>> runs;
  std::vector<std::unique_ptr<WhisperRecognizer>> recognizers;
  for (int i = 0; i < 3; ++i) recognizers.push_back(std::make_unique<WhisperRecognizer>(*model_));
  for (auto& recognizer : recognizers) {
    runs.push_back(std::async(std::launch::async, [&] { return recognizer->recognize(audio, {"en", "", {}}); }));
  }
  std::vector<std::string> texts;
  for (auto& run : runs) texts.push_back(run.get().text);
  // Same model, same audio, greedy decoding: the same answer from every state.
  EXPECT_EQ(texts[0], texts[1]);
  EXPECT_EQ(texts[1], texts[2]);
}

TEST_F(WhisperAsr, MissingModelSaysWhereAndHowToFetchIt) {
  WhisperOptions options;
  options.model_path = *dir_ / "ggml-base.bin";
  try {
    WhisperModel model(options);
    FAIL() << "expected an error";
  } catch (const WhisperModelFileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("ggml-base.bin does not exist"));
    EXPECT_THAT(e.what(), HasSubstr("scripts/fetch-whisper-model"));
  }
}

TEST_F(WhisperAsr, ChecksumSidecarIsVerifiedAtLoad) {
  const auto copy = *dir_ / "ggml-checked.bin";
  fs::copy_file(model_path(), copy, fs::copy_options::overwrite_existing);
  const auto sidecar = fs::path(copy.string() + ".sha1");
  const auto sum = sha1_of(copy);
  ASSERT_EQ(sum.size(), 40u);
  std::ofstream(sidecar) << sum << "  ggml-checked.bin\n";
  WhisperOptions options;
  options.model_path = copy;
  options.device = WhisperDevice::kCpu;
  EXPECT_NO_THROW(WhisperModel{options});

  // One flipped bit deep in a tensor: structurally fine, so only the checksum can tell.
  {
    std::fstream file(copy, std::ios::binary | std::ios::in | std::ios::out);
    file.seekg(static_cast<std::streamoff>(fs::file_size(copy) - 100));
    char byte = 0;
    file.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x10);
    file.seekp(static_cast<std::streamoff>(fs::file_size(copy) - 100));
    file.write(&byte, 1);
  }
  EXPECT_NO_THROW(inspect_whisper_model(copy));
  try {
    WhisperModel model(options);
    FAIL() << "expected a checksum error";
  } catch (const WhisperModelFileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("is corrupt: SHA-1"));
    EXPECT_THAT(e.what(), HasSubstr(sum));
  }
}

TEST_F(WhisperAsr, RequiringAGpuWithoutOneIsAClearStartUpError) {
  if (whisper_gpu_available()) GTEST_SKIP() << "a GPU backend is present: the GPU path is measured by the benchmark";
  WhisperOptions options;
  options.model_path = model_path();
  options.device = WhisperDevice::kGpu;
  try {
    WhisperModel model(options);
    FAIL() << "expected AsrError";
  } catch (const AsrError& e) {
    EXPECT_THAT(e.what(), HasSubstr("LIVEDUB_STS_WHISPER_DEVICE=gpu"));
  }
}

TEST_F(WhisperAsr, EmbeddedEngineWithWhisperDubsBothWaysOfTheInstalledPairs) {
  CpuEngineOptions options;
  options.asr_engine = "whisper";
  options.whisper.model_path = model_path();
  options.whisper.device = WhisperDevice::kCpu;
  options.whisper.threads = 2;
  CpuDubbingEngine engine(options);
  const auto caps = engine.capabilities();
  EXPECT_EQ(caps.asr_engine, "whisper ggml-test.bin (CPU)");
  // whisper hears Spanish too, so Apertium's spa-eng becomes dubbable next to eng-spa.
  EXPECT_THAT(caps.pairs, Contains(LanguagePair{"en", "es"}));
  EXPECT_THAT(caps.pairs, Contains(LanguagePair{"es", "en"}));

  const auto audio = english_speech_48k_stereo("the weather is nice today");
  const double duration_ms = static_cast<double>(audio.frames()) * 1000.0 / 48000.0;
  const auto result = engine.dub(DubRequestMetadata{"whisper-engine", 1, "en", "es", "default", duration_ms}, audio);
  EXPECT_EQ(result.audio.format, audio.format);
  EXPECT_EQ(result.audio.frames(), frames_for_duration(duration_ms, 48000));
  EXPECT_TRUE(result.stage_timings_ms.count(kStageAsr));
}

}  // namespace
}  // namespace livedub::sts
