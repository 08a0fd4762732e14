#include "sts/dub_handler.hpp"

#include <future>
#include <thread>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>

#include "livedub/stream_id.hpp"
#include "livedub/wav.hpp"
#include "sts/pocket_tts.hpp"

namespace livedub::sts {
namespace {

using Clock = std::chrono::steady_clock;

// Thrown inside process() to leave with an error reply.
struct Rejection {
  int status;
  std::string code;
  std::string message;
  int retry_after_seconds = 0;  // > 0: sent as Retry-After
};

prometheus::Histogram::BucketBoundaries stage_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

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

nlohmann::json cost_json(const std::optional<CostSummary>& summary) {
  if (!summary) return {{"samples", 0}};
  return {{"samples", summary->samples},
          {"p50_ms_per_audio_s", std::round(summary->p50_ms_per_audio_s)},
          {"p95_ms_per_audio_s", std::round(summary->p95_ms_per_audio_s)},
          {"p95_total_ms", std::round(summary->p95_total_ms)}};
}

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

}  // namespace

Clock::time_point extra_targets_answer_by(Clock::time_point arrived, Clock::time_point deadline) {
  const auto budget = std::max(deadline - arrived, Clock::duration::zero());
  return deadline - std::min<Clock::duration>(budget / 10, kExtraTargetsAnswerReserve);
}

ExtraOutcome dub_extra_target(DubbingEngine& engine, const DubRequestMetadata& metadata, const DubTarget& target,
                              const AudioBuffer& input, const DubContext& context, const std::string& transcript,
                              const std::map<std::string, std::string>& known_translations) {
  ExtraOutcome outcome;
  outcome.dub.target_lang = target.target_lang;
  outcome.dub.voice = target.voice;
  try {
    if (!engine.supports(metadata.source_lang, target.target_lang)) {
      throw Rejection{400, "unsupported_language_pair",
                      "engine " + engine.name() + " cannot dub " + metadata.source_lang + " -> " + target.target_lang};
    }
    if (!engine.supports_voice(target.voice)) {
      throw Rejection{400, "unsupported_voice", "engine " + engine.name() + " has no voice '" + target.voice + "'"};
    }
    check_deadline(context, kStageMt);
    auto request = metadata;
    request.target_lang = target.target_lang;
    request.voice = target.voice;
    request.extra_targets.clear();
    auto extra_context = context;
    extra_context.known_transcript = transcript;  // one recognition for every language
    extra_context.also_translate_into.clear();
    if (auto it = known_translations.find(target.target_lang); it != known_translations.end()) {
      extra_context.known_translation = it->second;  // translated with the first language, in one batch
    }
    outcome.result = engine.dub(request, input, extra_context);
    if (outcome.result.audio.format != input.format) throw std::runtime_error("returned audio in a different format");
  } catch (const Rejection& r) {
    outcome.dub.error_code = r.code;
    outcome.dub.error = r.message;
  } catch (const DeadlineExpired& e) {
    outcome.dub.error_code = "deadline_exceeded";
    outcome.dub.error = e.what();
  } catch (const std::exception& e) {
    outcome.dub.error_code = "engine_error";
    outcome.dub.error = engine.name() + ": " + e.what();
  }
  return outcome;
}

namespace {

// Streams whose speaker voice is held at once (each is a few hundred KB of frames).
constexpr std::size_t kMaxSpeakers = 256;
constexpr double kMinReferenceS = 1.0;
constexpr double kMaxReferenceS = 30.0;

nlohmann::json error_body(const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

}  // namespace

DubHandler::DubHandler(ServiceConfig config, prometheus::Registry& registry)
    : config_(std::move(config)),
      sessions_(config_.session_ttl),
      speakers_(config_.session_ttl, kMaxSpeakers),
      requests_(prometheus::BuildCounter()
                    .Name("livedub_sts_requests_total")
                    .Help("POST /v1/dub requests, by outcome (ok or the error code, e.g. overloaded)")
                    .Register(registry)),
      processing_seconds_(
          prometheus::BuildHistogram()
              .Name("livedub_sts_fragment_processing_seconds")
              .Help("Time to dub one fragment, from parsed request to encoded response (queueing included)")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1,
                                                               0.25, 0.5, 1, 2.5, 5, 10, 30})),
      stage_seconds_(prometheus::BuildHistogram()
                         .Name("livedub_sts_stage_seconds")
                         .Help("Time per engine stage (queue, asr, mt, tts, stretch) for one fragment")
                         .Register(registry)),
      audio_seconds_(prometheus::BuildCounter()
                         .Name("livedub_sts_audio_processed_seconds_total")
                         .Help("Seconds of input audio dubbed successfully")
                         .Register(registry)
                         .Add({})),
      queue_depth_(prometheus::BuildGauge()
                       .Name("livedub_sts_queue_depth")
                       .Help("Fragments waiting for an engine worker")
                       .Register(registry)
                       .Add({})),
      busy_workers_(prometheus::BuildGauge()
                        .Name("livedub_sts_busy_workers")
                        .Help("Engine workers dubbing a fragment right now")
                        .Register(registry)
                        .Add({})),
      pool_(config_.workers, config_.queue_size) {
  outcome_counter("ok");  // exported as 0 from the start, so rate() works before the first hit
  outcome_counter("overloaded");
  prometheus::BuildGauge()
      .Name("livedub_sts_workers")
      .Help("Engine workers configured (LIVEDUB_STS_WORKERS)")
      .Register(registry)
      .Add({})
      .Set(config_.workers);
}

