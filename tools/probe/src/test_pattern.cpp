#include "test_pattern.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace livedub::probe {

namespace {
constexpr std::uint8_t kBlack = 16, kWhite = 235, kGrey = 80;
constexpr std::int64_t kNs = 1'000'000'000;
}  // namespace

bool is_flash_time(const PatternSpec& spec, std::int64_t t_ns) {
  const auto period = spec.flash_period_ms * 1'000'000;
  return t_ns >= 0 && (t_ns % period) < spec.flash_ms * 1'000'000;
}

std::vector<std::uint8_t> render_frame(const PatternSpec& spec, std::int64_t n) {
  const auto w = static_cast<std::size_t>(spec.width), h = static_cast<std::size_t>(spec.height);
  std::vector<std::uint8_t> frame(w * h * 3 / 2, 128);  // chroma neutral
  const bool flash = is_flash_time(spec, n * kNs / spec.fps);
  std::fill(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(w * h), flash ? kWhite : kGrey);
  const auto block = w / kCodeBits;
  for (int bit = 0; bit < kCodeBits; ++bit) {
    const std::uint8_t value = ((n >> bit) & 1) ? kWhite : kBlack;
    for (std::size_t y = 0; y < kCodeStripHeight; ++y) {
      std::fill_n(frame.begin() + static_cast<std::ptrdiff_t>(y * w + bit * block), block, value);
    }
  }
  return frame;
}

std::vector<std::int16_t> render_beeps(const PatternSpec& spec, std::int64_t first, std::int64_t count) {
  std::vector<std::int16_t> out(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    const auto frame = first + i;
    const auto t_ns = frame * kNs / spec.sample_rate;
    if (!is_flash_time(spec, t_ns)) continue;
    const double t = static_cast<double>(frame) / spec.sample_rate;
    out[static_cast<std::size_t>(i)] =
        static_cast<std::int16_t>(std::lround(spec.beep_amplitude * 32767.0 * std::sin(2 * std::numbers::pi * spec.beep_hz * t)));
  }
  return out;
}

std::optional<std::int64_t> decode_frame_number(const PatternSpec& spec, std::span<const std::uint8_t> luma) {
  const auto w = static_cast<std::size_t>(spec.width);
  if (luma.size() < w * kCodeStripHeight) return std::nullopt;
  const auto block = w / kCodeBits;
  std::int64_t n = 0;
  for (int bit = 0; bit < kCodeBits; ++bit) {
    // Sample the block's centre, away from edges that compression blurs.
    double sum = 0;
    int count = 0;
    for (std::size_t y = 4; y < kCodeStripHeight - 4; ++y) {
      for (std::size_t x = bit * block + 3; x < (bit + 1) * block - 3; ++x) {
        sum += luma[y * w + x];
        ++count;
      }
    }
    const double mean = sum / count;
    if (mean > 90 && mean < 160) return std::nullopt;  // neither black nor white: unreadable
    if (mean >= 160) n |= std::int64_t{1} << bit;
  }
  return n;
}

double body_luma(const PatternSpec& spec, std::span<const std::uint8_t> luma) {
  const auto w = static_cast<std::size_t>(spec.width), h = static_cast<std::size_t>(spec.height);
  if (luma.size() < w * h) return 0;
  double sum = 0;
  for (std::size_t i = w * (kCodeStripHeight + 8); i < w * h; ++i) sum += luma[i];
  return sum / static_cast<double>(w * h - w * (kCodeStripHeight + 8));
}

std::vector<std::int64_t> flash_onsets(std::span<const VideoObservation> frames) {
  std::vector<std::int64_t> onsets;
  const double midpoint = (kGrey + kWhite) / 2.0;
  bool was_bright = true;  // a stream that starts mid-flash has no measurable onset
  for (const auto& f : frames) {
    const bool bright = f.luma > midpoint;
    if (bright && !was_bright) onsets.push_back(f.pts_ns);
    was_bright = bright;
  }
  return onsets;
}

double tone_amplitude(std::span<const std::int16_t> mono, int rate, double hz) {
  if (mono.empty()) return 0;
  const double omega = 2 * std::numbers::pi * hz / rate;
  const double coeff = 2 * std::cos(omega);
  double s_prev = 0, s_prev2 = 0;
  for (auto x : mono) {
    const double s = x / 32768.0 + coeff * s_prev - s_prev2;
    s_prev2 = s_prev;
    s_prev = s;
  }
  const double power = s_prev2 * s_prev2 + s_prev * s_prev - coeff * s_prev * s_prev2;
  return 2 * std::sqrt(std::max(0.0, power)) / static_cast<double>(mono.size());
}

