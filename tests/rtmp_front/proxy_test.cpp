// rtmp-front's connection limits over real sockets: a flood of idle connections from one
// address neither reaches the media server nor keeps another client out.
#include "proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "rtmp_front/rtmp.hpp"

namespace livedub::rtmp {
namespace {

using namespace std::chrono_literals;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(const char* ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// A TCP client from `from` (any 127/8 address is this host's).
Fd connect_from(const char* from, int port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  auto local = loopback(from, 0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return Fd();
  auto remote = loopback("127.0.0.1", port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) return Fd();
  return fd;
}

// True when the peer closed the connection within `wait`.
bool closed_within(const Fd& fd, std::chrono::milliseconds wait) {
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
  char c;
  return ::recv(fd.get(), &c, 1, MSG_DONTWAIT) <= 0;
}

bool send_all(const Fd& fd, const std::string& bytes) {
  return ::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// Stands in for nginx-rtmp: accepts, counts and keeps what each connection sends.
class FakeMediaServer {
 public:
  FakeMediaServer() : listener_(::socket(AF_INET, SOCK_STREAM, 0)) {
    auto a = loopback("127.0.0.1", 0);
    ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_.get(), 64);
    socklen_t len = sizeof a;
    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeMediaServer() {
    stop_ = true;
    thread_.join();
  }
  int port() const { return port_; }
  std::size_t accepted() {
    std::lock_guard lock(mutex_);
    return conns_.size();
  }
  std::size_t bytes_received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{listener_.get(), POLLIN, 0}};
      {
        std::lock_guard lock(mutex_);
        for (auto& c : conns_) fds.push_back({c.get(), POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      std::lock_guard lock(mutex_);
      if (fds[0].revents & POLLIN) conns_.emplace_back(::accept(listener_.get(), nullptr, nullptr));
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        char buf[65536];
        const auto n = ::recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) received_ += static_cast<std::size_t>(n);
      }
    }
  }
  Fd listener_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Fd> conns_;
  std::size_t received_ = 0;
  std::thread thread_;
};

class ProxyLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    ProxyConfig config;
    config.listen_port = 0;
    config.upstream_port = server_.port();
    config.admission = {.max_connections = 40, .max_pending_per_address = 4};
    config.handshake_timeout = 1000ms;
    config.start_timeout = 2000ms;
    config.max_connection_bytes = 1024 * 1024;
    config.max_total_bytes = 1536 * 1024;
    proxy_ = std::make_unique<Proxy>(config, registry_);
    port_ = proxy_->bind();
    serving_ = std::thread([this] { proxy_->serve(); });
  }
  void TearDown() override {
    proxy_->stop();
    serving_.join();
  }
  std::string metrics() { return prometheus::TextSerializer().Serialize(registry_->Collect()); }

