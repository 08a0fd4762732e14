// Benchmark (not a test): what a viewer hears, before and after speech-aware fragments and the
// kept bed. The worker's own pure stages run offline on a fixed set: the five librivox
// recordings (human speech, 2 s apart) clean, over music (--music, its RMS --music-db under the
// speech's) and over pink noise, dubbed en->es by the real CPU engines.
//   before: fixed 2 s fragments, every one sent to STS, the output is the STS audio alone
//   after:  Silero VAD -> phrases cut in pauses -> STS with speech spans -> dub mixed over the
//           ducked original (LIVEDUB_BED_MODE=duck, -18 dB), and with the voice reduction first
//           (LIVEDUB_BED_MODE=reduce, at --reduce-duck-db)
//   build/bench/livedub-bench-dub-quality --music FILE.wav [--music-db -10] [--reduce-duck-db -18]
//                                         [--min-ms 1000] [--max-ms 4000]
// Levels under the dub are measured over the frames where a dubbed voice plays and the source
// speaks. Speech labels come from the clean speech: 32 ms frames within 35 dB of its loud frames
// (95th percentile) are speech, within 20 dB are words (onsets and cuts are judged on those).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "dub_mixer.hpp"
#include "fragment_cutter.hpp"
#include "livedub/wav.hpp"
#include "silero_vad.hpp"
#include "phrase_streamer.hpp"
#include "speech_segmenter.hpp"
#include "sts_client.hpp"
#include "worker_config.hpp"
#include "voice_reducer.hpp"
#include "sts/cpu_engine.hpp"

using namespace livedub;
using namespace livedub::worker;
using Clock = std::chrono::steady_clock;

