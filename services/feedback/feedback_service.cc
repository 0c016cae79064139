#include "services/feedback/feedback_service.h"

#include <algorithm>
#include <atomic>
#include <deque>
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
#include "services/feedback/feed_page.h"
#include "services/feedback/group_commit_store.h"
#include "services/feedback/redaction.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using polku::v1::StreamEventsRequest;
using polku::v1::StreamEventsResponse;

std::string EventField(int index, absl::string_view field) {
  return absl::StrCat("events[", index, "].", field);
}

// The events of one request message, validated: results of the rejected
// ones filled in, the valid ones gathered for the store.
struct Prepared {
  std::vector<EventResult> results;
  // Position in the message of each event handed to the store.
  std::vector<int> positions;
  EventBatch batch;
};

Prepared Prepare(
    const google::protobuf::RepeatedPtrField<polku::v1::TouchpointEvent>&
        events,
    const rpc::Caller& caller, const TouchpointSnapshot& touchpoints,
    absl::Time now, int32_t history_version) {
  const EventSource source{caller.tenant, caller.channel};
  Prepared prepared;
  prepared.results.resize(events.size());
  prepared.batch.tenant = caller.tenant;
  prepared.batch.channel = caller.channel;
  for (int i = 0; i < events.size(); ++i) {
    const polku::v1::TouchpointEvent& event = events[i];
    EventResult& result = prepared.results[i];
    result.set_event_id(event.event_id());
    EventValidation validation =
        ValidateEvent(event, source, touchpoints, now, history_version);
    if (auto* rejection = std::get_if<EventRejection>(&validation)) {
      result.set_outcome(EventResult::REJECTED);
      // A request-level field is named as such, not as the event's.
      result.set_field(rejection->field == "history_version"
                           ? rejection->field
                           : EventField(i, rejection->field));
      result.set_reason(std::move(rejection->reason));
      continue;
    }
    prepared.positions.push_back(i);
    ValidEvent& valid = prepared.batch.events.emplace_back(
        ValidEvent{event, std::get<ResolvedTouchpoint>(std::move(validation))});
    // Before anything is written, fingerprint included.
    if (!event.comment().empty()) {
      valid.event.set_comment(RedactComment(event.comment()));
    }
  }
  return prepared;
}

// What a request may not say, whatever its events: INVALID_ARGUMENT.
absl::Status CheckHistoryVersion(int32_t history_version) {
  if (history_version >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "history_version: must be >= 0 (0: the latest), got ", history_version));
}

// Puts the store's answers (one per event of prepared.batch) in place.
void Merge(std::vector<EventResult> stored, Prepared& prepared) {
  for (size_t j = 0; j < stored.size(); ++j) {
    EventResult& result = stored[j];
    const int position = prepared.positions[j];
    if (result.outcome() == EventResult::REJECTED) {
      result.set_field(EventField(position, result.field()));
    }
    prepared.results[position] = std::move(result);
  }
}

// Whether `bytes` parses as `message`.
bool ParseMessage(const grpc::ByteBuffer& bytes,
                  google::protobuf::MessageLite& message) {
  std::vector<grpc::Slice> slices;
  if (!bytes.Dump(&slices).ok()) return false;
  std::string serialized;
  for (const grpc::Slice& slice : slices) {
    serialized.append(reinterpret_cast<const char*>(slice.begin()),
                      slice.size());
  }
  return message.ParseFromString(serialized);
}

// The gRPC status for `status`, with its retry hint as trailing metadata.
grpc::Status ToGrpc(grpc::CallbackServerContext& context,
                    const absl::Status& status) {
  if (absl::optional<absl::Duration> after = RetryAfter(status)) {
    context.AddTrailingMetadata(
        kRetryAfterHeader, absl::StrCat(absl::ToInt64Milliseconds(*after)));
  }
  return rpc::ToGrpcStatus(status);
}

