#include "services/feedback/feedback_service.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "lib/base/log.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"
#include "services/feedback/event_validation.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using polku::v1::StoredEvent;
using polku::v1::WatchEventsResponse;

std::string EventField(int index, absl::string_view field) {
  return absl::StrCat("events[", index, "].", field);
}

// One WatchEvents stream. Exactly one thing at a time drives it: a feed read
// on the executor, a wait on the notifier, or a write in flight. Whoever
// holds that turn when the stream is cancelled calls Finish, as its very
// last act; OnDone (which gRPC calls after Finish and after every other
// reaction) can then delete the stream, knowing nothing else refers to it.
class FeedStream final : public grpc::ServerWriteReactor<WatchEventsResponse> {
 public:
  FeedStream(EventStore& store, Executor& readers, std::string tenant,
             int64_t from_sequence)
      : store_(store),
        readers_(readers),
        tenant_(std::move(tenant)),
        next_sequence_(from_sequence) {}

  void Start() {
    readers_.Schedule([this] { Read(); });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {  // the stream broke; nobody is listening for a status
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
      if (!cancelled) readers_.Schedule([this] { Read(); });
    }
    if (cancelled) FinishCancelled();
  }

  void OnCancel() override {
    bool owns_turn = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      // Only a wait can be taken over: reads and writes end by themselves
      // and then see `cancelled_`.
      if (waiter_ != 0 && store_.notifier().Unsubscribe(waiter_)) {
        waiter_ = 0;
        owns_turn = true;
      }
    }
    if (owns_turn) FinishCancelled();
  }

  void OnDone() override { delete this; }

 private:
  void FinishCancelled() {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "WatchEvents cancelled"));
  }

  // On an executor thread.
  void Read() {
    // Everything up to `committed` is visible to the read that follows,
    // because the store publishes a sequence only after its COMMIT.
    const int64_t committed = store_.notifier().last_sequence();
    absl::StatusOr<std::vector<StoredEvent>> events =
        store_.ReadFeed(tenant_, next_sequence_, kMaxEventsPerWatchPage);
    if (!events.ok()) {
      log::Error("reading the change feed failed",
                 {{"tenant", tenant_}, {"error", events.status().ToString()}});
      Finish(rpc::ToGrpcStatus(absl::UnavailableError(absl::StrCat(
          "reading the change feed failed: ", events.status().message()))));
      return;
    }
    if (events->empty()) {
      // Nothing of ours up to `committed`: later reads may start beyond it
      // (this skips other tenants' events without rescanning them).
      next_sequence_ = std::max(next_sequence_, committed + 1);
      bool cancelled;
      {
        absl::MutexLock lock(&mu_);
        cancelled = cancelled_;
        if (!cancelled) {
          waiter_ =
              store_.notifier().Subscribe(committed, [this] { OnCommitted(); });
          // Something committed since `committed` was taken: read again.
          if (waiter_ == 0) readers_.Schedule([this] { Read(); });
        }
      }
      if (cancelled) FinishCancelled();
      return;
    }

    page_.Clear();
    size_t bytes = 0;
    for (StoredEvent& event : *events) {
      const size_t size = event.ByteSizeLong();
      if (page_.events_size() > 0 && bytes + size > kMaxBytesPerWatchPage) {
        break;  // the rest comes in the next page
      }
      bytes += size;
      next_sequence_ = event.sequence() + 1;
      *page_.add_events() = std::move(event);
    }
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
    }
    if (cancelled) {
      FinishCancelled();
    } else {
      StartWrite(&page_);
    }
  }

  // On the store's writer thread: be quick.
  void OnCommitted() {
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      waiter_ = 0;
      cancelled = cancelled_;
      if (!cancelled) readers_.Schedule([this] { Read(); });
    }
    if (cancelled) FinishCancelled();
  }

  EventStore& store_;
  Executor& readers_;
  const std::string tenant_;  // empty: every tenant (internal caller)
  // Touched only by whoever holds the turn.
  int64_t next_sequence_;
  WatchEventsResponse page_;

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // The notifier subscription while waiting, else 0.
  uint64_t waiter_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

