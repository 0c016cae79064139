// The whole Polku suite as real processes, for cross-process tests: the four
// binaries (and polku-cases when asked, see below) from $POLKU_BIN_DIR (set
// by ctest; else the build's bin dir) on free 127.0.0.1 ports, in a fresh
// temporary data directory with keys from `polku-keys init`.
//
//   auto suite = polku::testing::Suite::Start();
//   ASSERT_TRUE(suite.ok()) << suite.status();
//   auto stub = v1::FeedbackService::NewStub((*suite)->GatewayChannel());
//   grpc::ClientContext context;
//   (*suite)->Authorize(context,
//   (*suite)->credentials().channel_keys.at("shop")); …
//   EXPECT_EQ((*suite)->Stop(), absl::OkStatus());   // SIGTERM; every process must exit 0
//
// Readiness is bounded polling of gRPC health (polku-feedback: the service
// "polku.v1.FeedbackService", which turns SERVING once its touchpoint index
// is loaded) and of the gateway's GET /healthz. When a test fails, the
// processes' logs are printed (see ~Suite).
//
// Replicas and PostgreSQL: with Options::database = kPostgres the harness
// starts its own PostgreSQL server (lib/postgres/testing: a Unix socket in a
// temporary directory, stopped at the end), creates one database per service
// (feedback, journey, insight, gateway: polku-keys init and the gateways keep
// their key store there) and passes --database_url. Options::
// feedback_replicas and insight_replicas start that many copies of a
// service, each on its own port and data directory; the feedback replicas
// share one --secret_file, and the gateway (and every insight replica) is
// given every feedback replica's address. Replica 1 is named as before
// ("polku-feedback", backend "feedback"); replica k > 1 is "polku-feedback#k"
// (backend "feedback#k"). Options::gateway_replicas starts that many
// gateways on the one key store, "polku-gateway#k" with its own ports
// (gateway_grpc_address(k), gateway_http_port(k)) and data directory:
//
//   Suite::Options options;
//   options.database = Suite::Database::kPostgres;
//   options.feedback_replicas = 2;
//   auto suite = Suite::Start(options);
//   …
//   (*suite)->KillAndRestart("polku-feedback#2");
//
// Cases: Options::cases_replicas = n > 0 starts n copies of polku-cases
// (after insight, before the gateways), each tailing polku-feedback's feed,
// on SQLite (<data_dir>/cases.db; one replica only) or the suite's
// PostgreSQL database "cases"; the gateway is given --cases_address (every
// replica). Replica k > 1 is "polku-cases#k" (backend "cases#k").
//
// Processes start one after another, each once the one before is healthy.
// A port is picked free and released before its process binds it, so another
// process may take it in between: a process that then exits during start-up
// because its address is in use is started again on a new port.
#ifndef POLKU_TESTS_HARNESS_SUITE_H_
#define POLKU_TESTS_HARNESS_SUITE_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/postgres/testing/test_server.h"
#include "tests/harness/fault_proxy.h"
#include "tools/journeys/gateway_client.h"

namespace httplib {
class Client;
}  // namespace httplib

namespace polku::testing {

class Suite {
 public:
  enum class Database { kSqlite, kPostgres };

  struct Options {
    std::string tenant = "demo";
    std::string channels = "shop,phone,web,email";
    // Bound on each wait for readiness or exit.
    absl::Duration timeout = absl::Seconds(60);
    // TLS mode: a directory from rpc::testing::TestPki::Make with (at least)
    // polku-gateway, polku-feedback, polku-journey and polku-insight. Every
    // service then serves mTLS and calls the others with its own
    // certificate; the gateway's public listeners serve TLS; the harness's
    // own channels present the gateway's certificate.
    std::string tls_dir;
    // Where the services keep their data (see the overview above).
    Database database = Database::kSqlite;
    // Copies of polku-feedback (more than one needs kPostgres: replicas
    // share a database) and of polku-insight (on SQLite each replica counts
    // into its own insight.db).
    int feedback_replicas = 1;
    int insight_replicas = 1;
    // Copies of polku-gateway (more than one needs kPostgres: they share
    // its key store). Replica 1 issues the super-admin key into data_dir().
    int gateway_replicas = 1;
    // More flags for polku-gateway, e.g. "--key_rate=1000" for a load that
    // calls more often than the default rate limits allow.
    std::vector<std::string> gateway_flags;
    // More flags for each polku-insight replica.
    std::vector<std::string> insight_flags;
    // Put a FaultProxy (fault_proxy.h) between polku-feedback and each of
    // its callers: proxy("gateway") between the gateway and feedback,
    // proxy("insight") between polku-insight and feedback's change feed.
    // One feedback replica only.
    bool feedback_proxies = false;
    // Copies of polku-cases (0 = none, the gateway then has no
    // --cases_address; more than one needs kPostgres: they share a
    // database). In TLS mode tls_dir must hold polku-cases too.
    int cases_replicas = 0;
    // More flags for each polku-cases replica.
    std::vector<std::string> cases_flags;
  };

  // Starts PostgreSQL (if asked) and polku-keys init, then journey, the
  // feedback replicas, the insight replicas, the cases replicas (if asked)
  // and the gateways.
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

