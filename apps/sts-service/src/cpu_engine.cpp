#include "sts/cpu_engine.hpp"

#include <algorithm>
#include <cmath>

#include "livedub/logging.hpp"

namespace livedub::sts {
namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

VoiceSelection select_voices(const CpuEngineOptions& options) {
  if (options.tts_engine == kTtsEspeak) return VoiceSelection({EspeakSynthesizer::shared_ptr()});
  if (options.tts_engine == kTtsPico) return VoiceSelection({std::make_shared<PicoSynthesizer>(options.pico_lang_dir)});
  std::shared_ptr<SpeechSynthesizer> piper;
  // Voices named in LIVEDUB_STS_TTS_VOICES must load even where none is installed (it says so).
  if (!discover_piper_voices(options.model_dir).empty() || !options.piper.voices.empty()) {
    piper = std::make_shared<PiperSynthesizer>(options.model_dir, options.piper);
  }
  if (options.tts_engine == kTtsPiper) {
    if (!piper) throw TtsError("no Piper voice under " + (options.model_dir / "tts" / "piper").string() + " (scripts/fetch-voice NAME DIR)");
    return VoiceSelection({piper});
  }
  // auto: a neural voice where one is installed, then Pico where it speaks the language; a
  // deployment without Pico's (non-free) data keeps working with espeak-ng alone, and says so.
  std::shared_ptr<SpeechSynthesizer> pico;
  try {
    pico = std::make_shared<PicoSynthesizer>(options.pico_lang_dir);
  } catch (const TtsError& e) {
    logging::write(spdlog::level::warn, {}, "Pico unavailable, espeak-ng speaks every language",
                   {{"error", e.what()}});
  }
  return VoiceSelection({piper, pico, EspeakSynthesizer::shared_ptr()});
}

// Apertium (where its pairs are installed) and every neural model under the model directory.
MtRouter make_translation(const CpuEngineOptions& options) {
  std::vector<std::shared_ptr<Translator>> translators;
  for (auto& model : load_mt_models(options.model_dir, options.neural_mt)) translators.push_back(std::move(model));
  try {
    translators.push_back(std::make_shared<ApertiumEngine>(options.apertium_modes_dir, options.mt_timeout));
  } catch (const MtError& e) {
    if (translators.empty()) throw;
    logging::write(spdlog::level::warn, {}, "Apertium unavailable: only the neural translation models translate",
                   {{"error", e.what()}});
  }
  return MtRouter(std::move(translators), options.mt_engine, options.mt_pairs);
}

// Words before `offset` / all words of `text`: where a term stood in its sentence.
double relative_word_position(const std::string& text, std::size_t offset) {
  auto words = [](std::string_view s) {
    std::size_t n = 0;
    bool in_word = false;
    for (const char c : s) {
      const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
      if (!space && !in_word) ++n;
      in_word = !space;
    }
    return n;
  };
  const auto total = words(text);
  if (total == 0) return 0.0;
  return static_cast<double>(words(std::string_view(text).substr(0, offset))) / static_cast<double>(total);
}

}  // namespace

