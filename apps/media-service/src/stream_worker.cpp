#include "stream_worker.hpp"

#include <gst/app/gstappsrc.h>

#include <cstdio>
#include <fstream>

#include "fragment_captions.hpp"
#include "livedub/captions.hpp"
#include "livedub/http_client.hpp"
#include "livedub/secrets.hpp"
#include "livedub/worker_protocol.hpp"
#include "sts_client.hpp"

namespace livedub::worker {

namespace {
// Without audio the timeline still has to move on (video-only inputs, or audio stalls):
// once video is this far ahead of the last audio, the missing audio becomes silence.
constexpr std::int64_t kAudioStallNs = 1'000'000'000;
constexpr auto kLateVideoThreshold = std::chrono::milliseconds(100);
// Inputs that deliver faster than real time (files, catch-up bursts) are held back to this
// lead beyond what re-anchoring may absorb, so the delay line stays bounded in memory and a
// file plays like a live stream.
constexpr auto kMaxInputLead = std::chrono::milliseconds(500);

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& r, const std::string& name,
                                                         const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}
std::string join_urls(const std::vector<std::string>& urls) {
  std::string out;
  for (const auto& url : urls) {
    if (!out.empty()) out += ',';
    out += redact_url(url);
  }
  return out;
}

}  // namespace

StreamWorker::StreamWorker(WorkerConfig config, prometheus::Registry& registry)
    : config_(std::move(config)),
      log_{config_.stream_id, std::nullopt},
      // Stereo end to end: a stereo bed stays stereo, a mono input becomes dual mono.
      format_{config_.sample_rate, 2},
      metrics_{
          counter_family(registry, "livedub_worker_fragments_total",
                         "Audio fragments output, by outcome (dubbed or which fallback)"),
          prometheus::BuildHistogram()
              .Name("livedub_worker_sts_request_seconds")
              .Help("Round trip of STS requests")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10}),
          prometheus::BuildGauge().Name("livedub_worker_sts_in_flight").Help("Open STS requests").Register(registry).Add({}),
          prometheus::BuildGauge().Name("livedub_worker_output_delay_seconds").Help("Constant output delay").Register(registry).Add({}),
          counter_family(registry, "livedub_worker_video_frames_total", "Video access units output").Add({}),
          counter_family(registry, "livedub_worker_late_video_frames_total",
                         "Video access units output more than 100 ms after their due time")
              .Add({}),
          counter_family(registry, "livedub_worker_output_reconnects_total", "RTMP output reconnects").Add({}),
          prometheus::BuildGauge()
              .Name("livedub_worker_sts_endpoint_up")
              .Help("1 while an STS endpoint takes fragments, 0 while it is out of service")
              .Register(registry),
          counter_family(registry, "livedub_worker_language_fallbacks_total",
                         "Fragments with speech that an output language played as the original audio, by language"),
          counter_family(registry, "livedub_worker_file_write_failures_total",
                         "Failed writes of the caption journal, the status file or debug artifacts (disk full, permission lost), by file"),
          counter_family(registry, "livedub_worker_input_discontinuities_total",
                         "Jumps in the input's timestamps that the worker repaired").Add({})},
      clock_(config_.output_delay),
      detector_(make_voice_detector(config_.vad, config_.vad_model, config_.vad_stride, config_.segmenter.offset_threshold)),
      cutter_(format_, detector_ ? detector_block_frames(config_.sample_rate)
                                 : ns_to_samples(std::chrono::nanoseconds(config_.fragment).count(), config_.sample_rate)),
      scheduler_(config_.max_in_flight),
      sts_endpoints_(config_.sts_urls, config_.sts_eject_after_failures) {
  remover_ = make_voice_remover(config_.mix.mode, format_, config_.separator_model, config_.separator_rate);
  if (config_.debug_artifacts) {
    debug_.emplace(config_.debug_dir, config_.stream_id, config_.debug_max_bytes, log_);
    log_info(log_, "debug artifacts on: {} (at most {} MB)", debug_->directory().string(), config_.debug_max_bytes >> 20);
  }
  if (detector_) {
    analyzer_.emplace(*detector_, format_);
    segmenter_.emplace(config_.segmenter, format_, detector_block_frames(config_.sample_rate));
    if (config_.sts_streaming) {
      streamer_.emplace(ns_to_samples(std::chrono::nanoseconds(kStreamChunk).count(), config_.sample_rate));
    }
  }
  metrics_.delay_seconds.Set(std::chrono::duration<double>(config_.output_delay).count());
  speaker_clip_ = SpeakerClip(SpeakerClipOptions{.target_s = config_.voice_clone_seconds});
  for (const auto& url : config_.sts_urls) metrics_.sts_endpoint_up.Add({{"endpoint", redact_url(url)}}).Set(1);
  for (const auto& lang : config_.target_langs) {
    auto output = std::make_unique<Output>();
    output->lang = lang;
    metrics_.language_fallbacks.Add({{"lang", lang}});
    outputs_.push_back(std::move(output));
  }
  if (config_.captions_file) {
    // A restarted worker continues its predecessor's timeline, and so its captions.
    std::string error;
    if (!captions_journal_.open(*config_.captions_file, config_.output_timestamp_offset_ms > 0, &error)) {
      log_warn(log_, "cannot write captions: {}; captions are off", error);
    }
  }
}

StreamWorker::~StreamWorker() {
  request_stop();
  for (auto& t : dispatchers_) {
    if (t.joinable()) t.join();
  }
  if (sts_health_.joinable()) sts_health_.join();
  if (stream_thread_.joinable()) stream_thread_.join();
  ingest_.reset();
  outputs_.clear();
}

