#include "dub_mixer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace livedub::worker {
namespace {

double db_to_gain(double db) { return std::pow(10.0, db / 20.0); }

double span_rms(const AudioBuffer& audio, std::span<const SpeechSpan> spans) {
  const auto channels = static_cast<std::int64_t>(audio.format.channels);
  double sum = 0;
  std::int64_t count = 0;
  for (const auto& s : spans) {
    const auto begin = std::clamp<std::int64_t>(s.begin, 0, audio.frames()) * channels;
    const auto end = std::clamp<std::int64_t>(s.end, 0, audio.frames()) * channels;
    for (auto i = begin; i < end; ++i) {
      const double v = audio.samples[static_cast<std::size_t>(i)] / 32768.0;
      sum += v * v;
    }
    count += end - begin;
  }
  return count > 0 ? std::sqrt(sum / static_cast<double>(count)) : 0.0;
}

std::int16_t saturate(double v) { return static_cast<std::int16_t>(round_half_away(std::clamp(v, -32768.0, 32767.0))); }

}  // namespace

const char* to_string(BedMode mode) {
  switch (mode) {
    case BedMode::off: return "off";
    case BedMode::duck: return "duck";
    case BedMode::reduce: return "reduce";
    case BedMode::separator: return "separator";
  }
  return "unknown";
}

std::optional<BedMode> parse_bed_mode(std::string_view text) {
  if (text == "off") return BedMode::off;
  if (text == "duck") return BedMode::duck;
  if (text == "reduce") return BedMode::reduce;
  if (text == "separator") return BedMode::separator;
  return std::nullopt;
}

std::vector<float> duck_envelope(std::int64_t frames, std::span<const SpeechSpan> regions, double duck_gain,
                                 std::int64_t ramp_down, std::int64_t ramp_up, double start_gain) {
  std::vector<float> gain(static_cast<std::size_t>(std::max<std::int64_t>(frames, 0)), 1.0f);
  const double depth = 1.0 - duck_gain;
  for (const auto& r : regions) {
    if (r.end <= r.begin) continue;
    // Each region pulls the gain down to a trapezoid; overlapping ones take the lower gain.
    const auto from = std::max<std::int64_t>(0, r.begin - ramp_down);
    const auto to = std::min<std::int64_t>(frames, r.end + ramp_up);
    for (auto n = from; n < to; ++n) {
      double g = duck_gain;
      if (n < r.begin) g = 1.0 - depth * static_cast<double>(n - (r.begin - ramp_down)) / static_cast<double>(std::max<std::int64_t>(ramp_down, 1));
      else if (n >= r.end) g = duck_gain + depth * static_cast<double>(n - r.end + 1) / static_cast<double>(std::max<std::int64_t>(ramp_up, 1));
      auto& slot = gain[static_cast<std::size_t>(n)];
      slot = std::min(slot, static_cast<float>(g));
    }
  }
  // Ease from where the previous fragment ended, so the gain is continuous across the join.
  const auto ease = std::min<std::int64_t>(frames, std::max(ramp_down, ramp_up));
  for (std::int64_t n = 0; n < ease; ++n) {
    const double w = 1.0 - static_cast<double>(n) / static_cast<double>(ease);
    auto& slot = gain[static_cast<std::size_t>(n)];
    slot = static_cast<float>(slot + (start_gain - slot) * w);
  }
  return gain;
}

std::vector<float> bed_envelope(const MixInput& input, const MixConfig& config) {
  // Duck under the source speech and the dub alike: the original voice must not compete.
  std::vector<SpeechSpan> regions;
  if (input.voice != nullptr) {
    regions.assign(input.source_speech.begin(), input.source_speech.end());
    if (input.voice_span) regions.push_back(*input.voice_span);
  }
  const int rate = input.original->format.sample_rate;
  const auto to_frames = [rate](std::chrono::milliseconds d) { return d.count() * rate / 1000; };
  return duck_envelope(input.original->frames(), regions, db_to_gain(config.duck_db), to_frames(config.ramp_down),
                       to_frames(config.ramp_up), input.start_gain);
}

std::vector<float> reduction_weight(std::span<const float> envelope, const MixConfig& config) {
  const double duck_gain = db_to_gain(config.duck_db);
  std::vector<float> weight(envelope.size(), 0.0f);
  if (duck_gain >= 1.0) return weight;
  for (std::size_t n = 0; n < envelope.size(); ++n) {
    weight[n] = static_cast<float>(std::clamp((1.0 - envelope[n]) / (1.0 - duck_gain), 0.0, 1.0));
  }
  return weight;
}

