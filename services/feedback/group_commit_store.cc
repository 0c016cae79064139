#include "services/feedback/group_commit_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "lib/base/log.h"
#include "lib/base/thread.h"
#include "services/feedback/retry_hint.h"

namespace polku::feedback {

using polku::v1::EventResult;
using polku::v1::StoredEvent;
using polku::v1::TouchpointEvent;

GroupCommitStore::GroupCommitStore(const GroupCommitOptions& options,
                                   int64_t last_sequence, CustomerHasher hasher)
    : options_(options), hasher_(std::move(hasher)), notifier_(last_sequence) {}

GroupCommitStore::~GroupCommitStore() { Stop(); }

void GroupCommitStore::StartWriter() {
  writer_ = std::thread([this] {
    NameThisThread("polku-writer");
    if (options_.writer_nice != 0) {
      const absl::Status status = SetThisThreadNice(options_.writer_nice);
      if (!status.ok()) {
        log::Warning("the writer thread keeps the process's priority",
                     {{"error", status.ToString()}});
      }
    }
    WriterLoop();
  });
}

void GroupCommitStore::Stop() {
  if (stopped_) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
  stopped_ = true;
}

size_t GroupCommitStore::queue_depth() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void GroupCommitStore::Submit(EventBatch batch, SubmitCallback done) {
  if (batch.events.empty()) {
    done(std::vector<EventResult>());
    return;
  }
  // Before preparing, which is the expensive part: under overload a refusal
  // must cost next to nothing.
  const size_t events = batch.events.size();
  if (absl::Status refused = Admit(events); !refused.ok()) {
    done(std::move(refused));
    return;
  }
  const absl::Time received_at = options_.clock->Now();
  // Here rather than on the writer: callers run in parallel, the writer
  // does not.
  Pending pending{.tenant = std::move(batch.tenant),
                  .channel = std::move(batch.channel),
                  .events = {},
                  .received_at = received_at,
                  .done = std::move(done)};
  const TenantHasher& hasher = hasher_.ForTenant(pending.tenant);
  pending.events.reserve(events);
  for (ValidEvent& valid : batch.events) {
    pending.events.push_back(PrepareEvent(hasher, pending.tenant,
                                          pending.channel, std::move(valid),
                                          received_at));
  }
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(Work{std::move(pending), nullptr});
      return;
    }
    // The writer may be gone already: nobody would answer.
    queued_events_ -= events;
  }
  pending.done(absl::UnavailableError("the event store is shutting down"));
}

absl::Status GroupCommitStore::Admit(size_t events) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return absl::UnavailableError("the event store is shutting down");
  }
  if (queued_events_ + events > options_.max_queued_events) {
    // Roughly when the writer will have made room.
    const absl::Duration after =
        std::clamp(time_per_event_ * static_cast<double>(queued_events_),
                   absl::Milliseconds(10), absl::Seconds(5));
    absl::Status refused = absl::ResourceExhaustedError(
        absl::StrCat("the writer queue is full (", queued_events_,
                     " events waiting); retry in about ",
                     absl::ToInt64Milliseconds(after), " ms"));
    SetRetryAfter(refused, after);
    return refused;
  }
  // Held while the batch is prepared, so that concurrent callers cannot
  // all be admitted into the same room, and an admitted batch is never
  // refused after paying for its preparation.
  queued_events_ += events;
  return absl::OkStatus();
}

void GroupCommitStore::Erase(std::string tenant, std::string customer,
                             bool suppress_future, EraseCallback done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      Work work;
      work.erase = std::make_unique<EraseOrder>(
          EraseOrder{std::move(tenant), std::move(customer), suppress_future,
                     std::move(done)});
      queue_.push_back(std::move(work));
      return;
    }
  }
  done(absl::UnavailableError("the event store is shutting down"));
}

bool GroupCommitStore::WriterHasWork() const {
  return stopping_ || !queue_.empty();
}

