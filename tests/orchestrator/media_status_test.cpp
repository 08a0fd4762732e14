#include "orchestrator/media_status.hpp"

#include <gtest/gtest.h>

namespace livedub::orchestrator {
namespace {

// As nginx-rtmp 1.1.4 (Debian 12) serves it: the publisher of demo/in is client 5, a player
// (the worker) is client 8; demo/out is published by the worker (client 7).
constexpr const char* kNginxStat = R"(<?xml version="1.0" encoding="utf-8" ?>
<rtmp>
<nginx_version>1.22.1</nginx_version>
<server>
<application>
<name>live</name>
<live>
<stream>
<name>demo/in</name>
<time>11635</time><bw_in>885376</bw_in>
<client><id>8</id><address>127.0.0.1</address><time>11553</time><flashver>LNX 10,0,32,18</flashver><dropped>0</dropped><active/></client>
<client><id>5</id><address>127.0.0.1</address><time>11813</time><flashver>FMLE/3.0 (compatible; Lavf59.27</flashver><dropped>0</dropped><publishing/><active/></client>
<meta><video><width>320</width><codec>H264</codec></video></meta>
<nclients>2</nclients>
<publishing/>
<active/>
</stream>
<stream>
<name>demo/out</name>
<client><id>7</id><address>127.0.0.1</address><publishing/><active/></client>
<publishing/>
<active/>
</stream>
<stream>
<name>idle/in</name>
<client><id>9</id><address>127.0.0.1</address><active/></client>
</stream>
<nclients>3</nclients>
</live>
</application>
</server>
</rtmp>
)";

TEST(MediaStatus, ReadsThePublishersOfInputsFromNginxRtmpStat) {
  const auto published = parse_media_status(kNginxStat);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].stream_id, "demo");
  EXPECT_EQ(published[0].session, "5");
  // No streams at all.
  EXPECT_TRUE(parse_media_status("<?xml version=\"1.0\"?>\n<rtmp><server><application><name>live</name><live>"
                                 "<nclients>0</nclients></live></application></server></rtmp>")
                  .empty());
}

TEST(MediaStatus, ReadsReadyInputsFromMediamtxPathsList) {
  const auto published = parse_media_status(R"({"pageCount":1,"itemCount":3,"items":[
    {"name":"live/cam_1/in","ready":true,"source":{"type":"rtmpConn","id":"8f2c-11"}},
    {"name":"live/cam_1/out","ready":true,"source":{"type":"rtmpConn","id":"aa"}},
    {"name":"live/cam_2/in","ready":false,"source":null},
    {"name":"other/path","ready":true}]})");
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].stream_id, "cam_1");
  EXPECT_EQ(published[0].session, "8f2c-11");
}

TEST(MediaStatus, AnythingElseIsAnError) {
  for (const char* body : {"", "<html>502 Bad Gateway</html>", "[1,2]", "{\"items\": 3}", "not json"}) {
    EXPECT_THROW(parse_media_status(body), std::invalid_argument) << body;
  }
}

StreamStatus supervised(const std::string& id, WorkerState state = WorkerState::running) {
  StreamStatus status;
  status.stream_id = id;
  status.state = state;
  return status;
}

TEST(Reconciler, StartsAPublisherNobodySupervisesAtOnce) {
  Reconciler reconciler;
  const std::vector<PublishedStream> published{{"demo", "5"}};
  const auto actions = reconciler.update(published, {});
  ASSERT_EQ(actions.start.size(), 1u);
  EXPECT_EQ(actions.start[0].stream_id, "demo");
  EXPECT_EQ(actions.start[0].session, "5");
  // Once supervised, nothing more to do.
  EXPECT_TRUE(reconciler.update(published, {supervised("demo")}).start.empty());
}

TEST(Reconciler, StopsAStreamWithoutPublisherOnTheSecondMiss) {
  Reconciler reconciler;
  EXPECT_TRUE(reconciler.update({}, {supervised("ghost", WorkerState::backoff)}).stop.empty());
  auto actions = reconciler.update({}, {supervised("ghost", WorkerState::backoff)});
  ASSERT_EQ(actions.stop.size(), 1u);
  EXPECT_EQ(actions.stop[0], "ghost");
  // A stopping worker is left alone; a sighting in between resets the count.
  EXPECT_TRUE(reconciler.update({}, {supervised("s", WorkerState::stopping)}).stop.empty());
  EXPECT_TRUE(reconciler.update({}, {supervised("s", WorkerState::stopping)}).stop.empty());
  Reconciler flapping;
  flapping.update({}, {supervised("a")});
  flapping.update({{"a", "1"}}, {supervised("a")});
  EXPECT_TRUE(flapping.update({}, {supervised("a")}).stop.empty());
}

}  // namespace
}  // namespace livedub::orchestrator
