// Benchmark (not a test): voice-activity detectors on the labelled set that make-set.sh builds
// from real recordings. Per detector: music and noise frames taken as speech (%), speech frames
// missed (%) in clean speech and in speech over music, and CPU time per second of audio.
//   build/bench/livedub-bench-vad --set DIR [--part tune|test|all] [--threshold 0.5]
// Labels: a 32 ms frame of a speech file is speech when its level is within 35 dB of the
// file's loud frames (95th percentile); frames within 64 ms of a label change are not scored.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <webrtc/modules/audio_processing/include/audio_processing.h>
#include <webrtc/modules/interface/module_common_types.h>

#include "livedub/wav.hpp"
#include "silero_vad.hpp"
#include "voice_detector.hpp"

using namespace livedub;
using namespace livedub::worker;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kFrame = VoiceDetector::kFrameSamples;

// WebRTC's GMM VAD (Debian's libwebrtc-audio-processing 0.3) on 10 ms frames; a 32 ms frame's
// probability is the share of its 10 ms frames that were voiced.
class WebRtcDetector : public VoiceDetector {
 public:
  explicit WebRtcDetector(webrtc::VoiceDetection::Likelihood likelihood) : likelihood_(likelihood) { reset(); }
  float speech_probability(std::span<const float> frame) override {
    for (float s : frame) pending_.push_back(static_cast<std::int16_t>(std::lround(std::clamp(s, -1.0f, 1.0f) * 32767.0f)));
    int voiced = 0, total = 0;
    while (pending_.size() >= 160) {
      webrtc::AudioFrame f;
      f.UpdateFrame(0, 0, pending_.data(), 160, kSampleRate, webrtc::AudioFrame::kNormalSpeech,
                    webrtc::AudioFrame::kVadUnknown, 1);
      apm_->ProcessStream(&f);
      voiced += apm_->voice_detection()->stream_has_voice() ? 1 : 0;
      ++total;
      pending_.erase(pending_.begin(), pending_.begin() + 160);
    }
    if (total > 0) last_ = static_cast<float>(voiced) / static_cast<float>(total);
    return last_;
  }
  void reset() override {
    apm_.reset(webrtc::AudioProcessing::Create());
    apm_->voice_detection()->Enable(true);
    apm_->voice_detection()->set_likelihood(likelihood_);
    pending_.clear();
    last_ = 0;
  }
  std::string name() const override { return "webrtc"; }

 private:
  webrtc::VoiceDetection::Likelihood likelihood_;
  std::unique_ptr<webrtc::AudioProcessing> apm_;
  std::vector<std::int16_t> pending_;
  float last_ = 0;
};

std::vector<float> frames_of(const AudioBuffer& audio) {
  std::vector<float> out;
  for (auto s : audio.samples) out.push_back(static_cast<float>(s) / 32768.0f);
  return out;
}

double frame_db(std::span<const float> f) {
  double sum = 0;
  for (float s : f) sum += static_cast<double>(s) * s;
  return 10 * std::log10(std::max(sum / static_cast<double>(f.size()), 1e-12));
}

// 1 speech, 0 not.
std::vector<int> raw_speech_labels(const std::vector<float>& clean) {
  std::vector<double> levels;
  for (std::size_t at = 0; at + kFrame <= clean.size(); at += kFrame) levels.push_back(frame_db(std::span(clean).subspan(at, kFrame)));
  auto sorted = levels;
  std::sort(sorted.begin(), sorted.end());
  const double loud = sorted.empty() ? 0 : sorted[sorted.size() * 95 / 100];
  std::vector<int> labels;
  for (double l : levels) labels.push_back(l > loud - 35 ? 1 : 0);
  return labels;
}

// 1 speech, 0 not, -1 unscored (near a change).
std::vector<int> speech_labels(const std::vector<int>& labels) {
  auto scored = labels;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    for (std::size_t j = (i >= 2 ? i - 2 : 0); j <= std::min(labels.size() - 1, i + 2); ++j) {
      if (labels[j] != labels[i]) scored[i] = -1;
    }
  }
  return scored;
}

struct Tally {
  long frames = 0, flagged = 0;
  double pct() const { return frames ? 100.0 * static_cast<double>(flagged) / static_cast<double>(frames) : 0.0; }
};

struct Result {
  Tally music, noise, speech_missed, mixed_missed;
  // Speech onsets (a labelled run of speech after at least 128 ms without): frames until the
  // detector first reaches the threshold, within 512 ms (Tally::flagged: not within).
  Tally onsets;
  long onset_delay_frames = 0;
  long frames = 0;  // every frame the detector was given
  double cpu_s = 0, audio_s = 0;
};

bool in_part(const fs::path& file, const std::string& part) {
  if (part == "all") return true;
  const int index = std::stoi(file.filename().string().substr(0, 3));
  return (index % 2 == 1) == (part == "tune");
}

