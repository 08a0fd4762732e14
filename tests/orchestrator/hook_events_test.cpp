#include "orchestrator/hook_events.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace livedub::orchestrator {
namespace {

HookEvent mediamtx(MediamtxEvent event, const std::string& body) {
  return parse_mediamtx_hook(event, body);
}

TEST(MediamtxHook, ReadyOnInputPathStartsWorker) {
  auto event =
      mediamtx(MediamtxEvent::ready, R"({"path":"live/demo-1_A/in","source_type":"rtmpConn",)"
                                     R"("source_id":"3f2a","query":"token=x"})");
  EXPECT_EQ(event.action, HookAction::start_worker);
  EXPECT_EQ(event.stream_id, "demo-1_A");
  EXPECT_EQ(event.kind, "ready");
}

TEST(MediamtxHook, NotReadyOnInputPathStopsWorker) {
  auto event = mediamtx(MediamtxEvent::not_ready, R"({"path":"live/demo/in"})");
  EXPECT_EQ(event.action, HookAction::stop_worker);
  EXPECT_EQ(event.stream_id, "demo");
  EXPECT_EQ(event.kind, "not_ready");
}

TEST(MediamtxHook, OutputPathIsIgnored) {
  for (auto kind : {MediamtxEvent::ready, MediamtxEvent::not_ready}) {
    auto event = mediamtx(kind, R"({"path":"live/demo/out","source_type":"rtmpConn"})");
    EXPECT_EQ(event.action, HookAction::ignore);
    EXPECT_EQ(event.stream_id, "demo");
    EXPECT_FALSE(event.ignore_reason.empty());
  }
}

TEST(MediamtxHook, EmptyOptionalFieldsAreAccepted) {
  auto event = mediamtx(MediamtxEvent::ready,
                        R"({"path":"live/demo/in","source_type":"","source_id":"","query":""})");
  EXPECT_EQ(event.action, HookAction::start_worker);
}

TEST(MediamtxHook, InvalidBodiesAreRejected) {
  const std::vector<std::string> bodies = {
      "",
      "not json",
      R"({"path":"live/demo/in")",                  // truncated
      R"(["live/demo/in"])",                        // not an object
      R"("live/demo/in")",                          // not an object
      R"({})",                                      // missing path
      R"({"source_type":"rtmpConn"})",              // missing path
      R"({"path":null})",                           // wrong type
      R"({"path":42})",                             // wrong type
      R"({"path":"live/demo/in","query":7})",       // optional field of the wrong type
      R"({"path":"live/demo/in","source_id":{}})",  // optional field of the wrong type
      R"({"path":""})",
      R"({"path":"live/../x/in"})",
      R"({"path":"live/a b/in"})",
      R"({"path":"live/a%20b/in"})",
      R"({"path":"live/a\nb/in"})",
      R"({"path":"live//in"})",
      R"({"path":"live/demo"})",
      R"({"path":"live/demo/in/extra"})",
      R"({"path":"live/demo/other"})",
      R"({"path":"vod/demo/in"})",
      R"({"path":"live/demo/in\u0000"})",
      "{\"path\":\"live/d\xc3\xa9mo/in\"}",                     // non-ASCII id
      "{\"path\":\"live/\xff/in\"}",                            // invalid UTF-8
      R"({"path":"live/)" + std::string(65, 'a') + R"(/in"})",  // id too long
  };
  for (const auto& body : bodies) {
    EXPECT_THROW(mediamtx(MediamtxEvent::ready, body), HookError) << body;
    EXPECT_THROW(mediamtx(MediamtxEvent::not_ready, body), HookError) << body;
  }
}

TEST(MediamtxHook, LongestValidIdIsAccepted) {
  std::string id(64, 'a');
  auto event = mediamtx(MediamtxEvent::ready, R"({"path":"live/)" + id + R"(/in"})");
  EXPECT_EQ(event.stream_id, id);
}

TEST(MediamtxHook, ErrorNamesTheKindAndQuotesInputSafely) {
  try {
    mediamtx(MediamtxEvent::not_ready, R"({"path":"live/\n../x/in"})");
    FAIL() << "expected HookError";
  } catch (const HookError& e) {
    EXPECT_EQ(e.kind(), "not_ready");
    std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find(R"("live/\n../x/in")"), std::string::npos) << message;
  }
}