nlohmann::json StreamWorker::health() const {
  std::lock_guard lock(mutex_);
  nlohmann::json body = {{"stream_id", config_.stream_id},
          {"state", state_},
          {"fragments_output", fragments_done_},
          {"fragments_fallback", fragments_fallback_},
          {"sts_in_flight", scheduler_.in_flight()},
          {"sts_endpoints_in_service", sts_endpoints_.healthy_count()},
          {"sts_endpoints", sts_endpoints_.size()},
          {"output_delay_ms", config_.output_delay.count()},
          {"vad", detector_ ? detector_->name() : "off"},
          {"bed", to_string(config_.mix.mode)},
          {"voice_clone", !config_.voice_clone                                ? "off"
                          : speaker_state_ == SpeakerState::sent              ? "sent"
                          : speaker_state_ == SpeakerState::refused           ? "refused by the STS"
                          : speaker_state_ == SpeakerState::sending           ? "sending"
                                                                              : "collecting"},
          {"speaker_clip_s", speaker_clip_.seconds()},
          {"source_lang", config_.source_lang},
          {"write_failures",
           {{"captions", caption_write_failures_.load()}, {"status", status_write_failures_.load()}, {"debug", debug_write_failures_.load()}}}};
  // Where the output is now, on the captions' timeline: what a viewer sees is the cue around it.
  if (output_position_ms_) body["output_position_ms"] = *output_position_ms_;
  nlohmann::json outputs = nlohmann::json::array();
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    outputs.push_back({{"lang", outputs_[i]->lang},
                       {"path", "live/" + config_.stream_id + "/" + output_leaf_for_language(outputs_[i]->lang, i == 0)},
                       {"fallbacks", outputs_[i]->fallbacks}});
  }
  body["outputs"] = std::move(outputs);
  // A non-"ok" status makes /healthz answer 503.
  if (sts_unauthorized_) {
    body["status"] = "unhealthy";
    body["problem"] = *sts_unauthorized_;
  } else if (input_unsupported_) {
    body["status"] = "unhealthy";
    body["problem"] = fatal_error_.value_or("unsupported input");
  }
  return body;
}

void StreamWorker::end_input_locked(const char* why) {
  if (input_ended_) return;
  input_ended_ = true;
  state_ = "draining";
  drain_deadline_ = SteadyClock::now() + config_.output_delay + std::chrono::seconds(2);
  std::vector<Fragment> rest;
  if (auto last = cutter_.flush()) rest.push_back(std::move(*last));
  auto fragments = segment_locked(std::move(rest));
  if (segmenter_) {
    for (auto& f : segmenter_->flush()) fragments.push_back(std::move(f));
  }
  submit_locked(std::move(fragments));
  throttle_cv_.notify_all();
  log_info(log_, "{}: draining the last {} ms of output", why, config_.output_delay.count());
}

void StreamWorker::request_stop() {
  {
    std::lock_guard lock(mutex_);
    // The input may have ended on its own just before: that is no reason to cut the drain.
    if (++stop_requests_ > 1) {
      stop_ = true;
    } else {
      end_input_locked("stop requested");
    }
  }
  pace_cv_.notify_all();
  dispatch_cv_.notify_all();
  throttle_cv_.notify_all();
}

void StreamWorker::fail(const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (!fatal_error_) fatal_error_ = message;
  }
  pace_cv_.notify_all();
  throttle_cv_.notify_all();
}

void StreamWorker::anchor_locked(GstClockTime ts) {
  if (clock_.anchored() || !GST_CLOCK_TIME_IS_VALID(ts)) return;
  clock_.anchor(SteadyClock::now(), static_cast<std::int64_t>(ts));
  state_ = "running";
  log_info(log_, "first media received; output runs {} ms behind input", config_.output_delay.count());
}

void StreamWorker::observe_arrival_locked(std::int64_t relative_ns) {
  const auto shift = clock_.observe(SteadyClock::now(), relative_ns);
  if (shift.count() > 0) {
    scheduler_.advance_deadlines(shift);
    pace_cv_.notify_all();  // everything queued is due sooner now, the pacer's front frame too
  }
}

std::vector<Fragment> StreamWorker::segment_locked(std::vector<Fragment> cut) {
  if (!segmenter_) return cut;
  std::vector<Fragment> out;
  for (auto& block : cut) {
    AnalyzedBlock analyzed{std::move(block.audio), {}, block.synthetic_silence};
    if (analyzed.synthetic) {
      analyzer_->reset();  // a gap: the detector's memory of the audio before it is stale
    } else {
      analyzed.info = analyzer_->analyze(analyzed.audio.samples);
    }
    for (auto& fragment : segmenter_->push(std::move(analyzed))) {
      if (streamer_) {
        auto finished = streamer_->finish(fragment);
        if (finished.streamed) {
          if (finished.last) queue_chunk_locked(std::move(*finished.last));
          streamed_[fragment.seq].total = finished.chunks;
        }
      }
      out.push_back(std::move(fragment));
    }
    if (streamer_) {
      if (auto chunk = streamer_->poll(*segmenter_)) queue_chunk_locked(std::move(*chunk));
    }
  }
  return out;
}

void StreamWorker::queue_chunk_locked(PhraseChunk chunk) {
  ++streamed_[chunk.seq].queued;
  chunk_queue_.push_back(std::move(chunk));
  dispatch_cv_.notify_all();
}

