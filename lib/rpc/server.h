// The server bootstrap every Polku process uses: one gRPC server with
// grpc.health.v1, reflection and one structured log line per request, and a
// graceful shutdown on SIGTERM or SIGINT (health → NOT_SERVING, stop
// accepting, drain in-flight calls, run the owner's flush, exit 0).
//
//   FeedbackServiceImpl service(...);
//   auto server = polku::rpc::Server::Start({.name = "polku-feedback",
//                                            .listen_address = "127.0.0.1:7101",
//                                            .services = {&service}});
//   if (!server.ok()) { … exit(1); }
//   (*server)->WaitForShutdownSignal();   // returns once drained
//   service.Flush();
#ifndef POLKU_LIB_RPC_SERVER_H_
#define POLKU_LIB_RPC_SERVER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/rpc/tls.h"

namespace polku::rpc {

struct ServerConfig {
  // Process name for logs, e.g. "polku-feedback".
  std::string name;
  // host:port; port 0 picks a free one (see Server::port()).
  std::string listen_address;
  std::vector<grpc::Service*> services;
  // Handles every method no registered service does (the gateway's proxy).
  grpc::CallbackGenericService* generic_service = nullptr;
  // The gateway's public listener. Every other server is a backend: with
  // mTLS it checks each caller's identity against lib/rpc/trust.h; without,
  // it refuses to listen beyond loopback unless plaintext_beyond_loopback.
  bool public_endpoint = false;
  // Certificate paths; empty = plaintext. With ca_file, clients must present
  // a certificate signed by it (mTLS). See tls.h.
  TlsFiles tls;
  // A backend without mTLS may listen beyond loopback, where anyone who
  // reaches it can claim any tenant: only for a network nobody but the
  // gateway reaches. It then logs a warning at start.
  bool plaintext_beyond_loopback = false;
  // host:port of a second, plaintext listener that serves only
  // grpc.health.v1 (the same statuses), for probes that cannot present a
  // client certificate (Kubernetes' gRPC probes); empty = none.
  std::string health_listen_address;
  // Log one line per request from an interceptor. The gateway logs itself,
  // because only it knows the tenant behind a key.
  bool log_requests = true;
  int max_receive_message_bytes = 16 * 1024 * 1024;
  // How long in-flight calls get to finish on shutdown before cancellation.
  absl::Duration drain_timeout = absl::Seconds(10);
  // Runs once health is NOT_SERVING and before the drain: services end their
  // long-lived streams here (watchers reconnect elsewhere) so that the drain
  // waits only for short calls.
  std::function<void()> on_drain;
};

// Whether host:port names a loopback address (127.0.0.0/8, ::1, localhost).
bool IsLoopbackAddress(absl::string_view listen_address);

// `config` with a backend's listener flags (backend_flags.cc): --tls_cert,
// --tls_key, --tls_ca, --health_listen and --plaintext_beyond_loopback.
ServerConfig WithBackendFlags(ServerConfig config);

class Server {
 public:
  // Builds and starts the server; fails if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerConfig config);
  ~Server();

  // The bound port.
  int port() const { return port_; }
  // The health listener's bound port; 0 without one.
  int health_port() const { return health_port_; }

  // Sets the serving status of one service name ("" = the whole server).
  void SetServing(const std::string& service, bool serving);

  // Blocks until SIGTERM or SIGINT (or RequestShutdown), then shuts down
  // gracefully. Returns when every call has finished.
  void WaitForShutdownSignal();

  // Asks WaitForShutdownSignal to return (from any thread; for tests).
  static void RequestShutdown();

  // Graceful shutdown without waiting for a signal.
  void Shutdown();

 private:
  Server(ServerConfig config, std::unique_ptr<grpc::Server> server, int port,
         std::unique_ptr<grpc::Server> health_server, int health_port);

  ServerConfig config_;
  std::unique_ptr<grpc::Server> server_;
  int port_;
  // Serves only grpc.health.v1, mirroring server_'s statuses; may be null.
  std::unique_ptr<grpc::Server> health_server_;
  int health_port_;
  bool shut_down_ = false;
};

}  // namespace polku::rpc

#endif  // POLKU_LIB_RPC_SERVER_H_