TEST(NginxHook, PublishWithIdInNameStartsWorker) {
  auto event = parse_nginx_hook(
      "app=live&flashver=FMLE%2F3.0&swfurl=&tcurl=rtmp%3A%2F%2Flocalhost%3A1935%2Flive&pageurl="
      "&addr=127.0.0.1&clientid=7&call=publish&name=demo%2Fin&type=live");
  EXPECT_EQ(event.action, HookAction::start_worker);
  EXPECT_EQ(event.stream_id, "demo");
  EXPECT_EQ(event.kind, "publish");
}

TEST(NginxHook, PublishWithIdInAppGivesTheSamePath) {
  auto event = parse_nginx_hook("call=publish&app=live%2Fdemo&name=in");
  EXPECT_EQ(event.action, HookAction::start_worker);
  EXPECT_EQ(event.stream_id, "demo");
  // Unencoded slashes are legal in a form value too.
  EXPECT_EQ(parse_nginx_hook("call=publish&app=live/demo&name=in").stream_id, "demo");
}

TEST(NginxHook, PublishDoneStopsWorker) {
  auto event = parse_nginx_hook("call=publish_done&app=live&name=demo/in");
  EXPECT_EQ(event.action, HookAction::stop_worker);
  EXPECT_EQ(event.stream_id, "demo");
  EXPECT_EQ(event.kind, "publish_done");
}

TEST(NginxHook, ArgumentsInNameOrAppAreNotPartOfThePath) {
  EXPECT_EQ(parse_nginx_hook("call=publish&app=live&name=demo%2Fin%3Ftoken%3Da%26b%3Dc").stream_id,
            "demo");
  EXPECT_EQ(parse_nginx_hook("call=publish&app=live%3Fkey%3D1&name=demo%2Fin").stream_id, "demo");
}

TEST(NginxHook, FirstOccurrenceOfAFieldWins) {
  // nginx-rtmp appends the client's query arguments after its own fields.
  auto event = parse_nginx_hook(
      "call=publish&app=live&name=demo%2Fin&type=live&name=other%2Fin"
      "&call=publish_done&app=x");
  EXPECT_EQ(event.action, HookAction::start_worker);
  EXPECT_EQ(event.stream_id, "demo");
}

TEST(NginxHook, MalformedEscapesOutsideTheUsedFieldsAreTolerated) {
  auto event = parse_nginx_hook("call=publish&app=live&name=demo%2Fin&token=%zz&%g=1");
  EXPECT_EQ(event.stream_id, "demo");
}

TEST(NginxHook, OutputPublishMustBeAuthorizedAndItsEndIsIgnored) {
  auto publish = parse_nginx_hook("call=publish&app=live&name=demo%2Fout&clientid=4");
  EXPECT_EQ(publish.action, HookAction::authorize_output);
  EXPECT_EQ(publish.stream_id, "demo");
  EXPECT_TRUE(publish.check_publish_credentials);
  auto done = parse_nginx_hook("call=publish_done&app=live%2Fdemo&name=out");
  EXPECT_EQ(done.action, HookAction::ignore);
  EXPECT_EQ(done.stream_id, "demo");
  // A further language's output is the worker's too: nobody else may publish it.
  auto catalan = parse_nginx_hook("call=publish&app=live&name=demo%2Fout-ca&clientid=5");
  EXPECT_EQ(catalan.action, HookAction::authorize_output);
  EXPECT_EQ(catalan.stream_id, "demo");
  PublishCredentials credentials;
  credentials.worker_pass = "worker-pass-0123456789";
  EXPECT_TRUE(publish_refusal(catalan, credentials).has_value()) << "no credentials";
  auto worker = parse_nginx_hook("call=publish&app=live&name=demo%2Fout-ca&user=livedub-worker&pass=worker-pass-0123456789");
  EXPECT_FALSE(publish_refusal(worker, credentials).has_value());
}