void StreamWorker::stream_loop() {
  HttpClient http;  // its own keep-alive connection: chunks never wait behind a dub
  bool warned = false;
  while (true) {
    PhraseChunk chunk;
    std::optional<std::size_t> endpoint;
    {
      std::unique_lock lock(mutex_);
      dispatch_cv_.wait(lock, [&] { return stop_ || !chunk_queue_.empty(); });
      if (stop_) return;
      chunk = std::move(chunk_queue_.front());
      chunk_queue_.pop_front();
      auto& phrase = streamed_[chunk.seq];
      if (phrase.failed) continue;  // an earlier chunk was lost: this phrase goes whole
      if (chunk.n == 0) {
        // The endpoint the close will go to. Not counted in flight: a chunk is short work.
        phrase.endpoint = sts_endpoints_.acquire();
        if (phrase.endpoint) sts_endpoints_.release(*phrase.endpoint, CallOutcome::rejected);
      }
      endpoint = phrase.endpoint;
      if (!endpoint) {
        phrase.failed = true;
        dispatch_cv_.notify_all();
        continue;
      }
    }
    const auto call = send_phrase_chunk(http, sts_endpoints_.url(*endpoint), config_.sts_token, config_.stream_id,
                                        chunk.seq, chunk.n, chunk.audio, config_.source_lang,
                                        std::chrono::milliseconds(2000));
    {
      std::lock_guard lock(mutex_);
      auto& phrase = streamed_[chunk.seq];
      if (call.http_status == 200) {
        ++phrase.sent;
        if (segmenter_) segmenter_->set_word_gaps(chunk.seq, word_gaps(call.words, config_.sample_rate));
        warned = false;
      } else {
        phrase.failed = true;
        // Said once per run of failures: the fragment is still dubbed, with its whole audio.
        if (!warned) {
          log_warn(log_.with_seq(chunk.seq), "phrase not streamed to STS ({}); dubbed from its whole audio instead",
                   call.error);
        }
        warned = true;
      }
    }
    dispatch_cv_.notify_all();
  }
}

std::optional<std::pair<int, std::size_t>> StreamWorker::wait_for_stream(std::int64_t seq, TimePoint deadline) {
  std::unique_lock lock(mutex_);
  auto it = streamed_.find(seq);
  if (it == streamed_.end()) return std::nullopt;
  dispatch_cv_.wait_until(lock, deadline, [&] {
    const auto& phrase = it->second;
    return stop_ || phrase.failed || (phrase.total >= 0 && phrase.sent == phrase.total);
  });
  const auto phrase = it->second;
  streamed_.erase(it);
  // Entries of fragments never dispatched (a blip that was no speech after all) go in time.
  streamed_.erase(streamed_.begin(), streamed_.lower_bound(seq - 64));
  if (!phrase.failed && phrase.total >= 0 && phrase.sent == phrase.total && phrase.endpoint) {
    return std::pair{phrase.total, *phrase.endpoint};
  }
  if (phrase.endpoint && phrase.sent > 0) {
    // Its decoder is freed at once rather than when the service forgets the idle phrase.
    lock.unlock();
    HttpClient http;
    abandon_phrase(http, sts_endpoints_.url(*phrase.endpoint), config_.sts_token, config_.stream_id, seq,
                   std::chrono::milliseconds(500));
  }
  return std::nullopt;
}

void StreamWorker::submit_locked(std::vector<Fragment> fragments) {
  for (auto& fragment : fragments) {
    const auto start_ns = fragment.audio.start_ns();
    auto deadline = clock_.due(start_ns) - config_.output_margin;
    log_debug(log_.with_seq(fragment.seq), "fragment cut: {} ms at {} ms, {} speech span(s){}",
              fragment.audio.duration_ns() / 1'000'000, start_ns / 1'000'000, fragment.speech.size(),
              fragment.synthetic_silence ? " (no input audio: silence)" : "");
    scheduler_.submit(std::move(fragment), deadline);
  }
  if (!fragments.empty()) {
    dispatch_cv_.notify_all();
    pace_cv_.notify_all();
  }
}

void StreamWorker::wait_while_ahead_of_real_time(GstClockTime ts) {
  std::unique_lock lock(mutex_);
  if (!clock_.anchored() || !GST_CLOCK_TIME_IS_VALID(ts)) return;
  const auto real_time = clock_.real_time(clock_.relative_ns(static_cast<std::int64_t>(ts)));
  const auto release_at = real_time - clock_.max_reanchor() - kMaxInputLead;
  throttle_cv_.wait_until(lock, release_at, [this] { return stop_ || input_ended_; });
}

std::int64_t StreamWorker::input_offset(InputTimeline::Kind kind, GstClockTime ts, std::int64_t duration_ns) {
  std::lock_guard lock(mutex_);
  if (!GST_CLOCK_TIME_IS_VALID(ts)) return input_timeline_.offset(kind);
  const auto mapped = input_timeline_.map(kind, static_cast<std::int64_t>(ts), duration_ns);
  if (mapped.jump_ns) {
    metrics_.input_discontinuities.Increment();
    log_warn(log_, "input {} timestamps jumped by {} ms; the output continues from where it was ({} repairs so far)",
             kind == InputTimeline::Kind::audio ? "audio" : "video", *mapped.jump_ns / 1'000'000,
             input_timeline_.discontinuities());
  }
  return mapped.ts_ns - static_cast<std::int64_t>(ts);
}