DubHandler::DubHandler(ServiceConfig config, std::shared_ptr<DubbingEngine> engine,
                       prometheus::Registry& registry)
    : DubHandler(std::move(config), registry) {
  set_engine(std::move(engine));
}

namespace {

std::optional<double> calibrate_engine(DubbingEngine& engine, CostTracker& costs, CostTracker& streamed_costs) {
  // Into Spanish where the engine offers it (the workers' default target), else its first pair.
  const auto caps = engine.capabilities();
  std::string source = caps.pairs.empty() ? "en" : caps.pairs.front().source;
  std::string target = caps.pairs.empty() ? "es" : caps.pairs.front().target;
  for (const auto& pair : caps.pairs) {
    if (pair.target == "es") {
      source = pair.source, target = pair.target;
      break;
    }
  }
  try {
    const auto speech = engine.calibration_speech(source);
    if (speech.frames() == 0) throw std::runtime_error("no calibration audio");
    const double audio_ms = 1000.0 * static_cast<double>(speech.frames()) / speech.format.sample_rate;
    DubRequestMetadata metadata("calibration", 0, source, target, "default", audio_ms);
    const auto started = Clock::now();
    engine.dub(metadata, speech);
    const double total_ms = elapsed_ms(started);
    costs.add(audio_ms, total_ms);
    const double per_second = total_ms / (audio_ms / 1000.0);
    // The same speech streamed as a worker streams it: what is left once it ends. An engine that
    // recognises phrases whole at their end costs the same either way.
    double streamed_ms = total_ms;
    if (auto phrase = engine.begin_phrase(source)) {
      const auto mono = downmix_to_mono(speech.samples, speech.format.channels);
      const auto chunk = static_cast<std::size_t>(speech.format.sample_rate) * 320 / 1000;
      for (std::size_t at = 0; at < mono.size(); at += chunk) {
        phrase->feed({mono.data() + at, std::min(chunk, mono.size() - at)}, speech.format.sample_rate);
      }
      const auto closed = Clock::now();
      DubContext context;
      context.known_transcript = phrase->finish(std::llround(audio_ms));
      phrase.reset();
      engine.dub(metadata, speech, context);
      streamed_ms = elapsed_ms(closed);
    }
    streamed_costs.add(audio_ms, streamed_ms);
    logging::write(spdlog::level::info, {}, "calibrated: one dub timed for the workers' delay",
                   {{"pair", source + "-" + target}, {"audio_ms", std::round(audio_ms)}, {"total_ms", std::round(total_ms)},
                    {"ms_per_audio_s", std::round(per_second)}, {"streamed_close_ms", std::round(streamed_ms)}});
    return per_second;
  } catch (const std::exception& e) {
    logging::write(spdlog::level::warn, {}, "calibration dub failed: workers plan their delay without a figure until dubs are timed",
                   {{"pair", source + "-" + target}, {"error", e.what()}});
    return std::nullopt;
  }
}

}  // namespace

std::optional<double> DubHandler::calibrate(DubbingEngine& engine) {
  return calibrate_engine(engine, *costs_, *streamed_costs_);
}

void DubHandler::calibrate_before_ready(std::shared_ptr<DubbingEngine> engine, std::chrono::milliseconds wait) {
  if (!engine) return;
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  calibration_ = std::jthread([engine, costs = costs_, streamed = streamed_costs_, done] {
    calibrate_engine(*engine, *costs, *streamed);
    done->set_value();
  });
  if (finished.wait_for(wait) != std::future_status::ready) {
    logging::write(spdlog::level::warn, {}, "calibration dub still running: ready without its figure",
                   {{"waited_ms", wait.count()}});
  }
}

void DubHandler::set_engine(std::shared_ptr<DubbingEngine> engine) {
  std::lock_guard lock(engine_mutex_);
  engine_ = std::move(engine);
}

std::shared_ptr<DubbingEngine> DubHandler::engine_snapshot() const {
  std::lock_guard lock(engine_mutex_);
  return engine_;
}

void DubHandler::update_pool_gauges() {
  queue_depth_.Set(static_cast<double>(pool_.queued()));
  busy_workers_.Set(pool_.busy());
}

prometheus::Counter& DubHandler::outcome_counter(const std::string& outcome) {
  return requests_.Add({{"outcome", outcome}});
}

HandlerReply DubHandler::dub(const DubHttpRequest& request) {
  return guarded([&](LogContext& ctx) { return process(request, ctx); });
}

HandlerReply DubHandler::guarded(const std::function<HandlerReply(LogContext&)>& body) {
  LogContext ctx;
  try {
    return body(ctx);
  } catch (const Rejection& r) {
    auto reply = reject(r.status, r.code, r.message, ctx);
    if (r.retry_after_seconds > 0) reply.headers["Retry-After"] = std::to_string(r.retry_after_seconds);
    return reply;
  } catch (const std::exception& e) {
    return reject(500, "internal_error", e.what(), ctx);
  }
}

