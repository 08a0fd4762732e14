#pragma once
// The ASR stage's interface: pocketsphinx (CPU, English) and whisper.cpp (GPU or CPU,
// multilingual) are interchangeable behind it. One recognizer serves one call at a time; an
// engine keeps one per worker thread.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "livedub/audio.hpp"

namespace livedub::sts {

struct RecognitionRequest {
  std::string language;             // the speaker's language (ISO 639-1, "en")
  std::string previous_transcript;  // the stream's previous fragment, as context; may be empty
  // Terms to expect (the glossary's names and brands). whisper reads them in its prompt;
  // pocketsphinx cannot use them (its dictionary needs pronunciations) and ignores them.
  std::vector<std::string> hints;
  // Past this nobody waits for the transcript: an engine that can stop mid-decode (whisper's
  // abort callback) throws DeadlineExpired.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct TranscriptSegment {
  std::int64_t start_ms = 0;  // within the fragment, 0 <= start_ms <= end_ms <= its duration
  std::int64_t end_ms = 0;
  std::string text;
};

struct Transcript {
  std::string text;  // the whole fragment; empty for silence or noise
  std::vector<TranscriptSegment> segments;
};

class SpeechRecognizer {
 public:
  virtual ~SpeechRecognizer() = default;
  // Any sample rate and channel count. Throws AsrError when the engine fails.
  virtual Transcript recognize(const AudioBuffer& audio, const RecognitionRequest& request) = 0;
};

// `text` with every byte that is not part of a well-formed UTF-8 sequence removed. Byte-level
// tokenizers (whisper) can emit half a character at a segment edge; JSON needs valid UTF-8.
std::string drop_invalid_utf8(std::string_view text);

}  // namespace livedub::sts
