// Benchmark (not a test): what one sentence costs to speak with SVOX Pico and with espeak-ng,
// on real sentences (the asterisk English and Spanish prompt transcripts).
//   build/bench/livedub-bench-tts [--sentences 60] [--profile default]
// Prints per engine and language: ms per sentence (mean, p95), seconds of speech per
// sentence, and the real-time factor (synthesis seconds per second of speech).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "sts/espeak_tts.hpp"
#include "sts/pico_tts.hpp"
#include "sts/speech_corpus.hpp"

int main(int argc, char** argv) {
  using namespace livedub::sts;
  CLI::App app{"livedub: TTS cost per sentence, SVOX Pico against espeak-ng"};
  int count = 60;
  std::string profile = "default";
  app.add_option("--sentences", count, "sentences per language");
  app.add_option("--profile", profile, "voice profile");
  CLI11_PARSE(app, argc, argv);

  PicoSynthesizer pico;
  auto& espeak = EspeakSynthesizer::shared();
  std::printf("%-10s %-4s %9s | %-8s %-8s | %-10s | %s\n", "engine", "lang", "sentences", "ms mean", "ms p95",
              "speech s", "RTF");
  for (const std::string language : {"en", "es"}) {
    std::vector<std::string> sentences;
    for (const auto& [key, text] : asterisk_transcripts(language)) {
      if (static_cast<int>(sentences.size()) < count) sentences.push_back(text);
    }
    for (SpeechSynthesizer* engine : {static_cast<SpeechSynthesizer*>(&pico), static_cast<SpeechSynthesizer*>(&espeak)}) {
      engine->synthesize("warm up", language, profile);
      std::vector<double> ms;
      double speech_s = 0;
      for (const auto& sentence : sentences) {
        const auto started = std::chrono::steady_clock::now();
        const auto audio = engine->synthesize(sentence, language, profile);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
        speech_s += static_cast<double>(audio.frames()) / audio.format.sample_rate;
      }
      double total = 0;
      for (double m : ms) total += m;
      std::sort(ms.begin(), ms.end());
      const double p95 = ms[std::min(ms.size() - 1, ms.size() * 95 / 100)];
      const auto n = static_cast<double>(ms.size());
      std::printf("%-10s %-4s %9zu | %-8.1f %-8.1f | %-10.2f | %.4f\n", engine->name().c_str(), language.c_str(),
                  ms.size(), total / n, p95, speech_s / n, total / 1000.0 / speech_s);
    }
  }
  return 0;
}