HandlerReply DubHandler::reject(int status, const std::string& code, const std::string& message,
                                const LogContext& ctx) {
  outcome_counter(code).Increment();
  logging::write(status >= 500 ? spdlog::level::err : spdlog::level::warn, ctx,
                 "dub request rejected", {{"status", status}, {"code", code}, {"error", message}});
  return HandlerReply{status, error_body(code, message), {}};
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
  const auto engine = engine_for(metadata);
  AudioBuffer input;
  try {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(audio_part.data.data());
    input = decode_wav({bytes, audio_part.data.size()});
  } catch (const WavError& e) {
    throw Rejection{400, "invalid_audio", e.what()};
  }
  return run(std::move(metadata), std::move(input), false, nullptr, started, request.arrived, ctx);
}

std::shared_ptr<DubbingEngine> DubHandler::engine_for(const DubRequestMetadata& metadata) const {
  const auto engine = engine_snapshot();
  if (!engine) {
    throw Rejection{503, "not_ready", "engines are still loading; see /readyz", 2};
  }
  if (!engine->supports(metadata.source_lang, metadata.target_lang)) {
    std::string offered;
    for (const auto& pair : engine->capabilities().pairs) {
      offered += (offered.empty() ? "" : ", ") + pair.source + "->" + pair.target;
    }
    throw Rejection{400, "unsupported_language_pair",
                    "engine " + engine->name() + " cannot dub " + metadata.source_lang + " -> " +
                        metadata.target_lang + "; installed: [" + offered + "] (GET /v1/capabilities)"};
  }
  if (!engine->supports_voice(metadata.voice)) {
    std::string offered;
    for (const auto& voice : engine->capabilities().voices) offered += (offered.empty() ? "" : ", ") + voice;
    throw Rejection{400, "unsupported_voice",
                    "engine " + engine->name() + " has no voice '" + metadata.voice + "'; available: [" + offered + "]"};
  }
  return engine;
}

