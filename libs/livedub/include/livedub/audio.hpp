#pragma once
// Interleaved PCM16 audio with a sample-accurate position on a stream timeline.
#include <cstdint>
#include <span>
#include <vector>

namespace livedub {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

// Sample index -> nanoseconds at `rate`, rounded to nearest; exact for any int64 index.
std::int64_t samples_to_ns(std::int64_t samples, int rate);
// Nanoseconds -> nearest sample index at `rate`.
std::int64_t ns_to_samples(std::int64_t ns, int rate);

struct AudioFormat {
  int sample_rate = 48000;
  int channels = 1;
  bool operator==(const AudioFormat&) const = default;
};

struct AudioBuffer {
  AudioFormat format;
  // Index of the first frame on the stream's timeline (frames, not samples).
  std::int64_t start_frame = 0;
  std::vector<std::int16_t> samples;  // interleaved

  std::int64_t frames() const {
    return format.channels > 0 ? static_cast<std::int64_t>(samples.size()) / format.channels : 0;
  }
  std::int64_t end_frame() const { return start_frame + frames(); }
  std::int64_t start_ns() const { return samples_to_ns(start_frame, format.sample_rate); }
  std::int64_t duration_ns() const {
    return samples_to_ns(end_frame(), format.sample_rate) - start_ns();
  }
};

// std::lround's result (halves away from zero) for any |v| < 2^62, inlined: lround is a libm
// call, and the mix rounds every sample twice (about 200,000 calls and 5 M instructions a second
// of a 48 kHz stereo stream: bench/callgrind_stages.py).
constexpr long round_half_away(double v) {
  auto whole = static_cast<long>(v);                    // toward zero
  const double rest = v - static_cast<double>(whole);  // exact: v's bits below the point
  if (rest >= 0.5) ++whole;
  if (rest <= -0.5) --whole;
  return whole;
}

// Root-mean-square level of a span, in [0, 1] relative to full scale.
double rms(std::span<const std::int16_t> samples);

// Mixes `frames` frames of `source` channels into mono (average) — used before STS,
// whose engines work on mono speech.
std::vector<std::int16_t> downmix_to_mono(std::span<const std::int16_t> interleaved, int channels);

// Linear-interpolation resampler for mono PCM16. Adequate for speech fragments; keeps
// the output length exactly round(in_frames * out_rate / in_rate).
std::vector<std::int16_t> resample_mono_linear(std::span<const std::int16_t> input, int in_rate,
                                               int out_rate);

// A Hann-windowed sinc low-pass of 2 * half_taps + 1 taps, `cutoff` in cycles per sample
// (0.25 = a quarter of the sample rate), normalised to unity gain at DC.
std::vector<double> lowpass_taps(int half_taps, double cutoff);

// Downsampling: resample_mono_linear after an anti-aliasing low-pass (windowed sinc at
// 0.45 x out_rate), so 48 kHz speech reaching a 16 kHz recognizer does not fold the 8-24 kHz
// band onto the speech band. Upsampling: libsamplerate's band-limited sinc interpolation, so
// 16 kHz TTS reaching a 48 kHz stream carries no images of its spectrum above 8 kHz (linear
// interpolation leaves them at about -30 dB: a metallic edge on every dubbed voice). Same
// output length as resample_mono_linear either way.
std::vector<std::int16_t> resample_mono(std::span<const std::int16_t> input, int in_rate, int out_rate);

// Returns exactly `frames` frames: truncates or pads with silence.
void fit_to_frames(std::vector<std::int16_t>& interleaved, int channels, std::int64_t frames);

// Any audio -> `format`, exactly `frames` frames long: downmixed to mono, resampled
// (resample_mono), copied to every output channel, then truncated or padded with silence.
// Speech engines work in mono; this is how their output meets a stream's format.
AudioBuffer conform_audio(const AudioBuffer& audio, AudioFormat format, std::int64_t frames);

}  // namespace livedub
