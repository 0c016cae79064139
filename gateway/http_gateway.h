// The gateway's HTTP/JSON face: every public RPC as a REST route (the table
// in http_routes.h), speaking proto3 canonical JSON (lowerCamelCase names,
// defaults printed). Server streams answer with newline-delimited JSON
// (application/x-ndjson, chunked), one message per line; a stream that fails
// after it started ends with an {"error": …} line. Client streams take an
// NDJSON body, one request message per line.
//
// Besides the API (no key needed):
//   GET /v1/openapi.json   OpenAPI 3 description of the routes
//   GET /healthz           {"status":"ok"} while the process runs
//   GET /readyz            200 when every backend answers its gRPC health
//                          check SERVING within 1 s, else 503; the body
//                          names each backend's state
//   GET /metrics           Prometheus text (see metrics.h)
//   GET /, /dashboard/…    the dashboard page and its files (dashboard.h)
//
// Every API route authenticates `Authorization: Bearer <key>` and authorizes
// the RPC exactly as the gRPC proxy does (narrowed requests included).
// `X-Request-Id` is accepted (or one is made up), passed to the backend, logged
// and returned. `X-Request-Timeout` (seconds, e.g. "2.5") shortens the 30 s
// default deadline. Errors carry the HTTP status mapped from the gRPC code and
// the body
//   {"error": {"code": "INVALID_ARGUMENT", "status": 400,
//              "message": "events[1].csat: …", "field": "events[1].csat"}}
// ("field" only when the message names one). A rate-limited call gets 429
// with `Retry-After` (whole seconds, rounded up).
//
//   HttpGateway http(key_store, backends, admin);
//   if (absl::Status s = http.Start("127.0.0.1:8080"); !s.ok()) { … }
//   …
//   http.Stop();
#ifndef POLKU_GATEWAY_HTTP_GATEWAY_H_
#define POLKU_GATEWAY_HTTP_GATEWAY_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "gateway/admin_api.h"
#include "gateway/backends.h"
#include "gateway/keys/keys.h"
#include "gateway/metrics.h"
#include "gateway/rate_limiter.h"
#include "lib/rpc/tls.h"

namespace httplib {
class Server;
}

namespace polku::gateway {

// The HTTP status for a gRPC/absl status code (see the file comment).
int HttpStatusFor(absl::StatusCode code);

// The JSON error body for `status`.
std::string ErrorBody(const absl::Status& status);

// The header that shortens a call's deadline, in (decimal) seconds.
inline constexpr char kRequestTimeoutHeader[] = "X-Request-Timeout";

class HttpGateway {
 public:
  // `key_store` and `admin` must outlive the gateway.
  HttpGateway(const keys::KeyStore& key_store, const Backends& backends,
              AdminApi& admin);
  ~HttpGateway();  // Stops.

  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  // Optional; set before Start. Both must outlive the gateway. Without
  // metrics, /metrics serves only the backends' health.
  void set_rate_limiter(RateLimiter* limiter);
  void set_metrics(Metrics* metrics);

  // Binds `listen_address` (host:port; port 0 picks a free one) and serves
  // on background threads: HTTPS when `tls` has a certificate (and then,
  // with tls.ca_file, only to clients with a certificate from that CA).
  // UNAVAILABLE if the address cannot be bound, INVALID_ARGUMENT if the
  // certificate files are unusable.
  absl::Status Start(const std::string& listen_address,
                     const rpc::TlsFiles& tls = {});

  // The bound port, once started.
  int port() const { return port_; }

  // Ends every open stream (NDJSON watches) with an UNAVAILABLE error line
  // ("shutting down"), refuses new ones with 503 and makes /readyz answer
  // 503: the first step of a shutdown, so that Stop does not wait for
  // streams that never end. Returns without waiting.
  void EndStreams();

  // Stops accepting and returns once in-flight requests are answered.
  void Stop();

 private:
  class Routes;

  std::unique_ptr<Routes> routes_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_HTTP_GATEWAY_H_
