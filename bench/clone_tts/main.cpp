// Benchmark (not a test): what the voice-cloning TTS (Pocket TTS, sts/pocket_tts.hpp) costs on
// this machine: encoding a speaker's reference clip once, then speaking real sentences (the
// asterisk Spanish prompts) in that voice. Models with random weights at the real shape
// (scripts/make-test-models --shape real: DIR/tts/pocket/test) run at the real speed but never
// end a sentence, so each sentence is given the length real speech of its words takes
// (--words-per-second, 2.5 = 150 words a minute), plus the 3 frames the engine adds after
// end-of-speech: what is timed is exactly the frames a real model would generate.
//   build/bench/livedub-bench-clone-tts --model DIR/tts/pocket/test [--reference WAV]
//        [--sentences 40] [--max-words 10] [--concurrency 1] [--threads 1] [--flow-steps 1]
// Prints the reference clip's encode time, then ms per sentence (mean, p50, p95), seconds of
// speech per sentence, the real-time factor and frames per second of compute.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>

#include "livedub/wav.hpp"
#include "sts/pocket_tts.hpp"
#include "sts/speech_corpus.hpp"

int main(int argc, char** argv) {
  using namespace livedub::sts;
  using Clock = std::chrono::steady_clock;
  CLI::App app{"livedub: voice-cloning TTS cost (Pocket TTS)"};
  std::string model;
  std::string reference =
      "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav";
  int count = 40, max_words = 10, concurrency = 1, threads = 1, flow_steps = 1;
  double words_per_second = 2.5;
  app.add_option("--model", model, "a Pocket TTS directory (tokenizer.model, onnx/)")->required();
  app.add_option("--reference", reference, "the speaker's clip (WAV, real speech)");
  app.add_option("--sentences", count, "sentences");
  app.add_option("--max-words", max_words, "only sentences of at most this many words (10: what a 4 s fragment holds)");
  app.add_option("--concurrency", concurrency, "sentences synthesised at once")->check(CLI::Range(1, 64));
  app.add_option("--threads", threads, "ONNX Runtime threads per call")->check(CLI::Range(1, 64));
  app.add_option("--flow-steps", flow_steps, "flow-matching steps per frame")->check(CLI::Range(1, 16));
  app.add_option("--words-per-second", words_per_second, "speaking rate that sets each sentence's length");
  CLI11_PARSE(app, argc, argv);

  const auto clip = livedub::read_wav_file(reference);
  const auto mono = livedub::downmix_to_mono(clip.samples, clip.format.channels);
  const auto audio = pocket_reference_audio(mono, clip.format.sample_rate);
  std::vector<std::string> sentences;
  for (const auto& [key, text] : asterisk_transcripts("es")) {
    const auto words = 1 + std::count(text.begin(), text.end(), ' ');
    if (words <= max_words && static_cast<int>(sentences.size()) < count) sentences.push_back(text);
  }
  if (sentences.empty()) {
    std::fprintf(stderr, "no sentences (asterisk-core-sounds-es not installed?)\n");
    return 1;
  }

  PocketOptions base;
  base.threads = threads;
  base.flow_steps = flow_steps;
  PocketTts encoder(model, base);
  auto started = Clock::now();
  const auto voice = encoder.encode_voice(audio);
  const double encode_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  std::printf("reference: %.1f s of speech -> %lld frames x %lld in %.0f ms (%s)\n",
              static_cast<double>(audio.size()) / kPocketSampleRate, static_cast<long long>(voice.count),
              static_cast<long long>(voice.dim), encode_ms, encoder.device().c_str());

  std::vector<double> ms;
  double speech_s = 0, frames = 0;
  std::mutex mutex;
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (std::size_t i = next++; i < sentences.size(); i = next++) {
      const auto words = 1 + std::count(sentences[i].begin(), sentences[i].end(), ' ');
      const double seconds = static_cast<double>(words) / words_per_second + 3.0 * kPocketFrameSamples / kPocketSampleRate;
      const auto t0 = Clock::now();
      const auto out = encoder.synthesize(sentences[i], voice, i + 1, seconds);
      const double took = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      std::lock_guard lock(mutex);
      ms.push_back(took);
      speech_s += static_cast<double>(out.size()) / kPocketSampleRate;
      frames += PocketTts::last_stats().frames;
    }
  };
  encoder.synthesize("calentamiento", voice, 1, 1.0);  // warm up
  std::vector<std::thread> pool;
  for (int t = 0; t < concurrency; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  double total = 0;
  for (const double m : ms) total += m;
  std::sort(ms.begin(), ms.end());
  const auto n = static_cast<double>(ms.size());
  std::printf("%-22s %3s %3s | %8s %8s %8s | %7s | %6s | %9s\n", "engine", "c", "thr", "ms mean", "ms p50", "ms p95",
              "speech", "RTF", "frames/s");
  std::printf("%-22s %3d %3d | %8.1f %8.1f %8.1f | %7.2f | %6.3f | %9.1f\n", "pocket-tts", concurrency, threads, total / n,
              ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 95 / 100)], speech_s / n,
              total / 1000.0 / speech_s, frames / (total / 1000.0));
  return 0;
}