std::vector<std::string> translate_with_glossary(const MtRouter& mt, const Glossary& glossary, MtRequest request) {
  // Per target: the glossary's forced translations differ by pair.
  std::vector<std::string> out(request.targets.size());
  const auto targets = request.targets;
  const auto previous = request.previous_translations;
  const auto text = request.text;
  // Targets whose engine takes placeholders (Apertium passes unknown words through in place)
  // and targets whose engine reads the terms themselves (neural models copy names, and a term
  // they lose is put back where it stood).
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& target = targets[i];
    const auto protected_text = glossary.protect(text, request.source, target);
    request.targets = {target};
    request.previous_translations = {i < previous.size() ? previous[i] : std::string{}};
    if (protected_text.placeholders.empty()) {
      // Batched below with the other targets that need nothing of the glossary.
      out[i].clear();
      continue;
    }
    if (mt.engine_for(request.source, target) == kMtApertium) {
      request.text = protected_text.text;
      auto translation = mt.translate(request).front();
      out[i] = Glossary::restore(std::move(translation), protected_text);
    } else {
      request.text = Glossary::restore(protected_text.text, protected_text);  // the terms' own output text
      auto translation = mt.translate(request).front();
      for (const auto& [name, term] : protected_text.placeholders) {
        translation = ensure_term(translation, term, relative_word_position(protected_text.text, protected_text.text.find(name)));
      }
      out[i] = std::move(translation);
    }
  }
  // Every target without glossary terms in one call (one batch on a multilingual model).
  MtRequest plain = request;
  plain.text = text;
  plain.targets.clear();
  plain.previous_translations.clear();
  std::vector<std::size_t> slots;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!glossary.protect(text, plain.source, targets[i]).placeholders.empty()) continue;
    plain.targets.push_back(targets[i]);
    plain.previous_translations.push_back(i < previous.size() ? previous[i] : std::string{});
    slots.push_back(i);
  }
  if (!plain.targets.empty()) {
    auto translations = mt.translate(plain);
    for (std::size_t k = 0; k < slots.size(); ++k) out[slots[k]] = std::move(translations[k]);
  }
  return out;
}

AudioBuffer trim_silence(const AudioBuffer& audio) {
  const auto channels = static_cast<std::size_t>(audio.format.channels);
  const auto window = static_cast<std::int64_t>(std::max(1, audio.format.sample_rate / 100));
  const double threshold = std::pow(10.0, -50.0 / 20.0);
  auto loud = [&](std::int64_t first_frame) {
    const auto begin = static_cast<std::size_t>(first_frame) * channels;
    const auto count = static_cast<std::size_t>(std::min(window, audio.frames() - first_frame)) * channels;
    return rms(std::span(audio.samples).subspan(begin, count)) > threshold;
  };
  std::int64_t first = 0;
  while (first < audio.frames() && !loud(first)) first += window;
  std::int64_t last = audio.frames();  // exclusive
  while (last > first && !loud(std::max(first, last - window))) last -= window;
  if (first >= last) return AudioBuffer{audio.format, audio.start_frame, {}};
  AudioBuffer out{audio.format, audio.start_frame + first, {}};
  out.samples.assign(audio.samples.begin() + static_cast<std::ptrdiff_t>(first * static_cast<std::int64_t>(channels)),
                     audio.samples.begin() + static_cast<std::ptrdiff_t>(last * static_cast<std::int64_t>(channels)));
  return out;
}

AudioBuffer speech_region(const AudioBuffer& input, const DubRequestMetadata& request) {
  if (request.speech.empty()) return input;
  // A little context either side: recognisers clip words whose edges are cut.
  const auto pad = input.format.sample_rate * 150 / 1000;
  const auto layout = speech_layout(request, input.format.sample_rate);
  const auto begin = std::max<std::int64_t>(0, layout.first() - pad);
  const auto end = std::min(input.frames(), layout.last() + pad);
  const auto channels = static_cast<std::ptrdiff_t>(input.format.channels);
  AudioBuffer region{input.format, input.start_frame + begin, {}};
  if (end > begin) {
    region.samples.assign(input.samples.begin() + begin * channels, input.samples.begin() + end * channels);
  }
  return region;
}

std::string continue_sentence(const std::string& translation) {
  if (translation.empty()) return translation;
  std::string out = translation;
  const auto c = static_cast<unsigned char>(out[0]);
  if (c >= 'A' && c <= 'Z') {
    out[0] = static_cast<char>(c - 'A' + 'a');
  } else if (c == 0xC3 && out.size() > 1) {
    // U+00C0-U+00DE (À..Þ, except ×) are the capitals of U+00E0-U+00FE: second byte +0x20.
    const auto d = static_cast<unsigned char>(out[1]);
    if (d >= 0x80 && d <= 0x9E && d != 0x97) out[1] = static_cast<char>(d + 0x20);
  }
  return out;
}

