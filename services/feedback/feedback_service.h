// polku.v1.FeedbackService on the gRPC callback API.
//
// SubmitEvents validates every event against the in-memory touchpoint index,
// hands the valid ones to the EventStore and answers from the store's
// callback, i.e. only after they are durable; no gRPC thread ever waits on
// storage. WatchEvents pages through the change feed on an Executor and,
// once caught up, waits on the store's FeedNotifier without holding a
// thread. ExportEvents pages through the caller's stored events the same
// way, one page in memory at a time, up to what was committed when it
// started. StreamEvents answers a bidirectional stream of events in order as
// they commit, reading from the client only while fewer than
// `max_unacknowledged_per_stream` of its events are unanswered.
// EraseCustomer hands the erasure to the store and, once committed, waits
// (on ErasureReceipts, holding no thread) until the readers have applied it
// or a bounded wait ends, then answers with the receipt. GetErasureReceipt
// checks on the executor that the sequence is an erasure of the caller's
// tenant, then answers the receipt as it stands.
//
//   SqliteEventStore& store = …;  TouchpointIndex index;  Executor readers(4);
//   FeedbackServiceImpl service(store, index, readers, Clock::Real());
//   rpc::Server::Start({.services = {&service}, …});
#ifndef POLKU_SERVICES_FEEDBACK_FEEDBACK_SERVICE_H_
#define POLKU_SERVICES_FEEDBACK_FEEDBACK_SERVICE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/base/clock.h"
#include "lib/base/executor.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "services/feedback/erasure_receipts.h"
#include "services/feedback/event_store.h"
#include "services/feedback/retry_hint.h"
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
// ExportEvents: events per message by default and at most (bytes as
// above).
inline constexpr int kDefaultExportPageSize = 500;
inline constexpr int kMaxExportPageSize = 1000;

struct FeedbackServiceOptions {
  // Open StreamEvents calls; one more is answered RESOURCE_EXHAUSTED.
  int max_streams = 64;
  // Events of one stream read but not yet answered. At the bound the server
  // stops reading that stream until answers go out.
  int max_unacknowledged_per_stream = 2000;
  // Sequences one ExportEvents read of the store scans at most, so that a
  // narrow export of a large store is many short reads, not one long one
  // (which would also hold back SQLite's WAL checkpoints).
  int64_t export_scan_window = 100'000;
  // The readers' progress, for EraseCustomer's receipt; nullptr or one
  // without required readers: no receipts, EraseCustomer answers at once.
  ErasureReceipts* receipts = nullptr;
  // How long EraseCustomer waits for the readers at most, and how long
  // before the call's deadline it stops waiting to answer in time.
  absl::Duration receipt_max_wait = absl::Seconds(30);
  absl::Duration receipt_deadline_margin = absl::Seconds(1);
};

class EventStream;

// WatchEvents and ExportEvents are raw methods: their pages are written as
// bytes made from the stored records (feed_page.h), not as messages.
class FeedbackServiceImpl final
    : public polku::v1::FeedbackService::WithRawCallbackMethod_ExportEvents<
          polku::v1::FeedbackService::WithRawCallbackMethod_WatchEvents<
              polku::v1::FeedbackService::CallbackService>> {
 public:
  // `feed_readers` runs the change-feed reads. All arguments outlive the
  // service, and the service outlives the server (every call has ended).
  FeedbackServiceImpl(EventStore& store, const TouchpointIndex& index,
                      Executor& feed_readers, const Clock& clock,
                      const FeedbackServiceOptions& options = {});

  // Ends every open StreamEvents call: each stops reading, writes the
  // answers of what was already handed to the store, then finishes
  // UNAVAILABLE "server shutting down". Every WatchEvents call ends
  // UNAVAILABLE "server shutting down; watch again" once its read or write
  // in progress is done. For rpc::ServerConfig::on_drain.
  void EndStreams();

  // Open StreamEvents calls (tests, metrics).
  int open_streams() const;

  grpc::ServerUnaryReactor* SubmitEvents(
      grpc::CallbackServerContext* context,
      const polku::v1::SubmitEventsRequest* request,
      polku::v1::SubmitEventsResponse* response) override;

  grpc::ServerBidiReactor<polku::v1::StreamEventsRequest,
                          polku::v1::StreamEventsResponse>*
  StreamEvents(grpc::CallbackServerContext* context) override;

  // Request: a serialised WatchEventsRequest; responses: serialised
  // WatchEventsResponse pages.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchEvents(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;

  // Request: a serialised ExportEventsRequest; responses: serialised
  // ExportEventsResponse pages.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* ExportEvents(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;

  grpc::ServerUnaryReactor* EraseCustomer(
      grpc::CallbackServerContext* context,
      const polku::v1::EraseCustomerRequest* request,
      polku::v1::EraseCustomerResponse* response) override;

  grpc::ServerUnaryReactor* GetErasureReceipt(
      grpc::CallbackServerContext* context,
      const polku::v1::GetErasureReceiptRequest* request,
      polku::v1::ErasureReceipt* response) override;

 private:
  friend class EventStream;
  // Registers a new stream; false if max_streams are open (or draining).
  bool AddStream(EventStream* stream);
  void RemoveStream(EventStream* stream);

  EventStore& store_;
  const TouchpointIndex& index_;
  Executor& feed_readers_;
  const Clock& clock_;
  const FeedbackServiceOptions options_;

  mutable absl::Mutex streams_mu_;
  absl::flat_hash_set<EventStream*> streams_ ABSL_GUARDED_BY(streams_mu_);
  bool draining_ ABSL_GUARDED_BY(streams_mu_) = false;
  // Set by EndStreams; WatchEvents streams end when they see it.
  std::atomic<bool> feeds_draining_{false};
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_FEEDBACK_SERVICE_H_
