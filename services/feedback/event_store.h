// Where polku-feedback keeps touchpoint events: the system of record and its
// ordered change feed. SqliteEventStore and PgEventStore implement it, and
// both pass the same tests (event_store_conformance_test.cc).
//
//   store.Submit({.tenant = "demo", .channel = "shop", .events = {…}},
//                [](absl::StatusOr<std::vector<polku::v1::EventResult>>
//                results) {
//                  // called once the events are durable (or with the error)
//                });
//   auto page = store.ReadFeed("demo", /*from_sequence=*/1, /*limit=*/500);
//   store.Erase("demo", "customer-42", /*suppress_future=*/true, done);
//
// Contract:
//  * Submit never blocks on storage; `done` runs on the store's writer
//    thread only after the transaction holding the batch committed, with one
//    result per event in batch order. If the commit fails, `done` gets the
//    error and nothing of the batch is acknowledged (retrying is safe).
//  * Idempotency key (tenant, channel, event_id): the same event again is
//    DUPLICATE with the original sequence; different content under a used
//    key is REJECTED with field `event_id`.
//  * Sequences are strictly increasing in commit order, so a reader that saw
//    sequence N never later finds a new event below N. Events and erasures
//    share them; an erased event leaves a gap.
//  * Erasing a customer deletes their events but keeps each event's
//    idempotency key (and keyed fingerprint, no content): a late retry of an
//    erased event is answered DUPLICATE with its old sequence and does not
//    bring the data back.
//  * A suppressed customer's later events are REJECTED with field
//    `customer`.
#ifndef POLKU_SERVICES_FEEDBACK_EVENT_STORE_H_
#define POLKU_SERVICES_FEEDBACK_EVENT_STORE_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "polku/v1/common.pb.h"
#include "polku/v1/feedback.pb.h"
#include "services/feedback/feed_notifier.h"
#include "services/feedback/touchpoint_index.h"

namespace polku::feedback {

// A validated event and where its touchpoint sits.
struct ValidEvent {
  // As submitted, customer reference in the clear.
  polku::v1::TouchpointEvent event;
  ResolvedTouchpoint touchpoint;
};

// Events from one caller, stored together.
struct EventBatch {
  std::string tenant;
  std::string channel;
  std::vector<ValidEvent> events;
};

// One entry of the change feed.
using FeedEntry = std::variant<polku::v1::StoredEvent, polku::v1::Erasure>;

// One entry of the change feed as stored: `payload` is the serialised
// StoredEvent (or Erasure, if `erasure`) without its sequence. WatchEvents
// pages are built from these without parsing them (feed_page.h).
struct FeedRecord {
  int64_t sequence = 0;
  bool erasure = false;
  std::string payload;
};

inline int64_t SequenceOf(const FeedEntry& entry) {
  return std::visit([](const auto& e) { return e.sequence(); }, entry);
}

// Which stored events an export reads (ExportEvents): one tenant's, in a
// window of sequences, optionally one journey's and a range of occurred_at.
struct EventQuery {
  std::string tenant;
  // Empty: every journey.
  std::string journey;
  // occurred_at in [occurred_from, occurred_to), Unix microseconds.
  int64_t occurred_from = std::numeric_limits<int64_t>::min();
  int64_t occurred_to = std::numeric_limits<int64_t>::max();
  // Sequences in [from_sequence, to_sequence]: the window one read scans,
  // so that a read of sparse matches stays short however large the store.
  int64_t from_sequence = 1;
  int64_t to_sequence = std::numeric_limits<int64_t>::max();
  int limit = 500;
};

struct EraseResult {
  // Events deleted.
  int64_t erased_events = 0;
  // Feed sequence of the erasure.
  int64_t sequence = 0;
};

// How far one reader of the feed (polku-insight, polku-cases) has durably
// applied it, as reported to any replica (erasure_receipts.h). Times are
// Unix microseconds by the clock of the replica that stored the report.
struct ReaderProgress {
  std::string reader;
  int64_t applied_sequence = 0;
  // The report that raised applied_sequence to its value: the reader had
  // applied every sequence up to it by then.
  int64_t advanced_at = 0;
  // The reader's last report.
  int64_t reported_at = 0;
};

// The progress statements, the same text on SQLite and PostgreSQL ($N
// binds by position on both). The upsert keeps the highest sequence: a
// replica's late write of an older report never moves progress back.
// $1 reader, $2 feed_id, $3 applied_sequence, $4 time of the report.
inline constexpr char kUpsertReaderProgressSql[] =
    "INSERT INTO reader_progress (reader, feed_id, applied_sequence, "
    "advanced_at, reported_at) VALUES ($1, $2, $3, $4, $4) "
    "ON CONFLICT (reader, feed_id) DO UPDATE SET "
    "advanced_at = CASE WHEN excluded.applied_sequence > "
    "reader_progress.applied_sequence THEN excluded.advanced_at "
    "ELSE reader_progress.advanced_at END, "
    "applied_sequence = CASE WHEN excluded.applied_sequence > "
    "reader_progress.applied_sequence THEN excluded.applied_sequence "
    "ELSE reader_progress.applied_sequence END, "
    "reported_at = CASE WHEN excluded.reported_at > "
    "reader_progress.reported_at THEN excluded.reported_at "
    "ELSE reader_progress.reported_at END";
// $1 feed_id.
inline constexpr char kReadReaderProgressSql[] =
    "SELECT reader, applied_sequence, advanced_at, reported_at "
    "FROM reader_progress WHERE feed_id = $1 ORDER BY reader";

class EventStore {
 public:
  // One result per event of the batch, in order: ACCEPTED or DUPLICATE with
  // the sequence, or REJECTED with a field relative to the event.
  using SubmitCallback =
      std::function<void(absl::StatusOr<std::vector<polku::v1::EventResult>>)>;