void StreamWorker::on_video(GstBuffer* buffer, GstCaps* caps) {
  // Repaired first: a jump must not make the input wait for media due in an hour.
  const GstClockTime raw_dts = GST_BUFFER_DTS_IS_VALID(buffer) ? GST_BUFFER_DTS(buffer) : GST_BUFFER_PTS(buffer);
  const auto offset = input_offset(InputTimeline::Kind::video, raw_dts,
                                   GST_BUFFER_DURATION_IS_VALID(buffer) ? static_cast<std::int64_t>(GST_BUFFER_DURATION(buffer)) : 0);
  auto repaired = [offset](GstClockTime t) -> GstClockTime {
    if (!GST_CLOCK_TIME_IS_VALID(t)) return t;
    return static_cast<GstClockTime>(std::max<std::int64_t>(0, static_cast<std::int64_t>(t) + offset));
  };
  wait_while_ahead_of_real_time(repaired(raw_dts));
  std::lock_guard lock(mutex_);
  if (stop_ || input_ended_) return;
  GstClockTime dts = repaired(raw_dts);
  anchor_locked(dts);
  if (!clock_.anchored()) return;
  if (!outputs_.front()->egress->has_video_caps()) {
    for (auto& output : outputs_) output->egress->set_video_caps(caps);
    // Captions ride in SEI NAL units, which needs the AVC NAL length size of the stream.
    const GstStructure* structure = gst_caps_get_structure(caps, 0);
    const GValue* codec_data = structure ? gst_structure_get_value(structure, "codec_data") : nullptr;
    if (config_.rtmp_captions && codec_data && G_VALUE_HOLDS(codec_data, GST_TYPE_BUFFER)) {
      GstBuffer* record = gst_value_get_buffer(codec_data);
      GstMapInfo map;
      if (gst_buffer_map(record, &map, GST_MAP_READ)) {
        nal_length_size_ = avcc_nal_length_size({map.data, map.size}).value_or(0);
        gst_buffer_unmap(record, &map);
      }
    }
    if (config_.rtmp_captions && nal_length_size_ == 0) {
      log_warn(log_, "input H.264 has no AVC configuration record: no CEA-608 captions in the RTMP output");
    }
  }
  GstBuffer* out = gst_buffer_copy(buffer);  // shares the memory; only metadata is copied
  auto shift = [&](GstClockTime t) -> GstClockTime {
    if (!GST_CLOCK_TIME_IS_VALID(t)) return t;
    return static_cast<GstClockTime>(std::max<std::int64_t>(0, clock_.relative_ns(static_cast<std::int64_t>(t))));
  };
  GST_BUFFER_PTS(out) = shift(repaired(GST_BUFFER_PTS(buffer)));
  GST_BUFFER_DTS(out) = shift(repaired(GST_BUFFER_DTS(buffer)));
  const auto relative = static_cast<std::int64_t>(GST_BUFFER_DTS_IS_VALID(out) ? GST_BUFFER_DTS(out) : GST_BUFFER_PTS(out));
  last_video_relative_ns_ = relative;
  observe_arrival_locked(relative);
  video_.push_back(PendingVideo{GstBufferPtr(out), relative});
  submit_locked(segment_locked(cutter_.advance_to(relative - kAudioStallNs)));
  // The pacer sleeps until the front frame is due; a frame queued behind it changes nothing
  // there (a clock shift wakes it in observe_arrival_locked), and waking it for every frame was
  // 30 wake-ups a second for nothing.
  if (video_.size() == 1) pace_cv_.notify_all();
}