TEST(NginxHook, CarriesThePublisherSessionAndCredentials) {
  auto event = parse_nginx_hook(
      "call=publish&addr=127.0.0.1&clientid=42&app=live&name=demo%2Fin&type=live&user=obs&pass=s3cret");
  EXPECT_EQ(event.session, "42");
  EXPECT_EQ(event.user, "obs");
  EXPECT_EQ(event.pass, "s3cret");
  // nginx's own clientid comes first; a client's ?clientid= cannot replace it.
  EXPECT_EQ(parse_nginx_hook("call=publish_done&clientid=42&app=live&name=demo%2Fin&clientid=9").session, "42");
  // Credentials left inside the stream name are read from there.
  auto in_name = parse_nginx_hook("call=publish&app=live&name=demo%2Fin%3Fuser%3Dobs%26pass%3Dx");
  EXPECT_EQ(in_name.user, "obs");
  EXPECT_EQ(in_name.pass, "x");
  // A session id that is not a plain token counts as none.
  EXPECT_EQ(parse_nginx_hook("call=publish&clientid=%0Abad&app=live&name=demo%2Fin").session, "");
}

TEST(MediamtxHook, CarriesTheSourceIdAsSession) {
  auto event = parse_mediamtx_hook(MediamtxEvent::not_ready,
                                   R"({"path":"live/demo/in","source_id":"8f2c-11"})");
  EXPECT_EQ(event.session, "8f2c-11");
  EXPECT_FALSE(event.check_publish_credentials);  // MediaMTX authenticated the publisher itself
  auto output = parse_mediamtx_hook(MediamtxEvent::ready, R"({"path":"live/demo/out"})");
  EXPECT_EQ(output.action, HookAction::ignore);
}

TEST(PublishRefusal, OnlyTheWorkerCredentialPublishesTheOutput) {
  PublishCredentials credentials;
  credentials.worker_pass = "worker-secret-0123456789";
  auto refusal = [&](const std::string& body) { return publish_refusal(parse_nginx_hook(body), credentials); };
  EXPECT_FALSE(refusal("call=publish&app=live&name=demo%2Fout&user=livedub-worker&pass=worker-secret-0123456789"));
  for (const char* body : {"call=publish&app=live&name=demo%2Fout",
                           "call=publish&app=live&name=demo%2Fout&user=livedub-worker&pass=guess",
                           "call=publish&app=live&name=demo%2Fout&user=someone&pass=worker-secret-0123456789"}) {
    auto why = refusal(body);
    ASSERT_TRUE(why.has_value()) << body;
    EXPECT_NE(why->find("only the stream's worker"), std::string::npos) << *why;
    EXPECT_EQ(why->find("worker-secret"), std::string::npos) << "the secret leaked: " << *why;
  }
  // Without a publish password anyone may publish the input, as with MediaMTX's default.
  EXPECT_FALSE(refusal("call=publish&app=live&name=demo%2Fin"));
}

TEST(PublishRefusal, APublishPasswordGuardsTheInput) {
  PublishCredentials credentials;
  credentials.worker_pass = "worker-secret-0123456789";
  credentials.publish_user = "obs";
  credentials.publish_pass = "let-me-in";
  auto refusal = [&](const std::string& body) { return publish_refusal(parse_nginx_hook(body), credentials); };
  EXPECT_FALSE(refusal("call=publish&app=live&name=demo%2Fin&user=obs&pass=let-me-in"));
  EXPECT_TRUE(refusal("call=publish&app=live&name=demo%2Fin"));
  EXPECT_TRUE(refusal("call=publish&app=live&name=demo%2Fin&user=obs&pass=let-me-i"));
  EXPECT_TRUE(refusal("call=publish&app=live&name=demo%2Fin&user=other&pass=let-me-in"));
  // Stops and playback need no credential.
  EXPECT_FALSE(refusal("call=publish_done&app=live&name=demo%2Fin"));
  EXPECT_FALSE(refusal("call=play&app=live&name=demo%2Fout"));
}

TEST(NginxHook, PlaybackIsIgnored) {
  for (const char* body : {"call=play&app=live&name=demo%2Fout",
                           "call=play&app=live&name=demo%2Fin&start=-2&duration=0&reset=0",
                           "call=play_done&app=live&name=demo%2Fout"}) {
    auto event = parse_nginx_hook(body);
    EXPECT_EQ(event.action, HookAction::ignore) << body;
    EXPECT_EQ(event.stream_id, "demo");
    EXPECT_FALSE(event.ignore_reason.empty());
  }
}

