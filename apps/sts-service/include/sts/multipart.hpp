#pragma once
// multipart/form-data (RFC 7578) from a whole request body: the parts' names, filenames,
// Content-Types and bytes. The server hands handlers complete bodies (bounded by
// LIVEDUB_STS_MAX_BODY_BYTES), so a streaming parser would buy nothing; Debian's parsers
// come with a mail (GMime) or server (libmicrohttpd) stack around them.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace livedub::sts {

struct FormPart {
  std::string name;
  std::string content_type;  // empty when the part has no Content-Type header
  std::string filename;
  std::string data;
};

class MultipartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The boundary parameter of a "multipart/form-data; boundary=..." Content-Type (quotes
// removed); throws MultipartError when missing or longer than RFC 2046's 70 characters.
std::string multipart_boundary(std::string_view content_type);

// Splits `body`; throws MultipartError when it is not well-formed (no closing delimiter, a part
// without Content-Disposition form-data name, headers without their blank line).
std::vector<FormPart> parse_multipart(std::string_view body, std::string_view boundary);

}  // namespace livedub::sts
