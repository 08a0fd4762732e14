// Benchmark (not a test): when should telephone-band folding (sts/pocketsphinx_asr.hpp) be
// applied? For real telephone speech and for wideband speech made dull (old broadcasts,
// band-limited microphones), prints the share of energy above 4.4 kHz the detector sees and
// pocketsphinx's WER with the fold off, on, and as each detector threshold would decide.
//   build/bench/livedub-bench-narrowband --part tune --rules=-40:none,-50:none,-45:15
// A rule HIGH:DROP folds audio whose share above 4.4 kHz is under HIGH dB and whose level drops
// by at least DROP dB from 3.6-4.0 to 4.0-4.4 kHz (none: any drop); the service's rule is
// kNarrowbandHighDb:kNarrowbandEdgeDropDb, the one before it -40:none.
// Sources: asterisk English prompts (8 kHz telephone speech), librivox (16 kHz), and "pico": the
// asterisk English transcripts spoken by SVOX Pico (16 kHz, wideband, synthetic). Conditions
// applied to the wideband sources: as is; "phone" (through 8 kHz: real telephone band); "dull-*"
// (Butterworth low-passes: -12 dB/octave sections at 3.5 kHz x2 and 3 kHz x1, the slopes of
// an old broadcast chain; 2.5 kHz x3, an extreme band-limited microphone); to the telephone
// source: as is and "aac" (48 kHz AAC at 128 kb/s and back through ffmpeg, as a publisher's
// encoder leaves it). Every item then takes the live path (48 kHz, then the recogniser's 16 kHz).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <sstream>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "livedub/audio.hpp"
#include "livedub/wav.hpp"
#include "sts/pico_tts.hpp"
#include "sts/pocketsphinx_asr.hpp"
#include "sts/speech_corpus.hpp"
#include "sts/text_metrics.hpp"

