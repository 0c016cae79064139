#include "gateway/grpc_proxy.h"

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/client_callback.h>
#include <grpcpp/support/server_callback.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "gateway/caller_auth.h"
#include "gateway/request_view.h"
#include "lib/base/log.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"

namespace polku::gateway {
namespace {

absl::optional<absl::string_view> FindMetadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    absl::string_view key) {
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return absl::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

// The bytes of a message buffer, as one string.
std::string BufferBytes(grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return bytes;
}

}  // namespace

// One proxied call: a server reactor facing the caller, joined to a client
// reactor facing the backend.
//
// Two pumps run independently, each with at most one operation in flight:
//   upstream:   read from caller → write to backend → read from caller …
//   downstream: read from backend → write to caller → read from backend …
// Operations on the backend stream are started from the caller's reactions,
// which is what client holds are for: one hold per pump keeps the backend
// call (and its OnDone) alive until that pump will issue nothing more.
//
// The backend's OnDone delivers the final status, and is the only place the
// caller's call is finished (except for calls refused before any backend
// call exists). This object deletes itself once both sides are done and
// GrpcProxy::EndStreams no longer holds it (a pin).
class ProxyCall final : public grpc::ServerGenericBidiReactor {
 public:
  ProxyCall(GrpcProxy& proxy, grpc::GenericCallbackServerContext* context)
      : proxy_(proxy),
        server_context_(context),
        method_(context->method()),
        start_(absl::Now()),
        in_flight_(proxy.metrics_ != nullptr ? proxy.metrics_->Start("grpc")
                                             : Metrics::InFlight(nullptr)),
        backend_reactor_(this) {
    proxy_.active_calls_.fetch_add(1);
    const auto& metadata = context->client_metadata();
    absl::optional<absl::string_view> given_id =
        FindMetadata(metadata, rpc::kRequestIdHeader);
    request_id_ = RequestIdOrNew(given_id.value_or(""));
    context->AddInitialMetadata(rpc::kRequestIdHeader, request_id_);

    absl::StatusOr<keys::Principal> principal = AuthenticateBearer(
        proxy_.key_store_, FindMetadata(metadata, kAuthorizationHeader));
    if (!principal.ok()) {
      Refuse(principal.status());
      return;
    }
    tenant_ = principal->tenant;
    key_id_ = principal->key_id;
    if (proxy_.rate_limiter_ != nullptr) {
      RateLimiter::Decision admitted =
          proxy_.rate_limiter_->Admit(key_id_, tenant_);
      if (!admitted.allowed) {
        int64_t retry_ms = absl::ToInt64Milliseconds(
            absl::Ceil(admitted.retry_after, absl::Milliseconds(1)));
        context->AddTrailingMetadata(kRetryAfterMsTrailer,
                                     absl::StrCat(retry_ms));
        if (proxy_.metrics_ != nullptr) {
          proxy_.metrics_->RateLimited(admitted.limit);
        }
        Refuse(absl::ResourceExhaustedError(
            absl::StrCat("rate limit of the ", admitted.limit,
                         " exceeded; retry in ", retry_ms, " ms")));
        return;
      }
    }
    absl::StatusOr<Route> route = Authorize(*principal, method_);
    if (!route.ok()) {
      Refuse(route.status());
      return;
    }
    absl::StatusOr<std::string> actor =
        ActorOf(*principal, FindMetadata(metadata, kActorHeader));
    if (!actor.ok()) {
      Refuse(actor.status());
      return;
    }
    if (route->backend == Backend::kGateway) {
      // Answered here: read the one request message, then see OnReadDone.
      principal_ = *std::move(principal);
      local_ = true;
      {
        absl::MutexLock lock(&mu_);
        backend_done_ = true;
      }
      StartRead(&upstream_buffer_);
      return;
    }
    if (route->backend == Backend::kCases && !proxy_.cases_.has_value()) {
      Refuse(CasesUnavailable());
      return;
    }

    narrowing_ = NarrowingFor(*principal, *route);
    if (route->unbounded) {
      if (!proxy_.RegisterStream(this)) {
        Refuse(ShuttingDown());
        return;
      }
      registered_ = true;
    }
    // The caller's deadline, capped unless the call is an endless stream.
    auto deadline = context->deadline();
    if (!route->unbounded) {
      deadline =
          std::min(deadline, std::chrono::system_clock::now() +
                                 std::chrono::seconds(kDefaultDeadlineSeconds));
    }
    if (deadline != std::chrono::system_clock::time_point::max()) {
      backend_context_.set_deadline(deadline);
    }
    AttachTrustedMetadata(*principal, request_id_, *actor, backend_context_);

    proxy_.stub(route->backend)
        .PrepareBidiStreamingCall(&backend_context_, method_,
                                  grpc::StubOptions(), &backend_reactor_);
    backend_started_ = true;
    backend_reactor_.AddMultipleHolds(2);  // One per pump.
    backend_reactor_.StartRead(&downstream_buffer_);
    backend_reactor_.StartCall();
    StartRead(&upstream_buffer_);
  }

