// polku.v1.FeedbackService on the gRPC callback API.
//
// SubmitEvents validates every event against the in-memory touchpoint index,
// hands the valid ones to the EventStore and answers from the store's
// callback, i.e. only after they are durable; no gRPC thread ever waits on
// storage. WatchEvents pages through the change feed on an Executor and,
// once caught up, waits on the store's FeedNotifier without holding a
// thread.
//
//   SqliteEventStore& store = …;  TouchpointIndex index;  Executor readers(4);
//   FeedbackServiceImpl service(store, index, readers, Clock::Real());
//   rpc::Server::Start({.services = {&service}, …});
#ifndef POLKU_SERVICES_FEEDBACK_FEEDBACK_SERVICE_H_
#define POLKU_SERVICES_FEEDBACK_FEEDBACK_SERVICE_H_

#include <cstddef>

#include "lib/base/clock.h"
#include "lib/base/executor.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "services/feedback/event_store.h"
#include "services/feedback/touchpoint_index.h"

namespace polku::feedback {

// The service name health checks report on once the index is loaded.
inline constexpr char kFeedbackServiceName[] = "polku.v1.FeedbackService";

// At most this many events per SubmitEvents call.
inline constexpr int kMaxEventsPerSubmit = 1000;
// At most this many events, and about this many bytes, per WatchEvents
// message: well below the default 4 MiB a client accepts.
inline constexpr int kMaxEventsPerWatchPage = 500;
inline constexpr size_t kMaxBytesPerWatchPage = 1 << 20;

class FeedbackServiceImpl final
    : public polku::v1::FeedbackService::CallbackService {
 public:
  // `feed_readers` runs the change-feed reads. All arguments outlive the
  // service, and the service outlives the server (every call has ended).
  FeedbackServiceImpl(EventStore& store, const TouchpointIndex& index,
                      Executor& feed_readers, const Clock& clock);

  grpc::ServerUnaryReactor* SubmitEvents(
      grpc::CallbackServerContext* context,
      const polku::v1::SubmitEventsRequest* request,
      polku::v1::SubmitEventsResponse* response) override;

  grpc::ServerWriteReactor<polku::v1::WatchEventsResponse>* WatchEvents(
      grpc::CallbackServerContext* context,
      const polku::v1::WatchEventsRequest* request) override;

 private:
  EventStore& store_;
  const TouchpointIndex& index_;
  Executor& feed_readers_;
  const Clock& clock_;
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_FEEDBACK_SERVICE_H_
