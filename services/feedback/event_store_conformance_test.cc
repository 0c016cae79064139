// The EventStore contract (event_store.h), tested the same way on every
// implementation: SQLite in a scratch directory, PostgreSQL on a real server
// this test starts itself (lib/postgres/testing).
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <thread>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "lib/crypto/crypto.h"
#include "lib/postgres/postgres.h"
#include "lib/postgres/testing/shared_server.h"
#include "lib/sqlite/sqlite.h"
#include "services/feedback/event_store_test_util.h"
#include "services/feedback/group_commit_store.h"
#include "services/feedback/pg_event_store.h"
#include "services/feedback/retry_hint.h"
#include "services/feedback/sqlite_event_store.h"
#include "services/feedback/test_journeys.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using polku::v1::StoredEvent;
using polku::v1::TouchpointEvent;
using testing::Batch;
using testing::Erase;
using testing::Event;
using testing::kWait;
using testing::Pending;

// The deterministic encoding (map entries sorted) fingerprints are taken of.
std::string DeterministicBytes(const TouchpointEvent& event) {
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  event.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

// One storage (a SQLite file, a PostgreSQL database) and what the tests do
// to it behind the store's back.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // A store on this storage, opened (again) like production does.
  virtual absl::StatusOr<std::unique_ptr<GroupCommitStore>> Open(
      const GroupCommitOptions& options) = 0;
  // From another connection: holds what the writer's transactions wait for
  // (SQLite's write lock, PostgreSQL's feed lock), until ReleaseWriter.
  virtual absl::Status HoldWriter() = 0;
  virtual absl::Status ReleaseWriter() = 0;
  // From now on every insert of an event for which `condition` (SQL on the
  // new row, NEW.column) holds fails with "injected failure".
  virtual absl::Status FailInsertsWhere(const std::string& condition) = 0;
  // Runs SQL on another connection.
  virtual absl::Status Exec(const std::string& sql) = 0;
  // The stored fingerprint column of the one stored event.
  virtual absl::StatusOr<std::string> StoredFingerprint() = 0;
  // Takes the reader_progress migration back out (the store closed): the
  // storage is then as the code before it left it.
  virtual absl::Status UndoReaderProgressMigration() = 0;
};

class SqliteBackend : public StoreBackend {
 public:
  SqliteBackend() : path_(testing::ScratchDir() + "/feedback.db") {}

  absl::StatusOr<std::unique_ptr<GroupCommitStore>> Open(
      const GroupCommitOptions& options) override {
    auto store =
        SqliteEventStore::Open(path_, CustomerHasher(testing::TestSecret()),
                               {.group_commit = options});
    if (!store.ok()) return store.status();
    return std::unique_ptr<GroupCommitStore>(*std::move(store));
  }
  absl::Status HoldWriter() override {
    auto db = sqlite::Database::Open(path_);
    if (!db.ok()) return db.status();
    holder_ = *std::move(db);
    return holder_->Exec("BEGIN IMMEDIATE");
  }
  absl::Status ReleaseWriter() override {
    absl::Status status = holder_->Exec("COMMIT");
    holder_.reset();
    return status;
  }
  absl::Status FailInsertsWhere(const std::string& condition) override {
    return Exec(absl::StrCat(
        "CREATE TRIGGER sabotage BEFORE INSERT ON events WHEN ", condition,
        " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"));
  }
  absl::Status Exec(const std::string& sql) override {
    auto db = sqlite::Database::Open(path_);
    if (!db.ok()) return db.status();
    return (*db)->Exec(sql);
  }
  absl::StatusOr<std::string> StoredFingerprint() override {
    auto db = sqlite::Database::Open(path_);
    if (!db.ok()) return db.status();
    auto row = (*db)->Prepare("SELECT fingerprint FROM events");
    if (!row.ok()) return row.status();
    auto found = (*row)->Step();
    if (!found.ok()) return found.status();
    if (!*found) return absl::NotFoundError("no stored event");
    std::string fingerprint = (*row)->ColumnBlob(0);
    (*row)->Reset();
    return fingerprint;
  }
  absl::Status UndoReaderProgressMigration() override {
    return Exec("DROP TABLE reader_progress; PRAGMA user_version = 4");
  }

 private:
  const std::string path_;
  std::unique_ptr<sqlite::Database> holder_;
};

class PgBackend : public StoreBackend {
 public:
  PgBackend() {
    auto url = postgres::testing::NewDatabase();
    EXPECT_TRUE(url.ok()) << url.status();
    if (url.ok()) url_ = *url;
  }

