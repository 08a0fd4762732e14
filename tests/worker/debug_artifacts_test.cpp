#include "debug_artifacts.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "livedub/wav.hpp"

using namespace livedub;
using namespace livedub::worker;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("livedub-debug-test-" + std::to_string(::getpid()));
  TempDir() { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
};
AudioBuffer audio(std::int16_t value) { return AudioBuffer{{8000, 2}, 0, std::vector<std::int16_t>(8000, value)}; }
}  // namespace

TEST(DebugArtifacts, WritesEachFragmentsAudioAndMetadata) {
  TempDir dir;
  DebugArtifacts debug(dir.path, "show-1", 100 << 20, {});
  const auto in = audio(1), bed = audio(2), voice = AudioBuffer{{8000, 1}, 0, std::vector<std::int16_t>(4000, 3)},
             out = audio(4);
  debug.write({7, &in, &bed, &voice, &out, R"({"outcome":"dubbed"})"});
  const auto base = dir.path / "show-1";
  EXPECT_EQ(read_wav_file((base / "0000000007-input.wav").string()).samples, in.samples);
  EXPECT_EQ(read_wav_file((base / "0000000007-bed.wav").string()).samples, bed.samples);
  EXPECT_EQ(read_wav_file((base / "0000000007-voice.wav").string()).samples, voice.samples);
  EXPECT_EQ(read_wav_file((base / "0000000007-output.wav").string()).samples, out.samples);
  std::ifstream meta(base / "0000000007-sts.json");
  std::string text((std::istreambuf_iterator<char>(meta)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{\"outcome\":\"dubbed\"}\n");
}

TEST(DebugArtifacts, KeepsUnderTheCapByDeletingTheOldestFirst) {
  TempDir dir;
  const auto in = audio(1);  // 16 KB of samples + header per file
  DebugArtifacts debug(dir.path, "capped", 100'000, {});
  for (int seq = 0; seq < 20; ++seq) debug.write({seq, &in, nullptr, nullptr, &in, "{}"});
  EXPECT_LE(debug.bytes(), 100'000u);
  const auto base = dir.path / "capped";
  EXPECT_FALSE(fs::exists(base / "0000000000-input.wav")) << "the oldest fragment went first";
  EXPECT_TRUE(fs::exists(base / "0000000019-output.wav")) << "the newest is kept";
  std::uint64_t on_disk = 0;
  for (const auto& e : fs::directory_iterator(base)) on_disk += e.file_size();
  EXPECT_EQ(on_disk, debug.bytes());
  // A restart counts what is already there against the cap.
  DebugArtifacts again(dir.path, "capped", 50'000, {});
  EXPECT_LE(again.bytes(), 50'000u);
}

TEST(DebugArtifacts, PathsComeOnlyFromValidIds) {
  TempDir dir;
  EXPECT_THROW(DebugArtifacts(dir.path, "../escape", 1 << 20, {}), std::invalid_argument);
  EXPECT_THROW(DebugArtifacts(dir.path, "", 1 << 20, {}), std::invalid_argument);
}

// A full disk (RLIMIT_FSIZE stands in: writes past it fail, part-way, as ENOSPC does):
// no partial WAV is left, the failure is counted, and writing resumes when space returns.
TEST(DebugArtifacts, AFullDiskLeavesNoPartialFileAndIsCounted) {
  TempDir dir;
  DebugArtifacts debug(dir.path, "full", 100 << 20, {});
  const auto in = audio(1);
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit saved{};
  ::getrlimit(RLIMIT_FSIZE, &saved);
  rlimit small = saved;
  small.rlim_cur = 1000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  debug.write({1, &in, nullptr, nullptr, &in, "{}"});
  ::setrlimit(RLIMIT_FSIZE, &saved);
  EXPECT_EQ(debug.failures(), 2u);  // both WAVs; the small JSON fitted
  const auto base = dir.path / "full";
  EXPECT_FALSE(fs::exists(base / "0000000001-input.wav"));
  EXPECT_FALSE(fs::exists(base / "0000000001-input.wav.tmp"));
  std::uint64_t on_disk = 0;
  for (const auto& e : fs::directory_iterator(base)) on_disk += e.file_size();
  EXPECT_EQ(on_disk, debug.bytes());  // the cap's count matches the disk
  debug.write({2, &in, nullptr, nullptr, &in, "{}"});
  EXPECT_EQ(debug.failures(), 2u);
  EXPECT_TRUE(fs::exists(base / "0000000002-output.wav"));
}
