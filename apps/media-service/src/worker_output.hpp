#pragma once
// One target language of a stream worker: its encoder and muxer (Egress), the RTMP
// destinations its tags go to, and its caption encoder. Apart from StreamWorker so that its
// teardown order is tested on its own (tests/worker/worker_output_test.cpp).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cea608.hpp"
#include "egress.hpp"
#include "publisher.hpp"

namespace livedub::worker {

struct WorkerOutput {
  // The egress's streaming thread pushes into `publishers` (its on_flv callback) until the
  // pipeline stops, so the egress is stopped before anything else here goes. An output that
  // had not drained used to be destroyed publishers first while that thread still ran: the
  // worker died of SIGSEGV right after "output ... did not drain within 5 s".
  ~WorkerOutput();
  // Makes `egress`, which hands every FLV tag to every publisher of this output.
  void make_egress(AudioFormat format, const AacEncoding& encoding, std::function<void(const std::string&)> on_error,
                   LogContext log);

  std::string lang;
  std::vector<std::unique_ptr<Publisher>> publishers;
  std::unique_ptr<Egress> egress;  // after publishers: destroyed before them
  Cea608Encoder captions;          // StreamWorker's pacer thread only
  double bed_gain = 1.0;           // pacer thread only: the bed gain where the last output ended
  std::int64_t fallbacks = 0;      // fragments with speech this language did not dub (StreamWorker::mutex_)
};

}  // namespace livedub::worker