double tone_energy_fraction(std::span<const std::int16_t> mono, int rate, double hz) {
  if (mono.empty()) return 0;
  double energy = 0;
  for (auto x : mono) energy += (x / 32768.0) * (x / 32768.0);
  energy /= static_cast<double>(mono.size());
  if (energy < 1e-8) return 0;
  // Tone power in 100 ms blocks, averaged: a tone whose phase jumps inside the window (a dub
  // made of two fragments, each starting its own tone) would partly cancel in one long block.
  const auto block = std::max<std::size_t>(1, static_cast<std::size_t>(rate / 10));
  double tone_power = 0;
  std::size_t blocks = 0;
  for (std::size_t at = 0; at + block <= mono.size(); at += block, ++blocks) {
    const double a = tone_amplitude(mono.subspan(at, block), rate, hz);
    tone_power += a * a / 2;
  }
  if (blocks == 0) {
    const double a = tone_amplitude(mono, rate, hz);
    return std::min(1.0, (a * a / 2) / energy);
  }
  return std::min(1.0, tone_power / static_cast<double>(blocks) / energy);
}

std::vector<std::int64_t> tone_onsets(std::span<const std::int16_t> mono, int rate, std::int64_t start_pts_ns,
                                      double hz, double threshold, std::int64_t min_gap_ns) {
  std::vector<std::int64_t> onsets;
  const auto window = static_cast<std::size_t>(rate / 200);  // 5 ms
  std::int64_t last_active = -min_gap_ns - 1;
  bool active = true;  // ignore a tone already sounding at the start
  for (std::size_t at = 0; at + window <= mono.size(); at += window) {
    const auto t = start_pts_ns + static_cast<std::int64_t>(at) * kNs / rate;
    const bool on = tone_amplitude(mono.subspan(at, window), rate, hz) > threshold;
    if (on && !active && t - last_active > min_gap_ns) onsets.push_back(t);
    if (on) last_active = t;
    active = on;
  }
  return onsets;
}

std::vector<std::int64_t> pair_offsets(std::span<const std::int64_t> flashes, std::span<const std::int64_t> beeps,
                                       std::int64_t max_distance_ns) {
  std::vector<std::int64_t> offsets;
  for (auto flash : flashes) {
    std::optional<std::int64_t> best;
    for (auto beep : beeps) {
      if (std::llabs(beep - flash) <= max_distance_ns && (!best || std::llabs(beep - flash) < std::llabs(*best))) {
        best = beep - flash;
      }
    }
    if (best) offsets.push_back(*best);
  }
  return offsets;
}

double normalized_correlation(std::span<const std::int16_t> a, std::span<const std::int16_t> b) {
  const auto n = std::min(a.size(), b.size());
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  if (aa <= 0 || bb <= 0) return 0;
  return ab / std::sqrt(aa * bb);
}

double envelope_correlation(std::span<const std::int16_t> a, std::span<const std::int16_t> b, int rate,
                            int max_lag_ms) {
  const auto window = static_cast<std::size_t>(rate / 200);
  auto envelope = [&](std::span<const std::int16_t> x) {
    std::vector<double> e;
    for (std::size_t at = 0; at + window <= x.size(); at += window) {
      double sum = 0;
      for (std::size_t i = at; i < at + window; ++i) sum += static_cast<double>(x[i]) * x[i];
      e.push_back(std::sqrt(sum / static_cast<double>(window)));
    }
    return e;
  };
  const auto ea = envelope(a), eb = envelope(b);
  const int max_lag = max_lag_ms / 5;
  double best = 0;
  for (int lag = -max_lag; lag <= max_lag; ++lag) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < ea.size(); ++i) {
      const auto j = static_cast<std::ptrdiff_t>(i) + lag;
      if (j < 0 || j >= static_cast<std::ptrdiff_t>(eb.size())) continue;
      const double ma = ea[i], mb = eb[static_cast<std::size_t>(j)];
      ab += ma * mb;
      aa += ma * ma;
      bb += mb * mb;
    }
    if (aa > 0 && bb > 0) best = std::max(best, ab / std::sqrt(aa * bb));
  }
  return best;
}

}  // namespace livedub::probe
