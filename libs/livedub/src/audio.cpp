#include "livedub/audio.hpp"

#include <samplerate.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace livedub {

__extension__ using int128 = __int128;  // exact timestamp products without overflow

std::int64_t samples_to_ns(std::int64_t samples, int rate) {
  int128 scaled = static_cast<int128>(samples) * kNanosPerSecond;
  int128 half = rate / 2;
  return static_cast<std::int64_t>((scaled >= 0 ? scaled + half : scaled - half) / rate);
}

std::int64_t ns_to_samples(std::int64_t ns, int rate) {
  int128 scaled = static_cast<int128>(ns) * rate;
  int128 half = kNanosPerSecond / 2;
  return static_cast<std::int64_t>((scaled >= 0 ? scaled + half : scaled - half) / kNanosPerSecond);
}

double rms(std::span<const std::int16_t> samples) {
  if (samples.empty()) return 0.0;
  double sum = 0.0;
  for (auto s : samples) sum += static_cast<double>(s) * s;
  return std::sqrt(sum / static_cast<double>(samples.size())) / 32768.0;
}

std::vector<std::int16_t> downmix_to_mono(std::span<const std::int16_t> interleaved, int channels) {
  if (channels <= 1) return {interleaved.begin(), interleaved.end()};
  std::vector<std::int16_t> mono(interleaved.size() / static_cast<std::size_t>(channels));
  for (std::size_t frame = 0; frame < mono.size(); ++frame) {
    int sum = 0;
    for (int c = 0; c < channels; ++c) sum += interleaved[frame * channels + c];
    mono[frame] = static_cast<std::int16_t>(sum / channels);
  }
  return mono;
}

namespace {

std::vector<std::int16_t> upsample_band_limited(std::span<const std::int16_t> input, int in_rate, int out_rate) {
  const auto out_frames = static_cast<std::size_t>(
      (static_cast<std::int64_t>(input.size()) * out_rate + in_rate / 2) / in_rate);
  std::vector<float> in(input.size());
  src_short_to_float_array(input.data(), in.data(), static_cast<int>(in.size()));
  // Room for the converter's rounding; the result is cut or padded to out_frames below.
  std::vector<float> out(out_frames + 64);
  SRC_DATA data{};
  data.data_in = in.data();
  data.input_frames = static_cast<long>(in.size());
  data.data_out = out.data();
  data.output_frames = static_cast<long>(out.size());
  data.src_ratio = static_cast<double>(out_rate) / in_rate;
  if (const int error = src_simple(&data, SRC_SINC_MEDIUM_QUALITY, 1); error != 0) {
    throw std::runtime_error(std::string("libsamplerate: ") + src_strerror(error));
  }
  out.resize(out_frames, 0.0f);
  std::vector<std::int16_t> result(out_frames);
  src_float_to_short_array(out.data(), result.data(), static_cast<int>(out_frames));
  return result;
}

}  // namespace

std::vector<double> lowpass_taps(int half_taps, double cutoff) {
  std::vector<double> taps(static_cast<std::size_t>(2 * half_taps + 1));
  double sum = 0;
  for (int k = -half_taps; k <= half_taps; ++k) {
    const double x = 2.0 * cutoff * k;
    const double sinc = k == 0 ? 1.0 : std::sin(std::numbers::pi * x) / (std::numbers::pi * x);
    const double window = 0.5 + 0.5 * std::cos(std::numbers::pi * k / (half_taps + 1));
    sum += taps[static_cast<std::size_t>(k + half_taps)] = sinc * window;
  }
  for (auto& t : taps) t /= sum;  // unity gain at DC
  return taps;
}

