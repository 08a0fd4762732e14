#include "voice_reducer.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numbers>
#include <stdexcept>

namespace livedub::worker {
namespace {
constexpr int kSize = 1024;
constexpr int kHop = kSize / 2;
constexpr int kBins = kSize / 2 + 1;
std::mutex planner_mutex;  // FFTW's planner is not thread-safe; execution is

struct FloatsDeleter {
  void operator()(float* p) const { fftwf_free(p); }
};
struct ComplexDeleter {
  void operator()(fftwf_complex* p) const { fftwf_free(p); }
};
struct PlanDeleter {
  void operator()(fftwf_plan_s* p) const { fftwf_destroy_plan(p); }
};
}  // namespace

struct VoiceReducer::Fft {
  std::unique_ptr<float, FloatsDeleter> time{static_cast<float*>(fftwf_malloc(sizeof(float) * kSize))};
  std::unique_ptr<fftwf_complex, ComplexDeleter> freq{static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * kBins))};
  std::unique_ptr<fftwf_plan_s, PlanDeleter> forward, inverse;
  std::vector<float> window;  // sqrt-Hann (periodic): analysis x synthesis = Hann, sums to 1 at 50 %
  Fft() {
    if (!time || !freq) throw std::bad_alloc();
    std::lock_guard lock(planner_mutex);
    forward.reset(fftwf_plan_dft_r2c_1d(kSize, time.get(), freq.get(), FFTW_ESTIMATE));
    inverse.reset(fftwf_plan_dft_c2r_1d(kSize, freq.get(), time.get(), FFTW_ESTIMATE));
    if (!forward || !inverse) throw std::runtime_error("FFTW could not plan a 1024-point transform");
    for (int i = 0; i < kSize; ++i) window.push_back(static_cast<float>(std::sqrt(0.5 - 0.5 * std::cos(2 * std::numbers::pi * i / kSize))));
  }
};

VoiceReducer::VoiceReducer(AudioFormat format, ReduceConfig config)
    : format_(format), config_(config), fft_(std::make_unique<Fft>()), background_(kBins, 0.0) {}

VoiceReducer::~VoiceReducer() = default;