  virtual ~EventStore() = default;

  // Queues `batch` for the next commit; see the contract above. After Stop,
  // `done` gets UNAVAILABLE right away.
  virtual void Submit(EventBatch batch, SubmitCallback done) = 0;

  using EraseCallback = std::function<void(absl::StatusOr<EraseResult>)>;

  // Queues the erasure of `tenant`'s customer `customer` (the reference in
  // the clear): in one transaction, deletes every stored event of that
  // customer, appends an Erasure to the feed and, if `suppress_future`,
  // records that later events of the customer are rejected. `done` runs
  // once that committed, on the writer thread.
  virtual void Erase(std::string tenant, std::string customer,
                     bool suppress_future, EraseCallback done) = 0;

  // Up to `limit` feed records (stored events and erasures) with sequence >=
  // `from_sequence`, in sequence order; only `tenant`'s unless `tenant` is
  // empty. Blocks on storage: call it from an Executor thread. Safe from
  // several threads.
  virtual absl::StatusOr<std::vector<FeedRecord>> ReadFeedRecords(
      absl::string_view tenant, int64_t from_sequence, int limit) = 0;

  // Up to `query.limit` stored events (never erasures) matching `query`, in
  // sequence order, as records like ReadFeedRecords'. Blocks on storage:
  // call it from an Executor thread. Safe from several threads.
  virtual absl::StatusOr<std::vector<FeedRecord>> ReadEventRecords(
      const EventQuery& query) = 0;

  // ReadFeedRecords, parsed (tests and tools; WatchEvents sends the
  // records as they are). DATA_LOSS if a record cannot be parsed.
  absl::StatusOr<std::vector<FeedEntry>> ReadFeed(absl::string_view tenant,
                                                  int64_t from_sequence,
                                                  int limit);

  // Stores that `reader` reported, at `reported_at` (Unix microseconds),
  // having applied this feed through `applied_sequence`; progress only
  // rises (kUpsertReaderProgressSql). Blocks on storage: call it from an
  // Executor thread. Stores without storage (tests) are UNIMPLEMENTED.
  virtual absl::Status RecordReaderProgress(absl::string_view reader,
                                            int64_t applied_sequence,
                                            int64_t reported_at);

  // Every reader's progress on this feed, as every replica stored it.
  // Blocks on storage. UNIMPLEMENTED like RecordReaderProgress.
  virtual absl::StatusOr<std::vector<ReaderProgress>> ReadReaderProgress();

  // Random, fixed when the storage was created; see
  // WatchEventsResponse.feed_id.
  virtual const std::string& feed_id() const = 0;

  // Publishes every committed sequence to feed readers.
  virtual FeedNotifier& notifier() = 0;

  // Commits everything already submitted, then stops the writer. Blocks.
  virtual void Stop() = 0;
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_EVENT_STORE_H_
