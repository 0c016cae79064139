// The whole Polku suite as real processes, for cross-process tests: the four
// binaries from $POLKU_BIN_DIR (set by ctest; else the build's bin dir) on
// free 127.0.0.1 ports, in a fresh temporary data directory with keys from
// `polku-keys init`.
//
//   auto suite = polku::testing::Suite::Start();
//   ASSERT_TRUE(suite.ok()) << suite.status();
//   auto stub = v1::FeedbackService::NewStub((*suite)->GatewayChannel());
//   grpc::ClientContext context;
//   (*suite)->Authorize(context, (*suite)->credentials().channel_keys.at("shop"));
//   …
//   EXPECT_TRUE((*suite)->Stop().ok());   // SIGTERM; every process must exit 0
//
// Readiness is bounded polling of gRPC health (polku-feedback: the service
// "polku.v1.FeedbackService", which turns SERVING once its touchpoint index
// is loaded) and of the gateway's GET /healthz. When a test fails, the
// processes' logs are printed (see ~Suite).
#ifndef POLKU_TESTS_HARNESS_SUITE_H_
#define POLKU_TESTS_HARNESS_SUITE_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/journeys/gateway_client.h"

namespace polku::testing {

class Suite {
 public:
  struct Options {
    std::string tenant = "demo";
    std::string channels = "shop,phone,web,email";
    // Bound on each wait for readiness or exit.
    absl::Duration timeout = absl::Seconds(60);
    // TLS mode: a directory holding ca.pem and server.pem/server.key (a
    // certificate for 127.0.0.1 signed by ca.pem). Every service then serves
    // mTLS and calls the others with that certificate; the gateway's public
    // listeners serve TLS; the harness's own channels present it too.
    std::string tls_dir;
  };

  // Starts polku-keys init, then journey, feedback, insight and gateway.
  static absl::StatusOr<std::unique_ptr<Suite>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<Suite>> Start() { return Start(Options()); }

  // Stops whatever still runs (SIGKILL after the timeout), prints the logs
  // if the current test failed, removes the data directory.
  ~Suite();

  Suite(const Suite&) = delete;
  Suite& operator=(const Suite&) = delete;

  // SIGTERM to every process (gateway first), then waits; an error names
  // each process that did not exit 0 in time.
  absl::Status Stop();

  // SIGTERM to polku-insight, check it exits 0, start it again on the same
  // port and data directory, and wait until it is healthy.
  absl::Status RestartInsight();

  // SIGKILL to `name` (e.g. "polku-feedback"), reap it, start it again on
  // the same port and data directory, and wait until it is healthy (for
  // polku-feedback: its FeedbackService is SERVING). For crash tests.
  absl::Status KillAndRestart(const std::string& name);

  const tools::Credentials& credentials() const { return credentials_; }
  const std::string& data_dir() const { return data_dir_; }
  // host:port of a backend: "journey", "feedback" or "insight".
  std::string backend_address(const std::string& name) const { return Address(name); }
  // host:port of the gateway's gRPC listener.
  std::string gateway_grpc_address() const;
  std::string gateway_http_host() const { return "127.0.0.1"; }
  int gateway_http_port() const { return ports_.at("http"); }
  // host:port of polku-feedback itself (no gateway in front).
  std::string feedback_address() const { return Address("feedback"); }
  // Process id of `name` (e.g. "polku-gateway"), -1 if not running.
  pid_t pid(const std::string& name) const;

  // A channel to `address`, over mTLS in TLS mode (see Options::tls_dir).
  std::shared_ptr<grpc::Channel> Dial(const std::string& address) const;

  // One channel to the gateway, created once.
  std::shared_ptr<grpc::Channel> GatewayChannel();

  // Bearer key and a deadline for one call.
  static void Authorize(grpc::ClientContext& context, const std::string& key,
                        absl::Duration timeout = absl::Seconds(10));

  // Every process's log so far, with headers.
  std::string Logs() const;

 private:
  struct Process {
    std::string name;  // binary, e.g. "polku-feedback"
    std::vector<std::string> args;
    pid_t pid = -1;
  };

  explicit Suite(Options options) : options_(std::move(options)) {}

  absl::Status Init();
  absl::Status Launch(Process& process);
  absl::Status WaitHealthy(const std::string& address, const std::string& service);
  absl::Status WaitHttpHealthy();
  // SIGTERM, then waits up to the timeout; error unless it exited 0.
  absl::Status Terminate(Process& process);
  std::string LogPath(const std::string& name) const;
  std::string Address(const std::string& port_name) const;

  Options options_;
  std::string bin_dir_;
  std::string data_dir_;
  std::map<std::string, int> ports_;
  std::vector<Process> processes_;  // journey, feedback, insight, gateway
  tools::Credentials credentials_;
  std::shared_ptr<grpc::Channel> gateway_channel_;
};

// Path of a Polku binary: $POLKU_BIN_DIR/name, else the build's bin dir.
std::string BinaryPath(const std::string& name);

}  // namespace polku::testing

#endif  // POLKU_TESTS_HARNESS_SUITE_H_