HandlerReply DubHandler::run(DubRequestMetadata metadata, AudioBuffer input, bool streamed,
                             std::unique_ptr<PhraseRecognition> recognition, Clock::time_point started,
                             Clock::time_point request_arrived, LogContext& ctx) {
  const auto engine = engine_for(metadata);
  auto& costs = streamed ? *streamed_costs_ : *costs_;
  if (input.frames() == 0) throw Rejection{400, "invalid_audio", "audio part contains no samples"};
  // The answer is duration_ms of audio at the request's rate and channels: it may not ask for
  // more than it sent, or 3.5 KB of request could ask for hundreds of MB of answer.
  const double audio_ms = static_cast<double>(input.frames()) * 1000.0 / input.format.sample_rate;
  if (metadata.duration_ms > audio_ms + kDurationSlackMs) {
    throw Rejection{400, "duration_mismatch",
                    "duration_ms (" + std::to_string(std::llround(metadata.duration_ms)) +
                        ") exceeds the audio sent (" + std::to_string(std::llround(audio_ms)) + " ms) by more than " +
                        std::to_string(static_cast<int>(kDurationSlackMs)) + " ms"};
  }

  // Owned jointly by this request and its job, so a request that gives up at its deadline can
  // answer at once while the job (queued or running) finishes or is dropped on its own.
  struct Job {
    DubRequestMetadata metadata;
    AudioBuffer input;
    DubContext context;
    std::unique_ptr<PhraseRecognition> recognition;  // the phrase recognised as it arrived
    DubResult result;
    std::mutex mutex;  // guards the three below while the job runs on
    bool first_done = false;          // `result` is final
    bool answered = false;            // the request answered without the rest of `extra`
    std::vector<ExtraOutcome> extra;  // one per metadata.extra_targets, in order, as each ends
  };
  auto job = std::make_shared<Job>();
  job->metadata = metadata;
  job->input = std::move(input);
  const bool recognised_while_spoken = recognition != nullptr;
  job->recognition = std::move(recognition);
  job->context = sessions_.context_for(metadata.stream_id, metadata.sequence);
  job->context.speaker = speakers_.get(metadata.stream_id);
  // The service's own limit, or the client's sooner one: past it the dub would never be played,
  // so the job is dropped from the queue, and a running engine stops at its next check.
  const auto arrived = request_arrived == Clock::time_point{} ? started : request_arrived;
  auto deadline = started + config_.deadline;
  if (metadata.deadline_ms) {
    deadline = std::min(deadline, arrived + std::chrono::microseconds(static_cast<std::int64_t>(*metadata.deadline_ms * 1000)));
  }
  job->context.deadline = deadline;
  // Further languages must not cost the first one its dub: they stop early enough to leave
  // room for the answer, and one still running then is answered as deadline_exceeded.
  const auto answer_by = metadata.extra_targets.empty() ? deadline : extra_targets_answer_by(arrived, deadline);
  auto ticket = pool_.submit(
      [job, engine, answer_by] {
        auto first_context = job->context;
        for (const auto& target : job->metadata.extra_targets) {
          first_context.also_translate_into.push_back(target.target_lang);
        }
        std::optional<double> asr_ms;
        if (job->recognition) {
          // Only the phrase's last moments are left to decode.
          check_deadline(first_context, kStageAsr);
          const auto asr_started = Clock::now();
          first_context.known_transcript =
              job->recognition->finish(std::llround(job->metadata.duration_ms));
          job->recognition.reset();  // the decoder goes back for the next phrase
          asr_ms = elapsed_ms(asr_started);
        }
        auto first = engine->dub(job->metadata, job->input, first_context);
        if (asr_ms) first.stage_timings_ms[kStageAsr] = *asr_ms;
        const auto transcript = first.transcript;  // the handler may move `result` once answered
        const auto translations = first.extra_translations;
        {
          std::lock_guard lock(job->mutex);
          job->result = std::move(first);
          job->first_done = true;
        }
        auto extra_context = job->context;
        extra_context.deadline = answer_by;
        for (const auto& target : job->metadata.extra_targets) {
          auto outcome =
              dub_extra_target(*engine, job->metadata, target, job->input, extra_context, transcript, translations);
          std::lock_guard lock(job->mutex);
          if (job->answered) return;
          job->extra.push_back(std::move(outcome));
        }
      },
      deadline);
  if (!ticket) {
    double average = 1.0;
    {
      std::lock_guard lock(average_mutex_);
      average = average_seconds_;
    }
    const int retry = retry_after_seconds(pool_.queued(), pool_.busy(), pool_.workers(), average);
    throw Rejection{503, "overloaded",
                    "all " + std::to_string(pool_.workers()) + " engine workers are busy and " +
                        std::to_string(pool_.queue_capacity()) +
                        " fragments are queued (LIVEDUB_STS_WORKERS, LIVEDUB_STS_QUEUE_SIZE)",
                    retry};
  }
  update_pool_gauges();
  const auto budget = "the request's deadline_ms or LIVEDUB_STS_DEADLINE_MS (" +
                      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - arrived).count()) +
                      " ms)";
  // Past answer_by with the first language dubbed, the request answers with what is done.
  const auto answer_partially = [&] {
    std::lock_guard lock(job->mutex);
    if (!job->first_done) return false;
    job->answered = true;
    return true;
  };
  bool partial = false;
  if (!ticket->wait_until(answer_by)) {
    partial = answer_partially();
    if (!partial && !ticket->wait_until(deadline)) {
      partial = answer_partially();
      if (!partial) {
        ticket->abandon();  // dropped unrun if still queued; a running one stops at its next check
        // It would have cost at least this: a worker planning on the cost must know.
        costs.add(metadata.duration_ms, elapsed_ms(started));
        throw Rejection{504, "deadline_exceeded", "fragment not dubbed within " + budget};
      }
    }
  }
  update_pool_gauges();
  if (!partial) {
    try {
      ticket->get();
    } catch (const DeadlineExpired& e) {
      costs.add(metadata.duration_ms, elapsed_ms(started));
      throw Rejection{504, "deadline_exceeded", std::string(e.what()) + "; " + budget};
    } catch (const std::exception& e) {
      throw Rejection{500, "engine_error", engine->name() + ": " + e.what()};
    }
  } else {
    std::lock_guard lock(job->mutex);  // the job appends no more once answered
    for (std::size_t i = job->extra.size(); i < metadata.extra_targets.size(); ++i) {
      ExtraOutcome late;
      late.dub.target_lang = metadata.extra_targets[i].target_lang;
      late.dub.voice = metadata.extra_targets[i].voice;
      late.dub.error_code = "deadline_exceeded";
      late.dub.error = "not dubbed in time; the first target language was answered without it (" + budget + ")";
      job->extra.push_back(std::move(late));
    }
  }
  auto& result = job->result;
  const auto& input_audio = job->input;
  stage_seconds_.Add({{"stage", "queue"}}, stage_buckets())
      .Observe(static_cast<double>(ticket->queued_for().count()) / 1000.0);
  result.stage_timings_ms["queue"] = static_cast<double>(ticket->queued_for().count());
  for (const auto& [stage, ms] : result.stage_timings_ms) {
    if (stage != "queue") stage_seconds_.Add({{"stage", stage}}, stage_buckets()).Observe(ms / 1000.0);
  }
  const auto expected_frames = frames_for_duration(metadata.duration_ms, input_audio.format.sample_rate);
  if (result.audio.format != input_audio.format) {
    throw Rejection{500, "engine_error", engine->name() + " returned audio in a different format"};
  }
  if (result.audio.frames() != expected_frames) {
    // Real engines may be off by a few frames after time stretching; the duration contract
    // with the worker matters more than those frames.
    logging::write(spdlog::level::warn, ctx, "engine output length corrected",
                   {{"engine", engine->name()}, {"frames", result.audio.frames()},
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
  response.engine = engine->name();
  response.mt_engine = result.mt_engine;
  response.tts_engine = result.tts_engine;
  response.stretch_ratio = result.stretch_ratio;
  response.time_fit = result.time_fit;
  response.timings_ms = std::move(result.stage_timings_ms);
  const double ms_per_frame = 1000.0 / result.audio.format.sample_rate;
  response.speech_start_ms = std::clamp(static_cast<double>(result.speech_begin) * ms_per_frame, 0.0, metadata.duration_ms);
  response.speech_end_ms =
      std::clamp(static_cast<double>(result.speech_end) * ms_per_frame, response.speech_start_ms, metadata.duration_ms);
  const double total_ms = elapsed_ms(started);
  response.timings_ms["total"] = total_ms;
  for (auto& outcome : job->extra) {
    auto& extra = outcome.dub;
    if (outcome.dub.error_code.empty()) {
      fit_to_frames(outcome.result.audio.samples, outcome.result.audio.format.channels, expected_frames);
      const auto extra_wav = encode_wav(outcome.result.audio);
      extra.audio_wav_base64 = base64_encode({reinterpret_cast<const char*>(extra_wav.data()), extra_wav.size()});
      extra.translation = std::move(outcome.result.translation);
      extra.mt_engine = outcome.result.mt_engine;
      extra.tts_engine = outcome.result.tts_engine;
      extra.stretch_ratio = outcome.result.stretch_ratio;
      extra.time_fit = outcome.result.time_fit;
      extra.timings_ms = std::move(outcome.result.stage_timings_ms);
      extra.speech_start_ms = std::clamp(static_cast<double>(outcome.result.speech_begin) * ms_per_frame, 0.0, metadata.duration_ms);
      extra.speech_end_ms = std::clamp(static_cast<double>(outcome.result.speech_end) * ms_per_frame, extra.speech_start_ms,
                                       metadata.duration_ms);
    } else {
      logging::write(spdlog::level::warn, ctx, "further target language not dubbed: it falls back alone",
                     {{"target_lang", extra.target_lang}, {"code", extra.error_code}, {"error", extra.error}});
    }
    response.extra.push_back(std::move(extra));
  }

  const double input_seconds = static_cast<double>(input_audio.frames()) / input_audio.format.sample_rate;
  outcome_counter("ok").Increment();
  processing_seconds_.Observe(total_ms / 1000.0);
  costs.add(metadata.duration_ms, total_ms);
  {
    std::lock_guard lock(average_mutex_);
    average_seconds_ = 0.8 * average_seconds_ + 0.2 * (total_ms / 1000.0);
  }
  sessions_.record(metadata.stream_id,
                   FragmentRecord{metadata.sequence, metadata.source_lang, metadata.target_lang,
                                  response.transcript, response.translation, response.voice, response.time_fit,
                                  response.stretch_ratio, response.timings_ms,
                                  iso8601_utc(std::chrono::system_clock::now())});
  audio_seconds_.Increment(input_seconds);
  logging::write(spdlog::level::info, ctx, "fragment dubbed",
                 {{"engine", response.engine},
                  {"streamed", streamed},
                  {"recognised_while_spoken", recognised_while_spoken},
                  {"mt_engine", response.mt_engine},
                  {"tts_engine", response.tts_engine},
                  {"duration_ms", metadata.duration_ms},
                  {"input_ms", input_seconds * 1000.0},
                  {"sample_rate", response.sample_rate},
                  {"channels", response.channels},
                  {"transcript", response.transcript},
                  {"translation", response.translation},
                  {"time_fit", response.time_fit},
                  {"stretch_ratio", response.stretch_ratio},
                  {"timings_ms", response.timings_ms}});
  return HandlerReply{200, to_json(response), {}};
}

HandlerReply DubHandler::capabilities() const {
  const auto engine = engine_snapshot();
  if (!engine) {
    return HandlerReply{503, error_body("not_ready", "engines are still loading; see /readyz"), {{"Retry-After", "2"}}};
  }
  auto caps = engine->capabilities();
  auto pairs_json = [&caps](const std::vector<LanguagePair>& pairs) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& pair : pairs) {
      nlohmann::json item = {{"source", pair.source}, {"target", pair.target}};
      if (auto it = caps.mt_engines.find(pair.source + "-" + pair.target); it != caps.mt_engines.end()) {
        item["engine"] = it->second;  // which translation engine serves the pair
      }
      out.push_back(std::move(item));
    }
    return out;
  };
  const WavLimits wav;
  nlohmann::json body = {
      {"api_version", "v1"},
      {"mode", config_.mode},
      {"engines", nlohmann::json::array({engine->name()})},
      {"languages", {{"any_pair", caps.any_language_pair}, {"pairs", pairs_json(caps.pairs)}}},
      {"voices", caps.voices},
      {"asr", {{"engine", caps.asr_engine}, {"languages", caps.asr_languages}}},
      {"mt", {{"pairs", pairs_json(caps.mt_pairs)}}},
      {"tts", {{"languages", caps.tts_languages}, {"engines", caps.tts_engines}, {"voices", caps.voices}}},
      {"voice_clone",
       {{"enabled", !caps.clone_languages.empty()},
        {"engine", caps.clone_engine},
        {"languages", caps.clone_languages},
        {"reference_s", {{"min", kMinReferenceS}, {"max", kMaxReferenceS}}}}},
      {"cost", cost_json(costs_->summary())},
      // Phrases streamed while spoken: the cost left once the speaker stops (the close).
      {"streamed_cost", cost_json(streamed_costs_->summary())},
      {"streaming",
       {{"chunk_content_type", "audio/L16"},
        {"max_open_phrases", phrases_.limits().max_open},
        {"idle_timeout_ms", phrases_.limits().idle_timeout.count()}}},
      {"max_duration_ms", kMaxDurationMs},
      {"max_body_bytes", config_.max_body_bytes},
      {"workers", config_.workers},
      {"queue_size", config_.queue_size},
      {"deadline_ms", config_.deadline.count()},
      {"time_fit", {{"min_ratio", config_.time_fit.min_ratio}, {"max_ratio", config_.time_fit.max_ratio}}},
      {"audio",
       {{"encoding", "wav-pcm16"},
        {"min_sample_rate", wav.min_sample_rate},
        {"max_sample_rate", wav.max_sample_rate},
        {"max_channels", wav.max_channels}}}};
  return HandlerReply{200, std::move(body), {}};
}