MixResult mix_fragment(const MixInput& input, const MixConfig& config) {
  if (input.original == nullptr) throw std::invalid_argument("mix_fragment needs the original audio");
  const AudioBuffer& original = *input.original;
  const auto frames = original.frames();
  const auto channels = static_cast<std::size_t>(original.format.channels);
  const int rate = original.format.sample_rate;
  MixResult result;
  result.audio.format = original.format;
  result.audio.start_frame = original.start_frame;

  const bool dubbed = input.voice != nullptr;
  if (dubbed && input.voice->frames() != frames) throw std::invalid_argument("dubbed voice and original differ in length");

  if (config.mode == BedMode::off) {
    // The old output: the dub alone where there is one, else the original.
    if (!dubbed) {
      result.audio.samples = original.samples;
      return result;
    }
    result.audio.samples.resize(static_cast<std::size_t>(frames) * channels);
    for (std::int64_t n = 0; n < frames; ++n) {
      for (std::size_t c = 0; c < channels; ++c) {
        result.audio.samples[static_cast<std::size_t>(n) * channels + c] = input.voice->samples[static_cast<std::size_t>(n)];
      }
    }
    result.end_gain = 0.0;  // nothing of the original at the end
    return result;
  }

  const auto envelope = bed_envelope(input, config);
  const auto to_frames = [rate](std::chrono::milliseconds d) { return d.count() * rate / 1000; };
  result.end_gain = envelope.empty() ? input.start_gain : envelope.back();

  double voice_gain = 1.0;
  if (dubbed && config.match_loudness && input.voice_span) {
    const double source = span_rms(original, input.source_speech);
    const SpeechSpan voice_span[] = {*input.voice_span};
    const double dub = span_rms(*input.voice, voice_span);
    if (source > 0 && dub > 0) voice_gain = std::min(source / dub, db_to_gain(config.max_voice_gain_db));
  }
  result.voice_gain_db = 20.0 * std::log10(voice_gain);

  // Voice reduction where the bed is ducked: weight 1 at full duck depth, 0 at full level.
  std::optional<AudioBuffer> reduced;
  if (input.bed_source == nullptr && (config.mode == BedMode::reduce || config.mode == BedMode::separator) &&
      input.remover != nullptr) {
    reduced = input.remover->process(original, reduction_weight(envelope, config));
  }
  if (input.bed_source != nullptr && input.bed_source->samples.size() != original.samples.size()) {
    throw std::invalid_argument("bed source and original differ in length");
  }
  const auto& bed_source = input.bed_source != nullptr ? *input.bed_source : reduced ? *reduced : original;
  const auto fade = std::min<std::int64_t>(to_frames(config.voice_fade), frames / 2);
  result.audio.samples.resize(original.samples.size());
  result.bed = AudioBuffer{original.format, original.start_frame, std::vector<std::int16_t>(original.samples.size())};
  for (std::int64_t n = 0; n < frames; ++n) {
    double voice = 0;
    if (dubbed) {
      double edge = 1.0;
      if (fade > 0 && n < fade) edge = static_cast<double>(n) / static_cast<double>(fade);
      if (fade > 0 && frames - 1 - n < fade) edge = std::min(edge, static_cast<double>(frames - 1 - n) / static_cast<double>(fade));
      voice = input.voice->samples[static_cast<std::size_t>(n)] * voice_gain * edge;
    }
    const auto g = static_cast<double>(envelope[static_cast<std::size_t>(n)]);
    for (std::size_t c = 0; c < channels; ++c) {
      const auto at = static_cast<std::size_t>(n) * channels + c;
      result.audio.samples[at] = saturate(bed_source.samples[at] * g + voice);
      result.bed.samples[at] = saturate(bed_source.samples[at] * g);
    }
  }
  return result;
}

std::vector<MixResult> mix_languages(const AudioBuffer& original, std::span<const SpeechSpan> source_speech,
                                     std::span<const LanguageVoice> voices, std::vector<double>& bed_gains,
                                     BedVoiceRemover* remover, const MixConfig& config) {
  if (bed_gains.size() != voices.size()) throw std::invalid_argument("one bed gain per language");
  const bool any_voice = std::any_of(voices.begin(), voices.end(), [](const LanguageVoice& v) { return v.voice != nullptr; });
  std::optional<AudioBuffer> reduced;
  if (remover != nullptr && (config.mode == BedMode::reduce || config.mode == BedMode::separator)) {
    std::vector<SpeechSpan> regions;
    if (any_voice) {
      regions.assign(source_speech.begin(), source_speech.end());
      for (const auto& v : voices) {
        if (v.voice != nullptr && v.span) regions.push_back(*v.span);
      }
    }
    const double start_gain = bed_gains.empty() ? 1.0 : *std::min_element(bed_gains.begin(), bed_gains.end());
    const int rate = original.format.sample_rate;
    const auto to_frames = [rate](std::chrono::milliseconds d) { return d.count() * rate / 1000; };
    const auto envelope = duck_envelope(original.frames(), regions, db_to_gain(config.duck_db), to_frames(config.ramp_down),
                                        to_frames(config.ramp_up), start_gain);
    reduced = remover->process(original, reduction_weight(envelope, config));
  }
  std::vector<MixResult> out;
  for (std::size_t i = 0; i < voices.size(); ++i) {
    // The reduced bed where this language itself ducks: under its dub, or while it eases back
    // from the previous fragment's duck. Elsewhere its listeners hear the original.
    const bool ducks = voices[i].voice != nullptr || (!any_voice && bed_gains[i] < 1.0);
    const AudioBuffer* bed = reduced && ducks ? &*reduced : &original;
    MixInput input{&original, source_speech, voices[i].voice, voices[i].span, bed_gains[i], nullptr, bed};
    out.push_back(mix_fragment(input, config));
    bed_gains[i] = out.back().end_gain;
  }
  return out;
}

}  // namespace livedub::worker