// One WatchEvents stream. Exactly one thing at a time drives it: a feed read
// on the executor, a wait on the notifier, or a write in flight. Whoever
// holds that turn when the stream is cancelled calls Finish, as its very
// last act; OnDone (which gRPC calls after Finish and after every other
// reaction) can then delete the stream, knowing nothing else refers to it.
// Handing the turn on (scheduling a read) is likewise a last act, after
// `mu_` is released: the read may finish the stream, and OnDone delete it,
// before the hand-over returns.
class FeedStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  FeedStream(EventStore& store, Executor& readers,
             const std::atomic<bool>& draining, std::string tenant,
             int64_t from_sequence)
      : store_(store),
        readers_(readers),
        draining_(draining),
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
    }
    if (cancelled) {
      FinishCancelled();
    } else {
      readers_.Schedule([this] { Read(); });
    }
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
    // The server is shutting down (FeedbackServiceImpl::EndStreams): the
    // reader resumes from its checkpoint elsewhere or after the restart.
    if (draining_.load()) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "server shutting down; watch again"));
      return;
    }
    // Everything up to `committed` is visible to the read that follows,
    // because the store publishes a sequence only after its COMMIT.
    const int64_t committed = store_.notifier().last_sequence();
    absl::StatusOr<std::vector<FeedRecord>> records = store_.ReadFeedRecords(
        tenant_, next_sequence_, kMaxEventsPerWatchPage);
    if (!records.ok()) return FinishFailedRead(records.status());
    if (records->empty()) {
      // Nothing of ours up to `committed`: later reads may start beyond it
      // (this skips other tenants' events without rescanning them).
      next_sequence_ = std::max(next_sequence_, committed + 1);
      bool cancelled;
      bool read_again = false;
      {
        absl::MutexLock lock(&mu_);
        cancelled = cancelled_;
        if (!cancelled) {
          waiter_ =
              store_.notifier().Subscribe(committed, [this] { OnCommitted(); });
          // Something committed since `committed` was taken: read again.
          read_again = waiter_ == 0;
        }
      }
      if (cancelled) {
        FinishCancelled();
      } else if (read_again) {
        readers_.Schedule([this] { Read(); });
      }
      return;
    }

    absl::StatusOr<FeedPage> page =
        EncodeFeedPage(store_.feed_id(), *records, kMaxBytesPerWatchPage);
    if (!page.ok()) return FinishFailedRead(page.status());
    next_sequence_ = page->next_sequence;
    // The slice owns the bytes: no copy.
    auto* bytes = new std::string(std::move(page->bytes));
    grpc::Slice slice(
        bytes->data(), bytes->size(),
        [](void* owned) { delete static_cast<std::string*>(owned); }, bytes);
    page_ = grpc::ByteBuffer(&slice, 1);
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

  void FinishFailedRead(const absl::Status& error) {
    log::Error("reading the change feed failed",
               {{"tenant", tenant_}, {"error", error.ToString()}});
    Finish(rpc::ToGrpcStatus(absl::UnavailableError(
        absl::StrCat("reading the change feed failed: ", error.message()))));
  }

  // On the store's writer thread: be quick.
  void OnCommitted() {
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      waiter_ = 0;
      cancelled = cancelled_;
    }
    if (cancelled) {
      FinishCancelled();
    } else {
      readers_.Schedule([this] { Read(); });
    }
  }

  EventStore& store_;
  Executor& readers_;
  const std::atomic<bool>& draining_;
  const std::string tenant_;  // empty: every tenant (internal caller)
  // Touched only by whoever holds the turn.
  int64_t next_sequence_;
  grpc::ByteBuffer page_;

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // The notifier subscription while waiting, else 0.
  uint64_t waiter_ ABSL_GUARDED_BY(mu_) = 0;
};

