#pragma once
// POST /v1/dub request handling without sockets: takes the already-split multipart parts,
// returns the status and JSON body to send. The HTTP glue (http_routes.hpp) only moves bytes.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "livedub/logging.hpp"
#include "sts/cost_tracker.hpp"
#include "sts/engine.hpp"
#include "sts/multipart.hpp"
#include "sts/phrase_streams.hpp"
#include "sts/service_config.hpp"
#include "sts/session_store.hpp"
#include "sts/voice_bank.hpp"
#include "sts/work_pool.hpp"

namespace livedub::sts {

struct DubHttpRequest {
  std::chrono::steady_clock::time_point arrived;  // the client's deadline_ms counts from here
  std::string content_type;  // of the whole request
  std::vector<FormPart> parts;
};

struct HandlerReply {
  int status = 200;
  nlohmann::json body;  // DubResponse JSON, or {"error": {"code", "message"}}
  std::map<std::string, std::string> headers;  // e.g. Retry-After on 503
};

// A further target language of one request: its wire entry (error_code set when it failed)
// and, on success, the engine's result.
struct ExtraOutcome {
  ExtraDub dub;
  DubResult result;
};
// When a request with further languages answers at the latest: its deadline less a tenth
// of its budget, at most kExtraTargetsAnswerReserve, so that an answer with the first language
// (and the further ones done by then) reaches a client that gives up at the deadline.
inline constexpr std::chrono::milliseconds kExtraTargetsAnswerReserve{200};
std::chrono::steady_clock::time_point extra_targets_answer_by(std::chrono::steady_clock::time_point arrived,
                                                              std::chrono::steady_clock::time_point deadline);

// Dubs one of `metadata.extra_targets` after the first target was recognised as `transcript`:
// MT and TTS, no second recognition. A failure (unsupported pair or voice, engine error,
// deadline) is returned as the outcome's error, never thrown. Runs on the work pool.
// `known_translations` (the first dub's DubResult::extra_translations): a translation made in
// the first dub's batch is used as is.
ExtraOutcome dub_extra_target(DubbingEngine& engine, const DubRequestMetadata& metadata, const DubTarget& target,
                              const AudioBuffer& input, const DubContext& context, const std::string& transcript,
                              const std::map<std::string, std::string>& known_translations = {});

class DubHandler {
 public:
  // Registers the STS metrics in `registry`, which must outlive the handler. Starts
  // config.workers engine threads; requests are refused with 503 not_ready until set_engine().
  DubHandler(ServiceConfig config, prometheus::Registry& registry);
  DubHandler(ServiceConfig config, std::shared_ptr<DubbingEngine> engine, prometheus::Registry& registry);

  // Once the engine has loaded: the service turns ready.
  void set_engine(std::shared_ptr<DubbingEngine> engine);
  // One dub of `engine`'s calibration_speech (into Spanish where it can, else its first pair),
  // timed into the cost "/v1/capabilities" reports, so that the first stream's worker already
  // plans its delay on a measured figure. Returns the ms it took per second of audio, or
  // nothing when the dub failed (logged). Runs on the calling thread.
  std::optional<double> calibrate(DubbingEngine& engine);
  // Before set_engine: calibrate(*engine) on a thread of its own, waiting at most `wait` for
  // it (a slow engine does not hold up the start; its figure arrives when the dub ends). The
  // handler's destruction waits for that dub (the service's drain bounds a stop): left running,
  // it used the engine's libraries while the exiting process destroyed them. It takes no place
  // in the work pool.
  void calibrate_before_ready(std::shared_ptr<DubbingEngine> engine, std::chrono::milliseconds wait);
  bool ready() const { return engine_snapshot() != nullptr; }

  // Thread-safe: called concurrently by the HTTP worker threads. Runs the engine on the work
  // pool and waits at most config.deadline from the call.
  HandlerReply dub(const DubHttpRequest& request);
  // For failures the HTTP layer detects before dub() can run (oversized or malformed body);
  // counted and logged like any other rejection.
  HandlerReply reject(int status, const std::string& code, const std::string& message,
                      const LogContext& ctx = {});
  // GET /v1/capabilities; 503 not_ready while the engine loads. Its "cost" is what recent dubs
  // took per second of audio (CostTracker), from which workers plan their output delay.
  HandlerReply capabilities() const;
  // GET /v1/sessions/{stream_id}: what the stream's recent fragments were dubbed into.
  HandlerReply session(const std::string& stream_id);
  // PUT /v1/streams/{stream_id}/voice: the stream's reference clip (WAV, 1-30 s of the speaker
  // alone); later dubs of the stream speak in that voice where the engine clones voices
  // (LIVEDUB_STS_VOICE_CLONE), else 409 voice_clone_off. The clip itself is not kept.
  HandlerReply put_speaker(const std::string& stream_id, const std::string& content_type, const std::string& body);
  // DELETE /v1/streams/{stream_id}/voice: the stream ended; its voice is forgotten (204, or 404).
  HandlerReply forget_speaker(const std::string& stream_id);

