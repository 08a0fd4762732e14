#include "worker_output.hpp"

namespace livedub::worker {

WorkerOutput::~WorkerOutput() {
  if (egress) egress->stop();
}

void WorkerOutput::make_egress(AudioFormat format, const AacEncoding& encoding,
                               std::function<void(const std::string&)> on_error, LogContext log) {
  egress = std::make_unique<Egress>(format, encoding,
                                    Egress::Callbacks{[this](GstSample* tag) {
                                                        for (auto& p : publishers) p->push(tag);
                                                      },
                                                      std::move(on_error)},
                                    std::move(log));
}

}  // namespace livedub::worker
