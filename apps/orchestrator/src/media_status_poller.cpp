#include "media_status_poller.hpp"

#include "livedub/http_client.hpp"
#include "livedub/logging.hpp"
#include "livedub/secrets.hpp"

namespace livedub::orchestrator {

MediaStatusPoller::MediaStatusPoller(std::string url, std::chrono::milliseconds interval,
                                     WorkerSupervisor& supervisor)
    : url_(std::move(url)), interval_(interval), supervisor_(supervisor), thread_([this] { run(); }) {}

MediaStatusPoller::~MediaStatusPoller() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void MediaStatusPoller::run() {
  std::unique_lock lock(mutex_);
  // At once on start: after an orchestrator restart the publishers are waiting for workers.
  while (!stopping_) {
    lock.unlock();
    poll_once();
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

void MediaStatusPoller::poll_once() {
  std::vector<PublishedStream> published;
  try {
    HttpClient http;
    auto response = http.get(url_, std::chrono::milliseconds(2000));
    if (response.status != 200) throw std::runtime_error("HTTP " + std::to_string(response.status));
    published = parse_media_status(response.body);
  } catch (const std::exception& e) {
    if (reachable_) {
      logging::write(spdlog::level::warn, {}, "media-server status unavailable: streams are left as they are",
                     {{"event", "media_status_unavailable"}, {"url", redact_url(url_)}, {"error", e.what()}});
    }
    reachable_ = false;
    return;
  }
  if (!reachable_) logging::write(spdlog::level::info, {}, "media-server status available again", {{"url", redact_url(url_)}});
  reachable_ = true;
  const auto actions = reconciler_.update(published, supervisor_.streams());
  for (const auto& stream : actions.start) {
    const auto outcome = supervisor_.stream_ready(stream.stream_id, stream.session);
    logging::write(spdlog::level::warn, LogContext{stream.stream_id, std::nullopt},
                   "publisher without a worker (a start hook was missed): starting one",
                   {{"event", "stream_adopted"}, {"session", stream.session}, {"outcome", to_string(outcome)}});
  }
  for (const auto& stream_id : actions.stop) {
    const auto outcome = supervisor_.stream_not_ready(stream_id);
    logging::write(spdlog::level::warn, LogContext{stream_id, std::nullopt},
                   "stream has no publisher on the media server (a stop hook was missed): stopping it",
                   {{"event", "ghost_cleared"}, {"outcome", to_string(outcome)}});
  }
}

}  // namespace livedub::orchestrator