  // The streaming form: a phrase's audio sent while the speaker talks, so that the engine
  // recognises it as it arrives and only the phrase's last moments remain when it ends.
  // POST /v1/streams/{stream_id}/phrases/{sequence}/chunks/{n}: chunk n (from 0, in order) as
  // 'audio/L16; rate=..; channels=..', the speaker's language in Content-Language. Answers the
  // words heard so far; a repeated chunk is answered again (200, "duplicate"), a gap 409
  // out_of_order, a phrase past its limits 413 phrase_too_long.
  HandlerReply phrase_chunk(const std::string& stream_id, const std::string& sequence, const std::string& chunk,
                            const std::string& content_type, const std::string& content_language,
                            const std::string& body);
  // POST /v1/streams/{stream_id}/phrases/{sequence}[?chunks=N]: the phrase ended; the body is
  // POST /v1/dub's multipart, its audio part optional (without it, the chunks are the phrase,
  // and N, when given, must be how many arrived: else 409 incomplete_phrase). Answers the dub.
  HandlerReply close_phrase(const std::string& stream_id, const std::string& sequence,
                            std::optional<std::int64_t> chunks, const DubHttpRequest& request);
  // DELETE /v1/streams/{stream_id}/phrases/{sequence}: the client gave the phrase up (204, 404).
  HandlerReply abandon_phrase(const std::string& stream_id, const std::string& sequence);
  std::size_t open_phrases() { return phrases_.open_count(); }

  std::shared_ptr<DubbingEngine> engine_snapshot() const;
  const ServiceConfig& config() const { return config_; }

 private:
  HandlerReply process(const DubHttpRequest& request, LogContext& ctx);
  // `body`'s reply, or the error reply for what it threw (a rejection, or 500).
  HandlerReply guarded(const std::function<HandlerReply(LogContext&)>& body);
  // The engine, when it can dub `metadata`'s pair and voice; else throws the rejection.
  std::shared_ptr<DubbingEngine> engine_for(const DubRequestMetadata& metadata) const;
  // Dubs `input` (recognised already as it arrived when `recognition` is set) within the
  // request's deadline and answers; `streamed`: a phrase's close (its cost is streamed_cost).
  HandlerReply run(DubRequestMetadata metadata, AudioBuffer input, bool streamed,
                   std::unique_ptr<PhraseRecognition> recognition,
                   std::chrono::steady_clock::time_point started, std::chrono::steady_clock::time_point arrived,
                   LogContext& ctx);
  prometheus::Counter& outcome_counter(const std::string& outcome);
  void update_pool_gauges();

  ServiceConfig config_;
  mutable std::mutex engine_mutex_;
  std::shared_ptr<DubbingEngine> engine_;
  SessionStore sessions_;
  VoiceBank speakers_;
  std::shared_ptr<CostTracker> costs_ = std::make_shared<CostTracker>();  // shared with calibration
  // Phrases closed after streaming: what is left to do once the speaker stops.
  std::shared_ptr<CostTracker> streamed_costs_ = std::make_shared<CostTracker>();
  PhraseStreams phrases_;  // after engine_: its recognisers hand decoders back to the engine
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Histogram& processing_seconds_;
  prometheus::Family<prometheus::Histogram>& stage_seconds_;
  prometheus::Counter& audio_seconds_;
  prometheus::Gauge& queue_depth_;
  prometheus::Gauge& busy_workers_;
  // Mean processing time of recent fragments, for Retry-After.
  std::mutex average_mutex_;
  double average_seconds_ = 1.0;
  WorkPool pool_;  // its threads stop before the members they use are destroyed
  std::jthread calibration_;  // joined first: it holds what it uses
};

}  // namespace livedub::sts