FeedbackServiceImpl::FeedbackServiceImpl(EventStore& store,
                                         const TouchpointIndex& index,
                                         Executor& feed_readers,
                                         const Clock& clock)
    : store_(store),
      index_(index),
      feed_readers_(feed_readers),
      clock_(clock) {}

grpc::ServerUnaryReactor* FeedbackServiceImpl::SubmitEvents(
    grpc::CallbackServerContext* context,
    const polku::v1::SubmitEventsRequest* request,
    polku::v1::SubmitEventsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto fail = [reactor](const absl::Status& status) {
    reactor->Finish(rpc::ToGrpcStatus(status));
    return reactor;
  };

  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  if (!caller.ok()) return fail(caller.status());
  if (caller->channel.empty()) {
    return fail(
        absl::PermissionDeniedError("SubmitEvents needs a channel key"));
  }
  const int count = request->events_size();
  if (count == 0) {
    return fail(absl::InvalidArgumentError("events: at least one is required"));
  }
  if (count > kMaxEventsPerSubmit) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "events: at most ", kMaxEventsPerSubmit, " per call, got ", count)));
  }
  const std::shared_ptr<const TouchpointSnapshot> touchpoints =
      index_.Current();
  if (!touchpoints->loaded()) {
    return fail(absl::UnavailableError("touchpoint index not loaded yet"));
  }

  const EventSource source{caller->tenant, caller->channel};
  const absl::Time now = clock_.Now();
  std::vector<EventResult> results(count);
  // Position in the request of each event handed to the store.
  std::vector<int> stored_positions;
  EventBatch batch{.tenant = caller->tenant, .channel = caller->channel};
  for (int i = 0; i < count; ++i) {
    const polku::v1::TouchpointEvent& event = request->events(i);
    results[i].set_event_id(event.event_id());
    EventValidation validation =
        ValidateEvent(event, source, *touchpoints, now);
    if (auto* rejection = std::get_if<EventRejection>(&validation)) {
      results[i].set_outcome(EventResult::REJECTED);
      results[i].set_field(EventField(i, rejection->field));
      results[i].set_reason(std::move(rejection->reason));
      continue;
    }
    stored_positions.push_back(i);
    batch.events.push_back(
        ValidEvent{event, std::get<ResolvedTouchpoint>(std::move(validation))});
  }

  if (batch.events.empty()) {
    for (EventResult& result : results)
      *response->add_results() = std::move(result);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  store_.Submit(std::move(batch),
                [reactor, response, results = std::move(results),
                 positions = std::move(stored_positions)](
                    absl::StatusOr<std::vector<EventResult>> stored) mutable {
                  if (!stored.ok()) {
                    reactor->Finish(rpc::ToGrpcStatus(stored.status()));
                    return;
                  }
                  for (size_t j = 0; j < stored->size(); ++j) {
                    EventResult& result = (*stored)[j];
                    const int position = positions[j];
                    if (result.outcome() == EventResult::REJECTED) {
                      result.set_field(EventField(position, result.field()));
                    }
                    results[position] = std::move(result);
                  }
                  for (EventResult& result : results) {
                    *response->add_results() = std::move(result);
                  }
                  reactor->Finish(grpc::Status::OK);
                });
  return reactor;
}

grpc::ServerWriteReactor<WatchEventsResponse>* FeedbackServiceImpl::WatchEvents(
    grpc::CallbackServerContext* context,
    const polku::v1::WatchEventsRequest* request) {
  absl::StatusOr<rpc::Caller> caller =
      rpc::CallerFrom(*context, /*allow_internal=*/true);
  absl::Status invalid;
  if (!caller.ok()) {
    invalid = caller.status();
  } else if (request->from_sequence() < 0) {
    invalid = absl::InvalidArgumentError(absl::StrCat(
        "from_sequence: must be >= 0, got ", request->from_sequence()));
  }
  auto* stream = new FeedStream(store_, feed_readers_,
                                caller.ok() ? caller->tenant : std::string(),
                                std::max<int64_t>(request->from_sequence(), 1));
  if (!invalid.ok()) {
    stream->Finish(rpc::ToGrpcStatus(invalid));
  } else {
    stream->Start();
  }
  return stream;
}

}  // namespace polku::feedback
