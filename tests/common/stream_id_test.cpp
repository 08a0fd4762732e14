#include "livedub/stream_id.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace livedub {
namespace {

TEST(StreamId, Validation) {
  EXPECT_TRUE(is_valid_stream_id("abc"));
  EXPECT_TRUE(is_valid_stream_id("My_Stream-01"));
  EXPECT_TRUE(is_valid_stream_id(std::string(64, 'a')));
  EXPECT_FALSE(is_valid_stream_id(std::string(65, 'a')));
  EXPECT_FALSE(is_valid_stream_id(""));
  EXPECT_FALSE(is_valid_stream_id("../x"));
  EXPECT_FALSE(is_valid_stream_id("a b"));
  EXPECT_FALSE(is_valid_stream_id("a/b"));
  EXPECT_FALSE(is_valid_stream_id("caf\xc3\xa9"));
}

TEST(StreamPath, ParsesInAndOut) {
  auto in = parse_stream_path("live/abc/in");
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(in->stream_id, "abc");
  EXPECT_EQ(in->direction, StreamDirection::in);

  auto out = parse_stream_path("/live/abc-1/out?x=1");
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->stream_id, "abc-1");
  EXPECT_EQ(out->direction, StreamDirection::out);

  EXPECT_TRUE(parse_stream_path("live/" + std::string(64, 'z') + "/in").has_value());
}

TEST(StreamPath, RejectsEverythingElse) {
  for (const auto& path : std::vector<std::string>{
           "live/../in", "live/a/b/in", "live//in", "live/" + std::string(65, 'z') + "/in",
        "live/abc/sideways", "live/abc", "live/abc/in/", "vod/abc/in", "", "live/", "/live/a b/in",
        "live/abc/IN", "?live/abc/in"}) {
    EXPECT_FALSE(parse_stream_path(path).has_value()) << path;
  }
}

}  // namespace
}  // namespace livedub
