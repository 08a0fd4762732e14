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
  if (options.tts_engine == kTtsEspeak) return VoiceSelection(EspeakSynthesizer::shared_ptr(), nullptr);
  if (options.tts_engine == kTtsPico) return VoiceSelection(std::make_shared<PicoSynthesizer>(options.pico_lang_dir), nullptr);
  // auto: Pico where it speaks the language; a deployment without its (non-free) data keeps
  // working with espeak-ng alone, and says so.
  std::shared_ptr<SpeechSynthesizer> pico;
  try {
    pico = std::make_shared<PicoSynthesizer>(options.pico_lang_dir);
  } catch (const TtsError& e) {
    logging::write(spdlog::level::warn, {}, "Pico unavailable, espeak-ng speaks every language",
                   {{"error", e.what()}});
  }
  return VoiceSelection(pico, EspeakSynthesizer::shared_ptr());
}

}  // namespace

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

CpuDubbingEngine::CpuDubbingEngine(const CpuEngineOptions& options)
    : options_(options), translator_(options.apertium_modes_dir), voices_(select_voices(options)) {
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
    capabilities_.asr_languages = {options.asr_language};
    asr_description_ = "pocketsphinx (CPU)";
  }
  // A pair is offered when all three stages can do their part of it.
  const auto& heard = capabilities_.asr_languages;
  for (const auto& mode : translator_.modes()) {
    if (std::find(heard.begin(), heard.end(), mode.source) != heard.end() && voices_.has_language(mode.target)) {
      capabilities_.pairs.push_back({mode.source, mode.target});
    }
  }
  if (capabilities_.pairs.empty()) {
    throw MtError("no installed Apertium pair translates from a language the ASR engine (" + asr_description_ +
                  ") recognises into a language the TTS engine (" + options.tts_engine + ") can speak");
  }
  for (const auto& [profile, unused] : voice_profiles()) capabilities_.voices.push_back(profile);
  capabilities_.asr_engine = asr_description_;
  for (const auto& mode : translator_.modes()) capabilities_.mt_pairs.push_back({mode.source, mode.target});
  capabilities_.tts_languages = voices_.languages();
  capabilities_.tts_engines = voices_.engines();
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
  // Glossary terms travel through MT as placeholders no dictionary knows, so they come out
  // in place and untouched, then become the glossary's spelling.
  const auto protected_text = options_.glossary.protect(result.transcript, request.source_lang, request.target_lang);
  auto translation =
      translator_.translate(request.source_lang, request.target_lang, protected_text.text, options_.mt_timeout);
  // A continuing sentence is not re-capitalised, but a glossary term keeps its own case.
  if (context.has_previous && !context.previous_transcript.empty() &&
      !Glossary::starts_with_term(translation, protected_text)) {
    translation = continue_sentence(translation);
  }
  result.translation = Glossary::restore(std::move(translation), protected_text);
  result.stage_timings_ms[kStageMt] = elapsed_ms(started);

  check_deadline(context, kStageTts);
  started = Clock::now();
  auto& synthesizer = voices_.for_language(request.target_lang);
  const auto speech = trim_silence(synthesizer.synthesize(result.translation, request.target_lang, request.voice));
  result.voice = request.voice;
  result.tts_engine = voices_.describe(request.target_lang);
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

}  // namespace livedub::sts
