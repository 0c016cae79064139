// Stored events read back from polku-feedback, for what the feed tailer
// does not cover: a case opened by hand for an event, and a rule's dry run
// over a past range. A tenant's own events only: the call carries the
// caller's tenant (rpc::AttachCaller), and polku-feedback scopes by it.
//
//   GrpcEventSource events(feedback_channel);
//   absl::StatusOr<v1::StoredEvent> e = events.Event(caller, 42, deadline);
#ifndef POLKU_SERVICES_CASES_SERVER_EVENT_SOURCE_H_
#define POLKU_SERVICES_CASES_SERVER_EVENT_SOURCE_H_

#include <memory>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "lib/rpc/metadata.h"
#include "polku/v1/feedback.grpc.pb.h"

namespace polku::cases {

class EventSource {
 public:
  virtual ~EventSource() = default;
  // The tenant's stored event with that sequence; NOT_FOUND if there is
  // none (or it is another tenant's, or erased).
  virtual absl::StatusOr<v1::StoredEvent> Event(const rpc::Caller& caller,
                                                int64_t sequence,
                                                absl::Time deadline) = 0;
  // Every stored event of the tenant's `journey` with occurred_at in
  // `range`, in sequence order.
  virtual absl::Status ForEach(
      const rpc::Caller& caller, const std::string& journey,
      const v1::TimeRange& range, absl::Time deadline,
      absl::FunctionRef<absl::Status(const v1::StoredEvent&)> visit) = 0;
};

// Over FeedbackService.ExportEvents.
class GrpcEventSource final : public EventSource {
 public:
  explicit GrpcEventSource(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::FeedbackService::NewStub(std::move(channel))) {}

  absl::StatusOr<v1::StoredEvent> Event(const rpc::Caller& caller,
                                        int64_t sequence,
                                        absl::Time deadline) override;
  absl::Status ForEach(
      const rpc::Caller& caller, const std::string& journey,
      const v1::TimeRange& range, absl::Time deadline,
      absl::FunctionRef<absl::Status(const v1::StoredEvent&)> visit) override;

 private:
  absl::Status Export(
      const rpc::Caller& caller, const v1::ExportEventsRequest& request,
      absl::Time deadline,
      absl::FunctionRef<absl::StatusOr<bool>(const v1::StoredEvent&)> visit);

  std::unique_ptr<v1::FeedbackService::Stub> stub_;
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_SERVER_EVENT_SOURCE_H_
