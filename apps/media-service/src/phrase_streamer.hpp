#pragma once
// Decides what of the phrase being spoken goes to STS now (the streaming form of the API):
// once the held fragment has speech, its audio in chunks of at least chunk_frames as it arrives,
// and when the segmenter emits the fragment, whatever of it is still unsent plus the chunk
// count the close names. Audio sent past a fragment's end (the segmenter cut it earlier) is
// the next fragment's start: that one is streamed again from its own first frame. Pure logic.
#include <cstdint>
#include <optional>

#include "fragment_cutter.hpp"
#include "speech_segmenter.hpp"

namespace livedub::worker {

struct PhraseChunk {
  std::int64_t seq = 0;
  int n = 0;  // from 0, in order
  AudioBuffer audio;
};

struct FinishedPhrase {
  bool streamed = false;            // false: never streamed, dub it with the whole audio
  int chunks = 0;                   // chunks of the phrase, `last` included
  std::optional<PhraseChunk> last;  // its unsent end, to send before closing
};

class PhraseStreamer {
 public:
  explicit PhraseStreamer(std::int64_t chunk_frames);

  // After the segmenter took a block (and emitted what it emitted): the next chunk to send,
  // if a chunk's worth of the held phrase is unsent.
  std::optional<PhraseChunk> poll(const SpeechSegmenter& segmenter);
  // The segmenter emitted `fragment` (call before poll for the next block).
  FinishedPhrase finish(const Fragment& fragment);

 private:
  std::int64_t chunk_frames_;
  std::optional<std::int64_t> seq_;  // the fragment being streamed
  int chunks_ = 0;
  std::int64_t frames_sent_ = 0;
};

}  // namespace livedub::worker
