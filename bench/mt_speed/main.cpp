// Benchmark (not a test): neural translation latency and throughput per model directory, on
// real fragment-sized English sentences (the asterisk prompts), with the output capped at a
// realistic token count (random-weight models never stop by themselves).
//   build/bench/livedub-bench-mt-speed --model DIR/mt/opus-mt-en-es [--precision int8|float]
//       [--device cpu|gpu|auto] [--tokens 24] [--concurrency 1,4] [--sentences 40] [--targets es,fr]
// Prints one row per concurrency: per-request p50/p95/max latency and requests per second.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "sts/neural_mt.hpp"
#include "sts/speech_corpus.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace livedub::sts;
  CLI::App app{"livedub: neural translation speed per model"};
  std::string model;
  NeuralMtOptions options;
  int tokens = 24;
  int sentences = 40;
  std::string concurrency = "1,4";
  std::string targets;
  app.add_option("--model", model, "a model directory (MODEL_DIR/mt/NAME)")->required();
  app.add_option("--precision", options.precision, "auto | int8 | float");
  app.add_option("--device", options.device, "auto | cpu | gpu");
  app.add_option("--threads", options.threads, "ONNX Runtime threads per request");
  app.add_option("--tokens", tokens, "output tokens per translation (the cap)");
  app.add_option("--sentences", sentences, "sentences per concurrency level");
  app.add_option("--concurrency", concurrency, "requests at once, comma-separated");
  app.add_option("--targets", targets, "target languages per request (a multilingual model batches them)");
  CLI11_PARSE(app, argc, argv);

  const auto load_started = Clock::now();
  NeuralTranslator translator(model, options);
  const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - load_started).count();
  const auto pair = translator.pairs().front();
  std::vector<std::string> target_list = targets.empty() ? std::vector<std::string>{pair.target} : split(targets);
  std::vector<std::string> texts;
  try {
    for (const auto& s : asterisk_parallel("en", "es")) texts.push_back(s.source);
  } catch (const std::exception&) {
    texts = {"please enter your account number followed by the pound key",
             "the person at extension is not available right now"};
  }
  std::printf("model %s: %s, %s, loaded in %.0f ms; %d output tokens per target, %zu target(s) per request\n",
              translator.name().c_str(), translator.describe(pair).c_str(), translator.device().c_str(), load_ms, tokens,
              target_list.size());
  std::printf("%-11s | %-8s %-8s %-8s | %-12s | %s\n", "concurrency", "p50 ms", "p95 ms", "max ms", "requests/s",
              "source tokens (mean)");
  for (const auto& level : split(concurrency)) {
    const int n = std::max(1, std::stoi(level));
    std::vector<double> latencies;
    std::mutex mutex;
    std::atomic<int> next{0};
    std::atomic<std::size_t> source_tokens{0};
    const auto started = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < n; ++t) {
      threads.emplace_back([&] {
        for (int i = next++; i < sentences; i = next++) {
          MtRequest request;
          request.source = pair.source;
          request.targets = target_list;
          request.text = texts[static_cast<std::size_t>(i) % texts.size()];
          source_tokens += translator.tokenizer().encode(request.text).size();
          const auto t0 = Clock::now();
          translator.translate_ids(request, tokens);
          const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          std::lock_guard lock(mutex);
          latencies.push_back(ms);
        }
      });
    }
    for (auto& t : threads) t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    std::printf("%-11d | %-8.1f %-8.1f %-8.1f | %-12.2f | %.1f\n", n, percentile(latencies, 0.5),
                percentile(latencies, 0.95), percentile(latencies, 1.0), static_cast<double>(sentences) / seconds,
                static_cast<double>(source_tokens) / sentences);
  }
  return 0;
}