void StreamWorker::on_audio(GstClockTime raw_pts, std::span<const std::int16_t> samples) {
  const auto frames = static_cast<std::int64_t>(samples.size()) / std::max(1, format_.channels);
  const auto offset = input_offset(InputTimeline::Kind::audio, raw_pts, frames * 1'000'000'000 / format_.sample_rate);
  const GstClockTime pts = GST_CLOCK_TIME_IS_VALID(raw_pts)
                               ? static_cast<GstClockTime>(std::max<std::int64_t>(0, static_cast<std::int64_t>(raw_pts) + offset))
                               : raw_pts;
  wait_while_ahead_of_real_time(pts);
  std::lock_guard lock(mutex_);
  if (stop_ || input_ended_) return;
  anchor_locked(pts);
  if (!clock_.anchored() || !GST_CLOCK_TIME_IS_VALID(pts)) return;
  const auto relative = clock_.relative_ns(static_cast<std::int64_t>(pts));
  observe_arrival_locked(relative);
  submit_locked(segment_locked(cutter_.push(relative, samples)));
}

void StreamWorker::dispatch_loop() {
  HttpClient http;  // one keep-alive connection per dispatcher
  while (true) {
    std::optional<Dispatch> job;
    {
      std::unique_lock lock(mutex_);
      dispatch_cv_.wait(lock, [&] {
        if (stop_) return true;
        job = scheduler_.take_for_dispatch(SteadyClock::now());
        return job.has_value();
      });
      if (!job) return;
      metrics_.in_flight.Set(static_cast<double>(scheduler_.in_flight()));
    }
    sts::DubRequestMetadata metadata{config_.stream_id,  job->seq,      config_.source_lang,
                                     config_.target_langs.front(), config_.voice,
                                     static_cast<double>(job->audio.duration_ns()) / 1e6};
    // One request for every language: the service recognises the fragment once.
    for (std::size_t i = 1; i < config_.target_langs.size(); ++i) metadata.extra_targets.push_back({config_.target_langs[i], "default"});
    if (detector_) {
      // The phrases and the room after them: the dub starts where the speaker started.
      const double ms_per_frame = 1000.0 / config_.sample_rate;
      for (const auto& span : job->speech) {
        metadata.speech.push_back({static_cast<double>(span.begin) * ms_per_frame, static_cast<double>(span.end) * ms_per_frame});
      }
      metadata.slot_end_ms = metadata.duration_ms;
    }
    StsRequest request{metadata, &job->audio, std::nullopt};
    std::optional<std::size_t> streamed_to;
    if (streamer_) {
      // Its last chunk may still be on the way: the close must come after it.
      if (const auto streamed = wait_for_stream(job->seq, job->deadline)) {
        request.streamed_chunks = streamed->first;
        streamed_to = streamed->second;
      }
    }
    const auto started = SteadyClock::now();
    const auto budget = sts_request_budget(job->deadline, started);
    if (!budget) {
      // Its last streamed audio came after the deadline: no answer could still be played.
      if (streamed_to) {
        abandon_phrase(http, sts_endpoints_.url(*streamed_to), config_.sts_token, config_.stream_id, job->seq,
                       std::chrono::milliseconds(500));
      }
      {
        std::lock_guard lock(mutex_);
        scheduler_.fail(job->seq, FragmentOutcome::fallback_timeout,
                        "deadline passed before the STS request could be sent (its audio came late)");
        metrics_.in_flight.Set(static_cast<double>(scheduler_.in_flight()));
      }
      pace_cv_.notify_all();
      dispatch_cv_.notify_all();
      continue;
    }
    // The service drops the job once this passes: a dub that comes too late is never played.
    request.metadata.deadline_ms = static_cast<double>(budget->count());
    auto result = call_any_endpoint(http, std::move(request), *budget, streamed_to);
    metrics_.sts_seconds.Observe(std::chrono::duration<double>(SteadyClock::now() - started).count());
    std::optional<AudioBuffer> speaker_clip;
    {
      std::lock_guard lock(mutex_);
      if (result.audio && config_.voice_clone && speaker_state_ == SpeakerState::collecting &&
          SteadyClock::now() >= speaker_retry_at_) {
        speaker_clip_.add(job->audio, job->speech);
        if (speaker_clip_.ready()) {
          speaker_state_ = SpeakerState::sending;  // one dispatcher sends it
          speaker_clip = speaker_clip_.clip();
        }
      }
      if (result.audio) {
        DubExtras extras{result.response.transcript, result.response.translation, {}};
        for (auto& extra : result.extra) {
          ExtraTrack track;
          track.dubbed = extra.audio.has_value();
          if (extra.audio) track.audio = std::move(*extra.audio);
          track.voice_span = extra.voice_span;
          track.translation = std::move(extra.translation);
          track.detail = std::move(extra.error);
          extras.extra.push_back(std::move(track));
        }
        scheduler_.complete(job->seq, std::move(*result.audio), result.voice_span,
                            config_.debug_artifacts ? sts::to_json(result.response).dump() : std::string(),
                            std::move(extras));
      } else {
        scheduler_.fail(job->seq, result.timed_out ? FragmentOutcome::fallback_timeout : FragmentOutcome::fallback_error,
                        result.error);
      }
      metrics_.in_flight.Set(static_cast<double>(scheduler_.in_flight()));
    }
    pace_cv_.notify_all();
    dispatch_cv_.notify_all();
    if (speaker_clip) send_speaker_clip(http, *speaker_clip);
  }
}

void StreamWorker::send_speaker_clip(HttpClient& http, const AudioBuffer& clip) {
  // Every endpoint may dub this stream's fragments, so each needs the voice.
  std::vector<std::size_t> accepted;
  std::vector<std::string> failures;
  bool refused = false;
  for (std::size_t i = 0; i < sts_endpoints_.size(); ++i) {
    const auto call = put_speaker_clip(http, sts_endpoints_.url(i), config_.sts_token, config_.stream_id, clip,
                                       std::chrono::seconds(10));
    if (call.http_status == 204) {
      accepted.push_back(i);
    } else if (call.http_status == 409) {
      refused = true;  // that service does not clone voices: its dubs keep their voice
      log_warn(log_, "STS {} does not dub in the speaker's voice (LIVEDUB_STS_VOICE_CLONE is off there): {}",
               redact_url(sts_endpoints_.url(i)), call.error);
    } else {
      failures.push_back(redact_url(sts_endpoints_.url(i)) + ": " + call.error);
    }
  }
  std::lock_guard lock(mutex_);
  speaker_endpoints_.insert(speaker_endpoints_.end(), accepted.begin(), accepted.end());
  if (failures.empty()) {
    speaker_state_ = refused && accepted.empty() ? SpeakerState::refused : SpeakerState::sent;
    if (!accepted.empty()) {
      log_info(log_, "speaker's voice sent to {} STS endpoint(s) ({:.1f} s of clean speech): later dubs speak in it",
               accepted.size(), static_cast<double>(clip.frames()) / clip.format.sample_rate);
    }
    return;
  }
  // Kept, and sent again a little later (the service may be restarting).
  speaker_state_ = SpeakerState::collecting;
  speaker_retry_at_ = SteadyClock::now() + std::chrono::seconds(30);
  log_warn(log_, "speaker's voice not sent ({}); trying again in 30 s", fmt::join(failures, "; "));
}

void StreamWorker::forget_speaker_voice() {
  std::vector<std::size_t> endpoints;
  {
    std::lock_guard lock(mutex_);
    endpoints.swap(speaker_endpoints_);
  }
  if (endpoints.empty()) return;
  HttpClient http;
  std::sort(endpoints.begin(), endpoints.end());
  endpoints.erase(std::unique(endpoints.begin(), endpoints.end()), endpoints.end());
  for (const auto i : endpoints) {
    const auto call = forget_speaker(http, sts_endpoints_.url(i), config_.sts_token, config_.stream_id, std::chrono::seconds(3));
    // Not fatal: the service forgets an unused voice after its session TTL anyway.
    if (call.http_status != 204) log_warn(log_, "speaker's voice not forgotten by {}: {}", redact_url(sts_endpoints_.url(i)), call.error);
  }
  log_info(log_, "stream ended: the speaker's voice forgotten by the STS");
}

StsResult StreamWorker::call_any_endpoint(HttpClient& http, StsRequest request, std::chrono::milliseconds timeout,
                                          std::optional<std::size_t> streamed_to) {
  const auto endpoint = sts_endpoints_.acquire(streamed_to);
  if (endpoint != streamed_to) request.streamed_chunks.reset();  // another endpoint: the whole audio
  if (!endpoint) {
    StsResult none;
    none.error = "no STS endpoint in service (all " + std::to_string(sts_endpoints_.size()) +
                 " out; health checks every " + std::to_string(config_.sts_health_interval.count()) + " ms)";
    return none;
  }
  const auto started = SteadyClock::now();
  auto result = call_sts(http, sts_endpoints_.url(*endpoint), config_.sts_token, request, timeout);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started);
  // Refusals (4xx; 503 busy; 504, the service dropping a job past the deadline we sent) say
  // nothing about the endpoint's health; errors do; a missed deadline only if it was slow.
  const bool refused = result.http_status == 503 || result.http_status == 504 ||
                       (result.http_status >= 400 && result.http_status < 500);
  const auto outcome = result.audio  ? CallOutcome::ok
                       : refused     ? CallOutcome::rejected
                       : result.timed_out ? CallOutcome::deadline_missed
                                          : CallOutcome::failed;
  if (result.http_status == 401 || result.http_status == 403) {
    // Every fragment would fall back until someone fixes the token: unhealthy, said once.
    std::lock_guard lock(mutex_);
    if (!sts_unauthorized_) {
      logging::write(spdlog::level::err, log_.with_seq(request.metadata.sequence),
                     "STS refuses this worker's credential: every fragment falls back to the original audio",
                     {{"event", "sts_unauthorized"}, {"endpoint", redact_url(sts_endpoints_.url(*endpoint))},
                      {"http_status", result.http_status}, {"error", result.error},
                      {"token_set", config_.sts_token.has_value()}});
    }
    sts_unauthorized_ = "STS endpoint " + redact_url(sts_endpoints_.url(*endpoint)) + " answered HTTP " +
                        std::to_string(result.http_status) + ": check LIVEDUB_STS_TOKEN";
  } else if (result.audio) {
    std::lock_guard lock(mutex_);
    if (sts_unauthorized_) log_info(log_, "STS accepts this worker's credential again");
    sts_unauthorized_.reset();
  }
  if (sts_endpoints_.release(*endpoint, outcome, took, timeout)) {
    metrics_.sts_endpoint_up.Add({{"endpoint", redact_url(sts_endpoints_.url(*endpoint))}}).Set(0);
    logging::write(spdlog::level::warn, log_.with_seq(request.metadata.sequence), "STS endpoint taken out of service",
                   {{"event", "sts_endpoint_ejected"},
                    {"endpoint", sts_endpoints_.url(*endpoint)},
                    {"reason", outcome == CallOutcome::deadline_missed ? "slow" : "failures"},
                    {"in_a_row", config_.sts_eject_after_failures},
                    {"error", result.error},
                    {"typical_ms", sts_endpoints_.typical_latency(*endpoint).count()},
                    {"in_service", sts_endpoints_.healthy_count()},
                    {"endpoints", sts_endpoints_.size()}});
  }
  return result;
}