  // SIGTERM to `name` (e.g. "polku-gateway"); an error unless it exits 0
  // within `within` (then it is killed).
  absl::Status Terminate(const std::string& name, absl::Duration within);

  // Sends `signal` to `name` (e.g. SIGSTOP and SIGCONT, to hold calls in
  // flight); FAILED_PRECONDITION if it is not running.
  absl::Status Signal(const std::string& name, int signal);

  // SIGTERM to polku-insight, check it exits 0, start it again on the same
  // port and data directory, and wait until it is healthy and the gateway
  // reaches it again (GET /readyz answers 200).
  absl::Status RestartInsight();

  // SIGKILL to `name` (e.g. "polku-feedback", or a replica:
  // "polku-insight#2"), reap it, start it again on the same port and data
  // directory, and wait until it is healthy (for polku-feedback: its
  // FeedbackService is SERVING) and the gateway's GET /readyz answers 200.
  // For crash tests.
  absl::Status KillAndRestart(const std::string& name);

  // The proxy in front of polku-feedback for "gateway" or "insight" (see
  // Options::feedback_proxies); nullptr without.
  FaultProxy* proxy(const std::string& caller) const;

  const tools::Credentials& credentials() const { return credentials_; }
  const std::string& data_dir() const { return data_dir_; }
  // host:port of a backend: "journey", "feedback", "insight" or "cases",
  // or a replica: "feedback#2".
  std::string backend_address(const std::string& name) const { return Address(name); }
  // host:port of a gateway's gRPC listener (replica 1 unless told).
  std::string gateway_grpc_address(int replica = 1) const;
  std::string gateway_http_host() const { return "127.0.0.1"; }
  int gateway_http_port(int replica = 1) const;
  // host:port of polku-feedback itself (no gateway in front).
  std::string feedback_address() const { return Address("feedback"); }
  // libpq URL of a service's database ("feedback", "journey", "insight",
  // "cases"); empty on SQLite.
  std::string database_url(const std::string& service) const;
  // Process id of `name` (e.g. "polku-gateway", "polku-feedback#2"), -1 if
  // not running.
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
  // The log of one process so far, e.g. of "polku-feedback#2" (every
  // launch of it appends).
  std::string Log(const std::string& name) const;
  // Its last `lines` lines.
  std::string LogTail(const std::string& name, int lines) const;

 private:
  struct Process {
    std::string name;    // e.g. "polku-feedback#2"
    std::string binary;  // e.g. "polku-feedback"
    // Keys of ports_ it listens on; the first is the one health is asked on.
    std::vector<std::string> ports;
    // Its arguments, made at each launch from the ports as they are then.
    std::function<std::vector<std::string>()> args;
    std::string health_service;  // gRPC health service that means ready
    pid_t pid = -1;
  };

  explicit Suite(Options options) : options_(std::move(options)) {}

  absl::Status Init();
  absl::Status StartDatabase();
  // Launches `process` and waits until it is ready. When it exits during
  // start-up because one of its ports was taken, launches it again: on new
  // ports if `may_move` (nothing knows them yet), else on the same ones
  // once they are free.
  absl::Status StartProcess(Process& process, bool may_move);
  absl::Status Launch(Process& process);
  // Ready: SERVING on its first port (and the gateway's HTTP /healthz).
  // UNAVAILABLE if `process` exited meanwhile.
  absl::Status WaitReady(Process& process);
  // Until the gateway (if running) answers GET /readyz with 200: its
  // channels reach every backend again after a restart.
  absl::Status WaitGatewayReady();
  // An HTTP(S) client of a gateway's HTTP listener (the port's name, e.g.
  // "http#2") with short timeouts.
  std::unique_ptr<httplib::Client> GatewayHttp(
      const std::string& port_name = "http") const;
  Process* Find(const std::string& name);
  // "ipv4:a,b" for several replicas of `backend`, else its host:port.
  std::string AllReplicas(const std::string& backend, int count) const;
  // The feedback address `caller` ("gateway", "insight") is given: its
  // proxy's, made on first use, with Options::feedback_proxies.
  std::string FeedbackAddressFor(const std::string& caller, int replicas);
  // SIGTERM, then waits up to `within`; error unless it exited 0.
  absl::Status Terminate(Process& process, absl::Duration within);
  std::string LogPath(const std::string& name) const;
  std::string Address(const std::string& port_name) const;

  Options options_;
  std::string bin_dir_;
  std::string data_dir_;
  std::map<std::string, int> ports_;
  // journey, feedback replicas, insight replicas, cases replicas, gateways
  std::vector<Process> processes_;
  std::unique_ptr<postgres::TestServer> postgres_;
  tools::Credentials credentials_;
  std::shared_ptr<grpc::Channel> gateway_channel_;
  std::map<std::string, std::unique_ptr<FaultProxy>> proxies_;
};

// Path of a Polku binary: $POLKU_BIN_DIR/name, else the build's bin dir.
std::string BinaryPath(const std::string& name);

}  // namespace polku::testing

#endif  // POLKU_TESTS_HARNESS_SUITE_H_
