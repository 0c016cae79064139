// polku-gateway: the public endpoint. Wiring only; see grpc_proxy.h,
// http_gateway.h and admin_api.h.
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "gateway/admin_api.h"
#include "gateway/backends.h"
#include "gateway/grpc_proxy.h"
#include "gateway/http_gateway.h"
#include "gateway/keys/demo_credentials.h"
#include "gateway/keys/key_store.h"
#include "gateway/metrics.h"
#include "gateway/rate_limiter.h"
#include "lib/base/clock.h"
#include "lib/base/executor.h"
#include "lib/base/log.h"
#include "lib/postgres/postgres.h"
#include "lib/rpc/flags.h"
#include "lib/rpc/server.h"

ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:7070",
          "host:port of the public gRPC listener");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:8080",
          "host:port of the public HTTP/JSON listener");
ABSL_FLAG(std::string, data_dir, ".polku",
          "directory of Polku's files (superadmin.key; on SQLite also "
          "gateway.db, the tenants and key hashes)");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL to keep tenants and key hashes in (postgres://… or "
          "postgresql://…), shared by every gateway replica; empty: SQLite "
          "gateway.db in --data_dir (one gateway)");
ABSL_FLAG(absl::Duration, key_refresh_interval, absl::Seconds(1),
          "how often the gateway reads keys issued and revoked through other "
          "gateways (or polku-keys): how long such a change may take to reach "
          "this one");
ABSL_FLAG(absl::Duration, key_max_staleness, absl::Seconds(10),
          "once the key store could not be read for this long, every call is "
          "refused (UNAVAILABLE) rather than checked against keys that may "
          "have been revoked meanwhile; 0 = never refuse");
ABSL_FLAG(std::string, feedback_address, "127.0.0.1:7101",
          "host:port of polku-feedback");
ABSL_FLAG(std::string, journey_address, "127.0.0.1:7102",
          "host:port of polku-journey");
ABSL_FLAG(std::string, insight_address, "127.0.0.1:7103",
          "host:port of polku-insight");
ABSL_FLAG(std::string, cases_address, "",
          "host:port of polku-cases; empty = none: CaseService calls are "
          "UNAVAILABLE and readiness does not wait for it");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the public gRPC and HTTP listeners; "
          "empty = plaintext (loopback only)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: if set, clients of the public listeners must "
          "present a certificate it signed");
ABSL_FLAG(std::string, backend_tls_ca, "",
          "PEM CA bundle the backends' certificates are verified with; "
          "setting it switches the backend links to TLS");
ABSL_FLAG(std::string, backend_tls_cert, "",
          "PEM client certificate the gateway presents to the backends (mTLS)");
ABSL_FLAG(std::string, backend_tls_key, "", "PEM key for --backend_tls_cert");
ABSL_FLAG(double, key_rate, 100,
          "calls per second each API key may make (token bucket refill); "
          "0 = unlimited");
ABSL_FLAG(double, key_burst, 200, "calls an API key may make at once");
ABSL_FLAG(double, tenant_rate, 1000,
          "calls per second all of a tenant's keys together may make; "
          "0 = unlimited");
ABSL_FLAG(double, tenant_burst, 2000, "calls a tenant may make at once");