class CpuDubbingEngine::RecognizerLease {
 public:
  explicit RecognizerLease(CpuDubbingEngine& engine) : engine_(engine), recognizer_(engine.acquire_recognizer()) {}
  ~RecognizerLease() { engine_.release_recognizer(std::move(recognizer_)); }
  RecognizerLease(const RecognizerLease&) = delete;
  RecognizerLease& operator=(const RecognizerLease&) = delete;
  SpeechRecognizer& operator*() { return *recognizer_; }

 private:
  CpuDubbingEngine& engine_;
  std::unique_ptr<SpeechRecognizer> recognizer_;
};

struct CpuDubbingEngine::StreamingDecoders {
  PocketsphinxModel model;
  int capacity = 0;
  std::mutex mutex;
  int made = 0;
  std::vector<std::unique_ptr<PocketsphinxRecognizer>> idle;
};

std::unique_ptr<PhraseRecognition> CpuDubbingEngine::begin_phrase(const std::string& source_lang) {
  if (!streaming_ || source_lang != options_.asr_language) return nullptr;
  std::unique_ptr<PocketsphinxRecognizer> decoder;
  {
    std::lock_guard lock(streaming_->mutex);
    if (!streaming_->idle.empty()) {
      decoder = std::move(streaming_->idle.back());
      streaming_->idle.pop_back();
    } else if (streaming_->made >= streaming_->capacity) {
      return nullptr;  // every streaming decoder is busy: this phrase is decoded whole at its end
    } else {
      ++streaming_->made;
    }
  }
  if (!decoder) {
    try {
      decoder = std::make_unique<PocketsphinxRecognizer>(streaming_->model, streaming_decoder_args());
    } catch (...) {
      std::lock_guard lock(streaming_->mutex);
      --streaming_->made;
      throw;
    }
  }
  return std::make_unique<PocketsphinxPhrase>(std::move(decoder),
                                              [pool = streaming_](std::unique_ptr<PocketsphinxRecognizer> back) {
                                                std::lock_guard lock(pool->mutex);
                                                pool->idle.push_back(std::move(back));
                                              });
}

CpuDubbingEngine::CpuDubbingEngine(const CpuEngineOptions& options)
    : options_(options), mt_(make_translation(options)), voices_(select_voices(options)) {
  const int count = std::max(1, options.recognizers);
  if (options.asr_engine == "whisper") {
#if LIVEDUB_HAVE_WHISPER
    auto model = std::make_shared<const WhisperModel>(options.whisper);
    for (int i = 0; i < count; ++i) idle_recognizers_.push_back(std::make_unique<WhisperRecognizer>(model));
    capabilities_.asr_languages = model->languages();
    asr_description_ = "whisper " + options.whisper.model_path.filename().string() + " (" + model->device_description() + ")";
#else
    throw AsrError("this build has no whisper.cpp (configure with -DLIVEDUB_WITH_WHISPER=ON)");
#endif
  } else {
    const auto model = locate_pocketsphinx_model(options.asr_model_dir);
    for (int i = 0; i < count; ++i) idle_recognizers_.push_back(std::make_unique<PocketsphinxRecognizer>(model));
    if (options.streaming_decoders > 0) {
      streaming_ = std::make_shared<StreamingDecoders>();
      streaming_->model = model;
      streaming_->capacity = options.streaming_decoders;
      // One ready at start, so that the first phrase does not wait for a load.
      streaming_->idle.push_back(std::make_unique<PocketsphinxRecognizer>(model, streaming_decoder_args()));
      streaming_->made = 1;
    }
    capabilities_.asr_languages = {options.asr_language};
    asr_description_ = "pocketsphinx (CPU)";
  }
  // A pair is offered when all three stages can do their part of it.
  const auto& heard = capabilities_.asr_languages;
  for (const auto& pair : mt_.pairs()) {
    if (std::find(heard.begin(), heard.end(), pair.source) != heard.end() && voices_.has_language(pair.target)) {
      capabilities_.pairs.push_back(pair);
    }
    capabilities_.mt_engines[pair.source + "-" + pair.target] = mt_.engine_for(pair.source, pair.target);
  }
  if (capabilities_.pairs.empty()) {
    throw MtError("no installed translation pair (Apertium or a model under LIVEDUB_STS_MODEL_DIR/mt) translates from a language the ASR engine (" + asr_description_ +
                  ") recognises into a language the TTS engine (" + options.tts_engine + ") can speak");
  }
  for (const auto& [profile, unused] : voice_profiles()) capabilities_.voices.push_back(profile);
  capabilities_.asr_engine = asr_description_;
  capabilities_.mt_pairs = mt_.pairs();
  capabilities_.tts_languages = voices_.languages();
  capabilities_.tts_engines = voices_.engines();
  if (!options.clone_model_dir.empty()) {
    clone_ = std::make_unique<PocketTts>(options.clone_model_dir, options.clone);
    capabilities_.clone_engine = "pocket-tts " + options.clone_model_dir.filename().string() + " (" + clone_->device() + ")";
    capabilities_.clone_languages = options.clone_languages;
    std::sort(capabilities_.clone_languages.begin(), capabilities_.clone_languages.end());
  }
}

