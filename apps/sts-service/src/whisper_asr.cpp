#include "sts/whisper_asr.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <mutex>
#include <sstream>

#include "livedub/logging.hpp"
#include "livedub/secrets.hpp"
#include "sts/engine.hpp"  // DeadlineExpired

#if LIVEDUB_HAVE_WHISPER
#include <openssl/evp.h>

#include <ggml-backend.h>
#include <whisper.h>
#endif

namespace livedub::sts {

std::filesystem::path resolve_whisper_model(const std::string& model, const std::filesystem::path& model_dir) {
  const bool is_path = model.find('/') != std::string::npos ||
                       (model.size() > 4 && model.compare(model.size() - 4, 4, ".bin") == 0);
  if (is_path) return model;
  return model_dir / ("ggml-" + model + ".bin");
}

int fitted_audio_context(std::size_t samples, int model_audio_context) {
  constexpr std::size_t kSamplesPerFrame = 320;  // 10 ms mel hop x 2 (the encoder's stride)
  constexpr std::size_t kMarginFrames = 32;
  const auto frames = (samples + kSamplesPerFrame - 1) / kSamplesPerFrame + kMarginFrames;
  return static_cast<int>(std::min<std::size_t>(frames, static_cast<std::size_t>(model_audio_context)));
}

std::string whisper_prompt(const RecognitionRequest& request) {
  // whisper keeps the last n_text_ctx/2 (224) prompt tokens, ~4 bytes each: half for the
  // hints, half for the previous fragment, so neither crowds the other out.
  constexpr std::size_t kHalfBytes = 448;
  std::string prompt;
  for (const auto& hint : request.hints) {
    if (prompt.size() + hint.size() + 2 > kHalfBytes) break;
    prompt += (prompt.empty() ? "" : ", ") + hint;
  }
  if (!prompt.empty()) prompt += ".";
  auto previous = request.previous_transcript;
  if (previous.size() > kHalfBytes) previous = drop_invalid_utf8(previous.substr(previous.size() - kHalfBytes));
  if (!previous.empty()) prompt += (prompt.empty() ? "" : " ") + previous;
  return prompt;
}

#if !LIVEDUB_HAVE_WHISPER

bool whisper_available() { return false; }
bool whisper_gpu_available() { return false; }

#else

bool whisper_available() { return true; }
bool whisper_gpu_available() { return ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_GPU) != nullptr; }

