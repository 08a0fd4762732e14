#include "debug_artifacts.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "livedub/files.hpp"
#include "livedub/stream_id.hpp"
#include "livedub/wav.hpp"

namespace livedub::worker {
namespace fs = std::filesystem;

DebugArtifacts::DebugArtifacts(const fs::path& root, const std::string& stream_id, std::uint64_t max_bytes, LogContext log)
    : max_bytes_(max_bytes), log_(std::move(log)) {
  if (!is_valid_stream_id(stream_id)) throw std::invalid_argument("invalid stream id for debug artifacts");
  dir_ = root / stream_id;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    log_warn(log_, "debug artifacts: cannot create {}: {}", dir_.string(), ec.message());
    return;
  }
  // Files from an earlier run of the same stream count against the cap too (oldest first by
  // name: <seq>-..., zero-padded, so a restart's seq 0 sorts before them; they go first).
  std::vector<Written> existing;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.is_regular_file(ec)) existing.push_back({-1, entry.path(), static_cast<std::uint64_t>(entry.file_size(ec))});
  }
  std::sort(existing.begin(), existing.end(), [](const Written& a, const Written& b) { return a.path < b.path; });
  for (auto& w : existing) {
    bytes_ += w.size;
    files_.push_back(std::move(w));
  }
  enforce_cap();
}

void DebugArtifacts::write(const FragmentArtifacts& f) {
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "%010lld", static_cast<long long>(f.seq));
  auto put = [&](const std::string& suffix, const std::string& bytes) {
    const auto path = dir_ / (std::string(prefix) + "-" + suffix);
    // Whole or not at all: a full disk leaves no truncated WAV behind, outside the cap's count.
    std::string error;
    if (!write_file_atomically(path.string(), bytes, &error)) {
      ++failures_;
      log_warn(log_.with_seq(f.seq), "debug artifacts: {} ({} failed writes)", error, failures_);
      return;
    }
    files_.push_back({f.seq, path, bytes.size()});
    bytes_ += bytes.size();
  };
  auto wav = [](const AudioBuffer& a) {
    const auto bytes = encode_wav(a);
    return std::string(bytes.begin(), bytes.end());
  };
  if (f.input) put("input.wav", wav(*f.input));
  if (f.bed) put("bed.wav", wav(*f.bed));
  if (f.voice) put("voice.wav", wav(*f.voice));
  if (f.output) put("output.wav", wav(*f.output));
  put("sts.json", f.metadata_json + "\n");
  enforce_cap();
}

void DebugArtifacts::enforce_cap() {
  while (bytes_ > max_bytes_ && !files_.empty()) {
    std::error_code ec;
    fs::remove(files_.front().path, ec);
    bytes_ -= files_.front().size;
    files_.pop_front();
  }
}

}  // namespace livedub::worker