std::unique_ptr<SpeechRecognizer> CpuDubbingEngine::acquire_recognizer() {
  std::unique_lock lock(recognizers_mutex_);
  recognizer_returned_.wait(lock, [this] { return !idle_recognizers_.empty(); });
  auto recognizer = std::move(idle_recognizers_.back());
  idle_recognizers_.pop_back();
  return recognizer;
}

void CpuDubbingEngine::release_recognizer(std::unique_ptr<SpeechRecognizer> recognizer) {
  {
    std::lock_guard lock(recognizers_mutex_);
    idle_recognizers_.push_back(std::move(recognizer));
  }
  recognizer_returned_.notify_one();
}

DubResult CpuDubbingEngine::dub(const DubRequestMetadata& request, const AudioBuffer& input,
                                const DubContext& context) {
  DubResult result;
  auto started = Clock::now();
  if (context.known_transcript) {
    result.transcript = *context.known_transcript;
  } else {
    RecognizerLease recognizer(*this);
    check_deadline(context, kStageAsr);  // waiting for a recogniser may have used it up
    const RecognitionRequest asr_request{request.source_lang, context.has_previous ? context.previous_transcript : "",
                                         options_.glossary.recognition_hints(request.source_lang), context.deadline};
    result.transcript = (*recognizer).recognize(speech_region(input, request), asr_request).text;
    result.stage_timings_ms[kStageAsr] = elapsed_ms(started);
  }

  check_deadline(context, kStageMt);
  started = Clock::now();
  result.mt_engine = mt_.describe(request.source_lang, request.target_lang);
  if (context.known_translation) {
    result.translation = *context.known_translation;
  } else {
    MtRequest mt_request;
    mt_request.source = request.source_lang;
    mt_request.targets = {request.target_lang};
    for (const auto& extra : context.also_translate_into) {
      // A further language joins this call only where it can be translated (else its own dub
      // reports why).
      if (mt_.supports(request.source_lang, extra) && extra != request.target_lang) mt_request.targets.push_back(extra);
    }
    mt_request.text = result.transcript;
    if (context.has_previous) {
      mt_request.previous_source = context.previous_transcript;
      mt_request.previous_translations = {context.previous_translation};
    }
    mt_request.deadline = context.deadline;
    std::vector<std::string> translations;
    try {
      translations = translate_with_glossary(mt_, options_.glossary, mt_request);
    } catch (const DeadlineExpired&) {
      throw;
    } catch (const std::exception& e) {
      if (mt_request.targets.size() == 1) throw;
      // A further language's engine failing must not cost this language its dub: this one
      // alone, and each further language tries again in its own dub.
      logging::write(spdlog::level::warn, {}, "batched translation failed; translating the first language alone",
                     {{"error", e.what()}, {"target_lang", request.target_lang}});
      mt_request.targets.resize(1);
      translations = translate_with_glossary(mt_, options_.glossary, mt_request);
    }
    // A continuing sentence is not re-capitalised, but a glossary term keeps its own case.
    const bool continuing = context.has_previous && !context.previous_transcript.empty();
    for (std::size_t i = 0; i < translations.size(); ++i) {
      auto& translation = translations[i];
      if (continuing && !options_.glossary.starts_with_output_term(translation, request.source_lang, mt_request.targets[i])) {
        translation = continue_sentence(translation);
      }
      if (i == 0) {
        result.translation = std::move(translation);
      } else {
        result.extra_translations[mt_request.targets[i]] = std::move(translation);
      }
    }
  }
  result.stage_timings_ms[kStageMt] = elapsed_ms(started);

  check_deadline(context, kStageTts);
  started = Clock::now();
  AudioBuffer speech;
  result.voice = request.voice;
  const auto& clone_languages = capabilities_.clone_languages;
  if (clone_ && context.speaker &&
      std::find(clone_languages.begin(), clone_languages.end(), request.target_lang) != clone_languages.end()) {
    // The speaker's own voice. The noise seed follows the fragment, so a retried dub is the same.
    const auto seed = std::hash<std::string>{}(request.stream_id) ^ static_cast<std::uint64_t>(request.sequence);
    const auto samples = clone_->synthesize(result.translation, *context.speaker, seed);
    speech = trim_silence(AudioBuffer{{kPocketSampleRate, 1}, 0, normalized_pcm16(samples.data(), samples.size())});
    result.voice = kCloneVoice;
    result.tts_engine = capabilities_.clone_engine;
  } else {
    auto& synthesizer = voices_.for_language(request.target_lang);
    speech = trim_silence(synthesizer.synthesize(result.translation, request.target_lang, request.voice));
    result.tts_engine = voices_.describe(request.target_lang);
  }
  result.stage_timings_ms[kStageTts] = elapsed_ms(started);

  started = Clock::now();
  const int tts_rate = speech.format.sample_rate;
  // The dub starts where the speaker started and may run into the pause after the phrase.
  const auto layout = speech_layout(request, tts_rate);
  const SpeechSlot slot{layout.total_frames, layout.first(), layout.last() - layout.first(),
                        layout.slot_end - layout.first()};
  const auto placed = place_speech(AudioBuffer{{tts_rate, 1}, 0, speech.samples}, slot, options_.time_fit);
  const int rate = input.format.sample_rate;
  result.audio = conform_audio(placed.audio, input.format, frames_for_duration(request.duration_ms, rate));
  result.speech_begin = placed.speech_begin * rate / tts_rate;
  result.speech_end = placed.speech_end * rate / tts_rate;
  result.stretch_ratio = placed.plan.ratio;
  result.time_fit = to_string(placed.plan.policy);
  result.stage_timings_ms[kStageStretch] = elapsed_ms(started);
  return result;
}

AudioBuffer CpuDubbingEngine::calibration_speech(const std::string& language) {
  // About three seconds at the voices' speaking rate: a fragment of the size workers send.
  static constexpr const char* kSentence = "Welcome back everyone, today we look at the results together.";
  if (!voices_.has_language(language)) return DubbingEngine::calibration_speech(language);
  return voices_.for_language(language).synthesize(kSentence, language, "default");
}

std::shared_ptr<const PocketVoice> CpuDubbingEngine::encode_speaker(const AudioBuffer& clip) {
  if (!clone_) return nullptr;
  const auto mono = downmix_to_mono(clip.samples, clip.format.channels);
  const auto audio = pocket_reference_audio(mono, clip.format.sample_rate);
  if (audio.empty()) throw TtsError("the reference clip is shorter than one frame (80 ms)");
  return std::make_shared<const PocketVoice>(clone_->encode_voice(audio));
}

}  // namespace livedub::sts
