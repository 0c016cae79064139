#include "tests/harness/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace polku::testing {
namespace {

constexpr int kPollMs = 50;

// Closing with SO_LINGER 0 sends RST: the peer sees a reset connection,
// as when a machine or a network path fails, not an orderly end.
void Reset(int fd) {
  linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  ::shutdown(fd, SHUT_RDWR);
}

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

}  // namespace

// Both sockets of one proxied connection; closed when both pumps are done.
struct FaultProxy::Connection {
  int client = -1;
  int server = -1;
  std::atomic<int> pumps{2};
  std::atomic<bool> dropped{false};
  void Drop() {
    if (dropped.exchange(true)) return;
    Reset(client);
    Reset(server);
  }
  ~Connection() {
    ::close(client);
    ::close(server);
  }
};

absl::StatusOr<std::unique_ptr<FaultProxy>> FaultProxy::Start(const std::string& target) {
  const size_t colon = target.rfind(':');
  int target_port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(target.substr(colon + 1), &target_port)) {
    return absl::InvalidArgumentError(absl::StrCat("target \"", target, "\" is not host:port"));
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in address = Loopback(0);
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    return absl::InternalError(absl::StrCat("listen: ", error));
  }
  return std::unique_ptr<FaultProxy>(
      new FaultProxy(fd, ntohs(address.sin_port), target.substr(0, colon), target_port));
}

FaultProxy::FaultProxy(int listen_fd, int port, std::string target_host, int target_port)
    : listen_fd_(listen_fd),
      port_(port),
      target_host_(std::move(target_host)),
      target_port_(target_port) {
  acceptor_ = std::thread([this] { Accept(); });
}

FaultProxy::~FaultProxy() { Stop(); }

std::string FaultProxy::address() const { return absl::StrCat("127.0.0.1:", port_); }

void FaultProxy::SetDelay(absl::Duration delay) {
  delay_us_ = absl::ToInt64Microseconds(delay);
}

void FaultProxy::SetRefusing(bool refusing) { refusing_ = refusing; }

void FaultProxy::DropConnections() {
  std::vector<std::shared_ptr<Connection>> connections;
  {
    absl::MutexLock lock(&mu_);
    connections.swap(connections_);
  }
  for (auto& connection : connections) connection->Drop();
}

void FaultProxy::Accept() {
  while (!stop_.load()) {
    pollfd waiting{listen_fd_, POLLIN, 0};
    if (::poll(&waiting, 1, kPollMs) <= 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++accepted_;
    if (refusing_.load()) {
      Reset(client);
      ::close(client);
      continue;
    }
    const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(static_cast<uint16_t>(target_port_));
    const bool connected =
        server >= 0 && ::inet_pton(AF_INET, target_host_.c_str(), &target.sin_addr) == 1 &&
        ::connect(server, reinterpret_cast<sockaddr*>(&target), sizeof(target)) == 0;
    if (!connected) {  // the backend is down: so is the connection
      Reset(client);
      ::close(client);
      if (server >= 0) ::close(server);
      continue;
    }
    int yes = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    auto connection = std::make_shared<Connection>();
    connection->client = client;
    connection->server = server;
    absl::MutexLock lock(&mu_);
    connections_.push_back(connection);
    pumps_.emplace_back([this, connection] { Pump(connection, true); });
    pumps_.emplace_back([this, connection] { Pump(connection, false); });
  }
}

void FaultProxy::Pump(std::shared_ptr<Connection> connection, bool from_client) {
  const int in = from_client ? connection->client : connection->server;
  const int out = from_client ? connection->server : connection->client;
  char buffer[16 * 1024];
  while (!stop_.load() && !connection->dropped.load()) {
    pollfd waiting{in, POLLIN, 0};
    const int ready = ::poll(&waiting, 1, kPollMs);
    if (ready == 0) continue;
    if (ready < 0 && errno == EINTR) continue;
    const ssize_t n = ready < 0 ? -1 : ::read(in, buffer, sizeof(buffer));
    if (n <= 0) break;
    if (const int64_t delay = delay_us_.load(); delay > 0) {
      absl::SleepFor(absl::Microseconds(delay));
    }
    ssize_t written = 0;
    while (written < n) {
      const ssize_t w = ::send(out, buffer + written, static_cast<size_t>(n - written),
                               MSG_NOSIGNAL);
      if (w <= 0) break;
      written += w;
    }
    if (written < n) break;
    forwarded_ += n;
  }
  // One side ended: so does the other (orderly unless dropped).
  ::shutdown(out, SHUT_WR);
  if (--connection->pumps == 0) {
    absl::MutexLock lock(&mu_);
    std::erase(connections_, connection);
  }
}

void FaultProxy::Stop() {
  if (stop_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  DropConnections();
  std::vector<std::thread> pumps;
  {
    absl::MutexLock lock(&mu_);
    pumps.swap(pumps_);
  }
  for (std::thread& pump : pumps) pump.join();
  ::close(listen_fd_);
}

}  // namespace polku::testing
