#include "sts_endpoints.hpp"

#include <gtest/gtest.h>

#include "livedub/config.hpp"

namespace livedub::worker {
namespace {

TEST(StsEndpointList, ParsesTrimsAndValidates) {
  EXPECT_EQ(parse_sts_endpoints("STS_SERVICE_URL", "http://a:8000"), std::vector<std::string>{"http://a:8000"});
  EXPECT_EQ(parse_sts_endpoints("STS_SERVICE_URL", " http://a:8000/ , https://b.example/sts ,"),
            (std::vector<std::string>{"http://a:8000", "https://b.example/sts"}));
  for (const char* bad : {"", ",", "ftp://a", "http://", "http://a,http://a/", "a:8000"}) {
    try {
      parse_sts_endpoints("STS_SERVICE_URL", bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.variable(), "STS_SERVICE_URL") << bad;
    }
  }
}

TEST(StsEndpointPool, SpreadsRequestsOverEndpointsByLoad) {
  StsEndpointPool pool({"http://a", "http://b"}, 2);
  auto first = pool.acquire();
  auto second = pool.acquire();
  ASSERT_TRUE(first && second);
  EXPECT_NE(*first, *second);  // the idle one is preferred
  pool.release(*first, CallOutcome::ok);
  auto third = pool.acquire();
  EXPECT_EQ(*third, *first);  // the other still has a request open
  pool.release(*second, CallOutcome::ok);
  pool.release(*third, CallOutcome::ok);
  // Equal load: round robin.
  std::vector<std::size_t> picks;
  for (int i = 0; i < 4; ++i) {
    auto e = pool.acquire();
    picks.push_back(*e);
    pool.release(*e, CallOutcome::ok);
  }
  EXPECT_NE(picks[0], picks[1]);
  EXPECT_EQ(picks[0], picks[2]);
}

TEST(StsEndpointPool, ConsecutiveFailuresTakeAnEndpointOutUntilItsHealthCheckPasses) {
  StsEndpointPool pool({"http://a", "http://b"}, 2);
  auto fail_on = [&](std::size_t wanted) {
    for (int i = 0; i < 4; ++i) {
      auto e = pool.acquire();
      if (*e == wanted) return pool.release(*e, CallOutcome::failed);
      pool.release(*e, CallOutcome::ok);
    }
    return false;
  };
  EXPECT_FALSE(fail_on(0));  // one failure: still in
  EXPECT_TRUE(pool.healthy(0));
  EXPECT_TRUE(fail_on(0));  // second in a row: out
  EXPECT_FALSE(pool.healthy(0));
  EXPECT_EQ(pool.out_of_service(), std::vector<std::size_t>{0});
  for (int i = 0; i < 5; ++i) {
    auto e = pool.acquire();
    EXPECT_EQ(*e, 1u) << "an endpoint out of service got a request";
    pool.release(*e, CallOutcome::ok);
  }
  EXPECT_FALSE(pool.health_checked(0, false));
  EXPECT_FALSE(pool.healthy(0));
  EXPECT_TRUE(pool.health_checked(0, true));
  EXPECT_TRUE(pool.healthy(0));
  EXPECT_FALSE(pool.health_checked(0, true));  // already in: no change reported
}

TEST(StsEndpointPool, RefusalsAndSuccessesDoNotCountTowardsEjection) {
  StsEndpointPool pool({"http://a"}, 2);
  for (auto outcome : {CallOutcome::failed, CallOutcome::rejected, CallOutcome::rejected}) {
    pool.release(*pool.acquire(), outcome);
  }
  EXPECT_TRUE(pool.healthy(0));  // one failure, then refusals: refusals neither count nor reset
  pool.release(*pool.acquire(), CallOutcome::ok);
  pool.release(*pool.acquire(), CallOutcome::failed);
  EXPECT_TRUE(pool.healthy(0));  // the success reset the count
  EXPECT_TRUE(pool.release(*pool.acquire(), CallOutcome::failed));
  EXPECT_FALSE(pool.acquire().has_value()) << "the only endpoint is out";
}

using std::chrono::milliseconds;

// The e2e symptom this guards: 1 s fragments with a 1.5 s delay leave some fragments a budget
// shorter than the service needs; those misses took the only, healthy endpoint out.
TEST(StsEndpointPool, DeadlineMissesOnTightBudgetsAreNotTheEndpointsFault) {
  StsEndpointPool pool({"http://a", "http://b"}, 2);
  pool.release(*pool.acquire(), CallOutcome::ok, milliseconds(400));  // a: usually 400 ms
  pool.release(*pool.acquire(), CallOutcome::ok, milliseconds(400));  // b
  for (int i = 0; i < 10; ++i) {
    // Budget 600 ms < 3 x 400 ms: the fragment was late, the endpoint was not slow.
    EXPECT_FALSE(pool.release(0, CallOutcome::deadline_missed, milliseconds(600), milliseconds(600)));
  }
  EXPECT_TRUE(pool.healthy(0));
  EXPECT_EQ(pool.typical_latency(0), milliseconds(400));
}

TEST(StsEndpointPool, RepeatedSlownessAgainstItsOwnUsualLatencyTakesAnEndpointOut) {
  StsEndpointPool pool({"http://a", "http://b"}, 2);
  pool.acquire();
  pool.acquire();
  pool.release(0, CallOutcome::ok, milliseconds(300));
  pool.release(1, CallOutcome::ok, milliseconds(300));
  // 2 s budget >= 3 x 300 ms, no answer: slow, twice in a row.
  EXPECT_FALSE(pool.release(0, CallOutcome::deadline_missed, milliseconds(2000), milliseconds(2000)));
  EXPECT_TRUE(pool.release(0, CallOutcome::deadline_missed, milliseconds(2000), milliseconds(2000)));
  EXPECT_FALSE(pool.healthy(0));
  EXPECT_EQ(*pool.acquire(), 1u);
}

TEST(StsEndpointPool, SlownessNeverTakesOutTheLastEndpointButFailuresDo) {
  StsEndpointPool pool({"http://a"}, 2);
  pool.release(*pool.acquire(), CallOutcome::ok, milliseconds(200));
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(pool.release(*pool.acquire(), CallOutcome::deadline_missed, milliseconds(5000), milliseconds(5000)));
  }
  EXPECT_TRUE(pool.healthy(0)) << "without it every fragment would fall back untried";
  // Connection errors still do: the health check then decides when it is back.
  pool.release(*pool.acquire(), CallOutcome::failed);
  EXPECT_TRUE(pool.release(*pool.acquire(), CallOutcome::failed));
}

TEST(StsEndpointPool, AMissBeforeAnyAnswerSaysNothing) {
  StsEndpointPool pool({"http://a", "http://b"}, 1);
  EXPECT_FALSE(pool.release(*pool.acquire(), CallOutcome::deadline_missed, milliseconds(9000), milliseconds(9000)));
  EXPECT_TRUE(pool.healthy(0));
  EXPECT_EQ(pool.typical_latency(0), milliseconds(0));
}

TEST(StsEndpointPool, AnAnswerEndsASlowStreak) {
  StsEndpointPool pool({"http://a", "http://b"}, 2);
  pool.release(*pool.acquire(), CallOutcome::ok, milliseconds(100));
  EXPECT_FALSE(pool.release(0, CallOutcome::deadline_missed, milliseconds(1000), milliseconds(1000)));
  pool.release(0, CallOutcome::ok, milliseconds(100));
  EXPECT_FALSE(pool.release(0, CallOutcome::deadline_missed, milliseconds(1000), milliseconds(1000)));
  EXPECT_TRUE(pool.healthy(0));
}

}  // namespace
}  // namespace livedub::worker
