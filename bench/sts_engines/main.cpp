// Benchmark (not a test): real-time factor of each stage of the embedded CPU engines
// (pocketsphinx ASR, Apertium MT, espeak-ng TTS, rubberband time-fit) and fragments per
// second, at engine pool sizes 1 and 2, over a fixed set of English sentences synthesized
// with espeak-ng and sent as 48 kHz stereo fragments, as a stream worker would.
//   build/bench/sts_engines/livedub-bench-sts [--rounds N] [--pools 1,2]
// RTF = processing seconds / audio seconds (lower is faster; < 1 keeps up with live on one
// worker). Throughput counts wall-clock time with the pool's workers running in parallel.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "sts/cpu_engine.hpp"

namespace {

using namespace livedub;
using namespace livedub::sts;
using Clock = std::chrono::steady_clock;

// Fixed, varied sentences of roughly fragment length (1-4 s spoken).
const std::vector<std::string> kSentences = {
    "Good evening and welcome to the show.",
    "The weather will be sunny tomorrow morning.",
    "We are going live from the city center.",
    "Please subscribe to the channel for more videos.",
    "The game starts in ten minutes.",
    "Thank you all for watching tonight.",
    "This is a very important announcement.",
    "The red car is parked near the house.",
    "Our next guest is a famous writer.",
    "Let me show you how this works.",
    "The market opened higher this morning.",
    "I will answer your questions at the end.",
};

AudioBuffer stream_fragment(const AudioBuffer& speech) {
  return conform_audio(speech, {48000, 2}, speech.frames() * 48000 / speech.format.sample_rate);
}

struct Totals {
  std::map<std::string, double> stage_ms;
  double audio_s = 0;
  double wall_s = 0;
  int fragments = 0;
};

Totals run_pool(CpuDubbingEngine& engine, const std::vector<AudioBuffer>& fragments, int workers, int rounds) {
  std::vector<DubResult> results(fragments.size() * static_cast<std::size_t>(rounds));
  std::atomic<std::size_t> next{0};
  const auto started = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < results.size(); i = next++) {
        const auto& input = fragments[i % fragments.size()];
        const double duration_ms = static_cast<double>(input.frames()) * 1000.0 / input.format.sample_rate;
        results[i] = engine.dub(DubRequestMetadata{"bench", static_cast<std::int64_t>(i), "en", "es", "default", duration_ms},
                                 input);
      }
    });
  }
  for (auto& t : threads) t.join();
  Totals totals;
  totals.wall_s = std::chrono::duration<double>(Clock::now() - started).count();
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& input = fragments[i % fragments.size()];
    totals.audio_s += static_cast<double>(input.frames()) / input.format.sample_rate;
    for (const auto& [stage, ms] : results[i].stage_timings_ms) totals.stage_ms[stage] += ms;
  }
  totals.fragments = static_cast<int>(results.size());
  return totals;
}

// What the same translations cost with one `apertium` process per request.
double apertium_command_ms(int samples) {
  double total = 0;
  for (int i = 0; i < samples; ++i) {
    const auto started = Clock::now();
    const std::string command = "echo '" + kSentences[static_cast<std::size_t>(i) % kSentences.size()] +
                                "' | apertium -u eng-spa > /dev/null";
    if (std::system(command.c_str()) != 0) return -1;
    total += std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  }
  return total / samples;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"livedub STS CPU engines benchmark: per-stage real-time factor and throughput"};
  int rounds = 2;
  std::vector<int> pools = {1, 2};
  app.add_option("--rounds", rounds, "times each sentence is dubbed per pool size")->check(CLI::Range(1, 100));
  app.add_option("--pools", pools, "pool sizes to measure")->delimiter(',')->check(CLI::Range(1, 16));
  CLI11_PARSE(app, argc, argv);

  auto& tts = EspeakSynthesizer::shared();
  std::vector<AudioBuffer> fragments;
  double corpus_s = 0;
  for (const auto& sentence : kSentences) {
    fragments.push_back(stream_fragment(trim_silence(tts.synthesize(sentence, "en", "default"))));
    corpus_s += static_cast<double>(fragments.back().frames()) / 48000.0;
  }
  std::printf("corpus: %zu espeak-ng English sentences, %.1f s of audio (mean %.2f s per fragment), 48 kHz stereo; "
              "%d round(s); %u hardware threads\n\n",
              fragments.size(), corpus_s, corpus_s / static_cast<double>(fragments.size()), rounds,
              std::thread::hardware_concurrency());
  std::printf("%-5s | %-7s %-7s %-7s %-7s | %-7s | %-12s %-12s\n", "pool", "asr", "mt", "tts", "stretch", "total",
              "fragments/s", "audio s/s");
  std::printf("------+---------------------------------+---------+---------------------------\n");
  for (int pool : pools) {
    CpuEngineOptions options;
    options.recognizers = pool;
    CpuDubbingEngine engine(options);
    run_pool(engine, {fragments.front()}, 1, 1);  // warm-up: first decode touches the model pages
    const auto t = run_pool(engine, fragments, pool, rounds);
    double total_ms = 0;
    for (const char* stage : {kStageAsr, kStageMt, kStageTts, kStageStretch}) total_ms += t.stage_ms.at(stage);
    auto rtf = [&](double ms) { return ms / 1000.0 / t.audio_s; };
    std::printf("%-5d | %-7.3f %-7.4f %-7.4f %-7.3f | %-7.3f | %-12.2f %-12.2f\n", pool, rtf(t.stage_ms.at(kStageAsr)),
                rtf(t.stage_ms.at(kStageMt)), rtf(t.stage_ms.at(kStageTts)), rtf(t.stage_ms.at(kStageStretch)),
                rtf(total_ms), t.fragments / t.wall_s, t.audio_s / t.wall_s);
    std::printf("      | per fragment: asr %.0f ms, mt %.1f ms, tts %.1f ms, stretch %.0f ms\n",
                t.stage_ms.at(kStageAsr) / t.fragments, t.stage_ms.at(kStageMt) / t.fragments,
                t.stage_ms.at(kStageTts) / t.fragments, t.stage_ms.at(kStageStretch) / t.fragments);
  }
  std::printf("\nRTF per stage: seconds spent in the stage per second of audio, summed over workers "
              "(with 2 workers on 2 cores, stages also wait for the CPU).\n");
  const double command_ms = apertium_command_ms(6);
  if (command_ms > 0) {
    std::printf("MT for comparison: one `apertium -u eng-spa` process per request costs %.0f ms per sentence.\n",
                command_ms);
  }
  return 0;
}
