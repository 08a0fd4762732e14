// Silero VAD v5 on ONNX Runtime, on real recordings that Debian ships: human speech
// (pocketsphinx-testdata's librivox) and game music (colobot-common-sounds).
#include "silero_vad.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "livedub/wav.hpp"
#include "speech_segmenter.hpp"
#include "command.hpp"

using namespace livedub;
using namespace livedub::worker;

namespace {
const std::string kSpeech = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";
const std::string kMusic = "/usr/share/games/colobot/music/Proton.ogg";

// Decodes `ogg` to 48 kHz stereo WAV (the worker's format) with GStreamer.
AudioBuffer decode(const std::string& path, const std::string& out) {
  auto r = test_support::run_command({"/usr/bin/gst-launch-1.0", "-q", "filesrc", "location=" + path, "!", "decodebin", "!",
                                      "audioconvert", "!", "audioresample", "!",
                                      "audio/x-raw,rate=48000,channels=2,format=S16LE", "!", "wavenc", "!", "filesink",
                                      "location=" + out});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return read_wav_file(out);
}

// Speech probability per 32 ms block, through the worker's own block analyzer.
std::vector<BlockInfo> classify(const AudioBuffer& audio) {
  SileroVad vad(LIVEDUB_TEST_VAD_MODEL);
  BlockAnalyzer analyzer(vad, audio.format);
  const auto block = detector_block_frames(audio.format.sample_rate) * audio.format.channels;
  std::vector<BlockInfo> out;
  for (std::size_t at = 0; at + static_cast<std::size_t>(block) <= audio.samples.size(); at += static_cast<std::size_t>(block)) {
    out.push_back(analyzer.analyze(std::span(audio.samples).subspan(at, static_cast<std::size_t>(block))));
  }
  return out;
}

double share_above(const std::vector<BlockInfo>& blocks, float threshold, double min_rms = 0) {
  int n = 0, above = 0;
  for (const auto& b : blocks) {
    if (b.rms < min_rms) continue;
    ++n;
    above += b.speech_probability >= threshold ? 1 : 0;
  }
  return n ? static_cast<double>(above) / n : 0;
}
}  // namespace

TEST(SileroVad, HearsHumanSpeechAndNotMusic) {
  const auto dir = std::filesystem::temp_directory_path() / ("livedub-vad-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto speech = decode(kSpeech, dir / "speech.wav");
  auto music = decode(kMusic, dir / "music.wav");
  std::filesystem::remove_all(dir);
  music.samples.resize(std::min<std::size_t>(music.samples.size(), 48000 * 2 * 60));  // one minute

  const auto speech_blocks = classify(speech);
  const auto music_blocks = classify(music);
  // Loud blocks of the clean recording are speech (its pauses are near silence).
  EXPECT_GE(share_above(speech_blocks, 0.5f, 0.02), 0.9);
  EXPECT_LE(share_above(music_blocks, 0.5f), 0.05);
}

TEST(SileroVad, RefusesAFileThatIsNotTheModel) {
  const auto path = std::filesystem::temp_directory_path() / ("livedub-not-a-model-" + std::to_string(::getpid()));
  { std::ofstream(path) << "not onnx"; }
  EXPECT_THROW(SileroVad{path}, onnx::OnnxError);
  std::filesystem::remove(path);
  try {
    make_voice_detector("silero", "/nonexistent/silero.onnx");
    FAIL() << "a missing model must fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("LIVEDUB_VAD_MODEL"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/nonexistent/silero.onnx"), std::string::npos) << e.what();
  }
}