namespace {
constexpr int kRate = 48000;

struct Item {
  std::string name;
  std::vector<std::int16_t> speech, background;  // mono, kRate, same length
  std::vector<bool> is_speech;  // per frame: within 35 dB of the loud frames (breaths, quiet onsets)
  std::vector<bool> is_loud;    // per frame: within 20 dB of them (words; onsets and cuts are judged on these)
};

std::vector<std::int16_t> load(const std::string& path) {
  auto a = read_wav_file(path);
  return resample_mono(downmix_to_mono(a.samples, a.format.channels), a.format.sample_rate, kRate);
}

std::vector<bool> label(const std::vector<std::int16_t>& speech, double within_db) {
  const std::size_t frame = kRate * 32 / 1000;
  std::vector<double> db;
  for (std::size_t at = 0; at < speech.size(); at += frame) {
    db.push_back(20 * std::log10(std::max(rms(std::span(speech).subspan(at, std::min(frame, speech.size() - at))), 1e-6)));
  }
  auto sorted = db;
  std::sort(sorted.begin(), sorted.end());
  const double loud = sorted[sorted.size() * 95 / 100];
  std::vector<bool> out(speech.size());
  for (std::size_t i = 0; i < speech.size(); ++i) out[i] = db[i / frame] > loud - within_db;
  return out;
}

struct Figures {
  double cuts = 0, cuts_in_speech = 0, cuts_in_words = 0;
  double cuts_at_max = 0, cuts_at_word_gaps = 0, max_cuts_in_words = 0;  // phrases longer than the maximum
  double nonspeech_s = 0, nonspeech_sent_s = 0;
  double pause_in = 0, pause_out = 0, under_in = 0, under_out = 0;  // bed energy, input vs output
  double voice_in = 0, voice_out = 0;                                // original voice under the dub
  int joins = 0, joins_clicking = 0;
  int phrases = 0, truncated = 0;
  std::vector<double> onset_lags_ms;
  double analysis_s = 0, mix_s = 0, audio_s = 0;
};

AudioBuffer slice(const std::vector<std::int16_t>& signal, const Fragment& f) {
  return AudioBuffer{{kRate, 1}, f.audio.start_frame,
                     std::vector<std::int16_t>(signal.begin() + f.audio.start_frame, signal.begin() + f.audio.end_frame())};
}

// Gains applied to each component: the ducking is linear in the original, so mixing a component
// alone with the same spans and dub span gives that component's share of the output (the
// voice reduction's gains are applied to the components by the reducer itself).
AudioBuffer mix_component(const AudioBuffer& component, const Fragment& f, const std::optional<SpeechSpan>& voice_span,
                          bool dubbed, double start_gain, const MixConfig& cfg) {
  AudioBuffer silence{{kRate, 1}, f.audio.start_frame, std::vector<std::int16_t>(component.samples.size(), 0)};
  auto c = cfg;
  c.match_loudness = false;
  return mix_fragment({&component, f.speech, dubbed ? &silence : nullptr, voice_span, start_gain}, c).audio;
}

enum class Mode { before, duck, reduce };

SegmenterConfig segmenter_config;  // the worker's defaults unless --min-ms / --max-ms
// --word-cuts: the phrase being spoken is streamed as the worker streams it (PhraseStreamer,
// 320 ms chunks) into the engine's streaming recogniser, whose heard words tell the segmenter
// where a long phrase may be cut; without it, long phrases are cut at the quietest block.
bool word_cuts = false;

Figures run(const Item& item, Mode mode, sts::CpuDubbingEngine& engine, SileroVad& vad, double duck_db) {
  const bool after = mode != Mode::before;
  VoiceReducer reducer({kRate, 1});
  Figures fig;
  const auto n = item.speech.size();
  std::vector<std::int16_t> input(n);
  for (std::size_t i = 0; i < n; ++i) input[i] = static_cast<std::int16_t>(std::clamp(item.speech[i] + item.background[i], -32768, 32767));
  fig.audio_s = static_cast<double>(n) / kRate;

  // Cut.
  std::vector<Fragment> fragments;
  const auto started = Clock::now();
  if (after) {
    FragmentCutter blocks({kRate, 1}, detector_block_frames(kRate));
    BlockAnalyzer analyzer(vad, {kRate, 1});
    analyzer.reset();  // every run starts the detector afresh, so the runs compare like for like
    SpeechSegmenter segmenter(segmenter_config, {kRate, 1}, detector_block_frames(kRate));
    PhraseStreamer streamer(kRate * kStreamChunk.count() / 1000);
    std::unique_ptr<sts::PhraseRecognition> phrase;  // of the fragment being streamed
    for (auto& b : blocks.push(0, input)) {
      AnalyzedBlock ab{std::move(b.audio), {}, false};
      ab.info = analyzer.analyze(ab.audio.samples);
      for (auto& f : segmenter.push(std::move(ab))) {
        if (word_cuts) {
          streamer.finish(f);
          phrase.reset();
        }
        fragments.push_back(std::move(f));
      }
      if (!word_cuts) continue;
      if (auto chunk = streamer.poll(segmenter)) {
        if (chunk->n == 0) phrase = engine.begin_phrase("en");
        if (!phrase) continue;
        phrase->feed(chunk->audio.samples, kRate);
        std::vector<HeardWordMs> words;
        for (const auto& w : phrase->heard()) words.push_back({w.start_ms, w.end_ms});
        segmenter.set_word_gaps(chunk->seq, word_gaps(words, kRate));
      }
    }
    fig.cuts_at_word_gaps = static_cast<double>(segmenter.cut_stats().at_word_gap);
    fig.cuts_at_max = static_cast<double>(segmenter.cut_stats().at_word_gap + segmenter.cut_stats().at_quietest_block);
    if (auto last = blocks.flush()) {
      for (auto& f : segmenter.push({std::move(last->audio), {}, false})) fragments.push_back(std::move(f));
    }
    for (auto& f : segmenter.flush()) fragments.push_back(std::move(f));
  } else {
    FragmentCutter fixed({kRate, 1}, 2 * kRate);
    fragments = fixed.push(0, input);
    if (auto last = fixed.flush()) fragments.push_back(std::move(*last));
  }
  fig.analysis_s = std::chrono::duration<double>(Clock::now() - started).count();

  MixConfig cfg;
  cfg.mode = after ? BedMode::duck : BedMode::off;  // reduce: the bench applies the reducer itself, below
  cfg.duck_db = duck_db;
  double gain = 1.0;
  std::vector<std::int16_t> out(n), bed_out(n), voice_out(n);
  std::vector<bool> under_dub(n, false);  // where a dubbed voice plays
  for (std::size_t k = 0; k < fragments.size(); ++k) {
    auto& f = fragments[k];
    const auto begin = f.audio.start_frame, end = f.audio.end_frame();
    if (k > 0) {
      ++fig.cuts;
      fig.cuts_in_speech += item.is_speech[static_cast<std::size_t>(begin)] && item.is_speech[static_cast<std::size_t>(begin - 1)];
      const bool in_word = item.is_loud[static_cast<std::size_t>(begin)] && item.is_loud[static_cast<std::size_t>(begin - 1)];
      fig.cuts_in_words += in_word;
      // A cut of a phrase at the maximum: the previous fragment's speech runs to its end.
      const auto& prev = fragments[k - 1];
      if (!prev.speech.empty() && prev.speech.back().end == prev.audio.frames()) fig.max_cuts_in_words += in_word;
    }
    std::optional<AudioBuffer> dub;
    std::optional<SpeechSpan> voice_span;
    if (!f.speech.empty()) {
      for (auto i = begin; i < end; ++i) fig.nonspeech_sent_s += !item.is_speech[static_cast<std::size_t>(i)];
      sts::DubRequestMetadata request("bench", f.seq, "en", "es", "default", static_cast<double>(f.audio.frames()) * 1000.0 / kRate);
      if (after) {
        for (const auto& s : f.speech) request.speech.push_back({static_cast<double>(s.begin) * 1000.0 / kRate, static_cast<double>(s.end) * 1000.0 / kRate});
        request.slot_end_ms = request.duration_ms;
      }
      auto result = engine.dub(request, f.audio);
      if (!result.translation.empty()) {
        ++fig.phrases;
        fig.truncated += result.time_fit == "bound_then_trim";
        voice_span = SpeechSpan{result.speech_begin, result.speech_end};
        // Onset lag: where the dubbed speech starts against the source's first speech frame.
        std::int64_t source_onset = -1;
        for (auto i = begin; i < end; ++i) {
          if (item.is_loud[static_cast<std::size_t>(i)]) {
            source_onset = i - begin;
            break;
          }
        }
        const auto trimmed = sts::trim_silence(result.audio);
        if (source_onset >= 0 && trimmed.frames() > 0) {
          fig.onset_lags_ms.push_back(static_cast<double>(trimmed.start_frame - result.audio.start_frame - source_onset) * 1000.0 / kRate);
        }
      }
      dub = std::move(result.audio);
      dub->start_frame = begin;
    }
    const auto mix_started = Clock::now();
    auto bed_part = slice(item.background, f), voice_part = slice(item.speech, f);
    AudioBuffer original = f.audio;
    MixInput in{&original, f.speech, dub ? &*dub : nullptr, voice_span, gain};
    if (mode == Mode::reduce) {
      AudioBuffer* parts[] = {&bed_part, &voice_part};
      original = reducer.process(f.audio, reduction_weight(bed_envelope(in, cfg), cfg), parts);
    }
    auto mixed = mix_fragment(in, cfg);
    fig.mix_s += std::chrono::duration<double>(Clock::now() - mix_started).count();
    std::copy(mixed.audio.samples.begin(), mixed.audio.samples.end(), out.begin() + begin);
    // Components: the bed alone and the original voice alone, through the same gains.
    const bool dubbed = dub.has_value() && after;
    if (dub && voice_span) {
      for (auto i = begin + voice_span->begin; i < std::min(end, begin + voice_span->end); ++i) under_dub[static_cast<std::size_t>(i)] = true;
    }
    auto bed = mix_component(bed_part, f, voice_span, dubbed, gain, cfg);
    auto voice = mix_component(voice_part, f, voice_span, dubbed, gain, cfg);
    if (!after) {
      // Before: the output was the STS audio alone; nothing of the original remained.
      std::fill(bed.samples.begin(), bed.samples.end(), 0);
      std::fill(voice.samples.begin(), voice.samples.end(), 0);
    }
    std::copy(bed.samples.begin(), bed.samples.end(), bed_out.begin() + begin);
    std::copy(voice.samples.begin(), voice.samples.end(), voice_out.begin() + begin);
    gain = mixed.end_gain;
    if (k > 0) {
      // A join clicks when its step is far above every step in the 5 ms either side of it.
      ++fig.joins;
      const auto at = static_cast<std::size_t>(begin);
      const auto w = static_cast<std::size_t>(kRate / 200);
      double local = 0;
      for (std::size_t i = at - w; i < at + w && i + 1 < n; ++i) {
        if (i == at - 1) continue;
        local = std::max(local, std::abs(static_cast<double>(out[i + 1]) - out[i]));
      }
      const double step = std::abs(static_cast<double>(out[at]) - out[at - 1]);
      fig.joins_clicking += step > std::max(3 * local, 0.01 * 32768);
    }
  }
  for (std::size_t i = 0; i < n; ++i) fig.nonspeech_s += !item.is_speech[i];
  fig.nonspeech_s /= kRate;
  fig.nonspeech_sent_s /= kRate;
  // Bed in pauses (no speech within 1 s) and under speech; voice leakage under speech.
  const std::size_t margin = kRate;
  for (std::size_t i = margin; i + margin < n; ++i) {
    const double b_in = item.background[i], b_out = bed_out[i];
    bool near_speech = false;
    for (std::size_t j : {i - margin, i, i + margin - 1}) near_speech = near_speech || item.is_speech[j];
    if (!near_speech) {
      fig.pause_in += b_in * b_in;
      fig.pause_out += b_out * b_out;
    } else if (under_dub[i] && item.is_speech[i]) {
      fig.under_in += b_in * b_in;
      fig.under_out += b_out * b_out;
      fig.voice_in += static_cast<double>(item.speech[i]) * item.speech[i];
      fig.voice_out += static_cast<double>(voice_out[i]) * voice_out[i];
    }
  }
  return fig;
}

void print(const std::string& name, const Figures& b, const Figures& a, const Figures& r, const std::string& reduce_title) {
  auto row3 = [](const char* what, const std::string& before, const std::string& after, const std::string& reduce) {
    std::printf("  %-44s %16s %16s %18s\n", what, before.c_str(), after.c_str(), reduce.c_str());
  };
  auto pct = [](double x, double of) {
    char s[32];
    std::snprintf(s, sizeof s, "%.1f %%", of > 0 ? 100 * x / of : 0.0);
    return std::string(s);
  };
  auto dbs = [](double out, double in) {
    char s[32];
    if (in <= 0) return std::string("n/a");
    if (out <= 0) return std::string("gone");
    std::snprintf(s, sizeof s, "%+.1f dB", 10 * std::log10(out / in));
    return std::string(s);
  };
  auto num = [](double v, const char* fmt) {
    char s[32];
    std::snprintf(s, sizeof s, fmt, v);
    return std::string(s);
  };
  auto median_abs = [](std::vector<double> v) {
    if (v.empty()) return std::string("n/a");
    for (auto& x : v) x = std::abs(x);
    std::sort(v.begin(), v.end());
    char s[48];
    std::snprintf(s, sizeof s, "%.0f (p90 %.0f)", v[v.size() / 2], v[v.size() * 9 / 10]);
    return std::string(s);
  };
  std::printf("%s\n  %-44s %16s %16s %18s\n", name.c_str(), "", "before", "after: duck", reduce_title.c_str());
  auto row = [&](const char* what, auto figure) { row3(what, figure(b), figure(a), figure(r)); };
  row("cuts inside speech (within 35 dB of loud)", [&](const Figures& f) { return pct(f.cuts_in_speech, f.cuts); });
  row("cuts inside words (within 20 dB of loud)", [&](const Figures& f) { return pct(f.cuts_in_words, f.cuts); });
  row("phrases cut at the maximum (at a word gap)", [&](const Figures& f) {
    return num(f.cuts_at_max, "%.0f") + " (" + num(f.cuts_at_word_gaps, "%.0f") + ")";
  });
  row("  of those, inside words", [&](const Figures& f) { return num(f.max_cuts_in_words, "%.0f"); });
  row("non-speech time sent to STS", [&](const Figures& f) { return pct(f.nonspeech_sent_s, f.nonspeech_s); });
  row("bed in pauses (vs input)", [&](const Figures& f) { return dbs(f.pause_out, f.pause_in); });
  row("bed under the dub (vs input)", [&](const Figures& f) { return dbs(f.under_out, f.under_in); });
  row("original voice under the dub (vs input)", [&](const Figures& f) { return dbs(f.voice_out, f.voice_in); });
  row("joins that click", [&](const Figures& f) { return num(f.joins_clicking, "%.0f") + " / " + num(f.joins, "%.0f"); });
  row("dubbed phrases truncated", [&](const Figures& f) { return pct(f.truncated, f.phrases); });
  row("dub onset vs source onset, |ms| median", [&](const Figures& f) { return median_abs(f.onset_lags_ms); });
  row("CPU: cut + detect, % of one core", [&](const Figures& f) { return num(100 * f.analysis_s / f.audio_s, "%.2f %%"); });
  row("CPU: bed + mix, % of one core", [&](const Figures& f) { return num(100 * f.mix_s / f.audio_s, "%.2f %%"); });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"livedub-bench-dub-quality: what a viewer hears, before and after the bed and phrase stages"};
  std::string music_path, model = LIVEDUB_BENCH_VAD_MODEL;
  app.add_option("--music", music_path, "music bed (WAV); default: colobot Humanitarian decoded by the caller")->required();
  app.add_option("--model", model, "Silero VAD model");
  double reduce_duck_db = -18.0, music_db = -10.0;
  app.add_option("--music-db", music_db, "music level: its RMS against the speech's RMS while speaking");
  int min_ms = static_cast<int>(segmenter_config.min_fragment.count()), max_ms = static_cast<int>(segmenter_config.max_fragment.count());
  app.add_option("--min-ms", min_ms, "shortest fragment (LIVEDUB_FRAGMENT_MIN_MS)");
  app.add_option("--max-ms", max_ms, "longest fragment (LIVEDUB_FRAGMENT_MAX_MS)");
  app.add_option("--reduce-duck-db", reduce_duck_db, "duck depth with the voice reduction (reduce column)");
  app.add_flag("--word-cuts", word_cuts, "stream phrases to the recogniser and cut long ones between its words");
  std::string set = "librivox";
  app.add_option("--set", set, "librivox (5 recordings), or asterisk (16 asterisk-core-sounds-en prompts of 3-8 s, held out)")
      ->check(CLI::IsMember({"librivox", "asterisk"}));
  CLI11_PARSE(app, argc, argv);
  segmenter_config.min_fragment = std::chrono::milliseconds(min_ms);
  segmenter_config.max_fragment = std::chrono::milliseconds(max_ms);