  FakeMediaServer server_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  std::unique_ptr<Proxy> proxy_;
  std::thread serving_;
  int port_ = 0;
};

// C0+C1+C2, then connect and publish as ffmpeg sends them.
std::string publisher_bytes() {
  std::string wire(kHandshakeClientBytes, '\0');
  wire[0] = 3;
  ChunkWriter writer;
  auto str = Amf0Value::make_string;
  Amf0Value one;
  one.type = Amf0Value::Type::number;
  one.number = 1;
  Amf0Value app;
  app.type = Amf0Value::Type::object;
  app.keys = {"app"};
  app.values = {str("live/cam-1")};
  writer.write(Message{3, 0, kAmf0Command, 0, amf0_encode({str("connect"), one, app})}, wire);
  writer.write(Message{3, 0, kAmf0Command, 1, amf0_encode({str("publish"), one, Amf0Value{}, str("in"), str("live")})}, wire);
  return wire;
}

TEST_F(ProxyLimits, IdleConnectionsFromOneAddressNeitherReachTheServerNorLockOthersOut) {
  std::vector<Fd> flood;
  for (int i = 0; i < 30; ++i) flood.push_back(connect_from("127.0.0.2", port_));
  std::size_t refused = 0;
  for (auto& fd : flood) refused += closed_within(fd, 50ms) ? 1 : 0;
  EXPECT_EQ(refused, 26u);  // 4 pending per address

  // A publisher from elsewhere gets in meanwhile, and stays once it has published.
  auto publisher = connect_from("127.0.0.1", port_);
  ASSERT_TRUE(send_all(publisher, publisher_bytes()));
  std::this_thread::sleep_for(2500ms);  // past both timeouts
  EXPECT_FALSE(closed_within(publisher, 10ms));
  EXPECT_EQ(server_.accepted(), 1u);  // the idle ones never dialled the media server
  EXPECT_GE(server_.bytes_received(), kHandshakeClientBytes + 40);

  // The idle ones were closed by the handshake timeout; their address may connect again.
  std::size_t closed = 0;
  for (auto& fd : flood) closed += closed_within(fd, 10ms) ? 1 : 0;
  EXPECT_EQ(closed, 30u);
  auto again = connect_from("127.0.0.2", port_);
  EXPECT_FALSE(closed_within(again, 100ms));

  const auto text = metrics();
  EXPECT_NE(text.find("livedub_rtmp_connections_refused_total{reason=\"max_pending_per_address\"} 26"), std::string::npos) << text;
  EXPECT_NE(text.find("livedub_rtmp_connections_closed_total{reason=\"handshake_timeout\"} 4"), std::string::npos) << text;
  EXPECT_NE(text.find("livedub_rtmp_connections_open 2"), std::string::npos) << text;
}

TEST_F(ProxyLimits, AHandshakeWithoutPublishOrPlayIsClosedAtTheStartTimeout) {
  auto client = connect_from("127.0.0.3", port_);
  std::string handshake(kHandshakeClientBytes, '\0');
  handshake[0] = 3;
  ASSERT_TRUE(send_all(client, handshake));
  EXPECT_FALSE(closed_within(client, 1300ms));  // past the handshake timeout: it completed
  EXPECT_TRUE(closed_within(client, 1500ms));
  EXPECT_NE(metrics().find("livedub_rtmp_connections_closed_total{reason=\"start_timeout\"} 1"), std::string::npos);
}

TEST_F(ProxyLimits, ConnectionsBeyondTheTotalAreRefused) {
  std::vector<Fd> held;
  // 10 addresses x 4 pending = the total of 40.
  for (int a = 0; a < 10; ++a) {
    const auto ip = "127.0.1." + std::to_string(10 + a);
    for (int i = 0; i < 4; ++i) held.push_back(connect_from(ip.c_str(), port_));
  }
  std::this_thread::sleep_for(100ms);
  auto late = connect_from("127.0.2.1", port_);
  EXPECT_TRUE(closed_within(late, 200ms));
  EXPECT_NE(metrics().find("livedub_rtmp_connections_refused_total{reason=\"max_connections\"} 1"), std::string::npos);
}

// After the handshake: Set Chunk Size 64 KiB, then the first chunk of a 4 MB message on each of
// `streams` chunk streams (never completed: held by the front).
std::string partial_messages(int streams) {
  std::string wire(kHandshakeClientBytes, '\0');
  wire[0] = 3;
  ChunkWriter writer;
  writer.write(Message{2, 0, kSetChunkSize, 0, std::string("\x00\x01\x00\x00", 4)}, wire);
  for (int csid = 3; csid < 3 + streams; ++csid) {
    wire += static_cast<char>(csid);
    wire += std::string("\x00\x00\x00\x3d\x09\x00\x09\x01\x00\x00\x00", 11);
    wire += std::string(64 * 1024, 'v');
  }
  return wire;
}

TEST_F(ProxyLimits, PartialMessagesAreBoundedPerConnectionAndForAllTogether) {
  // 20 x 64 KiB: over the 1 MiB a connection may hold.
  auto greedy = connect_from("127.0.0.4", port_);
  send_all(greedy, partial_messages(20));
  EXPECT_TRUE(closed_within(greedy, 1000ms));
  // 12 x 64 KiB each: within a connection's bound, but two of them pass the 1.5 MiB total.
  auto first = connect_from("127.0.0.5", port_);
  ASSERT_TRUE(send_all(first, partial_messages(12)));
  EXPECT_FALSE(closed_within(first, 300ms));
  auto second = connect_from("127.0.0.6", port_);
  send_all(second, partial_messages(12));
  EXPECT_TRUE(closed_within(second, 1000ms));
  EXPECT_FALSE(closed_within(first, 100ms));  // the one that passed the total goes, not the other
  EXPECT_NE(metrics().find("livedub_rtmp_connections_closed_total{reason=\"memory\"} 2"), std::string::npos) << metrics();
}

}  // namespace
}  // namespace livedub::rtmp
