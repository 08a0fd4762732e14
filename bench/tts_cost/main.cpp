// Benchmark (not a test): what one sentence costs to speak with each voice engine, on real
// sentences (the asterisk English and Spanish prompt transcripts): SVOX Pico, espeak-ng, and
// every Piper voice under --model-dir (scripts/fetch-voice, or scripts/make-test-models
// --shape real for random weights at the published shapes: their speed is real, their speech
// is noise).
//   build/bench/livedub-bench-tts [--sentences 60] [--profile default] [--model-dir DIR] [--concurrency 1]
//                                 [--max-words 10] [--threads 1]
// Prints per engine/voice and language: ms per sentence (mean, p50, p95) with `concurrency`
// sentences synthesised at once, seconds of speech per sentence, the real-time factor (synthesis
// seconds per second of speech, per call), loudness (RMS dBFS over the speech), peak dBFS and the
// share of clipped samples.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>

#include "livedub/files.hpp"
#include "sts/espeak_tts.hpp"
#include "sts/pico_tts.hpp"
#include "sts/piper_tts.hpp"
#include "sts/speech_corpus.hpp"

namespace {
using namespace livedub::sts;

struct Engine {
  std::string label;
  std::shared_ptr<SpeechSynthesizer> synth;
  std::string only_language;  // a Piper voice: the one language it was chosen for
};

double db(double x) { return x > 0 ? 20.0 * std::log10(x) : -120.0; }

void run(const Engine& engine, const std::string& language, const std::vector<std::string>& sentences,
         const std::string& profile, int concurrency) {
  if (!engine.synth->has_language(language)) return;
  if (!engine.only_language.empty() && engine.only_language != language) return;
  engine.synth->synthesize("warm up", language, profile);
  std::vector<double> ms;
  double speech_s = 0, sum_sq = 0, peak = 0, samples = 0, clipped = 0;
  std::mutex mutex;
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (std::size_t i = next++; i < sentences.size(); i = next++) {
      const auto started = std::chrono::steady_clock::now();
      const auto audio = engine.synth->synthesize(sentences[i], language, profile);
      const double took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
      std::lock_guard lock(mutex);
      ms.push_back(took);
      speech_s += static_cast<double>(audio.frames()) / audio.format.sample_rate;
      for (const auto s : audio.samples) {
        const double v = s / 32768.0;
        sum_sq += v * v;
        peak = std::max(peak, std::fabs(v));
        clipped += (s >= 32767 || s <= -32767) ? 1 : 0;
      }
      samples += static_cast<double>(audio.samples.size());
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  double total = 0;
  for (const double m : ms) total += m;
  std::sort(ms.begin(), ms.end());
  const auto n = static_cast<double>(ms.size());
  std::printf("%-30s %-4s %3d | %8.1f %8.1f %8.1f | %7.2f | %6.3f | %7.1f %7.1f %6.2f%%\n", engine.label.c_str(),
              language.c_str(), concurrency, total / n, ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 95 / 100)],
              speech_s / n, total / 1000.0 / speech_s, db(std::sqrt(sum_sq / std::max(1.0, samples))), db(peak),
              100.0 * clipped / std::max(1.0, samples));
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"livedub: TTS cost per sentence for every voice engine"};
  int count = 60;
  int concurrency = 1;
  int max_words = 0;
  int threads = 1;
  std::string profile = "default";
  std::string model_dir;
  app.add_option("--sentences", count, "sentences per language");
  app.add_option("--profile", profile, "voice profile");
  app.add_option("--model-dir", model_dir, "LIVEDUB_STS_MODEL_DIR with Piper voices under tts/piper");
  app.add_option("--concurrency", concurrency, "sentences synthesised at once")->check(CLI::Range(1, 64));
  app.add_option("--threads", threads, "ONNX Runtime threads per Piper call (LIVEDUB_STS_TTS_THREADS)")->check(CLI::Range(1, 64));
  app.add_option("--max-words", max_words, "only sentences of at most this many words (10: what a 4 s fragment holds)");
  CLI11_PARSE(app, argc, argv);

  std::vector<Engine> engines{{"pico", std::make_shared<PicoSynthesizer>(), ""},
                              {"espeak-ng", EspeakSynthesizer::shared_ptr(), ""}};
  for (const auto& file : discover_piper_voices(model_dir)) {
    const auto name = file.stem().string();
    const auto json_file = file.string() + ".json";
    const auto config = parse_piper_config(livedub::read_whole_file(json_file).value_or(""), json_file);
    engines.push_back({"piper " + name, std::make_shared<PiperSynthesizer>(model_dir, PiperOptions{{{config.language, name}}, threads}),
                       config.language});
  }
  std::printf("%-30s %-4s %3s | %8s %8s %8s | %7s | %6s | %7s %7s %7s\n", "engine", "lang", "c", "ms mean", "ms p50",
              "ms p95", "speech", "RTF", "RMS dB", "peak dB", "clip");
  for (const std::string language : {"en", "es"}) {
    std::vector<std::string> sentences;
    for (const auto& [key, text] : asterisk_transcripts(language)) {
      const auto words = 1 + std::count(text.begin(), text.end(), ' ');
      if (max_words > 0 && words > max_words) continue;
      if (static_cast<int>(sentences.size()) < count) sentences.push_back(text);
    }
    for (const auto& engine : engines) run(engine, language, sentences, profile, concurrency);
  }
  return 0;
}