void GroupCommitStore::WriterLoop() {
  while (true) {
    std::vector<Pending> group;
    std::unique_ptr<EraseOrder> erase;
    size_t events = 0;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &GroupCommitStore::WriterHasWork));
      if (queue_.empty()) return;  // stopping, and everything is committed
      if (queue_.front().erase != nullptr) {
        erase = std::move(queue_.front().erase);
        queue_.pop_front();
      } else {
        // Everything queued, up to the bound and the next erasure.
        while (!queue_.empty() && queue_.front().erase == nullptr &&
               (group.empty() ||
                events + queue_.front().pending.events.size() <=
                    options_.max_events_per_transaction)) {
          events += queue_.front().pending.events.size();
          group.push_back(std::move(queue_.front().pending));
          queue_.pop_front();
        }
        queued_events_ -= events;
      }
    }

    if (erase != nullptr) {
      absl::StatusOr<EraseResult> erased = WriteErasure(*erase);
      if (erased.ok()) {
        ++transactions_committed_;
        notifier_.Publish(erased->sequence);
      } else {
        log::Error(
            "erasing a customer failed",
            {{"tenant", erase->tenant}, {"error", erased.status().ToString()}});
        erased = absl::UnavailableError(absl::StrCat(
            "the customer was not erased: ", erased.status().message()));
      }
      erase->done(std::move(erased));
      continue;
    }

    const absl::Time started = absl::Now();
    std::vector<BatchResult> results;
    int64_t last_sequence = 0;
    absl::Status status = WriteGroup(group, results, last_sequence);
    {
      absl::MutexLock lock(&mu_);
      time_per_event_ = (absl::Now() - started) / static_cast<double>(events);
    }
    if (!status.ok()) {
      log::Error("storing events failed",
                 {{"batches", group.size()}, {"error", status.ToString()}});
      // Nothing of the group is durable; callers may safely retry.
      const absl::Status error = absl::UnavailableError(
          absl::StrCat("events were not stored: ", status.message()));
      for (Pending& pending : group) pending.done(error);
      continue;
    }
    ++transactions_committed_;
    if (last_sequence > 0) notifier_.Publish(last_sequence);
    for (size_t i = 0; i < group.size(); ++i) {
      group[i].done(std::move(results[i]));
    }
  }
}

std::optional<int64_t> CustomerKey(absl::string_view customer_hash) {
  const absl::string_view hex = customer_hash.substr(0, 16);  // 8 bytes
  uint64_t key;
  // SimpleHexAtoi alone would also take a sign, "0x" or spaces.
  if (hex.size() != 16 ||
      !std::all_of(hex.begin(), hex.end(), absl::ascii_isxdigit) ||
      !absl::SimpleHexAtoi(hex, &key)) {
    return std::nullopt;
  }
  return static_cast<int64_t>(key);
}

PreparedEvent PrepareEvent(const TenantHasher& hasher, absl::string_view tenant,
                           absl::string_view channel, ValidEvent valid,
                           absl::Time received_at) {
  TouchpointEvent& event = valid.event;
  PreparedEvent prepared;
  prepared.event_id = event.event_id();
  prepared.touchpoint = event.touchpoint();
  prepared.occurred_at = ToUnixMicros(event.occurred_at());
  prepared.customer_hash = hasher.Hash(event.customer());
  // The hasher's output always has a key.
  prepared.customer_key = CustomerKey(prepared.customer_hash).value();
  event.set_customer(prepared.customer_hash);
  prepared.fingerprint = EventFingerprint(hasher, event);

  StoredEvent stored;
  event.clear_customer();
  stored.mutable_event()->Swap(&event);
  stored.set_tenant(std::string(tenant));
  stored.set_channel(std::string(channel));
  stored.set_journey(valid.touchpoint.journey);
  stored.set_journey_version(valid.touchpoint.journey_version);
  stored.set_stage(valid.touchpoint.stage);
  stored.set_customer_hash(prepared.customer_hash);
  *stored.mutable_received_at() = ToTimestamp(received_at);
  stored.SerializeToString(&prepared.payload);
  prepared.where = std::move(valid.touchpoint);
  return prepared;
}

std::string EventFingerprint(const TenantHasher& hasher,
                             const TouchpointEvent& event) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    event.SerializeToCodedStream(&coded);
  }
  return hasher.Fingerprint(bytes);
}

void AnswerRepeat(absl::string_view stored_fingerprint, int64_t stored_sequence,
                  absl::string_view fingerprint, EventResult& result) {
  if (stored_fingerprint == fingerprint) {
    result.set_outcome(EventResult::DUPLICATE);
    result.set_sequence(stored_sequence);
  } else {
    result.set_outcome(EventResult::REJECTED);
    result.set_field("event_id");
    result.set_reason(absl::StrCat("event_id '", result.event_id(),
                                   "' was already used for a different "
                                   "event"));
  }
}

void AnswerSuppressed(EventResult& result) {
  result.set_outcome(EventResult::REJECTED);
  result.set_field("customer");
  result.set_reason(
      "this customer was erased and their events are no longer accepted");
}

polku::v1::Erasure ErasureEntry(const std::string& tenant,
                                const std::string& customer_hash,
                                int64_t erased_events, bool suppressed,
                                absl::Time erased_at) {
  polku::v1::Erasure erasure;
  erasure.set_tenant(tenant);
  erasure.set_customer_hash(customer_hash);
  erasure.set_erased_events(erased_events);
  *erasure.mutable_erased_at() = ToTimestamp(erased_at);
  erasure.set_suppressed(suppressed);
  return erasure;
}

int64_t ToUnixMicros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1'000'000 + ts.nanos() / 1'000;
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t nanos = absl::ToUnixNanos(t);
  ts.set_seconds(nanos / 1'000'000'000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  return ts;
}

}  // namespace polku::feedback
