#include "sts/multipart.hpp"

#include <gtest/gtest.h>

namespace livedub::sts {
namespace {

TEST(Multipart, SplitsNamedParts) {
  const auto parts = parse_multipart(
      "--b\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{}\r\n"
      "--b\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"f.wav\"\r\n\r\nRIFF\r\n--b--\r\n",
      "b");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].name, "metadata");
  EXPECT_EQ(parts[0].content_type, "application/json");
  EXPECT_EQ(parts[0].data, "{}");
  EXPECT_EQ(parts[1].filename, "f.wav");
  EXPECT_EQ(parts[1].data, "RIFF");
}

// Found by fuzz/multipart_fuzzer: a one-byte preamble before the delimiter threw
// std::out_of_range (an answer 500) instead of MultipartError (400).
TEST(Multipart, AShortPreambleIsAFormatErrorNotACrash) {
  EXPECT_THROW(parse_multipart("--b\r\n\r\nx\r\n--b--", "-b"), MultipartError);
  EXPECT_THROW(parse_multipart("x--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--", "b"),
               MultipartError);
}

TEST(Multipart, BoundaryComesFromTheContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"a b\""), "a b");
  EXPECT_THROW(multipart_boundary("multipart/form-data"), MultipartError);
  EXPECT_THROW(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'x')), MultipartError);
}

}  // namespace
}  // namespace livedub::sts