namespace {

using namespace livedub;
using namespace livedub::sts;
namespace fs = std::filesystem;

// One -12 dB/octave Butterworth low-pass section (RBJ biquad), applied `sections` times.
std::vector<std::int16_t> lowpass(std::span<const std::int16_t> in, int rate, double cutoff, int sections) {
  const double w = 2 * std::numbers::pi * cutoff / rate;
  const double alpha = std::sin(w) / std::numbers::sqrt2;  // sin(w) / 2Q, Q = 1/sqrt(2)
  const double c = std::cos(w), a0 = 1 + alpha;
  const double b0 = (1 - c) / 2 / a0, b1 = (1 - c) / a0, b2 = b0, a1 = -2 * c / a0, a2 = (1 - alpha) / a0;
  std::vector<double> x(in.begin(), in.end());
  for (int s = 0; s < sections; ++s) {
    double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    for (auto& v : x) {
      const double y = b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
      x2 = x1, x1 = v, y2 = y1, y1 = y;
      v = y;
    }
  }
  std::vector<std::int16_t> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = static_cast<std::int16_t>(std::clamp(std::lround(x[i]), -32768L, 32767L));
  return out;
}

// 48 kHz mono through ffmpeg's AAC encoder at 128 kb/s and back (empty when ffmpeg fails).
std::vector<std::int16_t> through_aac(std::span<const std::int16_t> mono48k, const fs::path& scratch) {
  const auto raw = scratch.string() + ".raw", coded = scratch.string() + ".m4a", back = scratch.string() + ".back";
  {
    std::ofstream out(raw, std::ios::binary);
    out.write(reinterpret_cast<const char*>(mono48k.data()), static_cast<std::streamsize>(mono48k.size() * 2));
  }
  const std::string command = "ffmpeg -v error -y -f s16le -ar 48000 -ac 1 -i '" + raw + "' -c:a aac -b:a 128k '" + coded +
                              "' && ffmpeg -v error -y -i '" + coded + "' -f s16le -ar 48000 -ac 1 '" + back + "'";
  std::vector<std::int16_t> out;
  if (std::system(command.c_str()) == 0) {
    std::ifstream in(back, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    out.resize(bytes.size() / 2);
    std::memcpy(out.data(), bytes.data(), out.size() * 2);
  }
  fs::remove(raw), fs::remove(coded), fs::remove(back);
  return out;
}

struct Item {
  std::string id;
  std::string reference;
  AudioBuffer audio;  // mono, its source rate
};

// The 16 kHz audio the recogniser decodes for `item` under `condition` (live path).
std::vector<std::int16_t> prepare(const Item& item, const std::string& condition, const fs::path& scratch) {
  auto mono = item.audio.samples;
  const int rate = item.audio.format.sample_rate;
  if (condition == "phone") mono = resample_mono(resample_mono(mono, rate, 8000), 8000, rate);
  if (condition == "dull-3.5k") mono = lowpass(mono, rate, 3500, 2);
  if (condition == "dull-3k") mono = lowpass(mono, rate, 3000, 1);
  if (condition == "dull-2.5k") mono = lowpass(mono, rate, 2500, 3);
  auto at48 = resample_mono(mono, rate, 48000);  // the publisher's resampler
  if (condition == "aac") at48 = through_aac(at48, scratch);
  return resample_mono(at48, 48000, PocketsphinxRecognizer::kSampleRate);
}

struct Result {
  BandLevels levels;
  WordErrors off, on;
};

struct Rule {
  std::string name;
  double high_db;
  double drop_db;
  bool folds(const BandLevels& l) const { return l.measured && l.high_db < high_db && l.edge_drop_db >= drop_db; }
};

std::vector<Rule> parse_rules(const std::string& text) {
  std::vector<Rule> out;
  std::stringstream in(text);
  for (std::string piece; std::getline(in, piece, ',');) {
    const auto colon = piece.find(':');
    if (colon == std::string::npos) throw std::invalid_argument("a rule is HIGH:DROP, got '" + piece + "'");
    const auto drop = piece.substr(colon + 1);
    out.push_back({piece, std::stod(piece.substr(0, colon)), drop == "none" ? -1e9 : std::stod(drop)});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"livedub: telephone-band folding, when it helps and when it hurts"};
  std::string part_name = "tune";
  std::string model_dir = "/usr/share/pocketsphinx/model/en-us";
  std::string rules_text = "-40:none,-50:none," + std::to_string(static_cast<int>(kNarrowbandHighDb)) + ":" +
                           std::to_string(static_cast<int>(kNarrowbandEdgeDropDb));
  int jobs = 2;
  int limit = 80;
  std::string dump_dir;
  app.add_option("--part", part_name, "tune or test")->check(CLI::IsMember({"tune", "test"}));
  app.add_option("--model-dir", model_dir, "pocketsphinx model directory");
  app.add_option("--rules", rules_text, "detector rules to compare, HIGH:DROP (dB) comma-separated");
  app.add_option("--jobs", jobs, "decoders in parallel")->check(CLI::Range(1, 16));
  app.add_option("--limit", limit, "first N items of each source (0 = all)");
  app.add_option("--dump", dump_dir, "write the 16 kHz audio of every item and condition there (s16le) and decode nothing");
  CLI11_PARSE(app, argc, argv);
  const auto rules = parse_rules(rules_text);
  const auto part = part_name == "tune" ? EvalPart::kTune : EvalPart::kTest;

  std::map<std::string, std::vector<Item>> sources;
  for (const auto& item : asr_eval_set(part)) {
    const auto source = item.id.substr(0, item.id.find('/'));
    auto& list = sources[source == "asterisk-en" ? "asterisk" : source];
    if (limit > 0 && static_cast<int>(list.size()) >= limit) continue;
    auto wav = read_wav_file(item.wav.string());
    wav.samples = downmix_to_mono(wav.samples, wav.format.channels);
    wav.format.channels = 1;
    list.push_back({item.id, item.reference, std::move(wav)});
  }
  {
    PicoSynthesizer pico;
    auto& list = sources["pico"];
    for (const auto& item : sources["asterisk"]) {
      if (limit > 0 && static_cast<int>(list.size()) >= limit) break;
      auto audio = pico.synthesize(item.reference, "en", "default");
      if (audio.samples.empty()) continue;
      list.push_back({"pico/" + item.id.substr(item.id.find('/') + 1), item.reference, std::move(audio)});
    }
  }
  const std::map<std::string, std::vector<std::string>> conditions = {
      {"asterisk", {"as-is", "aac"}},
      {"librivox", {"as-is", "phone", "dull-3.5k", "dull-3k", "dull-2.5k"}},
      {"pico", {"as-is", "phone", "dull-3.5k", "dull-3k", "dull-2.5k"}},
  };
  const auto model = locate_pocketsphinx_model(model_dir);
  std::vector<std::unique_ptr<PocketsphinxRecognizer>> decoders;
  for (int j = 0; j < jobs; ++j) decoders.push_back(std::make_unique<PocketsphinxRecognizer>(model));
  const auto scratch_dir = fs::temp_directory_path() / ("livedub-narrowband-" + std::to_string(::getpid()));
  fs::create_directories(scratch_dir);
  if (!dump_dir.empty()) fs::create_directories(dump_dir);

  std::printf("%s part; WER: pocketsphinx (tuned), fold off / fold on / as each rule decides (share of items folded)\n",
              to_string(part));
  std::printf("%-9s %-10s %5s | %-20s | %-17s | %-8s %-8s", "source", "condition", "items", "dB >4.4k p5/p50/p95",
              "drop p5/p50/p95", "off", "on");
  for (const auto& rule : rules) std::printf(" | %-15s", rule.name.c_str());
  std::printf("\n");
  for (const auto& [source, items] : sources) {
    for (const auto& condition : conditions.at(source)) {
      std::vector<Result> results(items.size());
      std::atomic<std::size_t> next{0};
      std::vector<std::thread> threads;
      for (int j = 0; j < jobs; ++j) {
        threads.emplace_back([&, j] {
          auto& recognizer = *decoders[static_cast<std::size_t>(j)];
          for (std::size_t i = next++; i < items.size(); i = next++) {
            const auto pcm = prepare(items[i], condition, scratch_dir / std::to_string(j));
            auto& r = results[i];
            r.levels = band_levels(pcm);
            if (!dump_dir.empty()) {
              auto name = source + "." + condition + "." + std::to_string(i) + ".raw";
              std::ofstream out(fs::path(dump_dir) / name, std::ios::binary);
              out.write(reinterpret_cast<const char*>(pcm.data()), static_cast<std::streamsize>(pcm.size() * 2));
              continue;
            }
            r.off = word_errors(items[i].reference, recognizer.transcribe_16k_mono(pcm));
            r.on = word_errors(items[i].reference, recognizer.transcribe_16k_mono(fold_narrowband(pcm)));
          }
        });
      }
      for (auto& t : threads) t.join();
      std::vector<double> levels, drops;
      WordErrors off, on;
      for (const auto& r : results) {
        if (r.levels.measured) levels.push_back(r.levels.high_db), drops.push_back(r.levels.edge_drop_db);
        off.errors += r.off.errors, off.reference_words += r.off.reference_words;
        on.errors += r.on.errors, on.reference_words += r.on.reference_words;
      }
      std::sort(levels.begin(), levels.end());
      std::sort(drops.begin(), drops.end());
      const auto pct = [](const std::vector<double>& v, double p) {
        return v.empty() ? 0.0 : v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
      };
      std::printf("%-9s %-10s %5zu | %6.1f %6.1f %6.1f | %5.1f %5.1f %5.1f | %5.1f %%  %5.1f %% ", source.c_str(),
                  condition.c_str(), items.size(), pct(levels, 0.05), pct(levels, 0.5), pct(levels, 0.95), pct(drops, 0.05),
                  pct(drops, 0.5), pct(drops, 0.95), 100 * off.rate(), 100 * on.rate());
      if (!dump_dir.empty()) {
        std::printf(" (audio written, nothing decoded)\n");
        continue;
      }
      for (const auto& rule : rules) {
        WordErrors chosen;
        int folded = 0;
        for (const auto& r : results) {
          const bool fold = rule.folds(r.levels);
          const auto& e = fold ? r.on : r.off;
          folded += fold;
          chosen.errors += e.errors, chosen.reference_words += e.reference_words;
        }
        std::printf(" | %5.1f %% (%3.0f %%)", 100 * chosen.rate(), 100.0 * folded / static_cast<double>(std::max<std::size_t>(1, results.size())));
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  fs::remove_all(scratch_dir);
  return 0;
}
