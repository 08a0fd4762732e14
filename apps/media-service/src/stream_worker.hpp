#pragma once
// The stream worker: ingest -> fragments -> STS (bounded in flight) -> in-order remix ->
// egress, with one constant delay for video and audio alike.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "cea608.hpp"
#include "debug_artifacts.hpp"
#include "dub_mixer.hpp"
#include "egress.hpp"
#include "fragment_cutter.hpp"
#include "fragment_scheduler.hpp"
#include "livedub/files.hpp"
#include "gst_util.hpp"
#include "ingest.hpp"
#include "input_timeline.hpp"
#include "output_clock.hpp"
#include "phrase_streamer.hpp"
#include "publisher.hpp"
#include "speaker_clip.hpp"
#include "speech_segmenter.hpp"
#include "sts_client.hpp"
#include "sts_endpoints.hpp"
#include "voice_detector.hpp"
#include "worker_config.hpp"
#include "worker_output.hpp"

namespace livedub::worker {

class StreamWorker {
 public:
  StreamWorker(WorkerConfig config, prometheus::Registry& registry);
  ~StreamWorker();

  // Runs until the input ends (returns 0), a fatal error (returns 1) or request_stop() (0).
  int run();
  // First call: stop taking input and drain what is buffered (at most the output delay plus
  // a little), so a stream that ends is not cut short by its own delay. Second call: stop now.
  void request_stop();
  nlohmann::json health() const;

 private:
  struct PendingVideo {
    GstBufferPtr buffer;
    std::int64_t relative_ns;  // due time = clock_.due(relative_ns)
  };
  using Output = WorkerOutput;  // one per target language
  struct Metrics {
    prometheus::Family<prometheus::Counter>& fragments;
    prometheus::Histogram& sts_seconds;
    prometheus::Gauge& in_flight;
    prometheus::Gauge& delay_seconds;
    prometheus::Counter& video_frames;
    prometheus::Counter& late_video_frames;
    prometheus::Counter& reconnects;
    prometheus::Family<prometheus::Gauge>& sts_endpoint_up;
    prometheus::Family<prometheus::Counter>& language_fallbacks;
    prometheus::Family<prometheus::Counter>& file_write_failures;
    prometheus::Counter& input_discontinuities;
  };

  void end_input_locked(const char* why);
  // What to add to this input buffer's timestamps (InputTimeline); logs and counts a jump.
  std::int64_t input_offset(InputTimeline::Kind kind, GstClockTime ts, std::int64_t duration_ns);
  void on_video(GstBuffer* buffer, GstCaps* caps);
  void on_audio(GstClockTime pts, std::span<const std::int16_t> samples);
  void submit_locked(std::vector<Fragment> fragments);
  // Cutter output -> fragments: as they are (no VAD), or blocks classified and segmented.
  std::vector<Fragment> segment_locked(std::vector<Fragment> cut);
  // The fragment's output audio for each language, in outputs_ order.
  std::vector<AudioBuffer> mix(const ResolvedFragment& fragment);
  // Caption cues of a fragment: to the journal (LIVEDUB_CAPTIONS_FILE) and each output's
  // CEA-608 encoder. Pacer thread.
  void caption(const ResolvedFragment& fragment);
  // A copy of `buffer` for `output`, with a caption SEI when the encoder has bytes to send.
  GstBuffer* video_for(GstBuffer* buffer, Output& output);
  void write_status_file();
  void anchor_locked(GstClockTime ts);
  void wait_while_ahead_of_real_time(GstClockTime ts);
  void observe_arrival_locked(std::int64_t relative_ns);
  void fail(const std::string& message);
  void dispatch_loop();
  // `streamed_to`: the endpoint the fragment was streamed to (request.streamed_chunks set);
  // when it is out of service the request goes elsewhere with the whole audio.
  StsResult call_any_endpoint(HttpClient& http, StsRequest request, std::chrono::milliseconds timeout,
                              std::optional<std::size_t> streamed_to = std::nullopt);
  // The voice-preserving dub: the gathered clip to every STS endpoint, once; at the end the
  // endpoints that took it are told the stream ended.
  void send_speaker_clip(HttpClient& http, const AudioBuffer& clip);
  void forget_speaker_voice();
  void sts_health_loop();
  void pace_loop();
  void finish_output();