HandlerReply DubHandler::session(const std::string& stream_id) {
  if (!is_valid_stream_id(stream_id)) {
    return HandlerReply{400, error_body("invalid_stream_id", "not a valid stream id"), {}};
  }
  auto fragments = sessions_.fragments(stream_id);
  if (!fragments) {
    return HandlerReply{404, error_body("unknown_session",
                                        "no fragment of stream '" + stream_id + "' dubbed in the last " +
                                            std::to_string(config_.session_ttl.count()) +
                                            " s (LIVEDUB_STS_SESSION_TTL_S)"),
                        {}};
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& fragment : *fragments) list.push_back(to_json(fragment));
  return HandlerReply{200, {{"stream_id", stream_id}, {"fragments", list}}, {}};
}

HandlerReply DubHandler::put_speaker(const std::string& stream_id, const std::string& content_type,
                                     const std::string& body) {
  LogContext ctx;
  ctx.stream_id = stream_id;
  if (!is_valid_stream_id(stream_id)) return reject(400, "invalid_stream_id", "not a valid stream id", ctx);
  const auto engine = engine_snapshot();
  if (!engine) return reject(503, "not_ready", "engines are still loading; see /readyz", ctx);
  if (content_type.rfind("audio/wav", 0) != 0 && content_type.rfind("audio/x-wav", 0) != 0) {
    return reject(415, "unsupported_media_type", "the reference clip must be sent as audio/wav", ctx);
  }
  AudioBuffer clip;
  try {
    clip = decode_wav({reinterpret_cast<const std::uint8_t*>(body.data()), body.size()});
  } catch (const WavError& e) {
    return reject(400, "invalid_audio", std::string("the reference clip is not a usable WAV: ") + e.what(), ctx);
  }
  const double seconds = static_cast<double>(clip.frames()) / clip.format.sample_rate;
  if (seconds < kMinReferenceS || seconds > kMaxReferenceS) {
    return reject(400, "invalid_audio",
                  "the reference clip lasts " + std::to_string(seconds) + " s; 1 to 30 s of the speaker are needed", ctx);
  }
  std::shared_ptr<const PocketVoice> voice;
  try {
    voice = engine->encode_speaker(clip);
  } catch (const std::exception& e) {
    return reject(500, "engine_error", std::string("the reference clip could not be encoded: ") + e.what(), ctx);
  }
  if (!voice) {
    return reject(409, "voice_clone_off",
                  "this service does not dub in the speaker's voice (LIVEDUB_STS_VOICE_CLONE is off, or the engine "
                  "cannot); dubs keep the configured voice",
                  ctx);
  }
  speakers_.put(stream_id, voice);
  logging::write(spdlog::level::info, ctx, "speaker voice received",
                 {{"reference_s", seconds}, {"frames", voice->count}, {"streams_with_voice", speakers_.size()}});
  return HandlerReply{204, nullptr, {}};
}