// One ExportEvents stream: reads a page on the executor, writes it, and only
// then reads the next, so at most one page is held however many events
// match. Whoever holds the turn (a read, or a write in flight) finishes the
// stream when it is cancelled; OnDone deletes it.
class ExportStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  ExportStream(EventStore& store, Executor& readers, EventQuery query,
               int64_t last_sequence, int64_t scan_window)
      : store_(store),
        readers_(readers),
        query_(std::move(query)),
        last_sequence_(last_sequence),
        scan_window_(scan_window) {}

  void Start() {
    readers_.Schedule([this] { Read(); });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    if (Cancelled()) return FinishCancelled();
    readers_.Schedule([this] { Read(); });
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

  void OnDone() override { delete this; }

 private:
  bool Cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  void FinishCancelled() {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "ExportEvents cancelled"));
  }

  // On an executor thread: the next window of sequences with matches, or
  // the end. A window without matches is skipped at once; the loop is
  // bounded by the windows up to `last_sequence_`.
  void Read() {
    while (true) {
      if (Cancelled()) return FinishCancelled();
      if (query_.from_sequence > last_sequence_) {
        Finish(grpc::Status::OK);
        return;
      }
      query_.to_sequence =
          std::min(last_sequence_, query_.from_sequence + scan_window_ - 1);
      absl::StatusOr<std::vector<FeedRecord>> records =
          store_.ReadEventRecords(query_);
      if (!records.ok()) return FinishFailedRead(records.status());
      if (records->empty()) {
        query_.from_sequence = query_.to_sequence + 1;
        continue;
      }
      absl::StatusOr<FeedPage> page =
          EncodeExportPage(*records, kMaxBytesPerWatchPage);
      if (!page.ok()) return FinishFailedRead(page.status());
      // A page cut short by the limit or the byte bound resumes after its
      // last event; a page that took every match resumes after the window.
      const bool whole_window =
          static_cast<int>(records->size()) < query_.limit &&
          page->next_sequence > records->back().sequence;
      query_.from_sequence =
          whole_window ? query_.to_sequence + 1 : page->next_sequence;
      auto* bytes = new std::string(std::move(page->bytes));
      grpc::Slice slice(
          bytes->data(), bytes->size(),
          [](void* owned) { delete static_cast<std::string*>(owned); }, bytes);
      page_ = grpc::ByteBuffer(&slice, 1);
      StartWrite(&page_);
      return;
    }
  }

  void FinishFailedRead(const absl::Status& error) {
    log::Error("reading events to export failed",
               {{"tenant", query_.tenant}, {"error", error.ToString()}});
    Finish(rpc::ToGrpcStatus(absl::UnavailableError(absl::StrCat(
        "reading events failed: ", error.message(),
        "; resume with from_sequence = the last sequence received + 1"))));
  }

  EventStore& store_;
  Executor& readers_;
  // Touched only by whoever holds the turn.
  EventQuery query_;
  const int64_t last_sequence_;
  const int64_t scan_window_;
  grpc::ByteBuffer page_;

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// The store's query for an ExportEventsRequest of `tenant`, or
// INVALID_ARGUMENT naming the field.
absl::StatusOr<EventQuery> ExportQuery(
    const polku::v1::ExportEventsRequest& request, const std::string& tenant) {
  EventQuery query;
  query.tenant = tenant;
  query.journey = request.journey();
  if (request.page_size() < 0 || request.page_size() > kMaxExportPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: must be 0–",
                                                   kMaxExportPageSize, ", got ",
                                                   request.page_size()));
  }
  query.limit =
      request.page_size() == 0 ? kDefaultExportPageSize : request.page_size();
  if (request.from_sequence() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "from_sequence: must be >= 0, got ", request.from_sequence()));
  }
  query.from_sequence = std::max<int64_t>(request.from_sequence(), 1);
  const polku::v1::TimeRange& range = request.range();
  if (range.has_start()) query.occurred_from = ToUnixMicros(range.start());
  if (range.has_end()) query.occurred_to = ToUnixMicros(range.end());
  if (range.has_start() && range.has_end() &&
      query.occurred_from >= query.occurred_to) {
    return absl::InvalidArgumentError("range: start must be before end");
  }
  return query;
}

}  // namespace