  absl::StatusOr<std::unique_ptr<GroupCommitStore>> Open(
      const GroupCommitOptions& options) override {
    auto store = PgEventStore::Open(url_, CustomerHasher(testing::TestSecret()),
                                    {.group_commit = options});
    if (!store.ok()) return store.status();
    return std::unique_ptr<GroupCommitStore>(*std::move(store));
  }
  absl::Status HoldWriter() override {
    auto db = postgres::Connection::Open(url_, absl::Seconds(10));
    if (!db.ok()) return db.status();
    holder_ = *std::move(db);
    if (absl::Status s = holder_->Exec("BEGIN"); !s.ok()) return s;
    return holder_
        ->Execute("SELECT pg_advisory_xact_lock($1)",
                  {postgres::Param::Int(PgEventStore::kFeedLock)})
        .status();
  }
  absl::Status ReleaseWriter() override {
    absl::Status status = holder_->Exec("COMMIT");
    holder_.reset();
    return status;
  }
  absl::Status FailInsertsWhere(const std::string& condition) override {
    return Exec(absl::StrCat(
        "CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF ",
        condition,
        " THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; "
        "END $$; "
        "CREATE TRIGGER sabotage BEFORE INSERT ON events "
        "FOR EACH ROW EXECUTE FUNCTION sabotage()"));
  }
  absl::Status Exec(const std::string& sql) override {
    auto db = postgres::Connection::Open(url_, absl::Seconds(10));
    if (!db.ok()) return db.status();
    return (*db)->Exec(sql);
  }
  absl::StatusOr<std::string> StoredFingerprint() override {
    auto db = postgres::Connection::Open(url_, absl::Seconds(10));
    if (!db.ok()) return db.status();
    auto row = (*db)->Execute("SELECT fingerprint FROM events");
    if (!row.ok()) return row.status();
    if (row->rows() == 0) return absl::NotFoundError("no stored event");
    return row->Bytes(0, 0);
  }
  absl::Status UndoReaderProgressMigration() override {
    return Exec(
        "DROP TABLE reader_progress; DELETE FROM schema_migrations "
        "WHERE component = 'feedback' AND version = 3");
  }

 private:
  std::string url_;
  std::unique_ptr<postgres::Connection> holder_;
};

struct BackendParam {
  std::string name;
  std::function<std::unique_ptr<StoreBackend>()> make;
};

// Names the backend in failure messages and test names.
void PrintTo(const BackendParam& param, std::ostream* os) { *os << param.name; }

