#include "phrase_streamer.hpp"

#include <algorithm>
#include <stdexcept>

namespace livedub::worker {

PhraseStreamer::PhraseStreamer(std::int64_t chunk_frames) : chunk_frames_(chunk_frames) {
  if (chunk_frames <= 0) throw std::invalid_argument("chunk_frames must be > 0");
}

std::optional<PhraseChunk> PhraseStreamer::poll(const SpeechSegmenter& segmenter) {
  const auto open = segmenter.open_fragment_seq();
  if (!open) return std::nullopt;
  if (seq_ != open) {
    seq_ = open;
    chunks_ = 0;
    frames_sent_ = 0;
  }
  if (segmenter.held_frames() - frames_sent_ < chunk_frames_) return std::nullopt;
  PhraseChunk chunk{*seq_, chunks_++, segmenter.held_audio(frames_sent_)};
  frames_sent_ += chunk.audio.frames();
  return chunk;
}

FinishedPhrase PhraseStreamer::finish(const Fragment& fragment) {
  FinishedPhrase finished;
  if (seq_ != fragment.seq) return finished;
  if (chunks_ == 0) {  // out before a chunk's worth arrived: dubbed with its whole audio
    seq_.reset();
    return finished;
  }
  finished.streamed = true;
  const auto frames = fragment.audio.frames();
  if (frames > frames_sent_) {
    AudioBuffer rest;
    rest.format = fragment.audio.format;
    rest.start_frame = fragment.audio.start_frame + frames_sent_;
    rest.samples.assign(fragment.audio.samples.begin() + frames_sent_ * fragment.audio.format.channels,
                        fragment.audio.samples.end());
    finished.last = PhraseChunk{fragment.seq, chunks_++, std::move(rest)};
  }
  finished.chunks = chunks_;
  seq_.reset();
  return finished;
}

}  // namespace livedub::worker
