#include "sts/pocketsphinx_asr.hpp"

#include <fftw3.h>
#include <pocketsphinx.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <sstream>

namespace livedub::sts {

PocketsphinxModel locate_pocketsphinx_model(const std::filesystem::path& model_dir) {
  namespace fs = std::filesystem;
  const auto dir = model_dir.lexically_normal();
  const auto name = (dir.has_filename() ? dir.filename() : dir.parent_path().filename()).string();
  const auto base = dir.has_filename() ? dir : dir.parent_path();
  PocketsphinxModel model{base / name, base / (name + ".lm.bin"), base / ("cmudict-" + name + ".dict")};
  if (!fs::is_directory(base)) throw AsrError("ASR model directory " + base.string() + " does not exist");
  if (!fs::exists(model.acoustic_model / "mdef")) {
    throw AsrError("no acoustic model at " + model.acoustic_model.string() + " (expected its mdef file)");
  }
  if (!fs::is_regular_file(model.language_model)) {
    throw AsrError("no language model at " + model.language_model.string());
  }
  if (!fs::is_regular_file(model.dictionary)) throw AsrError("no dictionary at " + model.dictionary.string());
  return model;
}

bool worth_decoding(std::span<const std::int16_t> mono) {
  const double level = rms(mono);
  return level > 0 && 20.0 * std::log10(level) > kAsrSilenceDbfs;
}

const DecoderArgs& tuned_decoder_args() {
  // Chosen on the tuning part (279 items, 1548 words; bench/asr_wer, README): -lw 7 matched
  // pocketsphinx's defaults (66.0 % against 65.9 % WER) at two thirds of their decode time;
  // the former pruning (-maxhmmpf 3000 -maxwpf 10 -pl_window 10) was faster still but cost
  // 1.1 points here and far more on other real speech, and lw 8-9 cost 1-2 points.
  static const DecoderArgs args = {{"-lw", "7"}};
  return args;
}

const DecoderArgs& streaming_decoder_args() {
  static const DecoderArgs args = [] {
    auto a = tuned_decoder_args();
    a.emplace_back("-remove_silence", "no");
    a.emplace_back("-fwdflat", "no");
    a.emplace_back("-bestpath", "no");
    return a;
  }();
  return args;
}

DecoderArgs parse_decoder_args(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> tokens;
  std::string token;
  while (in >> token) tokens.push_back(token);
  DecoderArgs args;
  for (std::size_t i = 0; i < tokens.size(); i += 2) {
    if (tokens[i].size() < 2 || tokens[i][0] != '-' || i + 1 >= tokens.size()) {
      throw AsrError("decoder flags must be '-flag value' pairs: '" + text + "'");
    }
    args.emplace_back(tokens[i], tokens[i + 1]);
  }
  return args;
}

PocketsphinxRecognizer::PocketsphinxRecognizer(const PocketsphinxModel& model, const DecoderArgs& args) {
  // -logfn keeps pocketsphinx's chatter out of our logs.
  std::vector<std::string> argv = {"-hmm", model.acoustic_model.string(), "-lm", model.language_model.string(),
                                   "-dict", model.dictionary.string(), "-logfn", "/dev/null"};
  for (const auto& [flag, value] : args) {
    argv.push_back(flag);
    argv.push_back(value);
  }
  std::vector<char*> pointers;
  for (auto& arg : argv) pointers.push_back(arg.data());
  config_ = cmd_ln_parse_r(nullptr, ps_args(), static_cast<int32>(pointers.size()), pointers.data(), TRUE);
  if (config_ == nullptr) throw AsrError("pocketsphinx rejected its configuration (decoder flags?)");
  decoder_ = ps_init(config_);
  if (decoder_ == nullptr) {
    cmd_ln_free_r(config_);
    throw AsrError("pocketsphinx could not load the model in " + model.acoustic_model.string());
  }
}

PocketsphinxRecognizer::~PocketsphinxRecognizer() {
  ps_free(decoder_);
  cmd_ln_free_r(config_);
}

namespace {

// FFTW's planner is not thread-safe and recognisers run in parallel: one plan, made once, is
// executed on each caller's own (FFTW-aligned) buffers, which fftwf_execute_dft_r2c allows.
constexpr int kBandFrame = 512;  // 32 ms at 16 kHz: 31.25 Hz bins
fftwf_plan band_plan() {
  static const fftwf_plan plan = [] {
    auto* in = fftwf_alloc_real(kBandFrame);
    auto* out = fftwf_alloc_complex(kBandFrame / 2 + 1);
    const auto made = fftwf_plan_dft_r2c_1d(kBandFrame, in, out, FFTW_ESTIMATE);
    fftwf_free(in);
    fftwf_free(out);
    return made;
  }();
  return plan;
}

struct FftwFree {
  void operator()(void* p) const { fftwf_free(p); }
};

}  // namespace

BandLevels band_levels(std::span<const std::int16_t> mono16k) {
  BandLevels levels;
  if (mono16k.size() < static_cast<std::size_t>(kBandFrame)) return levels;
  std::unique_ptr<float[], FftwFree> in(fftwf_alloc_real(kBandFrame));
  std::unique_ptr<fftwf_complex[], FftwFree> out(fftwf_alloc_complex(kBandFrame / 2 + 1));
  std::vector<float> window(kBandFrame);
  for (int i = 0; i < kBandFrame; ++i) window[static_cast<std::size_t>(i)] = static_cast<float>(0.5 - 0.5 * std::cos(2 * M_PI * i / kBandFrame));
  // Power per bin, summed over the frames (Hann windows: leakage from the strong low band
  // stays far below the -60 dB being measured).
  std::vector<double> power(kBandFrame / 2 + 1, 0.0);
  for (std::size_t start = 0; start + kBandFrame <= mono16k.size(); start += kBandFrame) {
    for (int i = 0; i < kBandFrame; ++i) in[static_cast<std::size_t>(i)] = window[static_cast<std::size_t>(i)] * mono16k[start + static_cast<std::size_t>(i)];
    fftwf_execute_dft_r2c(band_plan(), in.get(), out.get());
    for (std::size_t k = 0; k < power.size(); ++k) power[k] += double(out[k][0]) * out[k][0] + double(out[k][1]) * out[k][1];
  }
  const auto band = [&](double from_hz, double to_hz) {
    double sum = 0;
    for (std::size_t k = 0; k < power.size(); ++k) {
      const double hz = static_cast<double>(k) * 16000.0 / kBandFrame;
      if (hz >= from_hz && hz < to_hz) sum += power[k];
    }
    return sum;
  };
  const double total = band(0, 8001);
  if (total <= 0) return levels;
  const auto db = [](double ratio) { return ratio > 0 ? 10.0 * std::log10(ratio) : -200.0; };
  levels.high_db = db(band(4400, 8001) / total);
  levels.edge_drop_db = db(band(3600, 4000) / total) - db(band(4000, 4400) / total);
  levels.measured = true;
  return levels;
}

bool is_narrowband(const BandLevels& levels) {
  return levels.measured && levels.high_db < kNarrowbandHighDb && levels.edge_drop_db >= kNarrowbandEdgeDropDb;
}

bool is_narrowband(std::span<const std::int16_t> mono16k) { return is_narrowband(band_levels(mono16k)); }

std::vector<std::int16_t> fold_narrowband(std::span<const std::int16_t> mono16k) {
  // The input has nothing above 4 kHz, so every other sample is 8 kHz audio without aliasing.
  std::vector<std::int16_t> narrow;
  narrow.reserve(mono16k.size() / 2 + 1);
  for (std::size_t i = 0; i < mono16k.size(); i += 2) narrow.push_back(mono16k[i]);
  // Linear interpolation to 48 kHz mirrors 0-4 kHz around 8 kHz (and its multiples); the
  // recogniser's own low-pass back to 16 kHz keeps the 4-7.2 kHz part of that mirror.
  return resample_mono(resample_mono_linear(narrow, 8000, 48000), 48000, 16000);
}

std::string PocketsphinxRecognizer::transcribe(const AudioBuffer& audio) {
  auto mono = downmix_to_mono(audio.samples, audio.format.channels);
  if (!worth_decoding(mono)) return "";  // before resampling: silence should cost nothing
  auto pcm = resample_mono(mono, audio.format.sample_rate, kSampleRate);
  if (fold_narrowband_ && is_narrowband(pcm)) pcm = fold_narrowband(pcm);
  return transcribe_16k_mono(pcm);
}

Transcript PocketsphinxRecognizer::recognize(const AudioBuffer& audio, const RecognitionRequest&) {
  Transcript transcript;
  transcript.text = transcribe(audio);
  if (!transcript.text.empty()) {
    const auto rate = std::max(1, audio.format.sample_rate);
    transcript.segments.push_back({0, audio.frames() * 1000 / rate, transcript.text});
  }
  return transcript;
}

std::string PocketsphinxRecognizer::transcribe_16k_mono(std::span<const std::int16_t> samples) {
  if (samples.empty() || !worth_decoding(samples)) return "";
  if (ps_start_utt(decoder_) < 0) throw AsrError("pocketsphinx could not start an utterance");
  const int processed = ps_process_raw(decoder_, samples.data(), samples.size(), FALSE, TRUE);
  if (ps_end_utt(decoder_) < 0 || processed < 0) throw AsrError("pocketsphinx failed to decode");
  int32 score = 0;
  const char* hypothesis = ps_get_hyp(decoder_, &score);
  if (hypothesis == nullptr) return "";
  // Normalise whitespace: the hypothesis may carry doubled or trailing spaces.
  std::istringstream words(hypothesis);
  std::string word, text;
  while (words >> word) text += (text.empty() ? "" : " ") + word;
  return text;
}

void PocketsphinxRecognizer::start_stream() {
  if (in_stream_) end_stream();
  if (ps_start_utt(decoder_) < 0) throw AsrError("pocketsphinx could not start an utterance");
  in_stream_ = true;
}

void PocketsphinxRecognizer::feed_stream(std::span<const std::int16_t> mono16k) {
  if (!in_stream_) throw AsrError("pocketsphinx: audio fed outside an utterance");
  if (mono16k.empty()) return;
  // full_utt FALSE: the utterance continues, cepstral mean normalisation runs live.
  if (ps_process_raw(decoder_, mono16k.data(), mono16k.size(), FALSE, FALSE) < 0) {
    throw AsrError("pocketsphinx failed to decode");
  }
}

std::vector<HeardWord> PocketsphinxRecognizer::stream_words() {
  std::vector<HeardWord> words;
  int32 score = 0;
  if (ps_get_hyp(decoder_, &score) == nullptr) return words;
  constexpr std::int64_t kMsPerFrame = 10;  // pocketsphinx's 100 frames per second
  // Segment frames count on from the decoder's earlier utterances: the first segment (the
  // sentence start, at the utterance's first frame) gives the base.
  std::optional<int> base;
  for (ps_seg_t* seg = ps_seg_iter(decoder_); seg != nullptr; seg = ps_seg_next(seg)) {
    int start = 0, end = 0;
    ps_seg_frames(seg, &start, &end);
    if (!base) base = start;
    start -= *base;
    end -= *base;
    std::string word = ps_seg_word(seg);
    // Silences and fillers (<s>, <sil>, [NOISE]) are not words; "read(2)" is an alternative
    // pronunciation of "read".
    if (word.empty() || word[0] == '<' || word[0] == '[') continue;
    if (const auto paren = word.find('('); paren != std::string::npos && paren > 0) word.resize(paren);
    words.push_back({std::move(word), start * kMsPerFrame, (end + 1) * kMsPerFrame});
  }
  return words;
}

void PocketsphinxRecognizer::end_stream() {
  if (!in_stream_) return;
  in_stream_ = false;
  if (ps_end_utt(decoder_) < 0) throw AsrError("pocketsphinx failed to end an utterance");
}

namespace {
// Resampled samples held back from the decoder until more input comes: the resampler's filter
// at the growing end of the phrase still lacks its right-hand neighbours.
constexpr std::size_t kResampleHoldBack = 64;
// How much of a phrase decides whether it is telephone-band.
constexpr std::size_t kBandDecisionSamples = PocketsphinxRecognizer::kSampleRate;
}  // namespace

PocketsphinxPhrase::PocketsphinxPhrase(std::unique_ptr<PocketsphinxRecognizer> decoder, GiveBack give_back)
    : decoder_(std::move(decoder)), give_back_(std::move(give_back)) {
  decoder_->start_stream();
}

PocketsphinxPhrase::~PocketsphinxPhrase() {
  try {
    decoder_->end_stream();  // an abandoned phrase: the decoder goes back clean
  } catch (const std::exception&) {
  }
  if (give_back_) give_back_(std::move(decoder_));
}

void PocketsphinxPhrase::feed(std::span<const std::int16_t> mono, int sample_rate) {
  if (finished_) throw AsrError("pocketsphinx: audio fed to a finished phrase");
  if (sample_rate_ == 0) sample_rate_ = sample_rate;
  if (sample_rate != sample_rate_) throw AsrError("pocketsphinx: a phrase changed its sample rate");
  raw_.insert(raw_.end(), mono.begin(), mono.end());
  feed_resampled(false);
}

void PocketsphinxPhrase::feed_resampled(bool all) {
  if (raw_.empty()) return;
  // The whole phrase resampled (and folded) again each time: the decoder gets exactly the
  // samples a whole fragment would give it (a few ms of work for a phrase of seconds).
  auto pcm = resample_mono(raw_, sample_rate_, PocketsphinxRecognizer::kSampleRate);
  if (band_ == Band::undecided) {
    if (!all && pcm.size() < kBandDecisionSamples) return;
    const std::span<const std::int16_t> first(pcm.data(), std::min(pcm.size(), kBandDecisionSamples));
    band_ = is_narrowband(first) ? Band::narrow : Band::wide;
  }
  if (band_ == Band::narrow) pcm = fold_narrowband(pcm);
  const auto ready = all ? pcm.size() : (pcm.size() > kResampleHoldBack ? pcm.size() - kResampleHoldBack : 0);
  if (ready <= fed_) return;
  decoder_->feed_stream({pcm.data() + fed_, ready - fed_});
  fed_ = ready;
}

std::vector<HeardWord> PocketsphinxPhrase::heard() {
  if (fed_ == 0) return {};
  return decoder_->stream_words();
}

std::string PocketsphinxPhrase::finish(std::int64_t until_ms) {
  if (finished_) throw AsrError("pocketsphinx: a phrase finished twice");
  finished_ = true;
  if (sample_rate_ == 0) {
    decoder_->end_stream();
    return "";
  }
  // The part of the phrase the fragment holds decides silence, as for a whole fragment.
  const auto until = std::min<std::size_t>(
      raw_.size(), static_cast<std::size_t>(std::max<std::int64_t>(0, until_ms) * sample_rate_ / 1000));
  const std::span<const std::int16_t> kept(raw_.data(), until);
  feed_resampled(true);
  decoder_->end_stream();
  if (!worth_decoding(kept)) return "";
  std::string text;
  for (const auto& word : decoder_->stream_words()) {
    if ((word.start_ms + word.end_ms) / 2 >= until_ms) continue;
    text += (text.empty() ? "" : " ") + word.word;
  }
  return text;
}

}  // namespace livedub::sts