std::vector<fs::path> files(const fs::path& dir, const std::string& part) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".wav" && in_part(e.path(), part)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Probabilities for a whole file, timed.
std::vector<float> run(VoiceDetector& d, const std::vector<float>& samples, Result& r) {
  d.reset();
  std::vector<float> p;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t at = 0; at + kFrame <= samples.size(); at += kFrame) p.push_back(d.speech_probability(std::span(samples).subspan(at, kFrame)));
  r.cpu_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.audio_s += static_cast<double>(samples.size()) / VoiceDetector::kSampleRate;
  r.frames += static_cast<long>(p.size());
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"livedub-bench-vad: voice-activity detectors on real speech, music and noise"};
  std::string set_dir, part = "test", model = LIVEDUB_BENCH_VAD_MODEL;
  float threshold = 0.5f;
  app.add_option("--set", set_dir, "directory made by bench/vad_compare/make-set.sh")->required();
  app.add_option("--part", part, "tune | test | all")->check(CLI::IsMember({"tune", "test", "all"}));
  app.add_option("--threshold", threshold, "speech probability threshold for every detector");
  app.add_option("--model", model, "Silero VAD model");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::pair<std::string, std::unique_ptr<VoiceDetector>>> detectors;
  detectors.emplace_back("silero-v5", std::make_unique<SileroVad>(model));
  // Silero scored only every 2nd or 3rd frame through music, silence and pauses (the worker's
  // LIVEDUB_VAD_STRIDE): what it saves, what it costs in speech missed and onsets heard late.
  std::vector<const SparseDetector*> sparse;
  for (int stride : {2, 3}) {
    auto d = std::make_unique<SparseDetector>(std::make_unique<SileroVad>(model), stride);
    sparse.push_back(d.get());
    detectors.emplace_back("silero-v5, 1 in " + std::to_string(stride) + " outside speech", std::move(d));
  }
  detectors.emplace_back("webrtc (very low likelihood)", std::make_unique<WebRtcDetector>(webrtc::VoiceDetection::kVeryLowLikelihood));
  detectors.emplace_back("webrtc (low likelihood)", std::make_unique<WebRtcDetector>(webrtc::VoiceDetection::kLowLikelihood));
  detectors.emplace_back("energy (-40 dBFS)", std::make_unique<EnergyDetector>(-40.0));
  std::vector<Result> results(detectors.size());
  const fs::path root(set_dir);

  auto load = [](const fs::path& p) { return frames_of(read_wav_file(p.string())); };
  // Every frame of music and noise is non-speech: each one flagged is a false alarm.
  auto count_false_alarms = [&](const fs::path& dir, Tally Result::*tally) {
    for (const auto& f : files(dir, part)) {
      const auto samples = load(f);
      for (std::size_t d = 0; d < detectors.size(); ++d) {
        for (float p : run(*detectors[d].second, samples, results[d])) {
          ++(results[d].*tally).frames;
          (results[d].*tally).flagged += p >= threshold;
        }
      }
    }
  };
  count_false_alarms(root / "music", &Result::music);
  count_false_alarms(root / "noise", &Result::noise);
  auto score_speech = [&](const fs::path& dir, bool mixed) {
    for (const auto& f : files(dir, part)) {
      const auto samples = load(f);
      auto clean_path = f;
      const auto raw = raw_speech_labels(mixed ? load(clean_path.replace_extension(".clean")) : samples);
      const auto labels = speech_labels(raw);
      for (std::size_t d = 0; d < detectors.size(); ++d) {
        const auto probs = run(*detectors[d].second, samples, results[d]);
        auto& tally = mixed ? results[d].mixed_missed : results[d].speech_missed;
        for (std::size_t i = 0; i < std::min(probs.size(), labels.size()); ++i) {
          if (labels[i] != 1) continue;
          ++tally.frames;
          tally.flagged += probs[i] < threshold;
        }
        constexpr std::size_t kQuiet = 4, kWithin = 16;
        for (std::size_t i = kQuiet; i < std::min(probs.size(), raw.size()); ++i) {
          if (raw[i] != 1 || std::any_of(raw.begin() + static_cast<std::ptrdiff_t>(i - kQuiet), raw.begin() + static_cast<std::ptrdiff_t>(i),
                                         [](int l) { return l != 0; })) {
            continue;
          }
          ++results[d].onsets.frames;
          std::size_t j = i;
          while (j < std::min(probs.size(), i + kWithin) && probs[j] < threshold) ++j;
          if (j == i + kWithin || j == probs.size()) {
            ++results[d].onsets.flagged;
          } else {
            results[d].onset_delay_frames += static_cast<long>(j - i);
          }
        }
      }
    }
  };
  score_speech(root / "speech", false);
  score_speech(root / "mixed", true);

  std::printf("part %s, threshold %.2f; frames: music %ld, noise %ld, speech %ld, speech over music %ld\n", part.c_str(),
              threshold, results[0].music.frames, results[0].noise.frames, results[0].speech_missed.frames,
              results[0].mixed_missed.frames);
  std::printf("%-36s | %-14s %-14s | %-15s %-22s | %-22s | %s\n", "detector", "music->speech", "noise->speech",
              "speech missed", "speech/music missed", "onset: mean ms, late", "CPU ms per audio s");
  for (std::size_t d = 0; d < detectors.size(); ++d) {
    const auto& r = results[d];
    const auto heard = r.onsets.frames - r.onsets.flagged;
    const double onset_ms = heard ? 32.0 * static_cast<double>(r.onset_delay_frames) / static_cast<double>(heard) : 0.0;
    std::printf("%-36s | %12.1f %% %12.1f %% | %13.1f %% %20.1f %% | %8.1f %10.1f %% | %.2f\n", detectors[d].first.c_str(),
                r.music.pct(), r.noise.pct(), r.speech_missed.pct(), r.mixed_missed.pct(), onset_ms, r.onsets.pct(),
                1000.0 * r.cpu_s / r.audio_s);
  }
  std::printf("speech onsets: %ld (late: not heard within 512 ms)\n", results[0].onsets.frames);
  for (std::size_t k = 0; k < sparse.size(); ++k) {
    const auto all = results[1 + k].frames;
    std::printf("%s: the model scored %ld of %ld frames (%.1f %%)\n", detectors[1 + k].first.c_str(), sparse[k]->scored_frames(),
                all, all ? 100.0 * static_cast<double>(sparse[k]->scored_frames()) / static_cast<double>(all) : 0.0);
  }
  return 0;
}
