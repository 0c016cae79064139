// The gateway's gRPC face: a generic service that authenticates each call's
// key, authorizes the method, and relays the call's raw messages to the
// backend that serves it, without decoding them. Unary, server-streaming and
// bidi calls all travel the same way, as a bidi stream.
//
//   GrpcProxy proxy(key_store, backends, &admin_api, &executor);
//   auto server = rpc::Server::Start({.name = "polku-gateway",
//                                     .listen_address = "127.0.0.1:7070",
//                                     .generic_service = &proxy,
//                                     .log_requests = false});
//
// The backend call gets the caller's deadline, capped at 30 s except for the
// endless Watch* streams, and the trusted metadata from the key (see
// caller_auth.h). The backend's status (code and message) is the caller's
// status; a caller that cancels cancels the backend call. Each call logs one
// line: request_id, tenant, key_id, method, code, latency_ms.
//
// A caller allowed a method only through its route's also_scope gets the
// narrower answer the route says (authz.h): its request is rewritten before
// it is relayed (request_view.h), e.g. a dashboard key's ListJourneys asks
// for JOURNEY_VIEW_BASIC whatever it asked.
//
// AdminService calls are not relayed: the proxy answers them itself through
// AdminApi, on `executor` (the key store blocks).
//
// With a rate limiter, a call over its key's or tenant's limit ends
// RESOURCE_EXHAUSTED with the trailing metadata `retry-after-ms`.
//
// At shutdown, EndStreams (rpc::ServerConfig::on_drain) ends the endless
// streams (Watch*, StreamEvents) with UNAVAILABLE, so that their clients
// reconnect to another replica and the drain waits only for short calls.
#ifndef POLKU_GATEWAY_GRPC_PROXY_H_
#define POLKU_GATEWAY_GRPC_PROXY_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "gateway/admin_api.h"
#include "gateway/authz.h"
#include "gateway/backends.h"
#include "gateway/keys/keys.h"
#include "gateway/metrics.h"
#include "gateway/rate_limiter.h"
#include "lib/base/executor.h"

namespace polku::gateway {

class ProxyCall;

class GrpcProxy : public grpc::CallbackGenericService {
 public:
  // Every argument must outlive the proxy.
  GrpcProxy(const keys::KeyStore& key_store, const Backends& backends,
            AdminApi& admin, Executor& executor);
  ~GrpcProxy() override;

  // Optional; set before serving. Both must outlive the proxy.
  void set_rate_limiter(RateLimiter* limiter) { rate_limiter_ = limiter; }
  void set_metrics(Metrics* metrics) { metrics_ = metrics; }

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;

  // Calls not yet finished (for tests: the proxy leaks nothing).
  int active_calls() const { return active_calls_.load(); }

  // Ends every open endless stream with UNAVAILABLE ("shutting down") and
  // refuses new ones from now on. Returns without waiting for them.
  void EndStreams();

 private:
  friend class ProxyCall;

  grpc::GenericStub& stub(Backend backend);
  // False once EndStreams ran: the stream must not start.
  bool RegisterStream(ProxyCall* call);
  void DeregisterStream(ProxyCall* call);

  const keys::KeyStore& key_store_;
  AdminApi& admin_;
  Executor& executor_;
  RateLimiter* rate_limiter_ = nullptr;
  Metrics* metrics_ = nullptr;
  grpc::GenericStub feedback_;
  grpc::GenericStub journey_;
  grpc::GenericStub insight_;
  // Empty without --cases_address: CaseService calls are UNAVAILABLE.
  std::optional<grpc::GenericStub> cases_;
  std::atomic<int> active_calls_{0};

  absl::Mutex streams_mu_;
  // Open endless streams; each removes itself when its caller is done.
  absl::flat_hash_set<ProxyCall*> streams_ ABSL_GUARDED_BY(streams_mu_);
  bool ending_streams_ ABSL_GUARDED_BY(streams_mu_) = false;
};

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_GRPC_PROXY_H_
