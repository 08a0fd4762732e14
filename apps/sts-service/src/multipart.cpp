#include "sts/multipart.hpp"

#include <algorithm>
#include <cctype>

namespace livedub::sts {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of `name` among "; "-separated parameters, quotes removed (empty if absent).
std::string parameter(std::string_view header_value, std::string_view name) {
  std::size_t pos = header_value.find(';');
  while (pos != std::string_view::npos) {
    std::size_t next = pos + 1;
    bool quoted = false;
    std::size_t end = next;
    for (; end < header_value.size(); ++end) {
      if (header_value[end] == '"') quoted = !quoted;
      if (header_value[end] == ';' && !quoted) break;
    }
    auto item = trim(header_value.substr(next, end - next));
    const auto eq = item.find('=');
    if (eq != std::string_view::npos && lower(trim(item.substr(0, eq))) == name) {
      auto value = trim(item.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      return std::string(value);
    }
    pos = end < header_value.size() ? end : std::string_view::npos;
  }
  return {};
}

}  // namespace

std::string multipart_boundary(std::string_view content_type) {
  auto boundary = parameter(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 70) {
    throw MultipartError("Content-Type has no usable boundary parameter (1-70 characters)");
  }
  return boundary;
}

std::vector<FormPart> parse_multipart(std::string_view body, std::string_view boundary) {
  const std::string delimiter = "--" + std::string(boundary);
  std::vector<FormPart> parts;
  // The preamble (usually empty) runs up to the first delimiter.
  std::size_t pos = body.find(delimiter);
  // A delimiter after a preamble must start a line (found by libFuzzer: one byte of preamble
  // made pos - 2 wrap around).
  if (pos == std::string_view::npos || (pos > 0 && (pos < 2 || body.substr(pos - 2, 2) != "\r\n"))) {
    throw MultipartError("body does not start with the boundary delimiter");
  }
  pos += delimiter.size();
  const std::string next_delimiter = "\r\n" + delimiter;
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter; the epilogue is ignored
    // Transport padding after a delimiter is allowed, then the line break.
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") throw MultipartError("boundary delimiter is not followed by a line break");
    pos += 2;
    const auto headers_end = body.find("\r\n\r\n", pos);
    // A part with no headers starts with the blank line directly.
    const bool no_headers = body.substr(pos, 2) == "\r\n";
    if (!no_headers && headers_end == std::string_view::npos) throw MultipartError("part headers do not end");
    FormPart part;
    std::string disposition;
    if (!no_headers) {
      auto headers = body.substr(pos, headers_end - pos);
      std::size_t line_start = 0;
      while (line_start <= headers.size()) {
        auto line_end = headers.find("\r\n", line_start);
        if (line_end == std::string_view::npos) line_end = headers.size();
        auto line = headers.substr(line_start, line_end - line_start);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) throw MultipartError("malformed part header line");
        const auto name = lower(trim(line.substr(0, colon)));
        const auto value = trim(line.substr(colon + 1));
        if (name == "content-disposition") disposition = std::string(value);
        if (name == "content-type") part.content_type = std::string(value);
        line_start = line_end + 2;
      }
      pos = headers_end + 4;
    } else {
      pos += 2;
    }
    if (lower(trim(disposition.substr(0, disposition.find(';')))) != "form-data") {
      throw MultipartError("a part has no 'Content-Disposition: form-data'");
    }
    part.name = parameter(disposition, "name");
    part.filename = parameter(disposition, "filename");
    if (part.name.empty()) throw MultipartError("a part has no name");
    const auto end = body.find(next_delimiter, pos);
    if (end == std::string_view::npos) throw MultipartError("body has no closing boundary delimiter");
    part.data = std::string(body.substr(pos, end - pos));
    parts.push_back(std::move(part));
    pos = end + next_delimiter.size();
  }
}

}  // namespace livedub::sts
