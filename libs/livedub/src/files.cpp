#include "livedub/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace livedub {

std::optional<std::string> read_whole_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return std::nullopt;  // opens, then reads nothing
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

namespace {

// Writes all of `data`; false with errno set on an error or a short write (disk full).
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {
      errno = ENOSPC;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void set_error(std::string* error, const std::string& what) {
  if (error) *error = what + ": " + std::strerror(errno);
}

}  // namespace

bool write_file_atomically(const std::string& path, std::string_view contents, std::string* error) {
  const auto tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    set_error(error, "cannot create " + tmp);
    return false;
  }
  bool ok = write_all(fd, contents);
  if (!ok) set_error(error, "cannot write " + tmp);
  if (::close(fd) != 0 && ok) {  // NFS and some filesystems report a full disk only here
    ok = false;
    set_error(error, "cannot write " + tmp);
  }
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    set_error(error, "cannot replace " + path);
  }
  if (!ok) ::unlink(tmp.c_str());
  return ok;
}

LineJournal::~LineJournal() {
  if (fd_ >= 0) ::close(fd_);
}

bool LineJournal::open(const std::string& path, bool append, std::string* error, std::size_t max_queued_bytes) {
  if (fd_ >= 0) ::close(fd_);
  max_queued_ = max_queued_bytes;
  // Read-write: reopening checks the last byte (below).
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
  if (fd_ < 0) {
    set_error(error, "cannot open " + path);
    return false;
  }
  if (!append) return true;
  // A predecessor's torn last line (it died mid-write): end it, so our first line stays whole.
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_size > 0) {
    char last = '\n';
    if (::pread(fd_, &last, 1, st.st_size - 1) == 1 && last != '\n') queued_.assign(1, '\n');
  }
  return true;
}

bool LineJournal::append(std::string_view lines, std::string* error) {
  if (fd_ < 0) return false;
  queued_.append(lines);
  if (queued_.empty()) return true;
  const off_t end = ::lseek(fd_, 0, SEEK_END);
  if (end >= 0 && write_all(fd_, queued_)) {
    queued_.clear();
    return true;
  }
  set_error(error, "cannot append to the journal");
  ++failures_;
  // Undo a partial write: a torn line would swallow the next one for every reader.
  if (end >= 0 && ::ftruncate(fd_, end) != 0) {
    // Cannot even truncate: a newline-led retry still keeps the later lines whole.
    if (queued_.front() != '\n') queued_.insert(queued_.begin(), '\n');
  }
  while (queued_.size() > max_queued_) {
    const auto eol = queued_.find('\n', 1);
    queued_.erase(0, eol == std::string::npos ? queued_.size() : eol + 1);
    ++dropped_lines_;
  }
  return false;
}

}  // namespace livedub