// One StreamEvents call. Every request message becomes a Block, answered in
// arrival order once its events are committed; consecutive answered blocks go
// out in one write. At most one read and one write are in flight, and reading
// pauses while `max_unacknowledged` events are unanswered.
//
// Threads: gRPC reactions and store callbacks (the writer thread) all go
// through Advance, which changes state under `mu_` and then acts outside it.
// Finish is called by whoever ends the last action once the end is decided,
// as its very last act, so that OnDone (which deletes) never races an action.
class EventStream final : public grpc::ServerBidiReactor<StreamEventsRequest,
                                                         StreamEventsResponse> {
 public:
  EventStream(FeedbackServiceImpl& service,
              grpc::CallbackServerContext& context, rpc::Caller caller)
      : service_(service), context_(context), caller_(std::move(caller)) {}

  // Starts reading, or finishes at once with `error`.
  void Start(const absl::Status& error) {
    Advance([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (!error.ok()) EndWith(error);
    });
  }

  // See FeedbackServiceImpl::EndStreams.
  void Drain() {
    Advance([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      EndWith(absl::UnavailableError(
          "server shutting down; re-send unanswered events to another "
          "instance or after restart"));
    });
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // WritesDone, or the call broke
      Advance([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        reading_ = false;
        reads_done_ = true;
      });
      return;
    }
    const int count = request_.events_size();
    if (count == 0) {  // nothing to answer
      Advance([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { reading_ = false; });
      return;
    }
    absl::Status invalid = CheckHistoryVersion(request_.history_version());
    std::shared_ptr<const TouchpointSnapshot> touchpoints;
    if (!invalid.ok()) {
      // Said above.
    } else if (count > kMaxEventsPerSubmit) {
      invalid = absl::InvalidArgumentError(
          absl::StrCat("events: at most ", kMaxEventsPerSubmit,
                       " per message, got ", count));
    } else {
      touchpoints = service_.index_.Current();
      if (!touchpoints->loaded()) {
        invalid = absl::UnavailableError("touchpoint index not loaded yet");
      }
    }
    if (!invalid.ok()) {
      Advance([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        reading_ = false;
        EndWith(invalid);
      });
      return;
    }
    auto prepared = std::make_shared<Prepared>(
        Prepare(request_.events(), caller_, *touchpoints, service_.clock_.Now(),
                request_.history_version()));
    Block* block = nullptr;
    bool submit = false;
    Advance([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      // After the end is decided nothing new is taken: unanswered events
      // are the client's to re-send.
      if (!end_.ok() || end_decided_) {
        reading_ = false;
        return;
      }
      // `reading_` stays set until the block is handed to the store, so
      // that the next message's events cannot overtake this one's.
      if (prepared->batch.events.empty()) reading_ = false;
      unanswered_ += count;
      block = &blocks_.emplace_back();
      block->prepared = prepared;
      block->ready = prepared->batch.events.empty();
      submit = !block->ready;
      if (submit) ++in_store_;
    });
    if (!submit) return;
    EventBatch batch = std::move(prepared->batch);
    service_.store_.Submit(
        std::move(batch),
        [this, block](absl::StatusOr<std::vector<EventResult>> stored) {
          Advance([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            --in_store_;
            if (stored.ok()) {
              Merge(*std::move(stored), *block->prepared);
            } else {
              block->error = stored.status();
            }
            block->ready = true;
          });
        });
    Advance([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { reading_ = false; });
  }

  void OnWriteDone(bool ok) override {
    Advance([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      writing_ = false;
      if (!ok) broken_ = true;
    });
  }

  void OnCancel() override {
    Advance([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { broken_ = true; });
  }

  void OnDone() override {
    // After this no one can pin the stream any more.
    service_.RemoveStream(this);
    bool last;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      last = pins_ == 0;
    }
    if (last) delete this;
  }

  // Keeps the stream alive outside gRPC's reactions (see EndStreams).
  // Pin only while holding the service's streams lock.
  void Pin() {
    absl::MutexLock lock(&mu_);
    ++pins_;
  }
  void Unpin() {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      last = --pins_ == 0 && done_;
    }
    if (last) delete this;
  }

 private:
  struct Block {
    std::shared_ptr<Prepared> prepared;
    bool ready = false;
    // Set if the store failed the block: the stream ends with it.
    absl::Status error;
  };

  // Ends the stream with `status` once what is answerable is answered.
  void EndWith(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (end_.ok()) end_ = status;
  }

  // Applies `change` under the lock, decides the next read, write or finish,
  // and performs them.
  template <typename Change>
  void Advance(Change change) {
    bool read = false;
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      change();
      if (!writing_ && !end_decided_) {
        response_.Clear();
        // Answers go out in order: only the prefix of ready blocks.
        while (!blocks_.empty() && blocks_.front().ready) {
          Block& front = blocks_.front();
          if (!front.error.ok()) {
            EndWith(front.error);
            failed_ = true;
          }
          // After a failure or a broken call answers are dropped: the
          // client re-sends what it has not seen answered.
          if (!failed_ && !broken_) {
            for (EventResult& result : front.prepared->results) {
              *response_.add_results() = std::move(result);
            }
          }
          unanswered_ -= front.prepared->results.size();
          blocks_.pop_front();
        }
        if (response_.results_size() > 0) {
          writing_ = true;
          write = true;
        }
      }
      const bool ending = !end_.ok() || reads_done_ || broken_;
      if (!end_decided_ && ending && !writing_ && blocks_.empty()) {
        end_decided_ = true;
      }
      if (!end_decided_ && !reading_ && !ending &&
          unanswered_ < service_.options_.max_unacknowledged_per_stream) {
        reading_ = true;
        read = true;
      }
      ++acting_;
    }
    if (write) StartWrite(&response_);
    if (read) StartRead(&request_);
    absl::Status finish;
    {
      absl::MutexLock lock(&mu_);
      --acting_;
      // Store callbacks still to come refer to blocks: wait for them.
      if (!end_decided_ || finished_ || acting_ > 0 || in_store_ > 0) return;
      finished_ = true;
      finish = broken_ && end_.ok()
                   ? absl::CancelledError("StreamEvents cancelled")
                   : end_;
    }
    Finish(ToGrpc(context_, finish));
  }

  FeedbackServiceImpl& service_;
  grpc::CallbackServerContext& context_;
  const rpc::Caller caller_;
  StreamEventsRequest request_;    // the read in flight
  StreamEventsResponse response_;  // the write in flight

  absl::Mutex mu_;
  std::deque<Block> blocks_ ABSL_GUARDED_BY(mu_);
  // Events read and not yet answered (or dropped).
  int64_t unanswered_ ABSL_GUARDED_BY(mu_) = 0;
  // Blocks handed to the store and not yet answered by it.
  int in_store_ ABSL_GUARDED_BY(mu_) = 0;
  // Advance calls between deciding and performing their actions.
  int acting_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  // The status to end with; OK for a normal end after WritesDone.
  absl::Status end_ ABSL_GUARDED_BY(mu_);
  bool end_decided_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  int pins_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone ran
};

