// The worker's ONNX engines: Silero VAD v5 on real recordings that Debian ships (human speech
// from pocketsphinx-testdata's librivox, game music from colobot-common-sounds), and the bed's
// source-separator slot with a generated stand-in model.
#include "silero_vad.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "livedub/wav.hpp"
#include "dub_mixer.hpp"
#include "separator_model.hpp"
#include "source_separator.hpp"
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
std::vector<BlockInfo> classify(const AudioBuffer& audio, VoiceDetector& vad) {
  BlockAnalyzer analyzer(vad, audio.format);
  const auto block = detector_block_frames(audio.format.sample_rate) * audio.format.channels;
  std::vector<BlockInfo> out;
  for (std::size_t at = 0; at + static_cast<std::size_t>(block) <= audio.samples.size(); at += static_cast<std::size_t>(block)) {
    out.push_back(analyzer.analyze(std::span(audio.samples).subspan(at, static_cast<std::size_t>(block))));
  }
  return out;
}
std::vector<BlockInfo> classify(const AudioBuffer& audio) {
  SileroVad vad(LIVEDUB_TEST_VAD_MODEL);
  return classify(audio, vad);
}

struct SpeechAndMusic {
  AudioBuffer speech, music;
};
// The librivox recording and the first `music_seconds` of the music, decoded.
SpeechAndMusic speech_and_music(std::size_t music_seconds) {
  const auto dir = std::filesystem::temp_directory_path() / ("livedub-vad-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  SpeechAndMusic out{decode(kSpeech, dir / "speech.wav"), decode(kMusic, dir / "music.wav")};
  std::filesystem::remove_all(dir);
  out.music.samples.resize(std::min<std::size_t>(out.music.samples.size(), 48000 * 2 * music_seconds));
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
  const auto [speech, music] = speech_and_music(60);

  const auto speech_blocks = classify(speech);
  const auto music_blocks = classify(music);
  // Loud blocks of the clean recording are speech (its pauses are near silence).
  EXPECT_GE(share_above(speech_blocks, 0.5f, 0.02), 0.9);
  EXPECT_LE(share_above(music_blocks, 0.5f), 0.05);
}

// One block in two scored outside speech (the default LIVEDUB_VAD_STRIDE): the blocks passed
// over still give Silero its context, so it decides as it does scoring every block.
TEST(SileroVad, ScoringOneBlockInTwoOutsideSpeechDecidesTheSame) {
  const auto [speech, music] = speech_and_music(30);
  // The speech between two stretches of music: onsets after long non-speech.
  AudioBuffer mixed{speech.format, 0, music.samples};
  mixed.samples.insert(mixed.samples.end(), speech.samples.begin(), speech.samples.end());
  mixed.samples.insert(mixed.samples.end(), music.samples.begin(), music.samples.end());

  const auto every = classify(mixed);
  const auto sparse_vad = make_voice_detector("silero", LIVEDUB_TEST_VAD_MODEL, 2);
  const auto sparse = classify(mixed, *sparse_vad);
  ASSERT_EQ(every.size(), sparse.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < every.size(); ++i) differ += (every[i].speech_probability >= 0.5f) != (sparse[i].speech_probability >= 0.5f);
  EXPECT_LE(static_cast<double>(differ) / static_cast<double>(every.size()), 0.01) << differ << " of " << every.size();
  EXPECT_LT(dynamic_cast<const SparseDetector&>(*sparse_vad).scored_frames(), static_cast<long>(every.size() * 3 / 4))
      << "the music is scored one block in two";
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

// --- the bed's ONNX source separator, with a generated stand-in model ----------------------

TEST(OnnxSeparator, RunsASuppliedModelAndBlendsItsBackgroundStemUnderSpeech) {
  const auto path = std::filesystem::temp_directory_path() / ("livedub-separator-" + std::to_string(::getpid()) + ".onnx");
  const float gain = tools::write_separator_model(path, 42);
  OnnxSeparator separator(path, 48000);
  AudioBuffer audio{{48000, 2}, 0, {}};
  for (int n = 0; n < 4800; ++n) {
    audio.samples.push_back(static_cast<std::int16_t>(n % 2000));
    audio.samples.push_back(static_cast<std::int16_t>(-(n % 1000)));
  }
  const auto stem = separator.separate(audio);
  ASSERT_EQ(stem.samples.size(), audio.samples.size());
  for (std::size_t i = 0; i < audio.samples.size(); i += 97) {
    EXPECT_NEAR(stem.samples[i], audio.samples[i] * gain, 2.0) << i;
  }
  std::vector<float> none(4800, 0.0f), all(4800, 1.0f);
  EXPECT_EQ(separator.process(audio, none).samples, audio.samples) << "no speech: the model does not even run";
  EXPECT_EQ(separator.process(audio, all).samples, stem.samples);
  // At another model rate the audio is resampled there and back.
  OnnxSeparator at16k(path, 16000);
  const auto resampled = at16k.separate(audio);
  EXPECT_NEAR(rms(resampled.samples), rms(audio.samples) * gain, rms(audio.samples) * 0.05);
  std::filesystem::remove(path);
}

TEST(OnnxSeparator, AModelThatBreaksTheContractIsRefusedWithItsName) {
  try {
    make_voice_remover(BedMode::separator, {48000, 2}, LIVEDUB_TEST_VAD_MODEL, 44100);  // three inputs
    FAIL() << "Silero's model is no separator";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("LIVEDUB_BED_SEPARATOR_MODEL"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("contract"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_voice_remover(BedMode::separator, {48000, 2}, "/nonexistent.onnx", 44100), std::runtime_error);
  EXPECT_NE(make_voice_remover(BedMode::reduce, {48000, 2}, "", 44100), nullptr);
  EXPECT_EQ(make_voice_remover(BedMode::duck, {48000, 2}, "", 44100), nullptr);
}
