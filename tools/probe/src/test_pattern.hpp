#pragma once
// The synthetic A/V test pattern used by the demo and the end-to-end tests, and its analysis.
// Video: mid-grey frames whose top strip encodes the frame number in 20 binary blocks, turning
// white ("flash") for kFlashMs at every flash instant. Audio: a 1 kHz beep of kFlashMs at the
// same instants (optionally over speech). Pure functions, no GStreamer.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace livedub::probe {

struct PatternSpec {
  int width = 320;
  int height = 240;
  int fps = 30;
  int sample_rate = 48000;
  std::int64_t flash_period_ms = 1500;  // deliberately not a multiple of the fragment length
  std::int64_t flash_ms = 100;
  double beep_hz = 1000.0;
  double beep_amplitude = 0.5;
};

constexpr int kCodeBits = 20;
constexpr int kCodeStripHeight = 16;

// I420 frame for frame index `n`.
std::vector<std::uint8_t> render_frame(const PatternSpec& spec, std::int64_t n);
// Audio frames [first, first + count) of the beep track (mono PCM16).
std::vector<std::int16_t> render_beeps(const PatternSpec& spec, std::int64_t first, std::int64_t count);
bool is_flash_time(const PatternSpec& spec, std::int64_t t_ns);

// Reads the frame number back from a luma plane (stride = width); nullopt if unreadable.
std::optional<std::int64_t> decode_frame_number(const PatternSpec& spec, std::span<const std::uint8_t> luma);
// Mean luma below the code strip.
double body_luma(const PatternSpec& spec, std::span<const std::uint8_t> luma);

struct VideoObservation {
  std::int64_t pts_ns = 0;
  std::int64_t frame_number = -1;  // -1: unreadable
  double luma = 0;
  std::int64_t arrival_ns = 0;  // wall clock (system_clock, ns since epoch)
};

// Onsets (pts) of flashes: frames whose body luma crosses the midpoint upwards.
std::vector<std::int64_t> flash_onsets(std::span<const VideoObservation> frames);
// Onsets (pts) of beeps: 5 ms windows whose energy at `hz` crosses `threshold` (relative
// amplitude) upwards after at least `min_gap_ns` below it.
std::vector<std::int64_t> tone_onsets(std::span<const std::int16_t> mono, int rate, std::int64_t start_pts_ns,
                                      double hz, double threshold = 0.1, std::int64_t min_gap_ns = 300'000'000);
// Amplitude of the `hz` component of a window (Goertzel), relative to full scale.
double tone_amplitude(std::span<const std::int16_t> mono, int rate, double hz);
// Fraction of a window's energy at `hz` (1.0 = a pure tone of that frequency).
double tone_energy_fraction(std::span<const std::int16_t> mono, int rate, double hz);

// For each flash onset, the nearest beep onset within `max_distance_ns`: offsets beep - flash.
std::vector<std::int64_t> pair_offsets(std::span<const std::int64_t> flashes, std::span<const std::int64_t> beeps,
                                       std::int64_t max_distance_ns = 500'000'000);

// Normalized cross-correlation of two signals over their common length (1.0 = identical shape).
double normalized_correlation(std::span<const std::int16_t> a, std::span<const std::int16_t> b);
// Correlation of 5 ms RMS envelopes at the best lag within +-max_lag_ms: compares what is heard
// while ignoring codec phase shifts and priming delays.
double envelope_correlation(std::span<const std::int16_t> a, std::span<const std::int16_t> b, int rate,
                            int max_lag_ms = 60);

}  // namespace livedub::probe