  std::vector<std::string> files;
  if (set == "librivox") {
    for (const char* id : {"0870", "0880", "0890", "0920", "0930"}) {
      files.push_back("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-" + std::string(id) + ".wav");
    }
  } else {
    // Held out (never tuned on): 16 English prompts of 3-8 s (real voices recorded at 8 kHz),
    // every k-th by name.
    std::vector<std::string> prompts;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/share/asterisk/sounds/en")) {
      if (!entry.is_regular_file() || entry.path().extension() != ".wav") continue;
      const auto bytes = entry.file_size();  // 8 kHz 16-bit mono: 16000 bytes a second
      if (bytes >= 3 * 16000 && bytes <= 8 * 16000) prompts.push_back(entry.path().string());
    }
    std::sort(prompts.begin(), prompts.end());
    const std::size_t stride = std::max<std::size_t>(1, prompts.size() / 16);
    for (std::size_t i = 0; i < prompts.size() && files.size() < 16; i += stride) files.push_back(prompts[i]);
  }
  std::vector<std::int16_t> speech;
  for (const auto& file : files) {
    speech.resize(speech.size() + 2 * kRate, 0);
    auto s = load(file);
    speech.insert(speech.end(), s.begin(), s.end());
  }
  speech.resize(speech.size() + 2 * kRate, 0);
  const auto labels = label(speech, 35), loud = label(speech, 20);
  double speech_power = 0;
  long speech_frames = 0;
  for (std::size_t i = 0; i < speech.size(); ++i) {
    if (!loud[i]) continue;
    speech_power += static_cast<double>(speech[i]) * speech[i];
    ++speech_frames;
  }
  const double speech_rms = std::sqrt(speech_power / static_cast<double>(std::max(speech_frames, 1L)));

  auto music = load(music_path);
  const double music_scale = speech_rms * std::pow(10.0, music_db / 20.0) / std::max(rms(music) * 32768.0, 1.0);
  std::vector<std::int16_t> bed(speech.size()), noise(speech.size()), none(speech.size(), 0);
  std::uint32_t seed = 12345;
  double pink[3] = {0, 0, 0};
  for (std::size_t i = 0; i < speech.size(); ++i) {
    bed[i] = static_cast<std::int16_t>(std::lround(std::clamp(music[i % music.size()] * music_scale, -32768.0, 32767.0)));
    seed = seed * 1664525u + 1013904223u;
    const double white = (static_cast<double>(seed >> 8) / 16777216.0 - 0.5);
    pink[0] = 0.997 * pink[0] + 0.029591 * white;  // cheap pink-ish noise (three poles)
    pink[1] = 0.985 * pink[1] + 0.032534 * white;
    pink[2] = 0.950 * pink[2] + 0.048056 * white;
    noise[i] = static_cast<std::int16_t>(std::lround((pink[0] + pink[1] + pink[2]) * 32768 * 0.5));  // about -20 dB under the speech
  }
  std::vector<Item> items{{"speech over music", speech, bed, labels, loud},
                          {"speech over noise", speech, noise, labels, loud},
                          {"clean speech", speech, none, labels, loud}};

  sts::CpuEngineOptions options;
  options.recognizers = 1;
  options.streaming_decoders = 1;
  sts::CpuDubbingEngine engine(options);
  SileroVad vad(model);
  std::printf("set: %zu %s recordings, %.1f s with pauses, en->es through the CPU engines; music %.0f dB under the speech; "
              "fragments %lld-%lld ms; long phrases cut %s\n\n",
              files.size(), set.c_str(), static_cast<double>(speech.size()) / kRate, -music_db,
              static_cast<long long>(segmenter_config.min_fragment.count()),
              static_cast<long long>(segmenter_config.max_fragment.count()),
              word_cuts ? "between heard words (streamed)" : "at the quietest block");
  char reduce_title[48];
  std::snprintf(reduce_title, sizeof reduce_title, "reduce, %.0f dB", reduce_duck_db);
  for (const auto& item : items) {
    const auto before = run(item, Mode::before, engine, vad, -18.0);
    const auto duck = run(item, Mode::duck, engine, vad, -18.0);
    const auto reduce = run(item, Mode::reduce, engine, vad, reduce_duck_db);
    print(item.name, before, duck, reduce, reduce_title);
    std::printf("\n");
  }
  return 0;
}