TEST(NginxHook, SessionCallbacksAreIgnoredWithoutAName) {
  for (const char* call : {"connect", "disconnect", "done", "update", "record_done"}) {
    auto event = parse_nginx_hook(std::string("call=") + call + "&app=live&addr=127.0.0.1");
    EXPECT_EQ(event.action, HookAction::ignore) << call;
    EXPECT_EQ(event.kind, call);
    EXPECT_TRUE(event.stream_id.empty());
  }
}

TEST(NginxHook, InvalidCallbacksAreRejected) {
  const std::vector<std::string> bodies = {
      "",
      "app=live&name=demo%2Fin",                  // no call
      "call=&app=live&name=demo%2Fin",            // empty call
      "call=publishing&app=live&name=demo%2Fin",  // unknown call
      "call=%zz&app=live&name=demo%2Fin",         // malformed call
      "call=publish&name=demo%2Fin",              // no app
      "call=publish&app=&name=demo%2Fin",         // empty app
      "call=publish&app=live",                    // no name
      "call=publish&app=live&name=",              // empty name
      "call=publish&app=live&name",               // name without value
      "call=publish&app=live&name=demo%2",        // truncated escape
      "call=publish&app=live&name=demo%2Gin",     // bad hex
      "call=publish&app=live&name=..%2Fx%2Fin",   // traversal
      "call=publish&app=live&name=a+b%2Fin",      // '+' is a space
      "call=publish&app=live&name=a%20b%2Fin",
      "call=publish&app=live&name=demo%2Fin%2F",  // trailing slash
      "call=publish&app=live&name=demo",          // no in/out
      "call=publish&app=live&name=%2Fdemo%2Fin",  // empty path segment
      "call=publish&app=vod&name=demo%2Fin",      // wrong app
      "call=publish&app=live&name=demo%00%2Fin",  // NUL in id
      "call=publish&app=live&name=" + std::string(65, 'a') + "%2Fin",
      "call=publish_done&app=live&name=..%2Fx%2Fin",
      "call=play&app=live&name=..%2Fx%2Fout",
  };
  for (const auto& body : bodies) EXPECT_THROW(parse_nginx_hook(body), HookError) << body;
}

TEST(NginxHook, RejectionCarriesABoundedKind) {
  try {
    parse_nginx_hook("call=publish&app=live&name=..%2Fx");
    FAIL() << "expected HookError";
  } catch (const HookError& e) {
    EXPECT_EQ(e.kind(), "publish");
  }
  try {
    parse_nginx_hook("call=some-attacker-chosen-text&app=live&name=demo%2Fin");
    FAIL() << "expected HookError";
  } catch (const HookError& e) {
    EXPECT_EQ(e.kind(), "other");
  }
}

TEST(FormDecoding, DecodesPlusAndPercentEscapes) {
  EXPECT_EQ(decode_form_component("a+b%2Fc%3f%41"), "a b/c?A");
  EXPECT_EQ(decode_form_component(""), "");
  EXPECT_EQ(decode_form_component("%25"), "%");
  EXPECT_EQ(decode_form_component("%00").value(), std::string(1, '\0'));
}

TEST(FormDecoding, RejectsMalformedEscapes) {
  for (const char* text : {"%", "%4", "a%", "%zz", "%4g", "%%41"}) {
    EXPECT_FALSE(decode_form_component(text).has_value()) << text;
  }
}

TEST(FormDecoding, FindsFieldsByDecodedName) {
  EXPECT_EQ(find_form_field("a=1&b=2&b=3", "b"), "2");
  EXPECT_EQ(find_form_field("na%6De=x", "name"), "x");
  EXPECT_EQ(find_form_field("flag&x=1", "flag"), "");
  EXPECT_FALSE(find_form_field("a=1", "b").has_value());
  EXPECT_FALSE(find_form_field("", "a").has_value());
  EXPECT_THROW(find_form_field("a=%zz", "a"), std::invalid_argument);
}

}  // namespace
}  // namespace livedub::orchestrator
