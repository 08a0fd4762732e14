#pragma once
// Files that must survive a full disk: the caption journal and the worker's status file. A
// failed write is reported (false, a count) and never leaves half a record behind; the next
// write retries once space returns.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace livedub {

// The whole of a file, as bytes; nullopt when it is missing or cannot be read (callers name the
// file in their own error).
std::optional<std::string> read_whole_file(const std::filesystem::path& path);

// Writes `contents` to `path` through `path`.tmp and a rename: readers see the old file or the
// new one, never an empty or partial one. Returns false (tmp removed, `error` set) on failure.
bool write_file_atomically(const std::string& path, std::string_view contents, std::string* error = nullptr);

// An append-only file of complete lines. Each append() writes whole lines or, on a failure,
// truncates back to the last complete line and keeps them queued (up to `max_queued_bytes`,
// oldest dropped beyond it and counted) for the next append() or flush().
class LineJournal {
 public:
  LineJournal() = default;
  ~LineJournal();
  LineJournal(const LineJournal&) = delete;
  LineJournal& operator=(const LineJournal&) = delete;

  // Opens (creating) `path`, truncated unless `append`. False and `error` set on failure.
  bool open(const std::string& path, bool append, std::string* error = nullptr,
            std::size_t max_queued_bytes = 4 * 1024 * 1024);
  bool is_open() const { return fd_ >= 0; }
  // `lines`: one or more lines, each ending in '\n'. True when they (and everything queued
  // before them) are in the file.
  bool append(std::string_view lines, std::string* error = nullptr);
  bool flush(std::string* error = nullptr) { return append({}, error); }

  std::size_t failures() const { return failures_; }        // append() calls that failed
  std::size_t queued_bytes() const { return queued_.size(); }
  std::size_t dropped_lines() const { return dropped_lines_; }  // queued lines given up

 private:
  int fd_ = -1;
  std::string queued_;
  std::size_t max_queued_ = 0;
  std::size_t failures_ = 0;
  std::size_t dropped_lines_ = 0;
};

}  // namespace livedub