namespace {

// whisper.cpp and ggml log through one global callback. Their chatter goes to debug; errors
// to warn, and the last one is kept so that a failure can say why.
std::mutex g_log_mutex;
std::string g_last_error;
std::string g_pending_line;

void route_whisper_log(ggml_log_level level, const char* text, void*) {
  std::lock_guard lock(g_log_mutex);
  g_pending_line += text ? text : "";
  if (g_pending_line.empty() || g_pending_line.back() != '\n') return;  // continued later
  g_pending_line.pop_back();
  const bool error = level == GGML_LOG_LEVEL_ERROR;
  if (error) g_last_error = g_pending_line;
  logging::write(error ? spdlog::level::warn : spdlog::level::debug, {}, "whisper.cpp",
                 {{"detail", g_pending_line}});
  g_pending_line.clear();
}

void install_log_route() {
  static std::once_flag once;
  std::call_once(once, [] { whisper_log_set(route_whisper_log, nullptr); });
}

std::string last_whisper_error() {
  std::lock_guard lock(g_log_mutex);
  return g_last_error.empty() ? "see the debug log" : g_last_error;
}

std::string sha1_hex(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw WhisperModelFileError("cannot read " + path.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> digest(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!digest || EVP_DigestInit_ex(digest.get(), EVP_sha1(), nullptr) != 1) {
    throw WhisperModelFileError("OpenSSL cannot compute SHA-1");
  }
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(digest.get(), buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> sum{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(digest.get(), sum.data(), &length);
  return to_hex(std::span(sum.data(), length));
}

}  // namespace

WhisperModelSummary verify_whisper_model(const std::filesystem::path& path) {
  const std::string refetch = " Fetch it again with: scripts/fetch-whisper-model <name> " + path.parent_path().string();
  WhisperModelSummary summary;
  try {
    summary = inspect_whisper_model(path);
  } catch (const WhisperModelFileError& e) {
    throw WhisperModelFileError(std::string(e.what()) + "." + refetch);
  }
  auto sidecar = path;
  sidecar += ".sha1";
  if (std::filesystem::exists(sidecar)) {
    std::ifstream in(sidecar);
    std::string expected;
    in >> expected;
    std::transform(expected.begin(), expected.end(), expected.begin(), [](unsigned char c) { return std::tolower(c); });
    const auto actual = sha1_hex(path);
    if (expected != actual) {
      throw WhisperModelFileError("whisper model " + path.string() + " is corrupt: SHA-1 " + actual + ", but " +
                                  sidecar.string() + " says " + expected + "." + refetch);
    }
  }
  return summary;
}

WhisperModel::WhisperModel(const WhisperOptions& options) : options_(options) {
  install_log_route();
  summary_ = verify_whisper_model(options.model_path);

  // A GPU backend is compiled in (CUDA image) or not; "auto" takes one when there is one.
  const ggml_backend_dev_t gpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_GPU);
  if (options.device == WhisperDevice::kGpu && gpu == nullptr) {
    throw AsrError(
        "LIVEDUB_STS_WHISPER_DEVICE=gpu, but no GPU is usable (this build has no GPU backend, or the driver/"
        "device is missing: run the container with the NVIDIA runtime, e.g. --gpus all)");
  }
  whisper_context_params params = whisper_context_default_params();
  params.use_gpu = options.device != WhisperDevice::kCpu && gpu != nullptr;
  params.flash_attn = params.use_gpu;
  context_ = whisper_init_from_file_with_params_no_state(options.model_path.c_str(), params);
  if (context_ == nullptr) {
    throw AsrError("whisper.cpp could not load " + options.model_path.string() + ": " + last_whisper_error());
  }
  on_gpu_ = params.use_gpu;
  if (on_gpu_) {
    device_description_ = std::string(ggml_backend_dev_name(gpu)) + ": " + ggml_backend_dev_description(gpu);
  }
}

WhisperModel::~WhisperModel() {
  if (context_ != nullptr) whisper_free(context_);
}

std::vector<std::string> WhisperModel::languages() const {
  if (!whisper_is_multilingual(context_)) return {"en"};
  std::vector<std::string> languages;
  for (int id = 0; id <= whisper_lang_max_id(); ++id) languages.emplace_back(whisper_lang_str(id));
  return languages;
}

WhisperRecognizer::WhisperRecognizer(std::shared_ptr<const WhisperModel> model) : model_(std::move(model)) {
  state_ = whisper_init_state(model_->context());
  if (state_ == nullptr) throw AsrError("whisper.cpp could not allocate a decoding state: " + last_whisper_error());
}

WhisperRecognizer::~WhisperRecognizer() {
  if (state_ != nullptr) whisper_free_state(state_);
}

Transcript WhisperRecognizer::recognize(const AudioBuffer& audio, const RecognitionRequest& request) {
  if (std::chrono::steady_clock::now() >= request.deadline) {
    throw DeadlineExpired("deadline passed before recognition started");
  }
  auto mono = downmix_to_mono(audio.samples, audio.format.channels);
  if (!worth_decoding(mono)) return {};  // whisper invents words in silence; never ask it
  const auto pcm16 = resample_mono(mono, audio.format.sample_rate, kSampleRate);
  // whisper.cpp refuses less than 100 ms; pad short fragments with silence to 0.5 s.
  std::vector<float> pcm(std::max<std::size_t>(pcm16.size(), kSampleRate / 2), 0.0f);
  std::transform(pcm16.begin(), pcm16.end(), pcm.begin(), [](std::int16_t s) { return static_cast<float>(s) / 32768.0f; });
  const auto duration_ms = static_cast<std::int64_t>(pcm16.size()) * 1000 / kSampleRate;

  if (whisper_lang_id(request.language.c_str()) < 0) {
    throw AsrError("whisper does not know the language '" + request.language + "'");
  }
  whisper_full_params params = whisper_full_default_params(WHISPER_SAMPLING_GREEDY);
  params.n_threads = std::max(1, model_->options().threads);
  params.language = request.language.c_str();
  params.translate = false;
  params.no_context = true;  // context comes from initial_prompt, per stream, not per state
  params.print_progress = false;
  params.print_realtime = false;
  params.print_special = false;
  params.print_timestamps = false;
  params.suppress_blank = true;
  params.suppress_nst = true;  // no "[music]"-style annotations in a dub
  if (model_->options().fit_context) {
    params.audio_ctx = fitted_audio_context(pcm.size(), model_->summary().hparams.n_audio_ctx);
  }
  // The glossary's terms and the stream's previous fragment prime the decoder: names are
  // spelled as the deployment spells them, and sentence flow carries over.
  const auto prompt = whisper_prompt(request);
  if (!prompt.empty()) params.initial_prompt = prompt.c_str();
  // Checked by whisper between encoder/decoder steps: an abandoned fragment stops costing GPU
  // or CPU time within one step.
  params.abort_callback = [](void* user_data) {
    return std::chrono::steady_clock::now() >= *static_cast<const std::chrono::steady_clock::time_point*>(user_data);
  };
  params.abort_callback_user_data = const_cast<std::chrono::steady_clock::time_point*>(&request.deadline);

  const int status = whisper_full_with_state(model_->context(), state_, params, pcm.data(), static_cast<int>(pcm.size()));
  if (std::chrono::steady_clock::now() >= request.deadline) {
    throw DeadlineExpired("deadline passed during recognition (whisper stopped early)");
  }
  if (status != 0) {
    throw AsrError("whisper.cpp failed to transcribe (status " + std::to_string(status) + "): " + last_whisper_error());
  }
  Transcript transcript;
  const int segments = whisper_full_n_segments_from_state(state_);
  for (int i = 0; i < segments; ++i) {
    TranscriptSegment segment;
    segment.text = drop_invalid_utf8(whisper_full_get_segment_text_from_state(state_, i));
    // Trim: whisper starts most segments with a space.
    const auto first = segment.text.find_first_not_of(" \t\n");
    if (first == std::string::npos) continue;
    segment.text = segment.text.substr(first, segment.text.find_last_not_of(" \t\n") - first + 1);
    // Centiseconds, and may run past the real audio into the padding: clamp to the fragment.
    segment.start_ms = std::clamp<std::int64_t>(whisper_full_get_segment_t0_from_state(state_, i) * 10, 0, duration_ms);
    segment.end_ms = std::clamp<std::int64_t>(whisper_full_get_segment_t1_from_state(state_, i) * 10,
                                              segment.start_ms, duration_ms);
    if (!transcript.text.empty()) transcript.text += ' ';
    transcript.text += segment.text;
    transcript.segments.push_back(std::move(segment));
  }
  return transcript;
}

#endif  // LIVEDUB_HAVE_WHISPER

}  // namespace livedub::sts