void StreamWorker::sts_health_loop() {
  HttpClient http;
  std::unique_lock lock(mutex_);
  while (!stop_) {
    dispatch_cv_.wait_for(lock, config_.sts_health_interval, [this] { return stop_; });
    if (stop_) return;
    lock.unlock();
    for (auto index : sts_endpoints_.out_of_service()) {
      bool ready = false;
      try {
        ready = http.get(sts_endpoints_.url(index) + "/readyz", std::chrono::milliseconds(1000)).status == 200;
      } catch (const HttpTransportError&) {
      }
      if (sts_endpoints_.health_checked(index, ready)) {
        metrics_.sts_endpoint_up.Add({{"endpoint", redact_url(sts_endpoints_.url(index))}}).Set(1);
        log_info(log_, "STS endpoint {} is ready again: back in service ({} of {})", sts_endpoints_.url(index),
                 sts_endpoints_.healthy_count(), sts_endpoints_.size());
      }
    }
    dispatch_cv_.notify_all();  // fragments waiting for an endpoint may go now
    lock.lock();
  }
}

void StreamWorker::pace_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (stop_ || fatal_error_) return;
    const auto now = SteadyClock::now();
    scheduler_.expire(now);
    auto ready = scheduler_.pop_in_order();
    std::vector<GstBufferPtr> due_video;
    while (!video_.empty() && clock_.due(video_.front().relative_ns) <= now) {
      clock_.lock();
      if (now - clock_.due(video_.front().relative_ns) > kLateVideoThreshold) metrics_.late_video_frames.Increment();
      due_video.push_back(std::move(video_.front().buffer));
      video_.pop_front();
    }
    bool done = input_ended_ && video_.empty() && scheduler_.drained();
    if (input_ended_ && !done && drain_deadline_ && now > *drain_deadline_) {
      log_warn(log_, "drain did not finish in time; dropping {} video frames", video_.size());
      done = true;
    }
    lock.unlock();
    std::vector<std::size_t> language_fallbacks;  // output indexes, one entry per fallback
    for (auto& fragment : ready) {
      auto mixed = mix(fragment);
      for (std::size_t i = 0; i < outputs_.size(); ++i) outputs_[i]->egress->push_audio(mixed[i]);
      caption(fragment);
      metrics_.fragments.Add({{"outcome", to_string(fragment.outcome)}}).Increment();
      auto ctx = log_.with_seq(fragment.seq);
      const bool fell_back =
          fragment.outcome == FragmentOutcome::fallback_error || fragment.outcome == FragmentOutcome::fallback_timeout;
      if (fell_back) {
        log_warn(ctx, "fragment falls back to original audio ({}): {}", to_string(fragment.outcome), fragment.detail);
        for (std::size_t i = 0; i < outputs_.size(); ++i) language_fallbacks.push_back(i);
      } else {
        log_debug(ctx, "fragment output ({})", to_string(fragment.outcome));
      }
      for (std::size_t i = 0; fragment.outcome == FragmentOutcome::dubbed && i < fragment.texts.extra.size(); ++i) {
        const auto& track = fragment.texts.extra[i];
        if (track.dubbed || i + 1 >= outputs_.size()) continue;
        logging::write(spdlog::level::warn, ctx, "one language falls back to the original audio",
                       {{"event", "language_fallback"}, {"lang", outputs_[i + 1]->lang}, {"error", track.detail}});
        language_fallbacks.push_back(i + 1);
      }
    }
    std::optional<std::int64_t> position_ms;
    for (auto& buffer : due_video) {
      if (GST_BUFFER_PTS_IS_VALID(buffer.get())) {
        position_ms = (static_cast<std::int64_t>(GST_BUFFER_PTS(buffer.get())) + outputs_.front()->egress->video_shift_ns()) /
                          1'000'000 + config_.output_timestamp_offset_ms;
      }
      for (auto& output : outputs_) output->egress->push_video(video_for(buffer.get(), *output));
      metrics_.video_frames.Increment();
    }
    if (position_ms) {
      std::lock_guard position_lock(mutex_);
      output_position_ms_ = position_ms;
    }
    if (now - status_written_ >= std::chrono::seconds(1)) {
      status_written_ = now;
      if (config_.status_file) write_status_file();
      // Cues that met a full disk go in as soon as it has room, not only with the next cue.
      if (captions_journal_.queued_bytes() > 0 && captions_journal_.flush()) {
        log_info(log_, "captions written again after a failed write");
      }
    }
    lock.lock();
    for (auto i : language_fallbacks) {
      ++outputs_[i]->fallbacks;
      metrics_.language_fallbacks.Add({{"lang", outputs_[i]->lang}}).Increment();
    }
    for (auto& fragment : ready) {
      ++fragments_done_;
      if (fragment.outcome == FragmentOutcome::fallback_error || fragment.outcome == FragmentOutcome::fallback_timeout) {
        ++fragments_fallback_;
      }
    }
    if (done) return;
    auto wake = now + std::chrono::milliseconds(100);
    if (!video_.empty()) wake = std::min(wake, clock_.due(video_.front().relative_ns));
    if (auto deadline = scheduler_.next_deadline()) wake = std::min(wake, *deadline);
    pace_cv_.wait_until(lock, wake);
  }
}