  // Caller side.

  void OnReadDone(bool ok) override {
    if (local_) {
      AnswerLocally(ok);
      return;
    }
    // A caller limited to a narrower answer: its request says so, whatever
    // it asked (before the state changes, so a refusal closes the pump).
    absl::Status refused;
    if (ok && narrowing_ != Narrowing::kNone) {
      absl::StatusOr<std::string> narrowed =
          NarrowRequest(narrowing_, BufferBytes(upstream_buffer_));
      if (narrowed.ok()) {
        grpc::Slice slice(*narrowed);
        upstream_buffer_ = grpc::ByteBuffer(&slice, 1);
      } else {
        refused = narrowed.status();
      }
    }
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      // The backend already ended while this read was pending.
      if (upstream_ == Pump::kClosed) return;
      if (ok && refused.ok()) {
        upstream_ = Pump::kWriting;
        write = true;
      } else {
        upstream_ = Pump::kClosed;
        if (!refused.ok()) ending_status_ = refused;
      }
    }
    if (write) {
      backend_reactor_.StartWrite(&upstream_buffer_);
    } else if (!refused.ok()) {
      // Nothing reaches the backend; the caller hears why (OnBackendDone).
      backend_context_.TryCancel();
      backend_reactor_.RemoveHold();
    } else {
      // The caller half-closed (or went away): so do we.
      backend_reactor_.StartWritesDone();
      backend_reactor_.RemoveHold();
    }
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      downstream_ = ok ? Pump::kReading : Pump::kClosed;
    }
    if (ok) {
      backend_reactor_.StartRead(&downstream_buffer_);
    } else {
      // The caller is gone; nobody will read what the backend sends.
      backend_context_.TryCancel();
      backend_reactor_.RemoveHold();
    }
  }

  void OnCancel() override {
    if (backend_started_) backend_context_.TryCancel();
  }

  void OnDone() override {
    if (proxy_.metrics_ != nullptr) {
      proxy_.metrics_->Finish(
          "grpc", method_,
          static_cast<absl::StatusCode>(final_status_.error_code()),
          absl::Now() - start_);
    }
    log::Info(
        "request",
        {{"request_id", request_id_},
         {"tenant", tenant_},
         {"key_id", key_id_},
         {"method", method_},
         {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(
                      final_status_.error_code()))},
         {"latency_ms", absl::ToDoubleMilliseconds(absl::Now() - start_)}});
    // Before caller_done_: once out of the registry, no new pin can come.
    if (registered_) proxy_.DeregisterStream(this);
    bool last;
    {
      absl::MutexLock lock(&mu_);
      caller_done_ = true;
      last = backend_done_ && pins_ == 0;
    }
    if (last) delete this;
  }

  // Keeps this object alive for GrpcProxy::EndStreams; only while it is in
  // the proxy's registry, under the registry's lock.
  void Pin() {
    absl::MutexLock lock(&mu_);
    ++pins_;
  }

  // Ends the stream for a shutdown: the backend call is cancelled, and the
  // caller hears UNAVAILABLE (see OnBackendDone). Releases the pin.
  void EndForShutdown() {
    {
      absl::MutexLock lock(&mu_);
      if (ending_status_.ok()) ending_status_ = ShuttingDown();
    }
    backend_context_.TryCancel();
    bool last;
    {
      absl::MutexLock lock(&mu_);
      last = --pins_ == 0 && caller_done_ && backend_done_;
    }
    if (last) delete this;
  }

 private:
  enum class Pump {
    // A read on the source side is in flight.
    kReading,
    // A write on the destination side is in flight.
    kWriting,
    // Nothing more will be started; the pump's hold is released.
    kClosed,
  };

  // Backend side; forwards to the ProxyCall.
  class BackendReactor final
      : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    explicit BackendReactor(ProxyCall* call) : call_(call) {}
    void OnReadDone(bool ok) override { call_->OnBackendReadDone(ok); }
    void OnWriteDone(bool ok) override { call_->OnBackendWriteDone(ok); }
    void OnDone(const grpc::Status& status) override {
      call_->OnBackendDone(status);
    }

   private:
    ProxyCall* const call_;
  };

  ~ProxyCall() override { proxy_.active_calls_.fetch_sub(1); }

  static absl::Status ShuttingDown() {
    return absl::UnavailableError(
        "polku-gateway is shutting down; reconnect (to another replica)");
  }

  // Runs an AdminService call on the executor and finishes it.
  void AnswerLocally(bool got_request) {
    if (!got_request) {
      final_status_ = rpc::ToGrpcStatus(
          absl::InvalidArgumentError("the call carried no request message"));
      Finish(final_status_);
      return;
    }
    proxy_.executor_.Schedule([this] {
      const std::string request = BufferBytes(upstream_buffer_);
      absl::StatusOr<std::string> response =
          proxy_.admin_.Invoke(principal_, method_, request);
      if (!response.ok()) {
        final_status_ = rpc::ToGrpcStatus(response.status());
        Finish(final_status_);
        return;
      }
      grpc::Slice slice(*response);
      downstream_buffer_ = grpc::ByteBuffer(&slice, 1);
      final_status_ = grpc::Status::OK;
      StartWriteAndFinish(&downstream_buffer_, grpc::WriteOptions(),
                          final_status_);
    });
  }

  // Finishes a call that never reached a backend.
  void Refuse(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      backend_done_ = true;
    }
    final_status_ = rpc::ToGrpcStatus(status);
    Finish(final_status_);
  }

  void OnBackendReadDone(bool ok) {
    bool release_upstream = false;
    {
      absl::MutexLock lock(&mu_);
      if (ok) {
        downstream_ = Pump::kWriting;
      } else {
        downstream_ = Pump::kClosed;
        // The backend has answered in full. A pending read from the caller
        // may never complete (a bidi caller that keeps its side open), so
        // stop waiting for it rather than hold the backend's status back.
        backend_finished_ = true;
        if (upstream_ == Pump::kReading) {
          upstream_ = Pump::kClosed;
          release_upstream = true;
        }
      }
    }
    if (ok) {
      StartWrite(&downstream_buffer_);
      return;
    }
    backend_reactor_.RemoveHold();
    if (release_upstream) backend_reactor_.RemoveHold();
  }

  void OnBackendWriteDone(bool ok) {
    bool read = false;
    {
      absl::MutexLock lock(&mu_);
      if (ok && !backend_finished_) {
        upstream_ = Pump::kReading;
        read = true;
      } else {
        upstream_ = Pump::kClosed;
      }
    }
    if (read) {
      StartRead(&upstream_buffer_);
    } else {
      backend_reactor_.RemoveHold();
    }
  }

  void OnBackendDone(const grpc::Status& status) {
    // A backend's retry hint (its writer queue is full) reaches the caller,
    // who would otherwise retry blind.
    bool hinted = false;
    for (const auto& [key, value] : backend_context_.GetServerTrailingMetadata()) {
      if (key == kRetryAfterMsTrailer) {
        server_context_->AddTrailingMetadata(kRetryAfterMsTrailer,
                                             std::string(value.data(), value.size()));
        hinted = true;
      }
    }
    absl::Status ending;
    {
      absl::MutexLock lock(&mu_);
      ending = ending_status_;
    }
    // Both pumps are closed, so no write to the caller is in flight. A
    // call the gateway cancelled ends with the gateway's reason; one the
    // backend cancelled unhandled is to be retried.
    if (status.error_code() == grpc::CANCELLED) {
      final_status_ = !ending.ok()
                          ? rpc::ToGrpcStatus(ending)
                          : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                         kBackendCancelledMessage);
    } else {
      final_status_ = status;
    }
    // Every UNAVAILABLE says when to retry, so that callers neither hammer
    // a backend that is down nor wait blind.
    if (final_status_.error_code() == grpc::StatusCode::UNAVAILABLE && !hinted) {
      server_context_->AddTrailingMetadata(kRetryAfterMsTrailer,
                                           absl::StrCat(kUnavailableRetryAfterMs));
    }
    Finish(final_status_);
    bool last;
    {
      absl::MutexLock lock(&mu_);
      backend_done_ = true;
      last = caller_done_ && pins_ == 0;
    }
    if (last) delete this;
  }

  GrpcProxy& proxy_;
  grpc::GenericCallbackServerContext* const server_context_;
  const std::string method_;  // The backend call refers to it until done.
  const absl::Time start_;
  Metrics::InFlight in_flight_;
  std::string request_id_;
  std::string tenant_;
  std::string key_id_;
  bool backend_started_ = false;  // Set in the constructor only.
  // In the proxy's registry of endless streams (constructor only).
  bool registered_ = false;
  // What the caller's key limits its requests to (constructor only).
  Narrowing narrowing_ = Narrowing::kNone;
  // An AdminService call, answered by the gateway (constructor only).
  bool local_ = false;
  keys::Principal principal_;
  // Written before Finish; read in OnDone, which Finish happens before.
  grpc::Status final_status_;

  grpc::ClientContext backend_context_;
  BackendReactor backend_reactor_;
  grpc::ByteBuffer upstream_buffer_;
  grpc::ByteBuffer downstream_buffer_;

  absl::Mutex mu_;
  Pump upstream_ ABSL_GUARDED_BY(mu_) = Pump::kReading;
  Pump downstream_ ABSL_GUARDED_BY(mu_) = Pump::kReading;
  bool backend_finished_ ABSL_GUARDED_BY(mu_) = false;
  bool caller_done_ ABSL_GUARDED_BY(mu_) = false;
  bool backend_done_ ABSL_GUARDED_BY(mu_) = false;
  // EndStreams holds this object (see Pin).
  int pins_ ABSL_GUARDED_BY(mu_) = 0;
  // Why the gateway cancelled the backend call, if it did: what the caller
  // hears instead of CANCELLED.
  absl::Status ending_status_ ABSL_GUARDED_BY(mu_);
};

