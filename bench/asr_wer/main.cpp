// Benchmark (not a test): pocketsphinx word error rate and decode cost on the recognition set
// (sts/speech_corpus.hpp: asterisk English prompts + librivox, split into tune/test parts),
// for one or more decoder configurations.
//   build/bench/livedub-bench-asr-wer --part tune --config defaults= --config tuned=@tuned
//       --config "beam60=-beam 1e-60"
// Each --config is NAME=FLAGS; FLAGS "@tuned" is the service's tuned_decoder_args(), "" is
// pocketsphinx's own defaults. Audio takes the live path unless --path direct: the recording is
// brought to 48 kHz (band-limited, as a publisher's resampler would) and the recogniser takes
// it from there, as it takes a stream worker's fragments.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "livedub/wav.hpp"
#include "sts/pocketsphinx_asr.hpp"
#include "sts/speech_corpus.hpp"
#include "sts/text_metrics.hpp"

namespace {

using namespace livedub;
using namespace livedub::sts;
using Clock = std::chrono::steady_clock;

struct Config {
  std::string name;
  DecoderArgs args;
  std::string flags;
};

struct Score {
  WordErrors errors;
  double decode_s = 0;
  double audio_s = 0;
  int items = 0;
  void add(const WordErrors& e, double decode, double audio) {
    errors.errors += e.errors;
    errors.reference_words += e.reference_words;
    decode_s += decode;
    audio_s += audio;
    ++items;
  }
};

std::string format_args(const DecoderArgs& args) {
  std::string out;
  for (const auto& [flag, value] : args) out += (out.empty() ? "" : " ") + flag + " " + value;
  return out.empty() ? "(pocketsphinx defaults)" : out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"livedub: pocketsphinx WER and decode cost on the recognition set"};
  std::string part_name = "tune";
  std::vector<std::string> config_specs;
  std::string model_dir = "/usr/share/pocketsphinx/model/en-us";
  std::string path = "live";
  int jobs = 2;
  int limit = 0;
  bool verbose = false;
  bool no_fold = false;
  app.add_option("--part", part_name, "tune, test or both")->check(CLI::IsMember({"tune", "test", "both"}));
  app.add_option("--config", config_specs, "NAME=FLAGS (repeatable); FLAGS '@tuned' = the service's settings");
  app.add_option("--model-dir", model_dir, "pocketsphinx model directory");
  app.add_option("--path", path, "live (via 48 kHz) or direct (straight to 16 kHz)")->check(CLI::IsMember({"live", "direct"}));
  app.add_option("--jobs", jobs, "decoders in parallel")->check(CLI::Range(1, 16));
  app.add_option("--limit", limit, "first N items of each part only (0 = all)");
  app.add_flag("--verbose", verbose, "print every hypothesis");
  app.add_flag("--no-fold", no_fold, "decode telephone-band audio without spectral folding");
  CLI11_PARSE(app, argc, argv);
  if (config_specs.empty()) config_specs = {"defaults=", "tuned=@tuned"};

  std::vector<Config> configs;
  for (const auto& spec : config_specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos) {
      std::cerr << "--config must be NAME=FLAGS: " << spec << "\n";
      return 2;
    }
    Config config{spec.substr(0, eq), {}, spec.substr(eq + 1)};
    config.args = config.flags == "@tuned" ? tuned_decoder_args() : parse_decoder_args(config.flags);
    configs.push_back(config);
  }
  std::vector<EvalPart> parts;
  if (part_name != "test") parts.push_back(EvalPart::kTune);
  if (part_name != "tune") parts.push_back(EvalPart::kTest);

  const auto model = locate_pocketsphinx_model(model_dir);
  std::printf("%-6s %-14s %5s %6s | %-22s %-22s %-18s | %-8s %-7s\n", "part", "config", "items", "words", "WER all",
              "WER asterisk (8 kHz)", "WER librivox", "decode s", "RTF");
  for (const auto part : parts) {
    auto items = asr_eval_set(part);
    if (limit > 0 && static_cast<std::size_t>(limit) < items.size()) items.resize(static_cast<std::size_t>(limit));
    // Load once: the audio each config hears is identical.
    std::vector<AudioBuffer> audio;
    for (const auto& item : items) {
      auto wav = read_wav_file(item.wav.string());
      if (path == "live") wav = conform_audio(wav, {48000, 1}, wav.frames() * 48000 / wav.format.sample_rate);
      audio.push_back(std::move(wav));
    }
    for (const auto& config : configs) {
      std::map<std::string, Score> scores;  // "all", "asterisk-en", "librivox"
      std::mutex mutex;
      std::atomic<std::size_t> next{0};
      // Loaded one after the other: pocketsphinx 0.8's model loading is not thread-safe
      // (two decoders loading at once deadlock in its file handling).
      std::vector<std::unique_ptr<PocketsphinxRecognizer>> decoders;
      for (int j = 0; j < jobs; ++j) {
        decoders.push_back(std::make_unique<PocketsphinxRecognizer>(model, config.args));
        decoders.back()->set_fold_narrowband(!no_fold);
      }
      std::vector<std::thread> threads;
      for (int j = 0; j < jobs; ++j) {
        threads.emplace_back([&, j] {
          auto& recognizer = *decoders[static_cast<std::size_t>(j)];
          for (std::size_t i = next++; i < items.size(); i = next++) {
            const auto started = Clock::now();
            const auto hypothesis = recognizer.transcribe(audio[i]);
            const double decode = std::chrono::duration<double>(Clock::now() - started).count();
            const double seconds = static_cast<double>(audio[i].frames()) / audio[i].format.sample_rate;
            const auto errors = word_errors(items[i].reference, hypothesis);
            std::lock_guard lock(mutex);
            scores["all"].add(errors, decode, seconds);
            scores[items[i].id.substr(0, items[i].id.find('/'))].add(errors, decode, seconds);
            if (verbose) {
              std::printf("%s\n  ref: %s\n  hyp: %s\n", items[i].id.c_str(), items[i].reference.c_str(), hypothesis.c_str());
            }
          }
        });
      }
      for (auto& t : threads) t.join();
      auto wer = [&](const std::string& key) {
        const auto& s = scores[key];
        char text[64];
        std::snprintf(text, sizeof text, "%5.1f %% (%zu/%zu)", 100.0 * s.errors.rate(), s.errors.errors,
                      s.errors.reference_words);
        return std::string(text);
      };
      const auto& all = scores["all"];
      std::printf("%-6s %-14s %5d %6zu | %-22s %-22s %-18s | %-8.1f %-7.3f\n", to_string(part), config.name.c_str(),
                  all.items, all.errors.reference_words, wer("all").c_str(), wer("asterisk-en").c_str(),
                  wer("librivox").c_str(), all.decode_s, all.decode_s / all.audio_s);
      std::fflush(stdout);
    }
  }
  std::printf("\nconfigs:\n");
  for (const auto& config : configs) std::printf("  %-14s %s\n", config.name.c_str(), format_args(config.args).c_str());
  std::printf("RTF: decode seconds per second of audio, per decoder (%d in parallel); audio path: %s; "
              "narrowband folding %s\n", jobs, path.c_str(), no_fold ? "off" : "on");
  return 0;
}
