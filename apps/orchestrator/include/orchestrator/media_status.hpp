#pragma once
// What the media server says is being published, and how the orchestrator's streams follow it.
// Hooks can be lost (the orchestrator was down or restarting, the media server died without a
// stop); the media server's own list is the truth they are reconciled with. Pure: parsing and
// decisions only, the polling is in main.cpp.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/supervision.hpp"

namespace livedub::orchestrator {

struct PublishedStream {
  std::string stream_id;  // validated
  std::string session;    // nginx-rtmp client id / MediaMTX source id; "" when unknown
};

// Publishers of live/<id>/in from nginx-rtmp's rtmp_stat XML or MediaMTX's /v3/paths/list
// JSON (ready paths). Other paths are left out. Throws std::invalid_argument for a body that
// is neither.
std::vector<PublishedStream> parse_media_status(std::string_view body);

struct ReconcileActions {
  std::vector<PublishedStream> start;  // published, not supervised (e.g. after our restart)
  std::vector<std::string> stop;       // supervised, no publisher (a ghost)
};

// A publisher nobody supervises is started at its first sighting (a start hook racing it finds
// the stream supervised: starts are idempotent). A stream must be missed in `confirmations`
// polls in a row before it is stopped: a stream whose publish hook was just accepted may not be
// listed yet.
class Reconciler {
 public:
  explicit Reconciler(int confirmations = 2) : confirmations_(confirmations) {}
  ReconcileActions update(const std::vector<PublishedStream>& published,
                          const std::vector<StreamStatus>& supervised);

 private:
  int confirmations_;
  std::map<std::string, int> missed_;
};

}  // namespace livedub::orchestrator