AudioBuffer VoiceReducer::process(const AudioBuffer& audio, std::span<const float> weight,
                                  std::span<AudioBuffer* const> alongside) {
  const auto frames = audio.frames();
  const auto channels = audio.format.channels;
  AudioBuffer out{audio.format, audio.start_frame, audio.samples};
  if (frames == 0) return out;
  for (auto* other : alongside) {
    if (other->format != audio.format || other->frames() != frames) throw std::invalid_argument("alongside buffers must match");
  }
  // Signals processed with one set of gains: the audio first, then the others.
  std::vector<const AudioBuffer*> inputs{&audio};
  for (auto* other : alongside) inputs.push_back(other);
  const auto signals = static_cast<int>(inputs.size());
  // Padded by half a frame either side so every sample is covered by two frames.
  const std::int64_t padded = frames + kSize;
  // reduced[s * channels + c]: signal s, channel c, padded timeline
  std::vector<std::vector<float>> reduced(static_cast<std::size_t>(signals * channels), std::vector<float>(static_cast<std::size_t>(padded), 0.0f));
  const double alpha = std::min(1.0, kHop / (config_.background_seconds * audio.format.sample_rate));
  const double headroom = std::pow(10.0, config_.headroom_db / 10.0);
  const double floor_gain = std::pow(10.0, config_.floor_db / 20.0);
  std::vector<double> power(kBins);
  std::vector<float> gain(kBins);
  std::vector<std::vector<std::array<float, 2>>> spectra(static_cast<std::size_t>(signals * channels), std::vector<std::array<float, 2>>(kBins));
  // voiced[n]: frames before n that get any of the reduced signal (weight > 0). A frame whose
  // every sample has weight 0 only teaches the background: its inverse transforms (and the
  // other signals' forward ones) would be thrown away by the blend, and are not computed.
  // Outside speech that is every frame, so the stage costs half as much there.
  std::vector<std::int64_t> voiced(static_cast<std::size_t>(frames) + 1, 0);
  for (std::int64_t n = 0; n < frames; ++n) {
    voiced[static_cast<std::size_t>(n) + 1] = voiced[static_cast<std::size_t>(n)] + (weight[static_cast<std::size_t>(n)] > 0.0f ? 1 : 0);
  }
  auto sample = [&](int s, std::int64_t at, int c) -> float {  // at: index in the padded signal
    const auto n = at - kSize / 2;
    return n < 0 || n >= frames ? 0.0f : inputs[static_cast<std::size_t>(s)]->samples[static_cast<std::size_t>(n * channels + c)] / 32768.0f;
  };
  for (std::int64_t start = 0; start + kSize <= padded; start += kHop) {
    // Samples start - kSize / 2 .. start + kSize / 2 of the signal (the frame's support).
    const auto first = std::clamp<std::int64_t>(start - kSize / 2, 0, frames);
    const auto last = std::clamp<std::int64_t>(start + kSize / 2, 0, frames);
    const bool heard = voiced[static_cast<std::size_t>(last)] > voiced[static_cast<std::size_t>(first)];
    std::fill(power.begin(), power.end(), 0.0);
    for (int s = 0; s < (heard ? signals : 1); ++s) {
      for (int c = 0; c < channels; ++c) {
        for (int i = 0; i < kSize; ++i) fft_->time.get()[i] = sample(s, start + i, c) * fft_->window[static_cast<std::size_t>(i)];
        fftwf_execute(fft_->forward.get());
        for (int k = 0; k < kBins; ++k) {
          const float re = fft_->freq.get()[k][0], im = fft_->freq.get()[k][1];
          spectra[static_cast<std::size_t>(s * channels + c)][static_cast<std::size_t>(k)] = {re, im};
          // The gains follow the audio alone.
          if (s == 0) power[static_cast<std::size_t>(k)] += (static_cast<double>(re) * re + static_cast<double>(im) * im) / channels;
        }
      }
    }
    // The frame is centred on padded index start + kSize / 2, i.e. on sample `start`.
    const auto centre = std::clamp<std::int64_t>(start, 0, frames - 1);
    const bool speech = weight[static_cast<std::size_t>(centre)] > 0.0f;
    if (!speech) {
      for (int k = 0; k < kBins; ++k) background_[static_cast<std::size_t>(k)] += alpha * (power[static_cast<std::size_t>(k)] - background_[static_cast<std::size_t>(k)]);
      ++learned_;
    }
    if (!heard) continue;
    for (int k = 0; k < kBins; ++k) {
      const double p = power[static_cast<std::size_t>(k)], b = background_[static_cast<std::size_t>(k)];
      gain[static_cast<std::size_t>(k)] =
          learned_ == 0 || p <= headroom * b ? 1.0f : static_cast<float>(std::max(floor_gain, std::sqrt(headroom * b / p)));
    }
    for (int sc = 0; sc < signals * channels; ++sc) {
      for (int k = 0; k < kBins; ++k) {
        const auto& x = spectra[static_cast<std::size_t>(sc)][static_cast<std::size_t>(k)];
        fft_->freq.get()[k][0] = x[0] * gain[static_cast<std::size_t>(k)];
        fft_->freq.get()[k][1] = x[1] * gain[static_cast<std::size_t>(k)];
      }
      fftwf_execute(fft_->inverse.get());
      auto& y = reduced[static_cast<std::size_t>(sc)];
      for (int i = 0; i < kSize; ++i) {
        y[static_cast<std::size_t>(start + i)] += fft_->time.get()[i] * fft_->window[static_cast<std::size_t>(i)] / kSize;
      }
    }
  }
  auto blend = [&](int s, std::vector<std::int16_t>& samples) {
    for (std::int64_t n = 0; n < frames; ++n) {
      const float w = std::clamp(weight[static_cast<std::size_t>(n)], 0.0f, 1.0f);
      if (w <= 0.0f) continue;
      for (int c = 0; c < channels; ++c) {
        auto& x = samples[static_cast<std::size_t>(n * channels + c)];
        const float r = reduced[static_cast<std::size_t>(s * channels + c)][static_cast<std::size_t>(n + kSize / 2)] * 32768.0f;
        x = static_cast<std::int16_t>(round_half_away(std::clamp((1.0f - w) * x + w * r, -32768.0f, 32767.0f)));
      }
    }
  };
  blend(0, out.samples);
  for (int s = 1; s < signals; ++s) blend(s, alongside[static_cast<std::size_t>(s - 1)]->samples);
  return out;
}

}  // namespace livedub::worker