GrpcProxy::GrpcProxy(const keys::KeyStore& key_store, const Backends& backends,
                     AdminApi& admin, Executor& executor)
    : key_store_(key_store),
      admin_(admin),
      executor_(executor),
      feedback_(backends.channel(Backend::kFeedback)),
      journey_(backends.channel(Backend::kJourney)),
      insight_(backends.channel(Backend::kInsight)) {
  if (backends.has(Backend::kCases)) {
    cases_.emplace(backends.channel(Backend::kCases));
  }
}

GrpcProxy::~GrpcProxy() = default;

bool GrpcProxy::RegisterStream(ProxyCall* call) {
  absl::MutexLock lock(&streams_mu_);
  if (ending_streams_) return false;
  streams_.insert(call);
  return true;
}

void GrpcProxy::DeregisterStream(ProxyCall* call) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(call);
}

void GrpcProxy::EndStreams() {
  std::vector<ProxyCall*> calls;
  {
    absl::MutexLock lock(&streams_mu_);
    ending_streams_ = true;
    for (ProxyCall* call : streams_) {
      call->Pin();
      calls.push_back(call);
    }
  }
  // Outside the registry's lock: cancelling may run the calls' reactions,
  // which take it.
  for (ProxyCall* call : calls) call->EndForShutdown();
}

grpc::ServerGenericBidiReactor* GrpcProxy::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  return new ProxyCall(*this, context);
}

grpc::GenericStub& GrpcProxy::stub(Backend backend) {
  switch (backend) {
    case Backend::kFeedback:
      return feedback_;
    case Backend::kJourney:
      return journey_;
    case Backend::kInsight:
      return insight_;
    case Backend::kCases:
      if (cases_.has_value()) return *cases_;
      break;  // Refused before (CasesUnavailable), never relayed.
    case Backend::kGateway:
      break;  // Answered locally, never relayed.
  }
  return feedback_;
}

}  // namespace polku::gateway
