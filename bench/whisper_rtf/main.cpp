// livedub-bench-whisper: whisper.cpp speed at real model sizes, for sizing the GPU tier.
// Real weights cannot be downloaded everywhere this runs, so by default it writes a model of
// the real shape with random weights (same tensors, same compute) and measures that. Random
// weights decode arbitrary token counts, so decoding is capped at a realistic count for the
// fragment length (--tokens-per-second, ~3 for speech) and the encoder, which dominates, runs
// in full. Pass --model to measure a real model file instead (then nothing is capped).
//
//   livedub-bench-whisper [--size base] [--device auto|gpu|cpu] [--threads N]
//                         [--fragment-ms 2000] [--fragments 10] [--fit-context] [--model FILE]
// Prints load time, per-fragment latency (median, p90) and the real-time factor
// (processing seconds per audio second; below 1 keeps up with a live stream).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <whisper.h>

#include "sts/whisper_asr.hpp"
#include "sts/whisper_model_file.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Speech-like test signal: a voiced harmonic series with a syllable-rate envelope, so the
// silence gate passes and the encoder sees non-trivial input.
std::vector<float> speechlike(int samples, int rate) {
  std::vector<float> out(static_cast<std::size_t>(samples));
  for (int i = 0; i < samples; ++i) {
    const double t = static_cast<double>(i) / rate;
    const double envelope = 0.5 + 0.5 * std::sin(2 * std::numbers::pi * 4.0 * t);
    double v = 0;
    for (int h = 1; h <= 8; ++h) v += std::sin(2 * std::numbers::pi * 140.0 * h * t) / h;
    out[static_cast<std::size_t>(i)] = static_cast<float>(0.2 * envelope * v);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"whisper.cpp real-time factor at real model sizes"};
  std::string size = "base", device = "auto", model_file;
  int threads = 4, fragment_ms = 2000, fragments = 10;
  bool fit_context = false;
  double tokens_per_second = 3.0;
  app.add_option("--size", size, "tiny, base, small, medium, large-v3, large-v3-turbo")->capture_default_str();
  app.add_option("--device", device, "auto, gpu or cpu")->capture_default_str();
  app.add_option("--threads", threads, "CPU threads")->capture_default_str();
  app.add_option("--fragment-ms", fragment_ms, "fragment length (the worker's LIVEDUB_FRAGMENT_MS)")->capture_default_str();
  app.add_option("--fragments", fragments, "fragments to time (after one warm-up)")->capture_default_str();
  app.add_option("--tokens-per-second", tokens_per_second, "decoded tokens per audio second (random weights only)")
      ->capture_default_str();
  app.add_flag("--fit-context", fit_context,
               "encode just the fragment, as LIVEDUB_STS_WHISPER_FIT_CONTEXT=1 does (default: the full 30 s window)");
  app.add_option("--model", model_file, "a real ggml model file instead of random weights");
  CLI11_PARSE(app, argc, argv);

  namespace sts = livedub::sts;
  std::filesystem::path path = model_file;
  std::filesystem::path scratch;
  if (model_file.empty()) {
    const auto hparams = sts::whisper_hparams_for_size(size);
    if (!hparams) {
      std::fprintf(stderr, "unknown --size %s\n", size.c_str());
      return 2;
    }
    scratch = std::filesystem::temp_directory_path() / ("livedub-bench-whisper-" + size + ".bin");
    const auto started = Clock::now();
    sts::write_random_whisper_model(scratch, *hparams);
    std::printf("model: %s-shaped, random weights, %.0f MB, written in %.1f s\n", size.c_str(),
                static_cast<double>(std::filesystem::file_size(scratch)) / 1e6, seconds_since(started));
    path = scratch;
  }

  sts::WhisperOptions options;
  options.model_path = path;
  options.device = device == "gpu" ? sts::WhisperDevice::kGpu : device == "cpu" ? sts::WhisperDevice::kCpu
                                                                                : sts::WhisperDevice::kAuto;
  options.threads = threads;
  try {
    const auto load_started = Clock::now();
    auto model = std::make_shared<const sts::WhisperModel>(options);
    std::printf("loaded in %.2f s on %s, %d CPU threads\n", seconds_since(load_started),
                model->device_description().c_str(), threads);

    whisper_state* state = whisper_init_state(model->context());
    const int rate = WHISPER_SAMPLE_RATE;
    const auto pcm = speechlike(rate * fragment_ms / 1000, rate);
    whisper_full_params params = whisper_full_default_params(WHISPER_SAMPLING_GREEDY);
    params.n_threads = threads;
    params.language = "en";
    params.no_context = true;
    if (fit_context) params.audio_ctx = sts::fitted_audio_context(pcm.size(), model->summary().hparams.n_audio_ctx);
    params.print_progress = params.print_realtime = params.print_timestamps = false;
    if (model_file.empty()) {
      params.max_tokens = std::max(1, static_cast<int>(std::lround(tokens_per_second * fragment_ms / 1000.0)));
      params.temperature_inc = 0.0f;  // no fallback re-decoding: random weights would always trigger it
      params.single_segment = true;
    }
    std::vector<double> latencies;
    for (int i = 0; i <= fragments; ++i) {
      const auto started = Clock::now();
      if (whisper_full_with_state(model->context(), state, params, pcm.data(), static_cast<int>(pcm.size())) != 0) {
        std::fprintf(stderr, "whisper_full failed\n");
        return 1;
      }
      if (i > 0) latencies.push_back(seconds_since(started));  // the first run warms caches and kernels
    }
    whisper_free_state(state);
    std::sort(latencies.begin(), latencies.end());
    double total = 0;
    for (const auto l : latencies) total += l;
    const double mean = total / static_cast<double>(latencies.size());
    const double audio_s = fragment_ms / 1000.0;
    std::printf("%d fragments of %d ms: latency median %.0f ms, p90 %.0f ms, mean %.0f ms\n", fragments, fragment_ms,
                latencies[latencies.size() / 2] * 1000, latencies[latencies.size() * 9 / 10] * 1000, mean * 1000);
    std::printf("RTF %.3f (processing s per audio s); one %s instance keeps up with ~%.1f live streams\n",
                mean / audio_s, model->device_description().c_str(), audio_s / mean);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "livedub-bench-whisper: %s\n", e.what());
    if (!scratch.empty()) std::filesystem::remove(scratch);
    return 1;
  }
  if (!scratch.empty()) std::filesystem::remove(scratch);
  return 0;
}