std::vector<AudioBuffer> StreamWorker::mix(const ResolvedFragment& fragment) {
  const bool dubbed = fragment.outcome == FragmentOutcome::dubbed;
  // Each language's voice, where it has one for this fragment.
  std::vector<LanguageVoice> languages(outputs_.size());
  if (dubbed) {
    languages[0] = {&fragment.audio, fragment.voice_span};
    for (std::size_t i = 0; i < fragment.texts.extra.size() && i + 1 < outputs_.size(); ++i) {
      const auto& track = fragment.texts.extra[i];
      if (track.dubbed) languages[i + 1] = {&track.audio, track.voice_span};
    }
  }
  std::vector<double> gains;
  for (const auto& output : outputs_) gains.push_back(output->bed_gain);
  auto mixed = mix_languages(fragment.original, fragment.speech, languages, gains, remover_.get(), config_.mix);
  std::vector<AudioBuffer> out;
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    outputs_[i]->bed_gain = gains[i];
    if (debug_ && i == 0) {
      nlohmann::json meta = {{"seq", fragment.seq},
                             {"outcome", to_string(fragment.outcome)},
                             {"detail", fragment.detail},
                             {"start_ms", fragment.original.start_ns() / 1'000'000},
                             {"duration_ms", fragment.original.duration_ns() / 1'000'000},
                             {"voice_gain_db", mixed[i].voice_gain_db},
                             {"sts", fragment.sts_metadata.empty() ? nlohmann::json() : nlohmann::json::parse(fragment.sts_metadata, nullptr, false)}};
      for (const auto& s : fragment.speech) meta["speech_frames"].push_back({s.begin, s.end});
      const bool with_bed = config_.mix.mode != BedMode::off;
      const auto failed_before = debug_->failures();
      debug_->write({fragment.seq, &fragment.original, with_bed ? &mixed[i].bed : nullptr, dubbed ? &fragment.audio : nullptr,
                     &mixed[i].audio, meta.dump()});
      if (const auto failed = debug_->failures() - failed_before; failed > 0) {
        debug_write_failures_.fetch_add(static_cast<std::int64_t>(failed));
        metrics_.file_write_failures.Add({{"file", "debug"}}).Increment(static_cast<double>(failed));
      }
    }
    out.push_back(std::move(mixed[i].audio));
  }
  return out;
}

void StreamWorker::caption(const ResolvedFragment& fragment) {
  auto captions = captions_for_fragment(fragment, config_.source_lang, config_.target_langs,
                                        outputs_.front()->egress->video_shift_ns(), config_.output_timestamp_offset_ms);
  for (std::size_t i = 0; i < outputs_.size() && i < captions.rtmp.size(); ++i) {
    if (captions.rtmp[i] && nal_length_size_ != 0) {
      outputs_[i]->captions.add(captions.rtmp[i]->start_ns, captions.rtmp[i]->end_ns, captions.rtmp[i]->text);
    }
  }
  if (!captions_journal_.is_open() || captions.cues.empty()) return;
  std::string lines;
  for (const auto& cue : captions.cues) lines += to_json(cue).dump() + '\n';
  // Whole lines or none; on a full disk they wait (bounded) and go in once space returns.
  std::string error;
  if (captions_journal_.append(lines, &error)) return;
  caption_write_failures_.fetch_add(1);
  metrics_.file_write_failures.Add({{"file", "captions"}}).Increment();
  log_warn(log_, "captions not written: {} ({} bytes waiting, {} cues given up)", error, captions_journal_.queued_bytes(),
           captions_journal_.dropped_lines());
}

GstBuffer* StreamWorker::video_for(GstBuffer* buffer, Output& output) {
  const int nal_length_size = nal_length_size_;
  if (nal_length_size != 0 && GST_BUFFER_PTS_IS_VALID(buffer)) {
    if (auto pair = output.captions.next_pair(static_cast<std::int64_t>(GST_BUFFER_PTS(buffer)))) {
      GstMapInfo map;
      if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
        const auto sei = make_cc_sei_nal(pair);
        auto au = insert_nal_before_first_slice({map.data, map.size}, nal_length_size, sei);
        gst_buffer_unmap(buffer, &map);
        if (au) {
          GstBuffer* out = gst_buffer_new_allocate(nullptr, au->size(), nullptr);
          gst_buffer_fill(out, 0, au->data(), au->size());
          gst_buffer_copy_into(out, buffer, GST_BUFFER_COPY_METADATA, 0, static_cast<gsize>(-1));
          return out;
        }
      }
    }
  }
  return gst_buffer_copy(buffer);  // shares the memory; each output shifts its own timestamps
}

