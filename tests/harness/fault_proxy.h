// A fault-injecting TCP proxy for cross-process tests, loopback only: it
// listens on 127.0.0.1 (a free port) and forwards every connection to a
// target, until told to misbehave.
//
//   auto proxy = FaultProxy::Start("127.0.0.1:7101");
//   … give the client proxy->address() instead of the target …
//   proxy->DropConnections();                  // every open connection reset
//   proxy->SetDelay(absl::Milliseconds(200));  // each chunk, each way
//   proxy->SetRefusing(true);                  // new connections reset at once
//
// Threads: one accepting, two per connection (one each way). Every wait is
// bounded (poll with a timeout), so Stop (and the destructor) returns
// promptly.
#ifndef POLKU_TESTS_HARNESS_FAULT_PROXY_H_
#define POLKU_TESTS_HARNESS_FAULT_PROXY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace polku::testing {

class FaultProxy {
 public:
  // Listens on a free 127.0.0.1 port and forwards to `target` (host:port,
  // an IPv4 address).
  static absl::StatusOr<std::unique_ptr<FaultProxy>> Start(const std::string& target);
  ~FaultProxy();  // Stops.

  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // "127.0.0.1:<port>", for the client.
  std::string address() const;

  // Resets every open connection (both sides see a broken connection).
  void DropConnections();
  // Holds each chunk this long before passing it on (0: none).
  void SetDelay(absl::Duration delay);
  // While refusing, each new connection is reset as soon as it is accepted;
  // open ones are left alone (DropConnections ends them).
  void SetRefusing(bool refusing);

  // Connections accepted so far (refused ones included).
  int accepted() const { return accepted_.load(); }
  // Bytes passed on so far, both ways.
  int64_t forwarded_bytes() const { return forwarded_.load(); }

  void Stop();

 private:
  struct Connection;
  FaultProxy(int listen_fd, int port, std::string target_host, int target_port);
  void Accept();
  void Pump(std::shared_ptr<Connection> connection, bool from_client);

  const int listen_fd_;
  const int port_;
  const std::string target_host_;
  const int target_port_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> refusing_{false};
  std::atomic<int64_t> delay_us_{0};
  std::atomic<int> accepted_{0};
  std::atomic<int64_t> forwarded_{0};
  absl::Mutex mu_;
  std::vector<std::shared_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mu_);
  std::thread acceptor_;
};

}  // namespace polku::testing

#endif  // POLKU_TESTS_HARNESS_FAULT_PROXY_H_