std::vector<std::int16_t> resample_mono(std::span<const std::int16_t> input, int in_rate, int out_rate) {
  if (out_rate == in_rate || input.empty()) return {input.begin(), input.end()};
  if (out_rate > in_rate) return upsample_band_limited(input, in_rate, out_rate);
  // 63-tap Hann-windowed sinc: about 40 dB stop-band, plenty for ASR input.
  constexpr int kHalfTaps = 31;
  // The taps depend on the rates only: the worker asks for the same pair 31 times a second.
  thread_local std::pair<int, int> taps_for{0, 0};
  thread_local std::vector<double> taps;
  if (taps_for != std::pair{in_rate, out_rate}) {
    taps = lowpass_taps(kHalfTaps, 0.45 * out_rate / in_rate);
    taps_for = {in_rate, out_rate};
  }
  const auto n = static_cast<std::ptrdiff_t>(input.size());
  const double* tap = taps.data();
  auto filtered = [&](std::ptrdiff_t i) {
    double acc = 0;
    if (i >= kHalfTaps && i + kHalfTaps < n) {
      // Away from the edges no index needs clamping (the same sum, in the same order): this
      // loop was the worker's costliest function after the AAC encoder (callgrind).
      const std::int16_t* x = input.data() + (i - kHalfTaps);
      for (int k = 0; k <= 2 * kHalfTaps; ++k) acc += tap[k] * x[k];
    } else {
      for (int k = -kHalfTaps; k <= kHalfTaps; ++k) {
        const auto j = std::clamp<std::ptrdiff_t>(i + k, 0, n - 1);  // edge samples repeat
        acc += tap[k + kHalfTaps] * input[static_cast<std::size_t>(j)];
      }
    }
    return static_cast<double>(static_cast<std::int16_t>(std::clamp(round_half_away(acc), -32768L, 32767L)));
  };
  // Low-pass, then linear interpolation (resample_mono_linear's positions): the filter runs
  // only where the interpolation reads, a third of the input at 48 -> 16 kHz, where every
  // position falls on a sample and its neighbour's weight is zero.
  const auto out_frames = static_cast<std::size_t>((static_cast<std::int64_t>(n) * out_rate + in_rate / 2) / in_rate);
  std::vector<std::int16_t> out(out_frames);
  const double step = static_cast<double>(in_rate) / out_rate;
  for (std::size_t i = 0; i < out_frames; ++i) {
    const double pos = static_cast<double>(i) * step;
    const auto idx = static_cast<std::ptrdiff_t>(pos);
    const double frac = pos - static_cast<double>(idx);
    const double a = filtered(std::min(idx, n - 1));
    const double b = frac == 0.0 ? a : filtered(std::min(idx + 1, n - 1));
    out[i] = static_cast<std::int16_t>(round_half_away(a + (b - a) * frac));
  }
  return out;
}

std::vector<std::int16_t> resample_mono_linear(std::span<const std::int16_t> input, int in_rate,
                                               int out_rate) {
  if (in_rate == out_rate || input.empty()) return {input.begin(), input.end()};
  auto out_frames = static_cast<std::size_t>(
      (static_cast<std::int64_t>(input.size()) * out_rate + in_rate / 2) / in_rate);
  std::vector<std::int16_t> out(out_frames);
  const double step = static_cast<double>(in_rate) / out_rate;
  for (std::size_t i = 0; i < out_frames; ++i) {
    double pos = static_cast<double>(i) * step;
    auto idx = static_cast<std::size_t>(pos);
    double frac = pos - static_cast<double>(idx);
    double a = input[std::min(idx, input.size() - 1)];
    double b = input[std::min(idx + 1, input.size() - 1)];
    out[i] = static_cast<std::int16_t>(round_half_away(a + (b - a) * frac));
  }
  return out;
}

void fit_to_frames(std::vector<std::int16_t>& interleaved, int channels, std::int64_t frames) {
  interleaved.resize(static_cast<std::size_t>(frames * channels), 0);
}

AudioBuffer conform_audio(const AudioBuffer& audio, AudioFormat format, std::int64_t frames) {
  auto mono = resample_mono(downmix_to_mono(audio.samples, audio.format.channels), audio.format.sample_rate,
                            format.sample_rate);
  AudioBuffer out{format, 0, {}};
  if (format.channels == 1) {
    out.samples = std::move(mono);
  } else {
    out.samples.reserve(mono.size() * static_cast<std::size_t>(format.channels));
    for (auto s : mono) out.samples.insert(out.samples.end(), static_cast<std::size_t>(format.channels), s);
  }
  fit_to_frames(out.samples, format.channels, frames);
  return out;
}

}  // namespace livedub
