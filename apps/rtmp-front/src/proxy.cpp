#include "proxy.hpp"

#include <array>
#include <utility>  // before asio: boost 1.74 uses std::exchange without including it
#include <atomic>

#include <boost/asio.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "livedub/logging.hpp"
#include "livedub/process.hpp"

namespace livedub::rtmp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct FrontMetrics {
  explicit FrontMetrics(prometheus::Registry& registry)
      : open(prometheus::BuildGauge()
                 .Name("livedub_rtmp_connections_open")
                 .Help("Client connections rtmp-front holds")
                 .Register(registry)
                 .Add({})),
        pending(prometheus::BuildGauge()
                    .Name("livedub_rtmp_connections_pending")
                    .Help("Client connections that have not yet published or played")
                    .Register(registry)
                    .Add({})),
        refused(prometheus::BuildCounter()
                    .Name("livedub_rtmp_connections_refused_total")
                    .Help("Client connections closed at accept, by the limit they met")
                    .Register(registry)),
        closed(prometheus::BuildCounter()
                   .Name("livedub_rtmp_connections_closed_total")
                   .Help("Client connections closed by rtmp-front, by reason (clients that leave are not counted)")
                   .Register(registry)) {}
  prometheus::Gauge& open;
  prometheus::Gauge& pending;
  prometheus::Family<prometheus::Counter>& refused;
  prometheus::Family<prometheus::Counter>& closed;
};

// What connections share: one I/O thread runs them all, so no locks.
struct Shared {
  Shared(const ProxyConfig& c, prometheus::Registry& registry) : config(c), admission(c.admission), metrics(registry) {}
  void update_gauges() {
    metrics.open.Set(static_cast<double>(admission.open()));
    metrics.pending.Set(static_cast<double>(admission.pending()));
  }
  const ProxyConfig& config;
  Admission admission;
  FrontMetrics metrics;
  std::size_t held_bytes = 0;  // ChunkReader::held_bytes() of every connection
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket client, Shared& shared, std::string address, int id)
      : client_(std::move(client)),
        upstream_(client_.get_executor()),
        deadline_(client_.get_executor()),
        shared_(shared),
        reader_(shared.config.max_connection_bytes),
        normalizer_(shared.config.app),
        address_(std::move(address)),
        id_(id),
        accepted_(std::chrono::steady_clock::now()) {}

  void start() {
    arm_deadline(accepted_ + shared_.config.handshake_timeout, "handshake_timeout");
    // nginx is not dialled until the client sends something: an idle connection costs the
    // media server nothing.
    read_client();
  }

 private:
  void arm_deadline(std::chrono::steady_clock::time_point at, const char* reason) {
    deadline_.expires_at(at);
    auto self = shared_from_this();
    deadline_.async_wait([self, reason](boost::system::error_code ec) {
      if (ec || self->closed_) return;  // cancelled: the connection moved on or closed
      log_warn({}, "rtmp-front: connection {} from {}: closing, {} ({} ms since accept)", self->id_, self->address_,
               reason == std::string_view("handshake_timeout") ? "no complete handshake in time" : "no publish or play in time",
               std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - self->accepted_).count());
      self->close(reason);
    });
  }

  // `reason` empty: the client or the server ended it (not counted as a refusal of ours).
  void close(const char* reason = "") {
    if (closed_) return;
    closed_ = true;
    // Counted before the sockets close: whoever sees the close sees the count.
    shared_.held_bytes -= held_;
    held_ = 0;
    shared_.admission.closed(address_, !established_);
    if (*reason != '\0') shared_.metrics.closed.Add({{"reason", reason}}).Increment();
    shared_.update_gauges();
    boost::system::error_code ignored;
    deadline_.cancel();
    client_.close(ignored);
    upstream_.close(ignored);
  }

  void pump_server_to_client() {
    auto self = shared_from_this();
    upstream_.async_read_some(asio::buffer(down_), [self](boost::system::error_code ec, std::size_t n) {
      if (ec) return self->close();
      asio::async_write(self->client_, asio::buffer(self->down_.data(), n), [self](boost::system::error_code wec, std::size_t) {
        if (wec) return self->close();
        self->pump_server_to_client();
      });
    });
  }

  void read_client() {
    auto self = shared_from_this();
    client_.async_read_some(asio::buffer(up_), [self](boost::system::error_code ec, std::size_t n) {
      if (ec || self->closed_) return self->close();
      if (!self->translate(std::string_view(self->up_.data(), n))) return;
      if (self->out_.empty()) return self->read_client();
      if (self->upstream_connected_) return self->write_upstream();
      self->connect_upstream();
    });
  }

  void connect_upstream() {
    auto self = shared_from_this();
    tcp::endpoint upstream(asio::ip::make_address(shared_.config.upstream_host),
                           static_cast<unsigned short>(shared_.config.upstream_port));
    upstream_.async_connect(upstream, [self](boost::system::error_code ec) {
      if (self->closed_) return;
      if (ec) {
        log_warn({}, "rtmp-front: connection {}: media server at {}:{} unreachable: {}", self->id_,
                 self->shared_.config.upstream_host, self->shared_.config.upstream_port, ec.message());
        return self->close("upstream_unreachable");
      }
      boost::system::error_code ignored;
      self->upstream_.set_option(tcp::no_delay(true), ignored);
      self->upstream_connected_ = true;
      self->pump_server_to_client();
      self->write_upstream();
    });
  }

  void write_upstream() {
    // One write at a time, and no read meanwhile: a slow server slows the client down.
    auto self = shared_from_this();
    asio::async_write(upstream_, asio::buffer(out_), [self](boost::system::error_code wec, std::size_t) {
      if (wec) return self->close();
      self->read_client();
    });
  }

  // Client bytes into out_; false when the connection was closed for them.
  bool translate(std::string_view bytes) {
    out_.clear();
    // The handshake is opaque (and may carry a digest): it passes as is.
    if (handshake_left_ > 0) {
      const auto raw = std::min(handshake_left_, bytes.size());
      out_.append(bytes.substr(0, raw));
      handshake_left_ -= raw;
      bytes.remove_prefix(raw);
      if (handshake_left_ == 0 && !established_) arm_deadline(accepted_ + shared_.config.start_timeout, "start_timeout");
    }
    try {
      for (auto& message : reader_.feed(bytes)) {
        auto rewritten = normalizer_.rewrite(std::move(message));
        if (!normalizer_.last_change().empty()) {
          log_info({normalizer_.stream_id(), std::nullopt}, "rtmp-front: connection {}: {}", id_, normalizer_.last_change());
        }
        writer_.write(rewritten, out_);
      }
    } catch (const RtmpLimitError& e) {
      log_warn({}, "rtmp-front: connection {} from {}: closing, {} (LIVEDUB_RTMP_MAX_CONNECTION_BYTES)", id_, address_, e.what());
      close("memory");
      return false;
    } catch (const RtmpError& e) {
      log_warn({}, "rtmp-front: connection {} from {}: closing, malformed RTMP from the client: {}", id_, address_, e.what());
      close("malformed");
      return false;
    }
    shared_.held_bytes = shared_.held_bytes - held_ + reader_.held_bytes();
    held_ = reader_.held_bytes();
    if (shared_.held_bytes > shared_.config.max_total_bytes) {
      log_warn({}, "rtmp-front: connection {} from {}: closing, all connections together would hold {} bytes of partial "
               "messages (LIVEDUB_RTMP_MAX_TOTAL_BYTES {}); this one holds {}",
               id_, address_, shared_.held_bytes, shared_.config.max_total_bytes, held_);
      close("memory");
      return false;
    }
    if (normalizer_.started() && !established_) {
      established_ = true;
      deadline_.cancel();
      shared_.admission.established(address_);
      shared_.update_gauges();
    }
    return true;
  }

  tcp::socket client_;
  tcp::socket upstream_;
  asio::steady_timer deadline_;
  Shared& shared_;
  std::size_t handshake_left_ = kHandshakeClientBytes;
  ChunkReader reader_;
  ChunkWriter writer_;
  AppSplitNormalizer normalizer_;
  // 16 KiB a direction: a few milliseconds of a high-bitrate stream per read, and 700 idle
  // connections no longer cost 90 MB.
  std::array<char, 16 * 1024> up_{};
  std::array<char, 16 * 1024> down_{};
  std::string out_;
  std::string address_;
  int id_;
  std::chrono::steady_clock::time_point accepted_;
  std::size_t held_ = 0;  // counted in shared_.held_bytes
  bool upstream_connected_ = false;
  bool established_ = false;
  bool closed_ = false;
};

}  // namespace