  WorkerConfig config_;
  LogContext log_;
  AudioFormat format_;
  Metrics metrics_;

  mutable std::mutex mutex_;
  std::condition_variable pace_cv_;      // pacer: new media, results, stop
  std::condition_variable dispatch_cv_;  // dispatchers: new fragments, slots, stop
  std::condition_variable throttle_cv_;  // input threads held back: stop
  OutputClock clock_;
  std::unique_ptr<VoiceDetector> detector_;  // null: fixed-length fragments
  std::optional<BlockAnalyzer> analyzer_;
  std::optional<SpeechSegmenter> segmenter_;
  FragmentCutter cutter_;  // fixed-length fragments, or the detector's blocks
  FragmentScheduler scheduler_;
  std::optional<DebugArtifacts> debug_;  // pacer thread only
  std::unique_ptr<BedVoiceRemover> remover_;  // pacer thread only; reduce/separator
  StsEndpointPool sts_endpoints_;
  std::deque<PendingVideo> video_;
  bool input_ended_ = false;
  std::optional<TimePoint> drain_deadline_;
  int stop_requests_ = 0;
  bool stop_ = false;
  std::optional<std::string> fatal_error_;
  bool input_unsupported_ = false;
  std::optional<std::string> sts_unauthorized_;  // the last 401/403 from STS, until a dub succeeds  // fatal_error_ says why; run() exits kWorkerExitUnsupportedInput
  // The voice-preserving dub (config_.voice_clone): the clip being gathered, and where it went.
  enum class SpeakerState { collecting, sending, sent, refused };
  SpeakerClip speaker_clip_;                       // mutex_
  SpeakerState speaker_state_ = SpeakerState::collecting;  // mutex_
  TimePoint speaker_retry_at_{};                   // mutex_: after a failed send
  std::vector<std::size_t> speaker_endpoints_;     // mutex_: the endpoints holding the voice
  std::int64_t last_video_relative_ns_ = 0;
  std::optional<std::int64_t> output_position_ms_;  // the output timeline (captions' clock) at the last video frame out
  std::int64_t fragments_done_ = 0;
  std::int64_t fragments_fallback_ = 0;
  std::string state_ = "waiting_for_input";

  std::vector<std::unique_ptr<Output>> outputs_;  // [0]: the first target language
  // From the H.264 caps (input thread), read by the pacer: 0 until known, and when no caption SEI.
  std::atomic<int> nal_length_size_{0};
  InputTimeline input_timeline_;        // mutex_
  LineJournal captions_journal_;        // pacer thread only
  TimePoint status_written_{};          // pacer thread only
  // Failed writes (disk full, permission lost), reported in health() and the status file.
  std::atomic<std::int64_t> caption_write_failures_{0};
  std::atomic<std::int64_t> status_write_failures_{0};
  std::atomic<std::int64_t> debug_write_failures_{0};
  std::unique_ptr<Ingest> ingest_;
  std::vector<std::thread> dispatchers_;
  std::thread sts_health_;
  // The streaming form (config_.sts_streaming): the phrase being spoken goes to STS in chunks,
  // sent in order by one thread; a dispatcher closes a streamed fragment once its chunks are in.
  struct StreamedPhrase {
    std::optional<std::size_t> endpoint;  // where chunk 0 went; the close goes there too
    int queued = 0;                       // chunks handed to the stream thread
    int sent = 0;                         // chunks the STS accepted
    int total = -1;                       // known once the fragment is out
    bool failed = false;                  // a chunk was refused or lost: dub with the whole audio
  };
  std::optional<PhraseStreamer> streamer_;            // mutex_
  std::map<std::int64_t, StreamedPhrase> streamed_;   // mutex_
  std::deque<PhraseChunk> chunk_queue_;               // mutex_
  std::thread stream_thread_;
  void queue_chunk_locked(PhraseChunk chunk);
  void stream_loop();
  // Waits until fragment `seq`'s chunks are all in (or one failed, or `deadline`); returns the
  // close to send (chunks and endpoint), or nullopt to send the whole audio.
  std::optional<std::pair<int, std::size_t>> wait_for_stream(std::int64_t seq, TimePoint deadline);
};

}  // namespace livedub::worker
