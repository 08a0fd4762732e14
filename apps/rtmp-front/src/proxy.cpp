#include "proxy.hpp"

#include <array>
#include <utility>  // before asio: boost 1.74 uses std::exchange without including it
#include <atomic>

#include <boost/asio.hpp>

#include "livedub/logging.hpp"
#include "rtmp_front/rtmp.hpp"

namespace livedub::rtmp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket client, const ProxyConfig& config, int id)
      : client_(std::move(client)), upstream_(client_.get_executor()), config_(config), normalizer_(config.app), id_(id) {}

  void start() {
    auto self = shared_from_this();
    tcp::endpoint upstream(asio::ip::make_address(config_.upstream_host), static_cast<unsigned short>(config_.upstream_port));
    upstream_.async_connect(upstream, [self](boost::system::error_code ec) {
      if (ec) {
        log_warn({}, "rtmp-front: connection {}: media server at {}:{} unreachable: {}", self->id_,
                 self->config_.upstream_host, self->config_.upstream_port, ec.message());
        return self->close();
      }
      self->pump_server_to_client();
      self->pump_client_to_server();
    });
  }

 private:
  void close() {
    boost::system::error_code ignored;
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

  void pump_client_to_server() {
    auto self = shared_from_this();
    client_.async_read_some(asio::buffer(up_), [self](boost::system::error_code ec, std::size_t n) {
      if (ec) return self->close();
      std::string_view bytes(self->up_.data(), n);
      self->out_.clear();
      // The handshake is opaque (and may carry a digest): it passes as is.
      if (self->handshake_left_ > 0) {
        const auto raw = std::min(self->handshake_left_, bytes.size());
        self->out_.append(bytes.substr(0, raw));
        self->handshake_left_ -= raw;
        bytes.remove_prefix(raw);
      }
      try {
        for (auto& message : self->reader_.feed(bytes)) {
          auto rewritten = self->normalizer_.rewrite(std::move(message));
          if (!self->normalizer_.last_change().empty()) {
            log_info({self->normalizer_.stream_id(), std::nullopt}, "rtmp-front: connection {}: {}", self->id_,
                     self->normalizer_.last_change());
          }
          self->writer_.write(rewritten, self->out_);
        }
      } catch (const RtmpError& e) {
        log_warn({}, "rtmp-front: connection {}: closing, malformed RTMP from the client: {}", self->id_, e.what());
        return self->close();
      }
      if (self->out_.empty()) return self->pump_client_to_server();
      // One write at a time, and no read meanwhile: a slow server slows the client down.
      asio::async_write(self->upstream_, asio::buffer(self->out_), [self](boost::system::error_code wec, std::size_t) {
        if (wec) return self->close();
        self->pump_client_to_server();
      });
    });
  }

  tcp::socket client_;
  tcp::socket upstream_;
  const ProxyConfig& config_;
  std::size_t handshake_left_ = kHandshakeClientBytes;
  ChunkReader reader_;
  ChunkWriter writer_;
  AppSplitNormalizer normalizer_;
  std::array<char, 64 * 1024> up_{};
  std::array<char, 64 * 1024> down_{};
  std::string out_;
  int id_;
};

}  // namespace

struct Proxy::Impl {
  explicit Impl(ProxyConfig c) : config(std::move(c)), acceptor(io) {}
  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (!acceptor.is_open()) return;
      if (!ec) {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Connection>(std::move(socket), config, ++connections)->start();
      }
      accept();
    });
  }
  ProxyConfig config;
  asio::io_context io{1};
  tcp::acceptor acceptor;
  int connections = 0;
  std::atomic<bool> stopping{false};
};

Proxy::Proxy(ProxyConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Proxy::~Proxy() = default;

int Proxy::bind() {
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
