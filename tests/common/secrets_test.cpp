#include "livedub/secrets.hpp"

#include <gtest/gtest.h>

namespace livedub {
namespace {

TEST(Secrets, ConstantTimeEqualIsPlainEquality) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Secrets, BearerTokenMatching) {
  EXPECT_TRUE(bearer_token_matches("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(bearer_token_matches("bEaReR s3cret", "s3cret"));
  EXPECT_FALSE(bearer_token_matches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(bearer_token_matches("Basic s3cret", "s3cret"));
  EXPECT_FALSE(bearer_token_matches("Bearer ", ""));
  EXPECT_FALSE(bearer_token_matches("", "s3cret"));
}

TEST(Secrets, RedactUrlHidesPasswordsQueryValuesAndStreamKeys) {
  // livedub's own stream paths stay readable; the credential query does not.
  EXPECT_EQ(redact_url("rtmp://127.0.0.1:1935/live/demo/out?user=livedub-worker&pass=abc123"),
            "rtmp://127.0.0.1:1935/live/demo/out?user=***&pass=***");
  // A third-party destination's stream key.
  EXPECT_EQ(redact_url("rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop"),
            "rtmp://a.rtmp.youtube.com/live2/***");
  EXPECT_EQ(redact_url("rtmps://live-api-s.facebook.com:443/rtmp/FB-123?s_bl=1&s_sc=2"),
            "rtmps://live-api-s.facebook.com:443/rtmp/***?s_bl=***&s_sc=***");
  EXPECT_EQ(redact_url("http://user:pw@sts:8000/v1/dub"), "http://user:***@sts:8000/v1/dub");
  EXPECT_EQ(redact_url("rtsp://mediamtx:8554/live/demo/in"), "rtsp://mediamtx:8554/live/demo/in");
  EXPECT_EQ(redact_url("http://h/x?flag"), "http://h/x?flag");
  EXPECT_EQ(redact_url("not a url"), "not a url");
}

TEST(Secrets, Sha256Hex) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace livedub
