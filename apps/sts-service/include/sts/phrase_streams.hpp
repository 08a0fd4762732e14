#pragma once
// Phrases whose audio is still arriving (the streaming form of the API): each is a stream id
// and fragment sequence, its chunks numbered from 0, appended in order, fed to the engine's
// recogniser as they come (PhraseRecognition, when it has one), and taken whole by the closing
// request. Bookkeeping and limits only; time is passed in. A phrase no request touched for
// `idle_timeout` (its client went away) is forgotten, and the number of open phrases and the
// audio each may hold are bounded, so memory stays flat whatever clients do.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "livedub/audio.hpp"
#include "sts/engine.hpp"

namespace livedub::sts {

struct PhraseLimits {
  std::size_t max_open = 256;                   // across all streams
  double max_phrase_ms = kMaxDurationMs;        // audio one phrase may hold
  std::chrono::milliseconds idle_timeout{30'000};  // no chunk and no close for this long: dropped
};

enum class ChunkStatus {
  accepted,
  duplicate,        // chunk n arrived before (a retry): ignored, answered like the first time
  out_of_order,     // a chunk is missing before n: refused, expected_chunk says which
  too_long,         // the phrase would exceed max_phrase_ms: refused, the phrase dropped
  format_mismatch,  // another sample rate or channel count than the phrase's first chunk
  too_many_open,    // max_open phrases are open already
};
const char* to_string(ChunkStatus status);

struct ChunkOutcome {
  ChunkStatus status = ChunkStatus::accepted;
  int expected_chunk = 0;          // the next chunk number the phrase wants
  double received_ms = 0;          // audio the phrase holds
  bool recognising = false;        // the engine decodes it as it arrives
  std::vector<HeardWord> heard;    // the recogniser's words so far (accepted and duplicate)
  std::string recognition_error;   // the recogniser failed on this chunk: the close recognises whole
};

// What the closing request takes.
struct ClosedPhrase {
  AudioBuffer audio;  // every chunk, in order
  int chunks = 0;
  std::unique_ptr<PhraseRecognition> recognition;  // null: recognise `audio` whole
};

class PhraseStreams {
 public:
  using Clock = std::chrono::steady_clock;
  // Opens a phrase's recognition in its first chunk: the engine's begin_phrase, or null.
  using RecognitionFactory = std::function<std::unique_ptr<PhraseRecognition>()>;

  explicit PhraseStreams(PhraseLimits limits = {});

  // Chunk `n` of phrase (stream_id, sequence): mono or interleaved samples at `format`. The
  // recogniser, if any, is fed outside the store's lock (phrases decode in parallel).
  ChunkOutcome add_chunk(const std::string& stream_id, std::int64_t sequence, int n, AudioFormat format,
                         std::span<const std::int16_t> samples, const RecognitionFactory& open_recognition,
                         Clock::time_point now = Clock::now());
  // Removes and returns the phrase; nullopt when it is unknown (never opened, closed, expired).
  std::optional<ClosedPhrase> take(const std::string& stream_id, std::int64_t sequence,
                                   Clock::time_point now = Clock::now());
  // The client gave the phrase up (DELETE): true when it was open.
  bool abandon(const std::string& stream_id, std::int64_t sequence);
  // Drops phrases idle past the timeout; returns how many.
  std::size_t expire(Clock::time_point now = Clock::now());
  std::size_t open_count();
  const PhraseLimits& limits() const { return limits_; }

 private:
  struct Phrase {
    std::mutex mutex;  // held while a chunk is appended and fed
    AudioBuffer audio;
    int chunks = 0;
    std::unique_ptr<PhraseRecognition> recognition;
    std::vector<HeardWord> heard;
    Clock::time_point last_seen;
    bool gone = false;  // taken, abandoned or expired while a chunk was being fed
  };
  using Key = std::pair<std::string, std::int64_t>;

  PhraseLimits limits_;
  std::mutex mutex_;
  std::map<Key, std::shared_ptr<Phrase>> phrases_;
};

}  // namespace livedub::sts
