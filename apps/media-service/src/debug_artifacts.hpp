#pragma once
// Per-fragment debug artifacts (LIVEDUB_DEBUG_ARTIFACTS=1): the fragment's input, the bed, the
// dubbed voice and the mixed output as WAV, plus the STS metadata as JSON, in
// <dir>/<stream_id>/<seq>-*.{wav,json}. The directory is capped (LIVEDUB_DEBUG_MAX_MB): the
// oldest fragments' files go first. Paths are built only from a validated stream id and
// numbers. Errors are logged, never thrown: debugging must not stop the stream.
#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>

#include "livedub/audio.hpp"
#include "livedub/logging.hpp"

namespace livedub::worker {

struct FragmentArtifacts {
  std::int64_t seq = 0;
  const AudioBuffer* input = nullptr;
  const AudioBuffer* bed = nullptr;    // null when the mix had none (bed off)
  const AudioBuffer* voice = nullptr;  // null when not dubbed
  const AudioBuffer* output = nullptr;
  std::string metadata_json;           // STS response metadata, outcome, spans
};

class DebugArtifacts {
 public:
  // Throws std::invalid_argument for an invalid stream id (never reaches a path).
  DebugArtifacts(const std::filesystem::path& root, const std::string& stream_id, std::uint64_t max_bytes, LogContext log);
  void write(const FragmentArtifacts& fragment);
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t failures() const { return failures_; }  // files that could not be written
  const std::filesystem::path& directory() const { return dir_; }

 private:
  void enforce_cap();

  std::filesystem::path dir_;
  std::uint64_t max_bytes_;
  LogContext log_;
  struct Written {
    std::int64_t seq;
    std::filesystem::path path;
    std::uint64_t size;
  };
  std::deque<Written> files_;  // oldest first
  std::uint64_t bytes_ = 0;
  std::uint64_t failures_ = 0;
};

}  // namespace livedub::worker
