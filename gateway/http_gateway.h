// The gateway's HTTP/JSON face: the same RPCs as the gRPC proxy, as REST
// routes speaking proto3 canonical JSON (lowerCamelCase names, defaults
// printed):
//
//   POST /v1/events                  SubmitEvents (body: SubmitEventsRequest)
//   GET  /v1/journeys                ListJourneys (?page_size=&page_token=)
//   GET  /v1/journeys/{key}          GetJourney (?version=)
//   POST /v1/journeys                CreateJourney (body: Journey)
//   POST /v1/journeys/{key}:publish  PublishJourney
//   GET  /v1/channels                ListChannels
//   GET  /v1/scorecard               GetScorecard (?journey=&group_by=
//                                    touchpoint|stage|channel&start=&end=
//                                    in RFC 3339&journey_version=)
//   GET  /healthz                    {"status":"ok"}
//
// Every route authenticates `Authorization: Bearer <key>` and authorizes the
// RPC exactly as the gRPC proxy does. Errors carry the HTTP status mapped
// from the gRPC code and the body
//   {"error": {"code": "INVALID_ARGUMENT", "status": 400, "message": "…"}}.
//
//   HttpGateway http(key_store, backends);
//   if (absl::Status s = http.Start("127.0.0.1:8080"); !s.ok()) { … }
//   …
//   http.Stop();
#ifndef POLKU_GATEWAY_HTTP_GATEWAY_H_
#define POLKU_GATEWAY_HTTP_GATEWAY_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "gateway/backends.h"
#include "gateway/keys/keys.h"

namespace httplib {
class Server;
}

namespace polku::gateway {

// The HTTP status for a gRPC/absl status code (see the file comment).
int HttpStatusFor(absl::StatusCode code);

// The JSON error body for `status`.
std::string ErrorBody(const absl::Status& status);

class HttpGateway {
 public:
  // `key_store` must outlive the gateway. Creates the backend stubs.
  HttpGateway(const keys::KeyStore& key_store, const Backends& backends);
  ~HttpGateway();  // Stops.

  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  // Binds `listen_address` (host:port; port 0 picks a free one) and serves
  // on background threads. UNAVAILABLE if the address cannot be bound.
  absl::Status Start(const std::string& listen_address);

  // The bound port, once started.
  int port() const { return port_; }

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
