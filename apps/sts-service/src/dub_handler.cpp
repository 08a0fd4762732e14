#include "sts/dub_handler.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <string_view>

#include "livedub/stream_id.hpp"
#include "livedub/wav.hpp"

namespace livedub::sts {
namespace {

using Clock = std::chrono::steady_clock;

// Thrown inside process() to leave with an error reply.
struct Rejection {
  int status;
  std::string code;
  std::string message;
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "Audio/WAV; charset=x" -> "audio/wav"
std::string media_type(std::string_view content_type) {
  auto semicolon = content_type.find(';');
  auto type = content_type.substr(0, semicolon);
  auto first = type.find_first_not_of(" \t");
  auto last = type.find_last_not_of(" \t");
  if (first == std::string_view::npos) return "";
  return lower(type.substr(first, last - first + 1));
}

const FormPart* find_part(const DubHttpRequest& request, const std::string& name) {
  const FormPart* found = nullptr;
  for (const auto& part : request.parts) {
    if (part.name != name) continue;
    if (found != nullptr) throw Rejection{400, "duplicate_part", "part '" + name + "' appears more than once"};
    found = &part;
  }
  if (found == nullptr) throw Rejection{400, "missing_part", "missing multipart part '" + name + "'"};
  return found;
}

void require_part_type(const FormPart& part, const std::vector<std::string>& accepted) {
  auto type = media_type(part.content_type);
  if (type.empty() || std::find(accepted.begin(), accepted.end(), type) != accepted.end()) return;
  std::string list;
  for (const auto& a : accepted) list += (list.empty() ? "" : ", ") + a;
  throw Rejection{415, "unsupported_media_type",
                  "part '" + part.name + "' has Content-Type '" + part.content_type +
                      "'; expected one of [" + list + "]"};
}

// Log context from metadata that failed validation: only ids that are themselves valid, so
// peer-supplied junk never reaches a log line.
LogContext best_effort_context(const std::string& metadata_text) {
  LogContext ctx;
  auto j = nlohmann::json::parse(metadata_text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return ctx;
  if (auto it = j.find("stream_id"); it != j.end() && it->is_string() &&
                                     is_valid_stream_id(it->get<std::string>())) {
    ctx.stream_id = it->get<std::string>();
  }
  if (auto it = j.find("sequence"); it != j.end() && it->is_number_integer()) {
    ctx.seq = it->get<std::int64_t>();
  }
  return ctx;
}

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

nlohmann::json error_body(const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

}  // namespace

DubHandler::DubHandler(ServiceConfig config, std::shared_ptr<DubbingEngine> engine,
                       prometheus::Registry& registry)
    : config_(std::move(config)),
      engine_(std::move(engine)),
      requests_(prometheus::BuildCounter()
                    .Name("livedub_sts_requests_total")
                    .Help("POST /v1/dub requests, by outcome (ok or the error code)")
                    .Register(registry)),
      processing_seconds_(
          prometheus::BuildHistogram()
              .Name("livedub_sts_fragment_processing_seconds")
              .Help("Time to dub one fragment, from parsed request to encoded response")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1,
                                                               0.25, 0.5, 1, 2.5, 5, 10, 30})),
      audio_seconds_(prometheus::BuildCounter()
                         .Name("livedub_sts_audio_processed_seconds_total")
                         .Help("Seconds of input audio dubbed successfully")
                         .Register(registry)
                         .Add({})) {
  outcome_counter("ok");  // exported as 0 from the start, so rate() works before the first hit
}

prometheus::Counter& DubHandler::outcome_counter(const std::string& outcome) {
  return requests_.Add({{"outcome", outcome}});
}

HandlerReply DubHandler::dub(const DubHttpRequest& request) {
  LogContext ctx;
  try {
    return process(request, ctx);
  } catch (const Rejection& r) {
    return reject(r.status, r.code, r.message, ctx);
  } catch (const std::exception& e) {
    return reject(500, "internal_error", e.what(), ctx);
  }
}

HandlerReply DubHandler::reject(int status, const std::string& code, const std::string& message,
                                const LogContext& ctx) {
  outcome_counter(code).Increment();
  logging::write(status >= 500 ? spdlog::level::err : spdlog::level::warn, ctx,
                 "dub request rejected", {{"status", status}, {"code", code}, {"error", message}});
  return HandlerReply{status, error_body(code, message)};
}

HandlerReply DubHandler::process(const DubHttpRequest& request, LogContext& ctx) {
  const auto started = Clock::now();
  // Case-sensitive like httplib's multipart detection: anything it would not split into parts
  // must not get past this check.
  if (request.content_type.rfind("multipart/form-data", 0) != 0) {
    throw Rejection{415, "unsupported_media_type",
                    "Content-Type must be multipart/form-data, got '" + request.content_type + "'"};
  }
  const FormPart& metadata_part = *find_part(request, "metadata");
  const FormPart& audio_part = *find_part(request, "audio");
  require_part_type(metadata_part, {"application/json", "text/plain"});
  require_part_type(audio_part, {"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave",
                                 "application/octet-stream"});

  DubRequestMetadata metadata;
  try {
    metadata = parse_request_metadata(metadata_part.data);
  } catch (const ProtocolError& e) {
    ctx = best_effort_context(metadata_part.data);
    throw Rejection{400, "invalid_metadata", e.what()};
  }
  ctx = LogContext{metadata.stream_id, metadata.sequence};
  if (!engine_->supports(metadata.source_lang, metadata.target_lang)) {
    throw Rejection{400, "unsupported_language_pair",
                    "engine " + engine_->name() + " cannot dub " + metadata.source_lang + " -> " +
                        metadata.target_lang};
  }

  AudioBuffer input;
  try {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(audio_part.data.data());
    input = decode_wav({bytes, audio_part.data.size()});
  } catch (const WavError& e) {
    throw Rejection{400, "invalid_audio", e.what()};
  }
  if (input.frames() == 0) throw Rejection{400, "invalid_audio", "audio part contains no samples"};

  DubResult result;
  try {
    result = engine_->dub(metadata, input);
  } catch (const std::exception& e) {
    throw Rejection{500, "engine_error", engine_->name() + ": " + e.what()};
  }
  const auto expected_frames = frames_for_duration(metadata.duration_ms, input.format.sample_rate);
  if (result.audio.format != input.format) {
    throw Rejection{500, "engine_error", engine_->name() + " returned audio in a different format"};
  }
  if (result.audio.frames() != expected_frames) {
    // Real engines may be off by a few frames after time stretching; the duration contract
    // with the worker matters more than those frames.
    logging::write(spdlog::level::warn, ctx, "engine output length corrected",
                   {{"engine", engine_->name()}, {"frames", result.audio.frames()},
                    {"expected_frames", expected_frames}});
    fit_to_frames(result.audio.samples, result.audio.format.channels, expected_frames);
  }

  const auto wav = encode_wav(result.audio);
  DubResponse response;
  response.stream_id = metadata.stream_id;
  response.sequence = metadata.sequence;
  response.duration_ms = metadata.duration_ms;
  response.sample_rate = result.audio.format.sample_rate;
  response.channels = result.audio.format.channels;
  response.audio_wav_base64 =
      base64_encode({reinterpret_cast<const char*>(wav.data()), wav.size()});
  response.transcript = std::move(result.transcript);
  response.translation = std::move(result.translation);
  response.voice = result.voice.empty() ? metadata.voice : result.voice;
  response.engine = engine_->name();
  response.stretch_ratio = result.stretch_ratio;
  response.timings_ms = std::move(result.stage_timings_ms);
  const double total_ms = elapsed_ms(started);
  response.timings_ms["total"] = total_ms;

  const double input_seconds = static_cast<double>(input.frames()) / input.format.sample_rate;
  outcome_counter("ok").Increment();
  processing_seconds_.Observe(total_ms / 1000.0);
  audio_seconds_.Increment(input_seconds);
  logging::write(spdlog::level::info, ctx, "fragment dubbed",
                 {{"engine", response.engine},
                  {"duration_ms", metadata.duration_ms},
                  {"input_ms", input_seconds * 1000.0},
                  {"sample_rate", response.sample_rate},
                  {"channels", response.channels},
                  {"total_ms", total_ms}});
  return HandlerReply{200, to_json(response)};
}

nlohmann::json DubHandler::capabilities() const {
  auto caps = engine_->capabilities();
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& pair : caps.pairs) pairs.push_back({{"source", pair.source}, {"target", pair.target}});
  const WavLimits wav;
  return {{"api_version", "v1"},
          {"mode", config_.mode},
          {"engines", nlohmann::json::array({engine_->name()})},
          {"languages", {{"any_pair", caps.any_language_pair}, {"pairs", pairs}}},
          {"voices", caps.voices},
          {"max_duration_ms", kMaxDurationMs},
          {"max_body_bytes", config_.max_body_bytes},
          {"audio",
           {{"encoding", "wav-pcm16"},
            {"min_sample_rate", wav.min_sample_rate},
            {"max_sample_rate", wav.max_sample_rate},
            {"max_channels", wav.max_channels}}}};
}

}  // namespace livedub::sts
