// The caption journal and the status file on a full disk, simulated with RLIMIT_FSIZE (writes
// beyond it fail with EFBIG after a partial write, as ENOSPC does on a full filesystem).
#include "livedub/files.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "livedub/captions.hpp"

namespace livedub {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    dir_ = fs::temp_directory_path() / ("livedub-files-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    fs::remove_all(dir_);
  }
  void limit_file_size(rlim_t bytes) {
    rlimit r = saved_;
    r.rlim_cur = bytes;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &r), 0);
  }
  void space_returns() { ::setrlimit(RLIMIT_FSIZE, &saved_); }

  rlimit saved_{};
  fs::path dir_;
};

std::string cue_line(int seq) {
  return to_json(CaptionCue{seq, "es", false, seq * 1000, seq * 1000 + 900, "frase número " + std::to_string(seq)}).dump() + "\n";
}

TEST_F(FullDisk, TheCaptionJournalKeepsWholeLinesAndCatchesUpWhenSpaceReturns) {
  LineJournal journal;
  ASSERT_TRUE(journal.open((dir_ / "captions.jsonl").string(), false));
  ASSERT_TRUE(journal.append(cue_line(1)));
  limit_file_size(cue_line(1).size() + 20);  // the next line fits only in part
  std::string error;
  EXPECT_FALSE(journal.append(cue_line(2), &error));
  EXPECT_NE(error.find("File too large"), std::string::npos) << error;
  EXPECT_FALSE(journal.append(cue_line(3)));
  EXPECT_EQ(journal.failures(), 2u);
  // No torn line: what is there parses completely.
  std::size_t skipped = 99;
  EXPECT_EQ(parse_caption_journal(slurp(dir_ / "captions.jsonl"), &skipped).size(), 1u);
  EXPECT_EQ(skipped, 0u);
  space_returns();
  EXPECT_TRUE(journal.append(cue_line(4)));
  const auto cues = parse_caption_journal(slurp(dir_ / "captions.jsonl"), &skipped);
  ASSERT_EQ(cues.size(), 4u);  // nothing lost: the queued cues went in first, in order
  EXPECT_EQ(skipped, 0u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(cues[static_cast<std::size_t>(i)].seq, i + 1);
  EXPECT_EQ(journal.queued_bytes(), 0u);
}

TEST_F(FullDisk, AFullDiskThatLastsQueuesABoundedAmountAndCountsWhatItDrops) {
  LineJournal journal;
  const auto line = cue_line(1);
  ASSERT_TRUE(journal.open((dir_ / "captions.jsonl").string(), false, nullptr, line.size() * 3));
  limit_file_size(10);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(journal.append(cue_line(i)));
  EXPECT_LE(journal.queued_bytes(), line.size() * 3 + 3);
  EXPECT_GE(journal.dropped_lines(), 6u);
  space_returns();
  EXPECT_TRUE(journal.flush());
  std::size_t skipped = 99;
  const auto cues = parse_caption_journal(slurp(dir_ / "captions.jsonl"), &skipped);
  EXPECT_EQ(skipped, 0u);
  ASSERT_FALSE(cues.empty());
  EXPECT_EQ(cues.back().seq, 9);  // the newest are kept
}

TEST_F(FullDisk, AJournalReopenedAfterATornLineStartsOnANewLine) {
  const auto path = dir_ / "captions.jsonl";
  std::ofstream(path) << cue_line(1) << cue_line(2).substr(0, 15);  // a predecessor died mid-write
  LineJournal journal;
  ASSERT_TRUE(journal.open(path.string(), true));
  ASSERT_TRUE(journal.append(cue_line(3)));
  std::size_t skipped = 0;
  const auto cues = parse_caption_journal(slurp(path), &skipped);
  ASSERT_EQ(cues.size(), 2u);
  EXPECT_EQ(cues[1].seq, 3);
  EXPECT_EQ(skipped, 1u);  // the torn line only
}

TEST_F(FullDisk, AStatusFileIsReplacedWholeOrNotAtAll) {
  const auto path = (dir_ / "status.json").string();
  ASSERT_TRUE(write_file_atomically(path, R"({"state":"dubbing"})" "\n"));
  limit_file_size(8);
  std::string error;
  EXPECT_FALSE(write_file_atomically(path, R"({"state":"degraded","detail":"a longer body"})" "\n", &error));
  EXPECT_NE(error.find("status.json.tmp"), std::string::npos) << error;
  EXPECT_EQ(slurp(path), R"({"state":"dubbing"})" "\n");  // the old one, not 0 bytes
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  space_returns();
  EXPECT_TRUE(write_file_atomically(path, "{}\n"));
  EXPECT_EQ(slurp(path), "{}\n");
}

TEST(Files, UnwritablePlacesAreReportedNotThrown) {
  std::string error;
  EXPECT_FALSE(write_file_atomically("/proc/livedub-no/status.json", "{}", &error));
  EXPECT_NE(error.find("cannot create"), std::string::npos);
  LineJournal journal;
  EXPECT_FALSE(journal.open("/proc/livedub-no/captions.jsonl", false, &error));
  EXPECT_FALSE(journal.append("x\n"));
}

TEST(Files, AWholeFileIsReadAsBytesAndAMissingOneIsNullopt) {
  const auto path = std::filesystem::path(::testing::TempDir()) / ("read-whole-" + std::to_string(::getpid()));
  const std::string bytes("a\0b\r\nc", 6);
  ASSERT_TRUE(write_file_atomically(path.string(), bytes));
  EXPECT_EQ(read_whole_file(path), bytes);
  std::filesystem::remove(path);
  EXPECT_EQ(read_whole_file(path), std::nullopt);
  EXPECT_EQ(read_whole_file("/proc/self"), std::nullopt);  // a directory
}

}  // namespace
}  // namespace livedub