class EventStoreConformanceTest
    : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    Reopen();
  }

  void Reopen(size_t max_queued_events = GroupCommitOptions().max_queued_events) {
    store_.reset();
    auto store = backend_->Open({.max_queued_events = max_queued_events,
                                 .clock = &clock_});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  absl::StatusOr<std::vector<EventResult>> Submit(EventBatch batch) {
    return testing::SubmitAndWait(*store_, std::move(batch));
  }

  // Submits without waiting; the answer arrives in the returned Pending.
  Pending& SubmitLater(EventBatch batch) {
    Pending& p = *pending_.emplace_back(std::make_unique<Pending>());
    store_->Submit(std::move(batch), [&p](auto results) {
      p.out = std::move(results);
      p.done.Notify();
    });
    return p;
  }

  // While another connection holds the write lock (HoldWriter): submits a
  // batch of `event_id` and waits until the writer has taken it, so that it
  // waits on the lock and the batches submitted next queue up behind it.
  Pending& OccupyTheWriter(const std::string& event_id) {
    Pending& taken = SubmitLater(Batch({Event(event_id)}));
    const absl::Time deadline = absl::Now() + kWait;
    while (store_->queue_depth() > 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    return taken;
  }

  std::vector<FeedEntry> Entries(const std::string& tenant = "",
                                 int64_t from = 1, int limit = 1000) {
    auto entries = store_->ReadFeed(tenant, from, limit);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<FeedEntry>();
  }

  std::vector<StoredEvent> Feed(const std::string& tenant = "",
                                int64_t from = 1, int limit = 1000) {
    return testing::StoredEvents(*store_, tenant, from, limit);
  }

  FakeClock clock_{absl::FromUnixSeconds(1'714'564'800)};
  std::unique_ptr<StoreBackend> backend_;
  // Before store_, so that they outlive the answers it gives on closing.
  std::vector<std::unique_ptr<Pending>> pending_;
  std::unique_ptr<GroupCommitStore> store_;
};

INSTANTIATE_TEST_SUITE_P(
    Backends, EventStoreConformanceTest,
    ::testing::Values(
        BackendParam{"SQLite",
                     [] { return std::make_unique<SqliteBackend>(); }},
        BackendParam{"PostgreSQL",
                     [] { return std::make_unique<PgBackend>(); }}),
    [](const ::testing::TestParamInfo<BackendParam>& info) {
      return info.param.name;
    });

TEST_P(EventStoreConformanceTest, AcceptsEventsInOrderWithIncreasingSequences) {
  auto results = Submit(Batch({Event("e-1"), Event("e-2")}));
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].event_id(), "e-1");
  EXPECT_EQ((*results)[0].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ((*results)[0].sequence(), 1);
  EXPECT_EQ((*results)[1].event_id(), "e-2");
  EXPECT_EQ((*results)[1].sequence(), 2);
  // Readers hear about it by the time the caller does.
  EXPECT_EQ(store_->notifier().last_sequence(), 2);
}

TEST_P(EventStoreConformanceTest, TheFeedHoldsWhatTheServerStamped) {
  ASSERT_TRUE(Submit(Batch({Event("e-1")})).ok());
  std::vector<StoredEvent> feed = Feed();
  ASSERT_EQ(feed.size(), 1u);
  const StoredEvent& stored = feed[0];
  EXPECT_EQ(stored.sequence(), 1);
  EXPECT_EQ(stored.tenant(), "demo");
  EXPECT_EQ(stored.channel(), "shop");
  EXPECT_EQ(stored.journey(), "switching");
  EXPECT_EQ(stored.journey_version(), 2);
  EXPECT_EQ(stored.stage(), "purchase");
  EXPECT_EQ(stored.received_at().seconds(), 1'714'564'800);
  EXPECT_EQ(stored.customer_hash(),
            CustomerHasher(std::string(32, 'k')).Hash("demo", "customer-42"));
  EXPECT_EQ(stored.event().customer(), "");
  EXPECT_EQ(stored.event().event_id(), "e-1");
  EXPECT_EQ(stored.event().csat(), 4);
  EXPECT_EQ(stored.event().attributes().at("store_id"), "helsinki-1");
}

TEST_P(EventStoreConformanceTest, AResentEventIsADuplicateWithTheOriginalSequence) {
  ASSERT_TRUE(Submit(Batch({Event("e-1"), Event("e-2")})).ok());
  auto again = Submit(Batch({Event("e-3"), Event("e-2")}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ((*again)[0].sequence(), 3);
  EXPECT_EQ((*again)[1].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ((*again)[1].sequence(), 2);
  EXPECT_EQ(Feed().size(), 3u);  // never a second row
}

TEST_P(EventStoreConformanceTest, DuplicatesAreRecognisedAfterReopening) {
  ASSERT_TRUE(Submit(Batch({Event("e-1"), Event("e-2")})).ok());
  Reopen();
  auto again = Submit(Batch({Event("e-2")}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ((*again)[0].sequence(), 2);
  // And new events continue the sequence.
  auto next = Submit(Batch({Event("e-9")}));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ((*next)[0].sequence(), 3);
}

TEST_P(EventStoreConformanceTest, ReusingAnEventIdForDifferentContentIsRejected) {
  ASSERT_TRUE(Submit(Batch({Event("e-1", /*csat=*/4)})).ok());
  auto reuse = Submit(Batch({Event("e-1", /*csat=*/2)}));
  ASSERT_TRUE(reuse.ok()) << reuse.status();
  EXPECT_EQ((*reuse)[0].outcome(), EventResult::REJECTED);
  EXPECT_EQ((*reuse)[0].field(), "event_id");
  EXPECT_EQ((*reuse)[0].reason(),
            "event_id 'e-1' was already used for a different event");
  EXPECT_EQ((*reuse)[0].sequence(), 0);
  EXPECT_EQ(Feed().size(), 1u);
}

TEST_P(EventStoreConformanceTest, TheSameEventIdIsFreeInAnotherChannelOrTenant) {
  ASSERT_TRUE(Submit(Batch({Event("e-1")})).ok());
  auto phone = Submit(Batch({Event("e-1")}, "demo", "phone"));
  auto other = Submit(Batch({Event("e-1")}, "other", "shop"));
  ASSERT_TRUE(phone.ok() && other.ok());
  EXPECT_EQ((*phone)[0].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ((*other)[0].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(Feed().size(), 3u);
}

TEST_P(EventStoreConformanceTest, RepeatsWithinOneBatchAreHandledTheSameWay) {
  auto results = Submit(Batch({Event("e-1"), Event("e-1"), Event("e-1", 1)}));
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ((*results)[1].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ((*results)[1].sequence(), (*results)[0].sequence());
  EXPECT_EQ((*results)[2].outcome(), EventResult::REJECTED);
  EXPECT_EQ(Feed().size(), 1u);
}

TEST_P(EventStoreConformanceTest, MapOrderDoesNotMakeAResentEventDifferent) {
  ValidEvent first = Event("e-1");
  ValidEvent reordered = Event("e-1");
  reordered.event.mutable_attributes()->clear();
  (*reordered.event.mutable_attributes())["agent_id"] = "a-7";
  (*reordered.event.mutable_attributes())["store_id"] = "helsinki-1";
  ASSERT_TRUE(Submit(Batch({first})).ok());
  auto again = Submit(Batch({reordered}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].outcome(), EventResult::DUPLICATE);
}

TEST_P(EventStoreConformanceTest, ConcurrentSubmissionsShareTransactions) {
  // Another connection holds the write lock, so the writer's first
  // transaction waits while every batch queues up behind it.
  ASSERT_TRUE(backend_->HoldWriter().ok());

  constexpr int kThreads = 8;
  constexpr int kEventsPerBatch = 5;
  std::vector<absl::StatusOr<std::vector<EventResult>>> results(kThreads);
  std::vector<absl::Notification> done(kThreads);
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::vector<ValidEvent> events;
        for (int e = 0; e < kEventsPerBatch; ++e) {
          events.push_back(Event(absl::StrCat("t", t, "-e", e)));
        }
        store_->Submit(Batch(std::move(events)), [&, t](auto r) {
          results[t] = std::move(r);
          done[t].Notify();
        });
      });
    }
    for (auto& thread : threads) thread.join();
  }
  // Nothing is acknowledged while nothing can commit.
  for (auto& d : done) EXPECT_FALSE(d.HasBeenNotified());
  ASSERT_TRUE(backend_->ReleaseWriter().ok());

  std::set<int64_t> sequences;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(done[t].WaitForNotificationWithTimeout(kWait));
    ASSERT_TRUE(results[t].ok()) << results[t].status();
    for (const EventResult& r : *results[t]) {
      EXPECT_EQ(r.outcome(), EventResult::ACCEPTED);
      sequences.insert(r.sequence());
    }
  }
  EXPECT_EQ(sequences.size(), size_t{kThreads * kEventsPerBatch});
  EXPECT_EQ(*sequences.rbegin(), kThreads * kEventsPerBatch);
  // The first transaction may hold one batch; the rest share the second.
  EXPECT_LE(store_->transactions_committed(), 2);
}

TEST_P(EventStoreConformanceTest, AcknowledgedEventsArePresentAfterReopening) {
  constexpr int kBatches = 40;
  std::vector<absl::Notification> done(kBatches);
  std::vector<int64_t> acknowledged(kBatches, 0);
  std::vector<std::thread> threads;
  for (int b = 0; b < kBatches; ++b) {
    threads.emplace_back([&, b] {
      store_->Submit(Batch({Event(absl::StrCat("b", b))}), [&, b](auto r) {
        if (r.ok()) acknowledged[b] = (*r)[0].sequence();
        done[b].Notify();
      });
    });
  }
  for (auto& thread : threads) thread.join();
  for (auto& d : done) ASSERT_TRUE(d.WaitForNotificationWithTimeout(kWait));
  Reopen();

  std::set<int64_t> stored;
  for (const StoredEvent& e : Feed()) stored.insert(e.sequence());
  for (int b = 0; b < kBatches; ++b) {
    EXPECT_GT(acknowledged[b], 0);
    EXPECT_TRUE(stored.contains(acknowledged[b])) << acknowledged[b];
  }
}

TEST_P(EventStoreConformanceTest, StopCommitsWhatIsQueued) {
  constexpr int kBatches = 20;
  std::atomic<int> ok{0};
  for (int b = 0; b < kBatches; ++b) {
    store_->Submit(Batch({Event(absl::StrCat("b", b))}), [&](auto r) {
      if (r.ok()) ++ok;
    });
  }
  store_->Stop();
  EXPECT_EQ(ok, kBatches);

  absl::StatusOr<std::vector<EventResult>> late;
  store_->Submit(Batch({Event("late")}), [&](auto r) { late = std::move(r); });
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  Reopen();
  EXPECT_EQ(Feed().size(), size_t{kBatches});
}

TEST_P(EventStoreConformanceTest, AFailingBatchAcknowledgesNothing) {
  ASSERT_TRUE(Submit(Batch({Event("e-1")})).ok());
  // Sabotage: the table disappears under the writer.
  ASSERT_TRUE(backend_->Exec("DROP TABLE events").ok());

  auto results = Submit(Batch({Event("e-2"), Event("e-3")}));
  // The same statements would fail again: not worth retrying as is.
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(store_->notifier().last_sequence(), 1);
}

TEST_P(EventStoreConformanceTest, TheFeedIsInSequenceOrderAndFiltersByTenant) {
  ASSERT_TRUE(Submit(Batch({Event("a-1"), Event("a-2")}, "demo")).ok());
  ASSERT_TRUE(Submit(Batch({Event("b-1")}, "other")).ok());
  ASSERT_TRUE(Submit(Batch({Event("a-3")}, "demo")).ok());

  std::vector<int64_t> all;
  for (const StoredEvent& e : Feed()) all.push_back(e.sequence());
  EXPECT_EQ(all, (std::vector<int64_t>{1, 2, 3, 4}));

  std::vector<std::string> demo;
  for (const StoredEvent& e : Feed("demo"))
    demo.push_back(e.event().event_id());
  EXPECT_EQ(demo, (std::vector<std::string>{"a-1", "a-2", "a-3"}));
  ASSERT_EQ(Feed("other").size(), 1u);
  EXPECT_EQ(Feed("other")[0].sequence(), 3);
  EXPECT_TRUE(Feed("nobody").empty());

  // From a sequence, with a limit.
  std::vector<StoredEvent> page = Feed("", 2, 2);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].sequence(), 2);
  EXPECT_EQ(page[1].sequence(), 3);
  EXPECT_EQ(Feed("demo", 3)[0].sequence(), 4);
  EXPECT_TRUE(Feed("", 5).empty());
}

// ExportEvents' reads: a tenant's events (no erasures) in a window of
// sequences, by journey and occurred_at, at most `limit`.
TEST_P(EventStoreConformanceTest, ReadEventRecordsFiltersAndPages) {
  auto at = [](ValidEvent event, int64_t seconds, const std::string& journey) {
    event.event.mutable_occurred_at()->set_seconds(seconds);
    event.touchpoint.journey = journey;
    return event;
  };
  ASSERT_TRUE(
      Submit(Batch({at(Event("a-1"), 1000, "j"), at(Event("a-2"), 2000, "k"),
                    at(Event("a-3"), 3000, "j")}))
          .ok());
  ASSERT_TRUE(Submit(Batch({at(Event("b-1"), 2000, "j")}, "other")).ok());
  ASSERT_TRUE(
      Submit(Batch({at(Event("a-4", 4, "erased-customer"), 4000, "j")})).ok());
  ASSERT_TRUE(Erase(*store_, "demo", "erased-customer", false).ok());
  ASSERT_TRUE(Submit(Batch({at(Event("a-5"), 5000, "j")})).ok());

  auto ids = [&](EventQuery query) {
    std::vector<std::string> found;
    absl::StatusOr<std::vector<FeedRecord>> records =
        store_->ReadEventRecords(query);
    EXPECT_TRUE(records.ok()) << records.status();
    if (!records.ok()) return found;
    for (const FeedRecord& record : *records) {
      EXPECT_FALSE(record.erasure);
      StoredEvent stored;
      EXPECT_TRUE(stored.ParseFromString(record.payload));
      found.push_back(
          absl::StrCat(record.sequence, ":", stored.event().event_id()));
    }
    return found;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({.tenant = "demo"}), (V{"1:a-1", "2:a-2", "3:a-3", "7:a-5"}));
  EXPECT_EQ(ids({.tenant = "demo", .journey = "j"}),
            (V{"1:a-1", "3:a-3", "7:a-5"}));
  EXPECT_EQ(ids({.tenant = "demo",
                 .occurred_from = 2000 * 1'000'000LL,
                 .occurred_to = 5000 * 1'000'000LL}),
            (V{"2:a-2", "3:a-3"}));
  EXPECT_EQ(ids({.tenant = "demo", .from_sequence = 2, .to_sequence = 6}),
            (V{"2:a-2", "3:a-3"}));
  EXPECT_EQ(ids({.tenant = "demo", .limit = 2}), (V{"1:a-1", "2:a-2"}));
  EXPECT_EQ(ids({.tenant = "other"}), (V{"4:b-1"}));
  EXPECT_TRUE(ids({.tenant = "nobody"}).empty());
}

TEST_P(EventStoreConformanceTest, FeedReadsRunBesideTheWriter) {
  ASSERT_TRUE(Submit(Batch({Event("e-0")})).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      size_t seen = 0;
      while (!stop) {
        auto events = store_->ReadFeed("", 1, 1000);
        // The feed only grows, and always from sequence 1.
        if (!events.ok() || events->size() < seen ||
            SequenceOf((*events)[0]) != 1) {
          ++failures;
          return;
        }
        seen = events->size();
      }
    });
  }
  for (int i = 1; i < 30; ++i) {
    ASSERT_TRUE(Submit(Batch({Event(absl::StrCat("e-", i))})).ok());
  }
  stop = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(failures, 0);
}

TEST_P(EventStoreConformanceTest, StoredFingerprintsNeedTheSecret) {
  ValidEvent event = Event("e-1");
  ASSERT_TRUE(Submit(Batch({event})).ok());
  absl::StatusOr<std::string> fingerprint = backend_->StoredFingerprint();
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.status();
  const std::string stored = *fingerprint;

  // Someone with the database and a guess of the customer reference (or of
  // its absence) cannot confirm it from the payload.
  TouchpointEvent guessed = event.event;  // customer-42, in the clear
  EXPECT_NE(stored, crypto::Sha256(DeterministicBytes(guessed)));
  guessed.clear_customer();
  EXPECT_NE(stored, crypto::Sha256(DeterministicBytes(guessed)));
  guessed.set_customer(CustomerHasher(std::string(32, 'x'))
                           .Hash("demo", "customer-42"));  // a wrong secret
  EXPECT_NE(stored, crypto::Sha256(DeterministicBytes(guessed)));
  // With the secret, the store recognises the same event again.
  auto again = Submit(Batch({event}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].outcome(), EventResult::DUPLICATE);
}

TEST_P(EventStoreConformanceTest, FingerprintsAreComputedAsEarlierVersionsDid) {
  // A re-sent event is recognised by comparing its fingerprint with the one
  // stored, for as long as the database lives: the recipe must not change.
  ValidEvent event = Event("e-1");
  ASSERT_TRUE(Submit(Batch({event})).ok());
  absl::StatusOr<std::string> fingerprint = backend_->StoredFingerprint();
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.status();

  // HMAC under the tenant's fingerprint key of the deterministic encoding,
  // with the customer reference replaced by its hash.
  const std::string secret = testing::TestSecret();
  TouchpointEvent keyed = event.event;
  keyed.set_customer(crypto::HmacSha256Hex(
      crypto::HmacSha256(secret, "tenant:demo"), "customer-42"));
  EXPECT_EQ(crypto::ToHex(*fingerprint),
            crypto::ToHex(crypto::HmacSha256(
                crypto::HmacSha256(secret, "fingerprint:demo"),
                DeterministicBytes(keyed))));
  // What the store wrote before fingerprints were computed off the writer
  // thread.
  EXPECT_EQ(crypto::ToHex(*fingerprint),
            "4d7a596675ac8df760fa1dacf7b0d8f98b2bbd09543a39655487e7e667701ecb");
}

TEST_P(EventStoreConformanceTest, AFailingBatchFailsAloneAndTheGroupCommits) {
  // Every insert for tenant "broken" fails; another connection holds the
  // write lock, so batches queue up behind the writer and are then stored
  // in one group.
  ASSERT_TRUE(backend_->FailInsertsWhere("NEW.tenant = 'broken'").ok());
  ASSERT_TRUE(backend_->HoldWriter().ok());
  Pending& first = OccupyTheWriter("first");
  Pending& fine = SubmitLater(Batch({Event("a-1"), Event("a-2")}, "demo"));
  Pending& broken =
      SubmitLater(Batch({Event("b-1"), Event("b-2")}, "broken"));
  Pending& other = SubmitLater(Batch({Event("c-1")}, "other"));
  const int64_t transactions = store_->transactions_committed();
  ASSERT_TRUE(backend_->ReleaseWriter().ok());
  for (Pending* p : {&first, &fine, &broken, &other})
    ASSERT_TRUE(p->done.WaitForNotificationWithTimeout(kWait));

  ASSERT_TRUE(fine.out.ok()) << fine.out.status();
  EXPECT_EQ((*fine.out)[1].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(broken.out.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(broken.out.status().message().find("injected failure"),
            std::string::npos);
  ASSERT_TRUE(other.out.ok()) << other.out.status();
  EXPECT_EQ((*other.out)[0].outcome(), EventResult::ACCEPTED);
  // "first" alone, then the other three together.
  EXPECT_EQ(store_->transactions_committed(), transactions + 2);
  std::vector<std::string> stored;
  for (const StoredEvent& e : Feed()) stored.push_back(e.event().event_id());
  EXPECT_EQ(stored, (std::vector<std::string>{"first", "a-1", "a-2", "c-1"}));
}

TEST_P(EventStoreConformanceTest,
       ARolledBackBatchLeavesItsKeysFreeInTheGroup) {
  // A batch stores two events and then fails on its third; batches after it
  // in the same group send those keys again. Another connection holds the
  // write lock, so the three queue up behind the writer and are stored in
  // one group.
  ASSERT_TRUE(backend_->FailInsertsWhere("NEW.event_id = 'a-3'").ok());
  ASSERT_TRUE(backend_->HoldWriter().ok());
  Pending& first = OccupyTheWriter("first");
  Pending& failing =
      SubmitLater(Batch({Event("a-1"), Event("a-2"), Event("a-3")}));
  Pending& same = SubmitLater(Batch({Event("a-1")}));  // the same event
  // Other content, same key.
  Pending& other = SubmitLater(Batch({Event("a-2", /*csat=*/1)}));
  const int64_t transactions = store_->transactions_committed();
  ASSERT_TRUE(backend_->ReleaseWriter().ok());
  for (Pending* p : {&first, &failing, &same, &other})
    ASSERT_TRUE(p->done.WaitForNotificationWithTimeout(kWait));
  // "first" alone, then the other three together.
  EXPECT_EQ(store_->transactions_committed(), transactions + 2);

  EXPECT_EQ(failing.out.status().code(), absl::StatusCode::kInternal);
  // Neither a duplicate of a-1 nor a conflict with a-2 as the failed batch
  // sent them: those rows were rolled back, so these are new.
  ASSERT_TRUE(same.out.ok()) << same.out.status();
  ASSERT_TRUE(other.out.ok()) << other.out.status();
  const EventResult& resent = (*same.out)[0];
  const EventResult& changed = (*other.out)[0];
  EXPECT_EQ(resent.outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(changed.outcome(), EventResult::ACCEPTED);
  std::vector<StoredEvent> feed = Feed();
  ASSERT_EQ(feed.size(), 3u);
  EXPECT_EQ(feed[1].event().event_id(), "a-1");
  EXPECT_EQ(feed[1].sequence(), resent.sequence());
  EXPECT_EQ(feed[2].event().event_id(), "a-2");
  EXPECT_EQ(feed[2].event().csat(), 1);
  EXPECT_EQ(feed[2].sequence(), changed.sequence());

  // From now on the keys are bound to what the later batches stored.
  auto again = Submit(Batch({Event("a-1"), Event("a-2", /*csat=*/1)}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ((*again)[0].sequence(), resent.sequence());
  EXPECT_EQ((*again)[1].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ((*again)[1].sequence(), changed.sequence());
}

TEST_P(EventStoreConformanceTest, AFullQueueIsRefusedAtOnceWithAHint) {
  Reopen(/*max_queued_events=*/3);
  ASSERT_TRUE(backend_->HoldWriter().ok());

  OccupyTheWriter("taken");
  Pending& queued = SubmitLater(Batch({Event("q-1"), Event("q-2")}));
  // 4 > 3: refused.
  Pending& refused = SubmitLater(Batch({Event("q-3"), Event("q-4")}));
  ASSERT_TRUE(refused.done.WaitForNotificationWithTimeout(absl::Seconds(1)));
  EXPECT_EQ(refused.out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.out.status().message().find("writer queue is full"),
            std::string::npos);
  ASSERT_TRUE(RetryAfter(refused.out.status()).has_value());
  EXPECT_GE(*RetryAfter(refused.out.status()), absl::Milliseconds(10));
  ASSERT_TRUE(backend_->ReleaseWriter().ok());
  ASSERT_TRUE(queued.done.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(queued.out.ok());
  // Room again.
  EXPECT_TRUE(Submit(Batch({Event("q-3"), Event("q-4")})).ok());
}

TEST_P(EventStoreConformanceTest, TheFeedIdIsRandomAndKept) {
  const std::string id = store_->feed_id();
  EXPECT_EQ(id.size(), 32u);
  Reopen();
  EXPECT_EQ(store_->feed_id(), id);
  std::unique_ptr<StoreBackend> elsewhere = GetParam().make();
  auto other = elsewhere->Open({});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE((*other)->feed_id(), id);
}

TEST_P(EventStoreConformanceTest, ErasingACustomerDeletesTheirEventsOnly) {
  ASSERT_TRUE(Submit(Batch({Event("e-1", 4, "anna"), Event("e-2", 5, "bert"),
                            Event("e-3", 3, "anna")}))
                  .ok());
  ASSERT_TRUE(Submit(Batch({Event("e-4", 2, "anna")}, "other")).ok());
  auto erased = Erase(*store_, "demo", "anna", /*suppress=*/false);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(erased->erased_events, 2);
  EXPECT_EQ(erased->sequence, 5);
  EXPECT_EQ(store_->notifier().last_sequence(), 5);

  std::vector<FeedEntry> feed = Entries();
  ASSERT_EQ(feed.size(), 3u);
  EXPECT_EQ(std::get<StoredEvent>(feed[0]).event().event_id(), "e-2");
  EXPECT_EQ(std::get<StoredEvent>(feed[1]).tenant(), "other");  // not erased
  const auto& erasure = std::get<polku::v1::Erasure>(feed[2]);
  EXPECT_EQ(erasure.sequence(), 5);
  EXPECT_EQ(erasure.tenant(), "demo");
  EXPECT_EQ(erasure.customer_hash(),
            CustomerHasher(std::string(32, 'k')).Hash("demo", "anna"));
  EXPECT_EQ(erasure.erased_events(), 2);
  EXPECT_FALSE(erasure.suppressed());
  // Another tenant's feed does not show it.
  EXPECT_EQ(Entries("other").size(), 1u);

  // Sequences keep increasing past the erasure, after reopening too.
  Reopen();
  auto later = Submit(Batch({Event("e-5", 4, "bert")}));
  ASSERT_TRUE(later.ok());
  EXPECT_EQ((*later)[0].sequence(), 6);
}

TEST_P(EventStoreConformanceTest, AnErasedEventResentIsStillADuplicate) {
  ASSERT_TRUE(Submit(Batch({Event("e-1", 4, "anna")})).ok());
  ASSERT_TRUE(Erase(*store_, "demo", "anna", false).ok());
  Reopen();
  auto again =
      Submit(Batch({Event("e-1", 4, "anna"), Event("e-1x", 4, "anna")}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ((*again)[0].sequence(), 1);
  // Not suppressed: a new event of the customer is accepted.
  EXPECT_EQ((*again)[1].outcome(), EventResult::ACCEPTED);
  // The key is still bound to its content.
  auto changed = Submit(Batch({Event("e-1", 2, "anna")}));
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ((*changed)[0].outcome(), EventResult::REJECTED);
}

TEST_P(EventStoreConformanceTest, ASuppressedCustomerIsRejectedEvenAfterReopening) {
  ASSERT_TRUE(Submit(Batch({Event("e-1", 4, "anna")})).ok());
  auto erased = Erase(*store_, "demo", "anna", /*suppress=*/true);
  ASSERT_TRUE(erased.ok());
  EXPECT_TRUE(std::get<polku::v1::Erasure>(Entries().back()).suppressed());
  for (int round = 0; round < 2; ++round) {
    auto later = Submit(Batch({Event(absl::StrCat("n-", round), 4, "anna"),
                               Event(absl::StrCat("m-", round), 4, "bert")}));
    ASSERT_TRUE(later.ok());
    EXPECT_EQ((*later)[0].outcome(), EventResult::REJECTED);
    EXPECT_EQ((*later)[0].field(), "customer");
    EXPECT_NE((*later)[0].reason().find("erased"), std::string::npos);
    EXPECT_EQ((*later)[1].outcome(), EventResult::ACCEPTED);
    // Only for that tenant.
    auto elsewhere =
        Submit(Batch({Event(absl::StrCat("o-", round), 4, "anna")}, "other"));
    ASSERT_TRUE(elsewhere.ok());
    EXPECT_EQ((*elsewhere)[0].outcome(), EventResult::ACCEPTED);
    Reopen();
  }
}

TEST_P(EventStoreConformanceTest, ErasingNobodyStillRecordsTheErasure) {
  auto erased = Erase(*store_, "demo", "nobody", false);
  ASSERT_TRUE(erased.ok());
  EXPECT_EQ(erased->erased_events, 0);
  EXPECT_EQ(erased->sequence, 1);
  EXPECT_EQ(Entries().size(), 1u);
}

// Erasure receipts: every replica stores the reports it hears and reads
// all; a late write of an older report never moves progress back.
TEST_P(EventStoreConformanceTest, ReaderProgressOnlyRises) {
  ASSERT_TRUE(store_->RecordReaderProgress("polku-cases", 5, 1'000).ok());
  ASSERT_TRUE(store_->RecordReaderProgress("polku-insight", 2, 1'500).ok());
  // Older (a replica's late write), then the same level again.
  ASSERT_TRUE(store_->RecordReaderProgress("polku-cases", 3, 2'000).ok());
  ASSERT_TRUE(store_->RecordReaderProgress("polku-cases", 5, 3'000).ok());
  auto progress = store_->ReadReaderProgress();
  ASSERT_TRUE(progress.ok()) << progress.status();
  ASSERT_EQ(progress->size(), 2u);
  EXPECT_EQ((*progress)[0].reader, "polku-cases");
  EXPECT_EQ((*progress)[0].applied_sequence, 5);
  // When 5 was first reported; the last report.
  EXPECT_EQ((*progress)[0].advanced_at, 1'000);
  EXPECT_EQ((*progress)[0].reported_at, 3'000);
  EXPECT_EQ((*progress)[1].reader, "polku-insight");
  EXPECT_EQ((*progress)[1].applied_sequence, 2);
  ASSERT_TRUE(store_->RecordReaderProgress("polku-insight", 9, 4'000).ok());
  // Kept across reopening.
  Reopen();
  progress = store_->ReadReaderProgress();
  ASSERT_TRUE(progress.ok()) << progress.status();
  ASSERT_EQ(progress->size(), 2u);
  EXPECT_EQ((*progress)[1].applied_sequence, 9);
  EXPECT_EQ((*progress)[1].advanced_at, 4'000);
}

// A database from before reader_progress, with events, gets the table on
// opening and keeps its events.
TEST_P(EventStoreConformanceTest, AnOlderDatabaseGetsReaderProgress) {
  ASSERT_TRUE(Submit(Batch({Event("e-1")})).ok());
  store_.reset();
  ASSERT_TRUE(backend_->UndoReaderProgressMigration().ok());
  // Without the table, as before the migration.
  EXPECT_FALSE(backend_->Exec("SELECT 1 FROM reader_progress").ok());
  Reopen();
  ASSERT_TRUE(store_->RecordReaderProgress("polku-cases", 1, 1'000).ok());
  auto progress = store_->ReadReaderProgress();
  ASSERT_TRUE(progress.ok()) << progress.status();
  ASSERT_EQ(progress->size(), 1u);
  EXPECT_EQ((*progress)[0].applied_sequence, 1);
  EXPECT_EQ(Feed().size(), 1u);
}

}  // namespace
}  // namespace polku::feedback
