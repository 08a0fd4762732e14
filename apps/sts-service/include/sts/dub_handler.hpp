#pragma once
// POST /v1/dub request handling without sockets: takes the already-split multipart parts,
// returns the status and JSON body to send. The HTTP glue (http_routes.hpp) only moves bytes.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "livedub/logging.hpp"
#include "sts/engine.hpp"
#include "sts/service_config.hpp"

namespace livedub::sts {

struct FormPart {
  std::string name;
  std::string content_type;  // empty when the part has no Content-Type header
  std::string filename;
  std::string data;
};

struct DubHttpRequest {
  std::string content_type;  // of the whole request
  std::vector<FormPart> parts;
};

struct HandlerReply {
  int status = 200;
  nlohmann::json body;  // DubResponse JSON, or {"error": {"code", "message"}}
};

class DubHandler {
 public:
  // Registers the STS metrics in `registry`, which must outlive the handler.
  DubHandler(ServiceConfig config, std::shared_ptr<DubbingEngine> engine,
             prometheus::Registry& registry);

  // Thread-safe: called concurrently by the HTTP worker threads.
  HandlerReply dub(const DubHttpRequest& request);
  // For failures the HTTP layer detects before dub() can run (oversized or malformed body);
  // counted and logged like any other rejection.
  HandlerReply reject(int status, const std::string& code, const std::string& message,
                      const LogContext& ctx = {});
  nlohmann::json capabilities() const;

  const DubbingEngine& engine() const { return *engine_; }

 private:
  HandlerReply process(const DubHttpRequest& request, LogContext& ctx);
  prometheus::Counter& outcome_counter(const std::string& outcome);

  ServiceConfig config_;
  std::shared_ptr<DubbingEngine> engine_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Histogram& processing_seconds_;
  prometheus::Counter& audio_seconds_;
};

}  // namespace livedub::sts
