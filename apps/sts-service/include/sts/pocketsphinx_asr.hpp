#pragma once
// Speech recognition with pocketsphinx (Debian's libpocketsphinx + pocketsphinx-en-us model).
// A decoder is not thread-safe and takes ~0.5 s to load, so each engine worker owns one,
// created once at start-up.
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "livedub/audio.hpp"
#include "sts/engine.hpp"
#include "sts/speech_recognizer.hpp"

struct ps_decoder_s;
struct cmd_ln_s;

namespace livedub::sts {

class AsrError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The three files of a pocketsphinx model directory laid out like Debian's
// /usr/share/pocketsphinx/model/en-us: <dir>/<name>/ (acoustic model), <dir>/<name>.lm.bin,
// <dir>/cmudict-<name>.dict, where <name> is the directory's own name.
struct PocketsphinxModel {
  std::filesystem::path acoustic_model;
  std::filesystem::path language_model;
  std::filesystem::path dictionary;
};
// Throws AsrError naming the first missing file.
PocketsphinxModel locate_pocketsphinx_model(const std::filesystem::path& model_dir);

// Decoder flags ("-beam", "1e-60"), on top of the model files; empty = pocketsphinx's own
// defaults.
using DecoderArgs = std::vector<std::pair<std::string, std::string>>;
// The flags the service uses, chosen by WER and decode time on the tuning part of the
// recognition set (bench/asr_wer; README "Recognition accuracy").
const DecoderArgs& tuned_decoder_args();
// Those for a decoder fed as a phrase arrives (PocketsphinxPhrase): silence is kept in the
// features, so that word timings count from the phrase's first sample (the front end's
// silence removal leaves them offset, and the worker cuts long phrases at them); no second
// pass over the whole utterance at its end (-fwdflat, -bestpath), which would put back most of
// the work streaming took off the end (librivox set: 120-320 ms -> 14-45 ms to finish, WER
// 29.6 % either way, tests/sts/speech_pipeline_test.cpp).
const DecoderArgs& streaming_decoder_args();
// "-a 1 -b 2" -> {{"-a","1"},{"-b","2"}}; throws AsrError for an odd count or a value-less flag.
DecoderArgs parse_decoder_args(const std::string& text);

// Fragments quieter than this (RMS, dBFS) are not decoded at all: silence costs nothing and
// can never produce invented words.
inline constexpr double kAsrSilenceDbfs = -50.0;

// True when `mono` is loud enough to be worth decoding.
bool worth_decoding(std::span<const std::int16_t> mono);

// Telephone-band speech (a phone-in guest, an 8 kHz source) has nothing above 4 kHz, where
// the wideband en-us model expects half its features: the band is filled with the mirror
// image of 0-4 kHz (spectral folding), which the model hears as speech. On the asterisk 8 kHz
// prompts this took pocketsphinx from 74.8 % to about 58 % WER (bench/asr_wer, tuning part).
// On wideband speech that is merely dull it does harm instead (bench/narrowband): only audio
// that ends in the wall an 8 kHz source leaves at 4 kHz is folded.
// What decides it, from 16 kHz mono: the share of the energy above 4.4 kHz (dB), and how far the
// level drops from 3.6-4.0 kHz to 4.0-4.4 kHz (dB): an 8 kHz source ends in a wall at 4 kHz
// (its anti-alias filter), a dull wideband recording (an old broadcast, a cheap microphone, a
// synthetic voice) rolls off gradually. `measured` is false for silence or under 32 ms.
struct BandLevels {
  bool measured = false;
  double high_db = 0;
  double edge_drop_db = 0;
};
BandLevels band_levels(std::span<const std::int16_t> mono16k);
inline constexpr double kNarrowbandHighDb = -45.0;
inline constexpr double kNarrowbandEdgeDropDb = 15.0;
// True when the audio has almost nothing above 4.4 kHz (< kNarrowbandHighDb) and ends in a
// wall at 4 kHz (>= kNarrowbandEdgeDropDb).
bool is_narrowband(const BandLevels& levels);
bool is_narrowband(std::span<const std::int16_t> mono16k);
// 16 kHz in, 16 kHz out: to 8 kHz, up by linear interpolation (whose images are the fold), back.
std::vector<std::int16_t> fold_narrowband(std::span<const std::int16_t> mono16k);

class PocketsphinxRecognizer final : public SpeechRecognizer {
 public:
  static constexpr int kSampleRate = 16000;

  // Throws AsrError for a model pocketsphinx cannot load or flags it rejects.
  explicit PocketsphinxRecognizer(const PocketsphinxModel& model, const DecoderArgs& args = tuned_decoder_args());
  ~PocketsphinxRecognizer() override;
  PocketsphinxRecognizer(const PocketsphinxRecognizer&) = delete;
  PocketsphinxRecognizer& operator=(const PocketsphinxRecognizer&) = delete;

  // Lower-case words separated by single spaces; empty for silence or noise. Any sample rate
  // and channel count (downmixed and resampled to 16 kHz mono). Not thread-safe.
  std::string transcribe(const AudioBuffer& audio);
  // Off: narrowband input is decoded as it is (for measuring the fold).
  void set_fold_narrowband(bool on) { fold_narrowband_ = on; }
  std::string transcribe_16k_mono(std::span<const std::int16_t> samples);
  // SpeechRecognizer: transcribe(), as one segment spanning the fragment. The model's language
  // is fixed; the engine only offers pairs from it, so request.language is not consulted.
  Transcript recognize(const AudioBuffer& audio, const RecognitionRequest& request) override;

  // An utterance decoded as it arrives (PocketsphinxPhrase): start, feed 16 kHz mono pieces,
  // read the words so far, end. Not thread-safe; one utterance at a time.
  void start_stream();
  void feed_stream(std::span<const std::int16_t> mono16k);
  // The best hypothesis's words (fillers and silences left out), during or after the utterance.
  std::vector<HeardWord> stream_words();
  void end_stream();
  bool streaming() const { return in_stream_; }

 private:
  bool fold_narrowband_ = true;
  bool in_stream_ = false;
  cmd_ln_s* config_ = nullptr;
  ps_decoder_s* decoder_ = nullptr;
};

// PhraseRecognition on a pocketsphinx decoder of its own (lent by the engine, handed back when
// the phrase ends): the phrase is resampled to 16 kHz exactly as a whole fragment would be
// and fed as it grows; a telephone-band phrase (decided on its first second) is folded the
// same way as it grows.
class PocketsphinxPhrase final : public PhraseRecognition {
 public:
  using GiveBack = std::function<void(std::unique_ptr<PocketsphinxRecognizer>)>;
  PocketsphinxPhrase(std::unique_ptr<PocketsphinxRecognizer> decoder, GiveBack give_back);
  ~PocketsphinxPhrase() override;
  PocketsphinxPhrase(const PocketsphinxPhrase&) = delete;
  PocketsphinxPhrase& operator=(const PocketsphinxPhrase&) = delete;

  void feed(std::span<const std::int16_t> mono, int sample_rate) override;
  std::vector<HeardWord> heard() override;
  std::string finish(std::int64_t until_ms) override;

 private:
  void feed_resampled(bool all);

  std::unique_ptr<PocketsphinxRecognizer> decoder_;
  GiveBack give_back_;
  int sample_rate_ = 0;
  std::vector<std::int16_t> raw_;  // the phrase so far, at sample_rate_
  std::size_t fed_ = 0;            // 16 kHz samples given to the decoder
  enum class Band { undecided, wide, narrow } band_ = Band::undecided;
  bool finished_ = false;
};

}  // namespace livedub::sts