HandlerReply DubHandler::forget_speaker(const std::string& stream_id) {
  LogContext ctx;
  ctx.stream_id = stream_id;
  if (!is_valid_stream_id(stream_id)) return reject(400, "invalid_stream_id", "not a valid stream id", ctx);
  if (!speakers_.forget(stream_id)) {
    return HandlerReply{404, error_body("unknown_voice", "no speaker voice held for stream '" + stream_id + "'"), {}};
  }
  logging::write(spdlog::level::info, ctx, "speaker voice forgotten (stream ended)", {});
  return HandlerReply{204, nullptr, {}};
}

namespace {

std::optional<std::int64_t> parse_count(std::string_view text, std::int64_t max) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

// "audio/L16; rate=48000; channels=1" (RFC 2586: 16-bit big-endian PCM) -> its format.
std::optional<AudioFormat> l16_format(const std::string& content_type) {
  if (media_type(content_type) != "audio/l16") return std::nullopt;
  AudioFormat format{0, 1};
  std::string_view rest(content_type);
  while (true) {
    const auto semicolon = rest.find(';');
    if (semicolon == std::string_view::npos) break;
    rest.remove_prefix(semicolon + 1);
    auto param = rest.substr(0, rest.find(';'));
    const auto eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    const auto name = lower(param.substr(0, eq));
    auto value = param.substr(eq + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    const auto trimmed_name = name.substr(name.find_first_not_of(' ') == std::string::npos ? name.size() : name.find_first_not_of(' '));
    const auto number = parse_count(value, 1'000'000);
    if (!number) return std::nullopt;
    if (trimmed_name == "rate") format.sample_rate = static_cast<int>(*number);
    if (trimmed_name == "channels") format.channels = static_cast<int>(*number);
  }
  return format;
}

// How long an open phrase may last, as the error messages say it.
std::string phrase_limits_text(const PhraseLimits& limits) {
  return std::to_string(static_cast<long long>(limits.max_phrase_ms)) + " ms of audio, idle at most " +
         std::to_string(limits.idle_timeout.count()) + " ms";
}

}  // namespace

HandlerReply DubHandler::phrase_chunk(const std::string& stream_id, const std::string& sequence_text,
                                      const std::string& chunk_text, const std::string& content_type,
                                      const std::string& content_language, const std::string& body) {
  LogContext ctx;
  if (!is_valid_stream_id(stream_id)) return reject(400, "invalid_stream_id", "not a valid stream id", ctx);
  ctx.stream_id = stream_id;
  const auto sequence = parse_count(sequence_text, std::int64_t{1} << 53);
  const auto chunk = parse_count(chunk_text, kMaxPhraseChunks);
  if (!sequence) return reject(400, "invalid_sequence", "the phrase's sequence must be a non-negative integer", ctx);
  ctx.seq = *sequence;
  if (!chunk) {
    return reject(400, "invalid_chunk", "the chunk number must be an integer from 0 to " + std::to_string(kMaxPhraseChunks), ctx);
  }
  const auto engine = engine_snapshot();
  if (!engine) {
    auto reply = reject(503, "not_ready", "engines are still loading; see /readyz", ctx);
    reply.headers["Retry-After"] = "2";
    return reply;
  }
  const auto format = l16_format(content_type);
  const WavLimits wav;
  if (!format) {
    return reject(415, "unsupported_media_type",
                  "a chunk is raw PCM sent as 'audio/L16; rate=<Hz>; channels=<n>' (16-bit big-endian), got '" +
                      content_type + "'",
                  ctx);
  }
  if (format->sample_rate < wav.min_sample_rate || format->sample_rate > wav.max_sample_rate ||
      format->channels < 1 || format->channels > wav.max_channels) {
    return reject(400, "invalid_audio",
                  "chunk rate " + std::to_string(format->sample_rate) + " Hz / " + std::to_string(format->channels) +
                      " channels outside " + std::to_string(wav.min_sample_rate) + "-" +
                      std::to_string(wav.max_sample_rate) + " Hz, 1-" + std::to_string(wav.max_channels),
                  ctx);
  }
  const auto frame_bytes = static_cast<std::size_t>(2 * format->channels);
  if (body.empty() || body.size() % frame_bytes != 0) {
    // A body cut short (or padded) would shift every later sample by a byte: refused whole.
    return reject(400, "truncated_chunk",
                  "chunk body of " + std::to_string(body.size()) + " bytes is not a whole number of " +
                      std::to_string(frame_bytes) + "-byte frames (or empty)",
                  ctx);
  }
  std::vector<std::int16_t> samples(body.size() / 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto hi = static_cast<std::uint8_t>(body[2 * i]);
    const auto lo = static_cast<std::uint8_t>(body[2 * i + 1]);
    samples[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>((hi << 8) | lo));
  }
  // The speaker's language (Content-Language, read from chunk 0): the recogniser to open.
  auto source_lang = lower(content_language.substr(0, content_language.find_first_of(",;-_ ")));
  if (source_lang.empty()) {
    const auto pairs = engine->capabilities().pairs;
    source_lang = pairs.empty() ? "en" : pairs.front().source;
  }
  phrases_.expire();
  auto outcome = phrases_.add_chunk(stream_id, *sequence, static_cast<int>(*chunk), *format, samples,
                                    [&engine, &source_lang] { return engine->begin_phrase(source_lang); });
  if (!outcome.recognition_error.empty()) {
    logging::write(spdlog::level::warn, ctx, "streaming recognition failed: the phrase is recognised once it ends",
                   {{"error", outcome.recognition_error}});
  }
  nlohmann::json words = nlohmann::json::array();
  for (const auto& word : outcome.heard) {
    words.push_back({{"word", word.word}, {"start_ms", word.start_ms}, {"end_ms", word.end_ms}});
  }
  nlohmann::json reply = {{"stream_id", stream_id},
                          {"sequence", *sequence},
                          {"next_chunk", outcome.expected_chunk},
                          {"received_ms", std::llround(outcome.received_ms)},
                          {"recognising", outcome.recognising},
                          {"words", words}};
  switch (outcome.status) {
    case ChunkStatus::accepted:
      return HandlerReply{200, std::move(reply), {}};
    case ChunkStatus::duplicate:
      reply["duplicate"] = true;  // a retry of a chunk already in: nothing changes
      return HandlerReply{200, std::move(reply), {}};
    case ChunkStatus::out_of_order:
      return reject(409, "out_of_order",
                    "chunk " + std::to_string(*chunk) + " of phrase " + std::to_string(*sequence) + " sent; chunk " +
                        std::to_string(outcome.expected_chunk) +
                        " expected (a phrase starts at chunk 0; one idle too long is forgotten)",
                    ctx);
    case ChunkStatus::too_long:
      return reject(413, "phrase_too_long",
                    "the phrase is dropped: it would exceed " + phrase_limits_text(phrases_.limits()), ctx);
    case ChunkStatus::format_mismatch:
      return reject(409, "format_mismatch", "a phrase's chunks must all have its first chunk's rate and channels", ctx);
    case ChunkStatus::too_many_open: {
      auto rejected = reject(503, "overloaded",
                             std::to_string(phrases_.limits().max_open) +
                                 " phrases are open already: close this one with its audio, or use POST /v1/dub",
                             ctx);
      rejected.headers["Retry-After"] = "1";
      return rejected;
    }
  }
  return reject(500, "internal_error", "unknown chunk outcome", ctx);
}

HandlerReply DubHandler::close_phrase(const std::string& stream_id, const std::string& sequence_text,
                                      std::optional<std::int64_t> chunks, const DubHttpRequest& request) {
  return guarded([&](LogContext& ctx) {
    const auto started = Clock::now();
    if (!is_valid_stream_id(stream_id)) throw Rejection{400, "invalid_stream_id", "not a valid stream id"};
    ctx.stream_id = stream_id;
    const auto sequence = parse_count(sequence_text, std::int64_t{1} << 53);
    if (!sequence) throw Rejection{400, "invalid_sequence", "the phrase's sequence must be a non-negative integer"};
    ctx.seq = *sequence;
    if (request.content_type.rfind("multipart/form-data", 0) != 0) {
      throw Rejection{415, "unsupported_media_type",
                      "Content-Type must be multipart/form-data, got '" + request.content_type + "'"};
    }
    const FormPart& metadata_part = *find_part(request, "metadata");
    require_part_type(metadata_part, {"application/json", "text/plain"});
    const FormPart* audio_part = nullptr;
    for (const auto& part : request.parts) {
      if (part.name != "audio") continue;
      if (audio_part != nullptr) throw Rejection{400, "duplicate_part", "part 'audio' appears more than once"};
      audio_part = &part;
    }
    DubRequestMetadata metadata;
    try {
      metadata = parse_request_metadata(metadata_part.data);
    } catch (const ProtocolError& e) {
      throw Rejection{400, "invalid_metadata", e.what()};
    }
    if (metadata.stream_id != stream_id || metadata.sequence != *sequence) {
      throw Rejection{400, "path_mismatch",
                      "metadata names stream '" + metadata.stream_id + "' sequence " + std::to_string(metadata.sequence) +
                          ", the path stream '" + stream_id + "' phrase " + std::to_string(*sequence)};
    }
    engine_for(metadata);
    auto closed = phrases_.take(stream_id, *sequence);
    AudioBuffer input;
    std::unique_ptr<PhraseRecognition> recognition;
    if (audio_part != nullptr) {
      // The client sent the audio again (it could not stream all of it): that is the phrase;
      // what was recognised while it arrived is used when it covers it.
      require_part_type(*audio_part, {"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "application/octet-stream"});
      try {
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(audio_part->data.data());
        input = decode_wav({bytes, audio_part->data.size()});
      } catch (const WavError& e) {
        throw Rejection{400, "invalid_audio", e.what()};
      }
      if (closed && closed->audio.format.sample_rate == input.format.sample_rate &&
          closed->audio.frames() >= input.frames()) {
        recognition = std::move(closed->recognition);
      }
    } else {
      if (!closed) {
        throw Rejection{404, "unknown_phrase",
                        "no open phrase " + std::to_string(*sequence) + " of stream '" + stream_id +
                            "' (never opened, already closed, or forgotten: " + phrase_limits_text(phrases_.limits()) +
                            "); close it with its audio, or use POST /v1/dub"};
      }
      if (chunks && closed->chunks != *chunks) {
        throw Rejection{409, "incomplete_phrase",
                        "the phrase was closed after " + std::to_string(*chunks) + " chunks, " +
                            std::to_string(closed->chunks) + " arrived; it is dropped: close it with its audio"};
      }
      input = std::move(closed->audio);
      recognition = std::move(closed->recognition);
      // Audio streamed past the fragment's end belongs to the next phrase.
      const auto frames = frames_for_duration(metadata.duration_ms, input.format.sample_rate);
      if (input.frames() > frames) input.samples.resize(static_cast<std::size_t>(frames * input.format.channels));
    }
    return run(std::move(metadata), std::move(input), true, std::move(recognition), started, request.arrived, ctx);
  });
}

HandlerReply DubHandler::abandon_phrase(const std::string& stream_id, const std::string& sequence_text) {
  if (!is_valid_stream_id(stream_id)) return reject(400, "invalid_stream_id", "not a valid stream id");
  const auto sequence = parse_count(sequence_text, std::int64_t{1} << 53);
  if (!sequence) return reject(400, "invalid_sequence", "the phrase's sequence must be a non-negative integer");
  if (!phrases_.abandon(stream_id, *sequence)) {
    return HandlerReply{404, error_body("unknown_phrase", "no open phrase " + std::to_string(*sequence) +
                                                              " of stream '" + stream_id + "'"),
                        {}};
  }
  return HandlerReply{204, nullptr, {}};
}

}  // namespace livedub::sts
