// The whisper ggml model format: the generator writes what the inspector accepts, and the
// inspector names what is wrong with damaged files.
#include "sts/whisper_model_file.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sts/speech_recognizer.hpp"
#include "sts/whisper_asr.hpp"

namespace livedub::sts {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class WhisperModelFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("livedub-whisper-file-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    model_ = dir_ / "ggml-test.bin";
    write_random_whisper_model(model_, tiny_test_whisper_hparams());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string inspect_error(const fs::path& path) {
    try {
      inspect_whisper_model(path);
    } catch (const WhisperModelFileError& e) {
      return e.what();
    }
    return "(accepted)";
  }

  void patch_bytes(std::uintmax_t offset, const std::string& bytes) {
    std::fstream file(model_, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(offset));
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  fs::path dir_;
  fs::path model_;
};

TEST_F(WhisperModelFile, GeneratedTinyModelHasEveryTensorWhisperNeeds) {
  const auto summary = inspect_whisper_model(model_);
  EXPECT_EQ(summary.hparams, tiny_test_whisper_hparams());
  // 11 global tensors, 15 per encoder block, 24 per decoder block (whisper.cpp's count).
  EXPECT_EQ(summary.tensors, 11u + 15u + 24u);
  EXPECT_EQ(summary.vocab_words, 50257);
  EXPECT_TRUE(summary.multilingual());
  EXPECT_EQ(summary.file_bytes, fs::file_size(model_));
}

TEST_F(WhisperModelFile, RealSizesHaveTheirPublishedShapes) {
  const auto base = whisper_hparams_for_size("base");
  ASSERT_TRUE(base);
  EXPECT_EQ(base->n_audio_state, 512);
  EXPECT_EQ(base->n_audio_layer, 6);
  EXPECT_EQ(whisper_tensor_layout(*base).size(), 11u + 15u * 6 + 24u * 6);
  const auto turbo = whisper_hparams_for_size("large-v3-turbo");
  ASSERT_TRUE(turbo);
  EXPECT_EQ(turbo->n_mels, 128);
  EXPECT_EQ(turbo->n_text_layer, 4);
  EXPECT_FALSE(whisper_hparams_for_size("huge"));
}

TEST_F(WhisperModelFile, MissingFileIsNamed) {
  EXPECT_THAT(inspect_error(dir_ / "ggml-absent.bin"), HasSubstr("ggml-absent.bin does not exist"));
  EXPECT_THAT(inspect_error(dir_), HasSubstr("not a regular file"));
}

TEST_F(WhisperModelFile, WrongMagicIsNotAModel) {
  patch_bytes(0, "GGUF");
  EXPECT_THAT(inspect_error(model_), HasSubstr("not a whisper.cpp ggml model (bad magic)"));
}

TEST_F(WhisperModelFile, TruncationAnywhereIsReportedWithItsOffset) {
  const auto full = fs::file_size(model_);
  // Inside the header, inside the vocabulary, inside a tensor, and at a tensor boundary (the
  // case whisper.cpp itself would load as an empty model).
  for (const std::uintmax_t size : {std::uintmax_t{20}, std::uintmax_t{64'000}, full / 2, full - 1}) {
    write_random_whisper_model(model_, tiny_test_whisper_hparams());
    fs::resize_file(model_, size);
    const auto error = inspect_error(model_);
    EXPECT_THAT(error, HasSubstr("truncated")) << "size " << size;
    EXPECT_THAT(error, HasSubstr("of " + std::to_string(size) + ")")) << error;
  }
}

TEST_F(WhisperModelFile, FileCutAtATensorBoundaryLacksTensors) {
  // Drop the last tensor record whole (header: n_dims, name length, type, extents, name; then
  // f32 data): every remaining record is intact, yet the model is incomplete.
  const auto layout = whisper_tensor_layout(tiny_test_whisper_hparams());
  const auto& last = layout.back();
  std::uintmax_t record_bytes = 4 * (3 + last.shape.size()) + last.name.size();
  std::uintmax_t data_bytes = 4;
  for (const auto extent : last.shape) data_bytes *= static_cast<std::uintmax_t>(extent);
  fs::resize_file(model_, fs::file_size(model_) - record_bytes - data_bytes);
  EXPECT_THAT(inspect_error(model_), HasSubstr("1 of 50 tensors missing, the first '" + last.name + "'"));
}

TEST_F(WhisperModelFile, TrailingGarbageIsRejected) {
  std::ofstream(model_, std::ios::binary | std::ios::app) << "junk";
  EXPECT_THAT(inspect_error(model_), HasSubstr("truncated: a tensor header"));
}

TEST_F(WhisperModelFile, ImplausibleHeaderIsRejected) {
  patch_bytes(4 + 4 * 2, std::string("\x41\x00\x00\x00", 4));  // n_audio_state 65: differs from n_text_state
  EXPECT_THAT(inspect_error(model_), HasSubstr("n_text_state differs from n_audio_state"));
}

TEST_F(WhisperModelFile, ModelOfAnotherShapeIsRejected) {
  // A header that promises 2 encoder layers over tensors written for 1.
  patch_bytes(4 + 4 * 4, std::string("\x02\x00\x00\x00", 4));
  EXPECT_THAT(inspect_error(model_), HasSubstr("tensors missing"));
}

TEST(WhisperModelResolution, NamesLiveInTheModelDirectoryPathsAreTakenAsGiven) {
  EXPECT_EQ(resolve_whisper_model("base", "/models"), fs::path("/models/ggml-base.bin"));
  EXPECT_EQ(resolve_whisper_model("large-v3-turbo", "/workspace/models"),
            fs::path("/workspace/models/ggml-large-v3-turbo.bin"));
  EXPECT_EQ(resolve_whisper_model("/data/my-model.bin", "/models"), fs::path("/data/my-model.bin"));
  EXPECT_EQ(resolve_whisper_model("custom.bin", "/models"), fs::path("custom.bin"));
}

TEST(WhisperContext, FittedContextCoversTheFragmentWithAMarginUpToTheFullWindow) {
  EXPECT_EQ(fitted_audio_context(32000, 1500), 100 + 32);      // 2 s: 50 frames per second
  EXPECT_EQ(fitted_audio_context(32001, 1500), 101 + 32);      // a partial frame still counts
  EXPECT_EQ(fitted_audio_context(8000, 1500), 25 + 32);        // 0.5 s, whisper's padded minimum
  EXPECT_EQ(fitted_audio_context(16000 * 29, 1500), 1450 + 32);
  EXPECT_EQ(fitted_audio_context(16000 * 30, 1500), 1500);     // never beyond the model's window
  EXPECT_EQ(fitted_audio_context(16000 * 60, 1500), 1500);
}

TEST(Utf8, InvalidBytesAreDroppedValidTextKept) {
  EXPECT_EQ(drop_invalid_utf8("hola señor ¿qué tal? 日本 😀"), "hola señor ¿qué tal? 日本 😀");
  EXPECT_EQ(drop_invalid_utf8("ab\xC3"), "ab");               // cut-off two-byte sequence
  EXPECT_EQ(drop_invalid_utf8("\x80x\xBFy"), "xy");             // stray continuation bytes
  EXPECT_EQ(drop_invalid_utf8("\xC0\xAFz"), "z");               // overlong '/'
  EXPECT_EQ(drop_invalid_utf8("\xED\xA0\x80w"), "w");           // UTF-16 surrogate
  EXPECT_EQ(drop_invalid_utf8("\xF4\x90\x80\x80v"), "v");       // past U+10FFFF
  EXPECT_EQ(drop_invalid_utf8("\xE6\x97x"), "x");               // three-byte sequence missing its end
}

}  // namespace
}  // namespace livedub::sts