FeedbackServiceImpl::FeedbackServiceImpl(EventStore& store,
                                         const TouchpointIndex& index,
                                         Executor& feed_readers,
                                         const Clock& clock,
                                         const FeedbackServiceOptions& options)
    : store_(store),
      index_(index),
      feed_readers_(feed_readers),
      clock_(clock),
      options_(options) {}

grpc::ServerUnaryReactor* FeedbackServiceImpl::SubmitEvents(
    grpc::CallbackServerContext* context,
    const polku::v1::SubmitEventsRequest* request,
    polku::v1::SubmitEventsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto fail = [context, reactor](const absl::Status& status) {
    reactor->Finish(ToGrpc(*context, status));
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
  if (absl::Status invalid = CheckHistoryVersion(request->history_version());
      !invalid.ok()) {
    return fail(invalid);
  }
  const std::shared_ptr<const TouchpointSnapshot> touchpoints =
      index_.Current();
  if (!touchpoints->loaded()) {
    return fail(absl::UnavailableError("touchpoint index not loaded yet"));
  }

  auto prepared = std::make_shared<Prepared>(
      Prepare(request->events(), *caller, *touchpoints, clock_.Now(),
              request->history_version()));
  if (request->validate_only()) {
    // Every rule that depends on the event alone has run; nothing is stored.
    for (EventResult& result : prepared->results) {
      if (result.outcome() == EventResult::OUTCOME_UNSPECIFIED) {
        result.set_outcome(EventResult::ACCEPTED);
      }
    }
  }
  if (request->validate_only() || prepared->batch.events.empty()) {
    for (EventResult& result : prepared->results) {
      *response->add_results() = std::move(result);
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  EventBatch batch = std::move(prepared->batch);
  store_.Submit(std::move(batch),
                [context, reactor, response,
                 prepared](absl::StatusOr<std::vector<EventResult>> stored) {
                  if (!stored.ok()) {
                    reactor->Finish(ToGrpc(*context, stored.status()));
                    return;
                  }
                  Merge(*std::move(stored), *prepared);
                  for (EventResult& result : prepared->results) {
                    *response->add_results() = std::move(result);
                  }
                  reactor->Finish(grpc::Status::OK);
                });
  return reactor;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* FeedbackServiceImpl::WatchEvents(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  absl::StatusOr<rpc::Caller> caller =
      rpc::CallerFrom(*context, /*allow_internal=*/true);
  polku::v1::WatchEventsRequest watch;
  absl::Status invalid;
  if (!caller.ok()) {
    invalid = caller.status();
  } else if (!ParseMessage(*request, watch)) {
    invalid = absl::InvalidArgumentError(
        "the request is not a polku.v1.WatchEventsRequest");
  } else if (watch.from_sequence() < 0) {
    invalid = absl::InvalidArgumentError(absl::StrCat(
        "from_sequence: must be >= 0, got ", watch.from_sequence()));
  }
  auto* stream = new FeedStream(store_, feed_readers_, feeds_draining_,
                                caller.ok() ? caller->tenant : std::string(),
                                std::max<int64_t>(watch.from_sequence(), 1));
  if (!invalid.ok()) {
    stream->Finish(rpc::ToGrpcStatus(invalid));
  } else {
    stream->Start();
  }
  return stream;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* FeedbackServiceImpl::ExportEvents(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  polku::v1::ExportEventsRequest export_request;
  absl::StatusOr<EventQuery> query =
      !caller.ok() ? caller.status()
      : !ParseMessage(*request, export_request)
          ? absl::InvalidArgumentError(
                "the request is not a polku.v1.ExportEventsRequest")
          : ExportQuery(export_request, caller->tenant);
  if (!query.ok()) {
    auto* refused = new ExportStream(store_, feed_readers_, {}, 0, 1);
    refused->Finish(rpc::ToGrpcStatus(query.status()));
    return refused;
  }
  // Everything up to here is committed and stays visible to every read.
  auto* stream =
      new ExportStream(store_, feed_readers_, *std::move(query),
                       store_.notifier().last_sequence(),
                       std::max<int64_t>(options_.export_scan_window, 1));
  stream->Start();
  return stream;
}

grpc::ServerUnaryReactor* FeedbackServiceImpl::EraseCustomer(
    grpc::CallbackServerContext* context,
    const polku::v1::EraseCustomerRequest* request,
    polku::v1::EraseCustomerResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  if (!caller.ok()) {
    reactor->Finish(rpc::ToGrpcStatus(caller.status()));
    return reactor;
  }
  if (request->customer().empty()) {
    reactor->Finish(rpc::ToGrpcStatus(
        absl::InvalidArgumentError("customer: must not be empty")));
    return reactor;
  }
  ErasureReceipts* receipts =
      options_.receipts != nullptr && options_.receipts->enabled()
          ? options_.receipts
          : nullptr;
  // Answers a second (the margin) before the caller gives up, so that the
  // receipt arrives; never past receipt_max_wait.
  absl::Time wait_until =
      receipts == nullptr
          ? absl::InfinitePast()
          : receipts->clock().Now() + options_.receipt_max_wait;
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    wait_until = std::min(wait_until, absl::FromChrono(context->deadline()) -
                                          options_.receipt_deadline_margin);
  }
  if (request->no_wait()) wait_until = absl::InfinitePast();
  store_.Erase(
      caller->tenant, request->customer(), request->suppress_future(),
      [reactor, response, receipts, wait_until, tenant = caller->tenant,
       suppress =
           request->suppress_future()](absl::StatusOr<EraseResult> erased) {
        if (!erased.ok()) {
          reactor->Finish(rpc::ToGrpcStatus(erased.status()));
          return;
        }
        log::Info("customer erased", {{"tenant", tenant},
                                      {"erased_events", erased->erased_events},
                                      {"sequence", erased->sequence},
                                      {"suppressed", suppress}});
        response->set_erased_events(erased->erased_events);
        response->set_sequence(erased->sequence);
        if (receipts == nullptr) {
          reactor->Finish(grpc::Status::OK);
          return;
        }
        // On the store's writer thread: Wait only registers the wait.
        receipts->Wait(erased->sequence, wait_until,
                       [reactor, response, tenant,
                        sequence = erased->sequence](
                           polku::v1::ErasureReceipt receipt) {
                         if (!receipt.complete()) {
                           std::string pending;
                           for (const auto& reader : receipt.readers()) {
                             if (reader.applied()) continue;
                             absl::StrAppend(&pending, pending.empty() ? "" : ",",
                                             reader.reader());
                           }
                           log::Warning("erasure not yet applied by every "
                                        "reader; answering with the receipt",
                                        {{"tenant", tenant},
                                         {"sequence", sequence},
                                         {"pending", pending}});
                         }
                         *response->mutable_receipt() = std::move(receipt);
                         reactor->Finish(grpc::Status::OK);
                       });
      });
  return reactor;
}

grpc::ServerUnaryReactor* FeedbackServiceImpl::GetErasureReceipt(
    grpc::CallbackServerContext* context,
    const polku::v1::GetErasureReceiptRequest* request,
    polku::v1::ErasureReceipt* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  if (!caller.ok()) {
    reactor->Finish(rpc::ToGrpcStatus(caller.status()));
    return reactor;
  }
  if (request->sequence() <= 0) {
    reactor->Finish(rpc::ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "sequence: must be > 0 (EraseCustomerResponse.sequence), got ",
        request->sequence()))));
    return reactor;
  }
  ErasureReceipts* receipts = options_.receipts;
  if (receipts == nullptr || !receipts->enabled()) {
    reactor->Finish(rpc::ToGrpcStatus(absl::FailedPreconditionError(
        "polku-feedback tracks no readers of its feed (--erasure_readers is "
        "empty), so there are no erasure receipts")));
    return reactor;
  }
  // A store read: on the executor. Only the caller's own erasure: a
  // receipt for another tenant's sequence would tell it that one exists.
  feed_readers_.Schedule([this, reactor, response, receipts,
                          tenant = caller->tenant,
                          sequence = request->sequence()] {
    absl::StatusOr<std::vector<FeedRecord>> records =
        store_.ReadFeedRecords(tenant, sequence, 1);
    if (!records.ok()) {
      reactor->Finish(rpc::ToGrpcStatus(records.status()));
      return;
    }
    if (records->empty() || records->front().sequence != sequence ||
        !records->front().erasure) {
      reactor->Finish(rpc::ToGrpcStatus(absl::NotFoundError(absl::StrCat(
          "sequence: no erasure of this tenant at ", sequence))));
      return;
    }
    // Other replicas may have heard reports this one did not.
    if (absl::Status refreshed = receipts->Refresh(); !refreshed.ok()) {
      reactor->Finish(rpc::ToGrpcStatus(refreshed));
      return;
    }
    *response = receipts->Receipt(sequence);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerBidiReactor<StreamEventsRequest, StreamEventsResponse>*
FeedbackServiceImpl::StreamEvents(grpc::CallbackServerContext* context) {
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  absl::Status error;
  if (!caller.ok()) {
    error = caller.status();
  } else if (caller->channel.empty()) {
    error = absl::PermissionDeniedError("StreamEvents needs a channel key");
  }
  auto* stream = new EventStream(
      *this, *context, caller.ok() ? *std::move(caller) : rpc::Caller());
  if (error.ok() && !AddStream(stream)) {
    error = absl::ResourceExhaustedError(absl::StrCat(
        "too many open event streams (at most ", options_.max_streams,
        "); retry in a second or use SubmitEvents"));
    SetRetryAfter(error, absl::Seconds(1));
  }
  stream->Start(error);
  return stream;
}

bool FeedbackServiceImpl::AddStream(EventStream* stream) {
  absl::MutexLock lock(&streams_mu_);
  if (draining_ || static_cast<int>(streams_.size()) >= options_.max_streams) {
    return false;
  }
  streams_.insert(stream);
  return true;
}

void FeedbackServiceImpl::RemoveStream(EventStream* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(stream);
}

int FeedbackServiceImpl::open_streams() const {
  absl::MutexLock lock(&streams_mu_);
  return static_cast<int>(streams_.size());
}

void FeedbackServiceImpl::EndStreams() {
  // Pinned, so none is deleted while being told to end; told outside the
  // lock, since ending may run OnDone, which takes it.
  std::vector<EventStream*> streams;
  {
    absl::MutexLock lock(&streams_mu_);
    draining_ = true;
    for (EventStream* stream : streams_) {
      stream->Pin();
      streams.push_back(stream);
    }
  }
  for (EventStream* stream : streams) {
    stream->Drain();
    stream->Unpin();
  }
  // WatchEvents streams: a waiting one is woken and reads again, a reading
  // or writing one reads again when done; each then sees the flag and ends
  // UNAVAILABLE, so that the drain does not wait for the timeout.
  feeds_draining_ = true;
  store_.notifier().Close();
  // EraseCustomer calls waiting for readers answer with the receipt as it
  // stands, instead of holding the shutdown up.
  if (options_.receipts != nullptr) options_.receipts->ExpireAll();
}

}  // namespace polku::feedback