void StreamWorker::write_status_file() {
  // Replaced whole or not at all: a full disk leaves the last good state for /v1/streams.
  std::string error;
  if (write_file_atomically(*config_.status_file, health().dump() + '\n', &error)) return;
  status_write_failures_.fetch_add(1);
  metrics_.file_write_failures.Add({{"file", "status"}}).Increment();
  log_warn(log_, "status not written: {}", error);
}

void StreamWorker::finish_output() {
  for (auto& output : outputs_) output->egress->end_of_stream();
  for (auto& output : outputs_) {
    if (!output->egress->wait_finished(std::chrono::seconds(5))) {
      log_warn(log_, "output {} did not drain within 5 s; closing it as it is", output->lang);
      output->egress->stop();  // its thread must not push into publishers that are ending
    }
  }
  for (auto& output : outputs_) {
    for (auto& p : output->publishers) p->end_of_stream();
  }
  for (auto& output : outputs_) {
    for (auto& p : output->publishers) {
      if (!p->wait_finished(std::chrono::seconds(3))) log_warn(log_, "output {} did not close within 3 s", p->name());
    }
  }
  if (config_.status_file) write_status_file();
}

int StreamWorker::run() {
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    auto& output = *outputs_[i];
    const auto url = i == 0 ? config_.output_url : *output_url_for_language(config_.output_url, output.lang);
    std::string name = "main";
    if (i > 0) name.append("-").append(output.lang);
    output.publishers.push_back(std::make_unique<Publisher>(name, *parse_rtmp_url(url),
                                                            log_, [this] { metrics_.reconnects.Increment(); },
                                                            config_.output_timestamp_offset_ms));
    // The third-party destination gets the first language.
    if (i == 0 && config_.extra_output_url) {
      output.publishers.push_back(std::make_unique<Publisher>("extra", *parse_rtmp_url(*config_.extra_output_url), log_,
                                                              [this] { metrics_.reconnects.Increment(); }));
    }
    output.make_egress(format_, {config_.aac_encoder, config_.audio_bitrate}, [this](const std::string& message) { fail(message); }, log_);
  }
  if (config_.output_timestamp_offset_ms > 0) {
    log_info(log_, "restarted worker: output timestamps continue at +{} ms", config_.output_timestamp_offset_ms);
  }
  ingest_ = std::make_unique<Ingest>(
      config_.input_url, format_,
      Ingest::Callbacks{[this](GstBuffer* b, GstCaps* c) { on_video(b, c); },
                        [this](GstClockTime pts, std::span<const std::int16_t> s) { on_audio(pts, s); },
                        [this] {
                          {
                            std::lock_guard lock(mutex_);
                            end_input_locked("input ended");
                          }
                          pace_cv_.notify_all();
                        },
                        [this](const std::string& message) { fail(message); },
                        [this](const std::string& message) {
                          {
                            std::lock_guard lock(mutex_);
                            input_unsupported_ = true;
                            state_ = "unsupported_input";
                          }
                          fail("unsupported input: " + message);
                        }},
      log_);

  for (auto& output : outputs_) output->egress->start();
  const auto fragments = detector_ ? fmt::format("phrases of {}-{} ms found by {}", config_.segmenter.min_fragment.count(),
                                                  config_.segmenter.max_fragment.count(), detector_->name())
                                   : fmt::format("fixed fragments of {} ms", config_.fragment.count());
  std::string languages;
  for (const auto& lang : config_.target_langs) {
    if (!languages.empty()) languages += ',';
    languages += lang;
  }
  log_info(log_, "pulling {} -> pushing {}{} ({} -> {}); {}, up to {} in flight to {}; bed {}", redact_url(config_.input_url),
           redact_url(config_.output_url), config_.extra_output_url ? " (+ extra destination)" : "", config_.source_lang,
           languages, fragments, config_.max_in_flight, join_urls(config_.sts_urls), to_string(config_.mix.mode));
  ingest_->start();
  for (std::size_t i = 0; i < config_.max_in_flight; ++i) dispatchers_.emplace_back([this] { dispatch_loop(); });
  sts_health_ = std::thread([this] { sts_health_loop(); });
  if (streamer_) stream_thread_ = std::thread([this] { stream_loop(); });

  pace_loop();
  if (segmenter_) {
    std::lock_guard lock(mutex_);
    const auto& cuts = segmenter_->cut_stats();
    log_info(log_, "phrases cut at the maximum fragment length: {} ({} between words the recogniser heard)",
             cuts.at_word_gap + cuts.at_quietest_block, cuts.at_word_gap);
  }

  std::optional<std::string> error;
  bool stopped = false;
  {
    std::lock_guard lock(mutex_);
    error = fatal_error_;
    stopped = stop_;
    stop_ = true;
  }
  dispatch_cv_.notify_all();
  throttle_cv_.notify_all();
  for (auto& t : dispatchers_) t.join();
  dispatchers_.clear();
  if (sts_health_.joinable()) sts_health_.join();
  if (stream_thread_.joinable()) stream_thread_.join();
  forget_speaker_voice();
  ingest_->stop();
  if (error) {
    log_error(log_, "stopping: {}", *error);
    bool unsupported = false;
    {
      std::lock_guard lock(mutex_);
      unsupported = input_unsupported_;
    }
    if (unsupported) {
      // The orchestrator shows this line in /v1/streams and does not restart us.
      if (config_.exit_reason_file) std::ofstream(*config_.exit_reason_file, std::ios::trunc) << *error << "\n";
      return kWorkerExitUnsupportedInput;
    }
    return 1;
  }
  finish_output();
  log_info(log_, "{}", stopped ? "stopped on request" : "input ended; output drained");
  return 0;
}

}  // namespace livedub::worker
