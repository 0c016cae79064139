#include "services/feedback/feed_reader_service.h"

#include "absl/strings/str_cat.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"
#include "lib/rpc/trust.h"

namespace polku::feedback {

grpc::ServerUnaryReactor* FeedReaderServiceImpl::ReportProgress(
    grpc::CallbackServerContext* context,
    const v1::ReportProgressRequest* request,
    v1::ReportProgressResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto fail = [reactor](const absl::Status& status) {
    reactor->Finish(rpc::ToGrpcStatus(status));
    return reactor;
  };
  absl::StatusOr<rpc::Caller> caller =
      rpc::CallerFrom(*context, /*allow_internal=*/true);
  if (!caller.ok()) return fail(caller.status());
  // A reader's progress is about every tenant: no tenant reports it (the
  // trust table refuses that with mTLS; this also without).
  if (!caller->tenant.empty()) {
    return fail(absl::PermissionDeniedError(
        "ReportProgress is for the feed's readers, not for a tenant"));
  }
  // With mTLS the certificate says who reports; without, every caller is
  // on this host (loopback) and is taken at its word.
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    absl::StatusOr<std::string> identity = rpc::PeerIdentity(*auth);
    if (!identity.ok()) return fail(identity.status());
    if (*identity != request->reader()) {
      return fail(absl::PermissionDeniedError(
          absl::StrCat("reader: \"", request->reader(), "\" reports as ",
                       *identity, "'s certificate; it must name itself")));
    }
  }
  absl::Status reported = receipts_.Report(
      request->reader(), request->feed_id(), request->applied_sequence());
  if (!reported.ok() || store_ == nullptr || executor_ == nullptr) {
    return fail(reported);
  }
  // A store write: on the executor, never on the gRPC thread.
  executor_->Schedule([this, reactor, reader = request->reader(),
                       sequence = request->applied_sequence(),
                       at = absl::ToUnixMicros(receipts_.clock().Now())] {
    reactor->Finish(rpc::ToGrpcStatus(
        store_->RecordReaderProgress(reader, sequence, at)));
  });
  return reactor;
}

}  // namespace polku::feedback