int main(int argc, char** argv) {
  polku::rpc::ParseFlags(
      argc, argv,
      "polku-gateway: authenticates API keys and forwards gRPC and "
      "HTTP/JSON calls to the Polku services");
  polku::log::SetServiceName("polku-gateway");
  namespace keys = polku::gateway::keys;

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  const std::string database_url = absl::GetFlag(FLAGS_database_url);
  auto key_store = keys::OpenKeyStore(database_url, data_dir);
  if (!key_store.ok()) {
    polku::log::Error(
        "cannot open the key store",
        {{"database", database_url.empty()
                          ? keys::JoinPath(data_dir, keys::kGatewayDbFileName)
                          : polku::postgres::DescribeServer(database_url)},
         {"error", key_store.status().ToString()}});
    return EXIT_FAILURE;
  }
  (*key_store)
      ->StartRefreshing(absl::GetFlag(FLAGS_key_refresh_interval),
                        absl::GetFlag(FLAGS_key_max_staleness));
  // First start: a super-admin key, so that tenants can be created. With
  // replicas on one database, the first to get there issues it (into its
  // --data_dir); the others find it.
  auto super_admin = keys::EnsureSuperAdminKey(**key_store, data_dir);
  if (!super_admin.ok()) {
    polku::log::Error("cannot issue the bootstrap super-admin key",
                      {{"error", super_admin.status().ToString()}});
    return EXIT_FAILURE;
  }
  if (super_admin->second) {
    polku::log::Info("issued the bootstrap super-admin key",
                     {{"path", super_admin->first}});
  } else {
    polku::log::Info("a super-admin key exists; not issuing another",
                     {{"store", (*key_store)->description()}});
  }

  auto backends = polku::gateway::Backends::Connect(
      {.feedback = absl::GetFlag(FLAGS_feedback_address),
       .journey = absl::GetFlag(FLAGS_journey_address),
       .insight = absl::GetFlag(FLAGS_insight_address),
       .cases = absl::GetFlag(FLAGS_cases_address)},
      {.cert_file = absl::GetFlag(FLAGS_backend_tls_cert),
       .key_file = absl::GetFlag(FLAGS_backend_tls_key),
       .ca_file = absl::GetFlag(FLAGS_backend_tls_ca)});
  if (!backends.ok()) {
    polku::log::Error("cannot set up the backend channels",
                      {{"error", backends.status().ToString()}});
    return EXIT_FAILURE;
  }
  const polku::rpc::TlsFiles public_tls{
      .cert_file = absl::GetFlag(FLAGS_tls_cert),
      .key_file = absl::GetFlag(FLAGS_tls_key),
      .ca_file = absl::GetFlag(FLAGS_tls_client_ca)};
  polku::gateway::AdminApi admin(**key_store);
  // AdminService calls block on the database; they run here, off gRPC's
  // threads.
  polku::Executor admin_executor(2);
  polku::gateway::RateLimiter limiter(
      {.per_second = absl::GetFlag(FLAGS_key_rate),
       .burst = absl::GetFlag(FLAGS_key_burst)},
      {.per_second = absl::GetFlag(FLAGS_tenant_rate),
       .burst = absl::GetFlag(FLAGS_tenant_burst)},
      polku::Clock::Real());
  polku::gateway::Metrics metrics;
  metrics.SetRateLimitBuckets([&limiter] { return limiter.bucket_count(); });
  polku::gateway::GrpcProxy proxy(**key_store, *backends, admin,
                                  admin_executor);
  proxy.set_rate_limiter(&limiter);
  proxy.set_metrics(&metrics);
  polku::gateway::HttpGateway http(**key_store, *backends, admin);
  http.set_rate_limiter(&limiter);
  http.set_metrics(&metrics);

  auto server = polku::rpc::Server::Start(
      {.name = "polku-gateway",
       .listen_address = absl::GetFlag(FLAGS_grpc_listen),
       .generic_service = &proxy,
       .public_endpoint = true,
       .tls = public_tls,
       .log_requests = false,
       // Watch streams never end by themselves: end them (their clients
       // reconnect to another replica) so that the drain waits only for
       // short calls and the process exits well within the grace period.
       .on_drain = [&http, &proxy] {
         http.EndStreams();
         proxy.EndStreams();
       }});
  if (!server.ok()) {
    polku::log::Error("cannot start the gRPC listener",
                      {{"address", absl::GetFlag(FLAGS_grpc_listen)},
                       {"error", server.status().ToString()}});
    return EXIT_FAILURE;
  }
  if (absl::Status started =
          http.Start(absl::GetFlag(FLAGS_http_listen), public_tls);
      !started.ok()) {
    polku::log::Error("cannot start the HTTP listener",
                      {{"address", absl::GetFlag(FLAGS_http_listen)},
                       {"error", started.ToString()}});
    (*server)->Shutdown();
    return EXIT_FAILURE;
  }
  polku::log::Info("serving",
                   {{"grpc", absl::GetFlag(FLAGS_grpc_listen)},
                    {"grpc_port", (*server)->port()},
                    {"http", absl::GetFlag(FLAGS_http_listen)},
                    {"http_port", http.port()},
                    {"tls", public_tls.enabled() ? "on" : "off"},
                    {"keys", static_cast<int64_t>((*key_store)->size())},
                    {"key_store", (*key_store)->description()}});
  (*server)->WaitForShutdownSignal();
  http.Stop();
  polku::log::Info("http stopped");
  return EXIT_SUCCESS;
}