struct Proxy::Impl {
  Impl(ProxyConfig c, std::shared_ptr<prometheus::Registry> r)
      : config(std::move(c)),
        registry(r ? std::move(r) : std::make_shared<prometheus::Registry>()),
        shared(config, *registry),
        acceptor(io) {}
  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (!acceptor.is_open()) return;
      if (!ec) return admit(std::move(socket)), accept();
      // Out of descriptors (or similar): retrying at once would spin; the backlog waits.
      log_warn({}, "rtmp-front: accept failed: {}; retrying in 100 ms", ec.message());
      retry.expires_after(std::chrono::milliseconds(100));
      retry.async_wait([this](boost::system::error_code wec) {
        if (!wec) accept();
      });
    });
  }
  void admit(tcp::socket socket) {
    boost::system::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec) return;  // already gone
    const auto address = peer.address().to_string();
    const int id = ++connections;
    if (const auto refusal = shared.admission.admit(address); refusal != Refusal::none) {
      shared.metrics.refused.Add({{"reason", refusal_name(refusal)}}).Increment();
      // Rate-limited per call site (logging::RateLimiter): a flood writes a summary, not a line each.
      log_warn({}, "rtmp-front: connection {} from {}: refused, {} (limit {})", id, address,
               refusal == Refusal::too_many_connections ? "too many connections (LIVEDUB_RTMP_MAX_CONNECTIONS)"
                                                        : "too many connections from this address that have not published or played (LIVEDUB_RTMP_MAX_PENDING_PER_ADDRESS)",
               refusal == Refusal::too_many_connections ? config.admission.max_connections
                                                        : config.admission.max_pending_per_address);
      socket.close(ec);
      return;
    }
    shared.update_gauges();
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<Connection>(std::move(socket), shared, address, id)->start();
  }
  ProxyConfig config;
  std::shared_ptr<prometheus::Registry> registry;
  Shared shared;
  asio::io_context io{1};
  tcp::acceptor acceptor;
  asio::steady_timer retry{io};
  int connections = 0;
  std::atomic<bool> stopping{false};
};

Proxy::Proxy(ProxyConfig config, std::shared_ptr<prometheus::Registry> registry)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(registry))) {}
Proxy::~Proxy() = default;

int Proxy::bind() {
  raise_open_files_limit();  // two descriptors per client: LIVEDUB_RTMP_MAX_CONNECTIONS decides
  tcp::endpoint endpoint(asio::ip::make_address(impl_->config.listen_host), static_cast<unsigned short>(impl_->config.listen_port));
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  impl_->accept();
  return impl_->acceptor.local_endpoint().port();
}

void Proxy::serve() {
  if (!impl_->stopping) impl_->io.run();
}

void Proxy::stop() {
  impl_->stopping = true;
  impl_->io.stop();
}

}  // namespace livedub::rtmp
