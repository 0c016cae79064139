// What only PostgreSQL has: replicas sharing one database, writers whose
// transactions interleave, a server that goes away and comes back. The
// behaviour every store shares is in event_store_conformance_test.cc.
#include "services/feedback/pg_event_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "lib/postgres/postgres.h"
#include "lib/postgres/testing/shared_server.h"
#include "lib/postgres/testing/test_server.h"
#include "services/feedback/event_store_test_util.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using polku::v1::StoredEvent;
using postgres::Param;
using testing::Batch;
using testing::Event;
using testing::kWait;
using testing::SubmitAndWait;
using ::testing::HasSubstr;

std::unique_ptr<PgEventStore> OpenStore(const std::string& url,
                                        const std::string& secret =
                                            testing::TestSecret()) {
  auto store = PgEventStore::Open(url, CustomerHasher(secret), {});
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

std::unique_ptr<postgres::Connection> Connect(const std::string& url) {
  auto db = postgres::Connection::Open(url, absl::Seconds(10));
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

std::vector<int64_t> Sequences(EventStore& store, int64_t from = 1) {
  std::vector<int64_t> sequences;
  auto entries = store.ReadFeed("", from, 1000);
  EXPECT_TRUE(entries.ok()) << entries.status();
  if (entries.ok()) {
    for (const FeedEntry& entry : *entries) {
      sequences.push_back(SequenceOf(entry));
    }
  }
  return sequences;
}

// Waits (boundedly) until some session waits for an advisory lock.
bool SomeoneWaitsForTheFeedLock(postgres::Connection& db) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    auto waiting = db.Execute(
        "SELECT count(*) FROM pg_locks "
        "WHERE locktype = 'advisory' AND NOT granted");
    if (waiting.ok() && waiting->Int(0, 0) > 0) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

// Waits (boundedly) until some session waits for another's transaction
// (e.g. for an uncommitted row with the same unique key).
bool SomeoneWaitsForATransaction(postgres::Connection& db) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    auto waiting = db.Execute(
        "SELECT count(*) FROM pg_locks "
        "WHERE locktype = 'transactionid' AND NOT granted");
    if (waiting.ok() && waiting->Int(0, 0) > 0) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

class PgEventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = postgres::testing::NewDatabase();
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
  }
  std::string url_;
};

// Why the feed lock exists: with sequences taken freely, the transaction
// that took the lower sequence can commit last, and a reader continuing
// after the highest sequence it saw never sees it.
TEST_F(PgEventStoreTest, WithoutTheFeedLockAReaderWouldSkipALateCommitter) {
  auto first = Connect(url_), second = Connect(url_), reader = Connect(url_);
  ASSERT_TRUE(first && second && reader);
  ASSERT_TRUE(reader->Exec("CREATE SEQUENCE naive_sequence; "
                           "CREATE TABLE naive (sequence BIGINT PRIMARY KEY)")
                  .ok());
  const char* kTake =
      "INSERT INTO naive VALUES (nextval('naive_sequence')) RETURNING sequence";
  ASSERT_TRUE(first->Exec("BEGIN").ok());
  auto early = first->Execute(kTake);
  ASSERT_TRUE(second->Exec("BEGIN").ok());
  auto late = second->Execute(kTake);
  ASSERT_TRUE(early.ok() && late.ok());
  ASSERT_LT(early->Int(0, 0), late->Int(0, 0));
  ASSERT_TRUE(second->Exec("COMMIT").ok());  // the higher sequence first

  auto seen = reader->Execute("SELECT max(sequence) FROM naive");
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->Int(0, 0), late->Int(0, 0));
  ASSERT_TRUE(first->Exec("COMMIT").ok());
  auto next = reader->Execute("SELECT sequence FROM naive WHERE sequence > $1",
                              {Param::Int(seen->Int(0, 0))});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->rows(), 0) << "the reader lost sequence " << early->Int(0, 0);
}

// The same interleaving with the store: another replica's writer takes a
// sequence and is slow to commit. This replica's writer cannot take a
// sequence meanwhile, so a reader sees nothing out of order at any point.
TEST_F(PgEventStoreTest, ASequenceTakenFirstIsAlwaysVisibleFirst) {
  auto store = OpenStore(url_);
  ASSERT_NE(store, nullptr);
  auto slow = Connect(url_), observer = Connect(url_);
  ASSERT_TRUE(slow && observer);
  // The slow replica, following the store's protocol by hand.
  ASSERT_TRUE(slow->Exec("BEGIN").ok());
  ASSERT_TRUE(slow->Execute("SELECT pg_advisory_xact_lock($1)",
                            {Param::Int(PgEventStore::kFeedLock)})
                  .ok());
  auto taken = slow->Execute(
      "INSERT INTO events VALUES (nextval('feed_sequence'), 'demo', 'shop',"
      " 'slow-1', '\\x00', 'h', 0, 0, 'switching', 2, 'purchase', 'tp', '')"
      " RETURNING sequence");
  ASSERT_TRUE(taken.ok()) << taken.status();
  const int64_t slow_sequence = taken->Int(0, 0);

  testing::Pending fast;
  store->Submit(Batch({Event("fast-1")}), [&](auto results) {
    fast.out = std::move(results);
    fast.done.Notify();
  });
  ASSERT_TRUE(SomeoneWaitsForTheFeedLock(*observer));
  // Mid-way: nothing is visible, and nothing was acknowledged.
  EXPECT_TRUE(Sequences(*store).empty());
  EXPECT_FALSE(fast.done.HasBeenNotified());

  ASSERT_TRUE(slow->Exec("COMMIT").ok());
  ASSERT_TRUE(fast.done.WaitForNotificationWithTimeout(kWait));
  ASSERT_TRUE(fast.out.ok()) << fast.out.status();
  const int64_t fast_sequence = (*fast.out)[0].sequence();
  EXPECT_GT(fast_sequence, slow_sequence);
  EXPECT_EQ(Sequences(*store), (std::vector<int64_t>{slow_sequence, fast_sequence}));
}

// Many writers on two replicas at once, and a reader that continues after
// the highest sequence it saw (as WatchEvents does): it sees every event.
TEST_F(PgEventStoreTest, AFollowingReaderMissesNothingFromConcurrentReplicas) {
  auto a = OpenStore(url_), b = OpenStore(url_);
  ASSERT_TRUE(a && b);
  constexpr int kWriters = 6;
  constexpr int kBatches = 15;
  std::atomic<bool> writing{true};
  std::set<int64_t> seen;
  std::thread reader([&] {
    int64_t next = 1;
    while (true) {
      const bool last_round = !writing;
      auto entries = b->ReadFeed("", next, 1000);
      ASSERT_TRUE(entries.ok()) << entries.status();
      for (const FeedEntry& entry : *entries) {
        seen.insert(SequenceOf(entry));
        next = SequenceOf(entry) + 1;
      }
      if (last_round) return;
      absl::SleepFor(absl::Milliseconds(1));  // a polling reader's pace
    }
  });
  std::vector<std::thread> writers;
  std::set<int64_t> acknowledged;
  absl::Mutex mu;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      PgEventStore& replica = w % 2 == 0 ? *a : *b;
      for (int i = 0; i < kBatches; ++i) {
        auto results = SubmitAndWait(
            replica, Batch({Event(absl::StrCat("w", w, "-", i, "a")),
                            Event(absl::StrCat("w", w, "-", i, "b"))}));
        ASSERT_TRUE(results.ok()) << results.status();
        absl::MutexLock lock(&mu);
        for (const EventResult& r : *results) acknowledged.insert(r.sequence());
      }
    });
  }
  for (auto& writer : writers) writer.join();
  writing = false;
  reader.join();
  EXPECT_EQ(acknowledged.size(), size_t{kWriters * kBatches * 2});
  EXPECT_EQ(seen, acknowledged);
}

TEST_F(PgEventStoreTest, TheSameEventSentToTwoReplicasAtOnceIsStoredOnce) {
  auto a = OpenStore(url_), b = OpenStore(url_);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->feed_id(), b->feed_id());
  constexpr int kEvents = 20;
  for (int i = 0; i < kEvents; ++i) {
    testing::Pending via_a, via_b;
    const auto submit = [](PgEventStore& store, testing::Pending& p, int i) {
      store.Submit(Batch({Event(absl::StrCat("e-", i))}), [&p](auto results) {
        p.out = std::move(results);
        p.done.Notify();
      });
    };
    std::thread ta([&] { submit(*a, via_a, i); });
    std::thread tb([&] { submit(*b, via_b, i); });
    ta.join();
    tb.join();
    ASSERT_TRUE(via_a.done.WaitForNotificationWithTimeout(kWait));
    ASSERT_TRUE(via_b.done.WaitForNotificationWithTimeout(kWait));
    ASSERT_TRUE(via_a.out.ok() && via_b.out.ok());
    const EventResult& ra = (*via_a.out)[0];
    const EventResult& rb = (*via_b.out)[0];
    EXPECT_EQ(std::multiset<int>({ra.outcome(), rb.outcome()}),
              std::multiset<int>({EventResult::ACCEPTED, EventResult::DUPLICATE}))
        << "event " << i;
    EXPECT_EQ(ra.sequence(), rb.sequence());
  }
  EXPECT_EQ(testing::StoredEvents(*a).size(), size_t{kEvents});
}

// Every kind of answer in one batch (which the store decides with one look
// at the batch's keys, one at its customers and one INSERT): each event is
// answered as if the batch had been stored one event at a time, in order,
// and sequences follow the batch's order.
// A batch's keys are looked up with event_id = ANY(ids). On a young table
// that autovacuum has not analysed yet, PostgreSQL planned that as a scan of
// every key of the channel with the ids as a filter, so that each commit
// cost as much as the channel had events. With the key led by event_id the
// ids are the index condition, statistics or not.
TEST_F(PgEventStoreTest, KeysAreLookedUpByTheirIdsBeforeAnyStatistics) {
  auto store = OpenStore(url_);
  ASSERT_NE(store, nullptr);
  for (int b = 0; b < 10; ++b) {
    std::vector<ValidEvent> events;
    for (int i = 0; i < 500; ++i) {
      events.push_back(Event(absl::StrCat("e-", b, "-", i)));
    }
    ASSERT_TRUE(SubmitAndWait(*store, Batch(std::move(events))).ok());
  }
  auto db = Connect(url_);
  ASSERT_NE(db, nullptr);
  for (const char* table : {"events", "erased_event_keys"}) {
    auto plan = db->Execute(absl::StrCat(
        "EXPLAIN SELECT sequence FROM ", table,
        " WHERE tenant = 'demo' AND channel = 'shop'"
        " AND event_id = ANY(ARRAY['e-1-1', 'e-2-2', 'e-3-3', 'e-4-4'])"));
    ASSERT_TRUE(plan.ok()) << plan.status();
    std::string text;
    for (int row = 0; row < plan->rows(); ++row) {
      absl::StrAppend(&text, plan->Text(row, 0), "\n");
    }
    EXPECT_THAT(text, HasSubstr("Index Cond: ((event_id = ANY")) << text;
    EXPECT_THAT(text, ::testing::Not(HasSubstr("Filter"))) << text;
  }
}

TEST_F(PgEventStoreTest, AMixedBatchIsAnsweredEventByEventInItsOrder) {
  auto store = OpenStore(url_);
  ASSERT_NE(store, nullptr);
  auto before = SubmitAndWait(
      *store, Batch({Event("stored"), Event("erased", 4, "gone")}));
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(testing::Erase(*store, "demo", "gone", /*suppress=*/true).ok());

  std::vector<ValidEvent> events = {
      Event("new-0"),                  // ACCEPTED
      Event("stored"),                 // DUPLICATE of the stored event
      Event("stored", 1),              // REJECTED: other content
      Event("erased", 4, "gone"),      // DUPLICATE: the key outlives erasure
      Event("late", 4, "gone"),        // REJECTED: suppressed customer
      Event("new-1"),                  // ACCEPTED
      Event("new-0"),                  // DUPLICATE of position 0
      Event("new-0", 1),               // REJECTED: other content
      Event("late", 4, "customer-7"),  // ACCEPTED: a refusal took no key
  };
  for (int i = 0; i < 300; ++i) {
    events.push_back(Event(absl::StrCat("bulk-", i), 1 + i % 5,
                           absl::StrCat("customer-", i % 17)));
  }
  auto results = SubmitAndWait(*store, Batch(events));
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ((*results)[i].event_id(), events[i].event.event_id()) << i;
  }
  const auto outcome = [&](int i) { return (*results)[i].outcome(); };
  EXPECT_EQ(outcome(1), EventResult::DUPLICATE);
  EXPECT_EQ((*results)[1].sequence(), (*before)[0].sequence());
  EXPECT_EQ(outcome(2), EventResult::REJECTED);
  EXPECT_EQ((*results)[2].field(), "event_id");
  EXPECT_EQ(outcome(3), EventResult::DUPLICATE);
  EXPECT_EQ((*results)[3].sequence(), (*before)[1].sequence());
  EXPECT_EQ(outcome(4), EventResult::REJECTED);
  EXPECT_EQ((*results)[4].field(), "customer");
  EXPECT_EQ(outcome(6), EventResult::DUPLICATE);
  EXPECT_EQ((*results)[6].sequence(), (*results)[0].sequence());
  EXPECT_EQ(outcome(7), EventResult::REJECTED);
  EXPECT_EQ((*results)[7].field(), "event_id");

  std::vector<std::string> accepted;
  std::vector<int64_t> sequences;
  for (const EventResult& r : *results) {
    if (r.outcome() != EventResult::ACCEPTED) continue;
    accepted.push_back(r.event_id());
    sequences.push_back(r.sequence());
  }
  ASSERT_EQ(accepted.size(), 3u + 300u);
  EXPECT_EQ(accepted[0], "new-0");
  EXPECT_EQ(accepted[1], "new-1");
  EXPECT_EQ(accepted[2], "late");
  EXPECT_TRUE(std::is_sorted(sequences.begin(), sequences.end()) &&
              std::adjacent_find(sequences.begin(), sequences.end()) ==
                  sequences.end())
      << "sequences must increase in the batch's order";
  // The feed (the change feed's order) is the batch's order.
  std::vector<std::string> fed;
  for (const StoredEvent& e : testing::StoredEvents(*store, "", sequences[0])) {
    fed.push_back(e.event().event_id());
  }
  EXPECT_EQ(fed, accepted);
  EXPECT_EQ(store->notifier().last_sequence(), sequences.back());
}

// Another replica stores a key between this store's look at the batch's
// keys and its INSERT (here: a session that has inserted it and not yet
// committed, so the INSERT waits for it). The event, and a repeat of it
// later in the batch, are answered from the other replica's row; the rest
// of the batch is stored.
TEST_F(PgEventStoreTest,
       AKeyAnotherReplicaStoresMeanwhileIsAnsweredFromItsRow) {
  auto store = OpenStore(url_);
  auto other = Connect(url_), observer = Connect(url_);
  ASSERT_TRUE(store && other && observer);
  // The same event in another channel, for its fingerprint.
  ASSERT_TRUE(SubmitAndWait(*store, Batch({Event("e-1")}, "demo", "web")).ok());
  ASSERT_TRUE(other->Exec("BEGIN").ok());
  auto theirs = other->Execute(
      "INSERT INTO events SELECT nextval('feed_sequence'), tenant, 'shop',"
      " event_id, fingerprint, customer_hash, occurred_at, received_at,"
      " journey, journey_version, stage, touchpoint, payload"
      " FROM events WHERE channel = 'web' RETURNING sequence");
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  const int64_t their_sequence = theirs->Int(0, 0);

  testing::Pending pending;
  store->Submit(
      Batch({Event("e-1"), Event("e-2"), Event("e-1"), Event("e-1", 1)}),
      [&](auto results) {
        pending.out = std::move(results);
        pending.done.Notify();
      });
  ASSERT_TRUE(SomeoneWaitsForATransaction(*observer));
  ASSERT_TRUE(other->Exec("COMMIT").ok());
  ASSERT_TRUE(pending.done.WaitForNotificationWithTimeout(kWait));
  ASSERT_TRUE(pending.out.ok()) << pending.out.status();
  const std::vector<EventResult>& results = *pending.out;
  EXPECT_EQ(results[0].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ(results[0].sequence(), their_sequence);
  EXPECT_EQ(results[1].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(results[2].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ(results[2].sequence(), their_sequence);
  EXPECT_EQ(results[3].outcome(), EventResult::REJECTED);
  auto shop = observer->Execute(
      "SELECT event_id, sequence FROM events WHERE channel = 'shop' "
      "ORDER BY sequence");
  ASSERT_TRUE(shop.ok()) << shop.status();
  ASSERT_EQ(shop->rows(), 2);
  EXPECT_EQ(shop->Text(0, 0), "e-1");
  EXPECT_EQ(shop->Int(0, 1), their_sequence);
  EXPECT_EQ(shop->Text(1, 0), "e-2");
  EXPECT_EQ(shop->Int(1, 1), results[1].sequence());
}

TEST_F(PgEventStoreTest, AReaderOnOneReplicaHearsOfCommitsOnTheOther) {
  auto a = OpenStore(url_), b = OpenStore(url_);
  ASSERT_TRUE(a && b);
  for (int round = 0; round < 3; ++round) {
    absl::Notification heard;
    const int64_t known = b->notifier().last_sequence();
    const uint64_t id = b->notifier().Subscribe(known, [&] { heard.Notify(); });
    ASSERT_NE(id, 0u);
    if (round < 2) {
      ASSERT_TRUE(SubmitAndWait(*a, Batch({Event(absl::StrCat("e-", round))})).ok());
    } else {
      ASSERT_TRUE(testing::Erase(*a, "demo", "customer-42", false).ok());
    }
    ASSERT_TRUE(heard.WaitForNotificationWithTimeout(kWait)) << "round " << round;
    EXPECT_EQ(b->notifier().last_sequence(), a->notifier().last_sequence());
    // What B was told about is there to read.
    auto entries = b->ReadFeed("", known + 1, 100);
    ASSERT_TRUE(entries.ok());
    ASSERT_FALSE(entries->empty());
    EXPECT_EQ(SequenceOf(entries->back()), b->notifier().last_sequence());
  }
}

TEST_F(PgEventStoreTest, EveryReplicaNeedsTheSameCustomerSecret) {
  // Replicas starting at once on a fresh database: one records the secret's
  // check value, all agree.
  std::vector<std::thread> starting;
  std::vector<absl::Status> started(4);
  for (int i = 0; i < 4; ++i) {
    starting.emplace_back([&, i] {
      started[i] =
          PgEventStore::Open(url_, CustomerHasher(testing::TestSecret()), {})
              .status();
    });
  }
  for (auto& t : starting) t.join();
  for (const absl::Status& s : started) EXPECT_TRUE(s.ok()) << s;

  auto a = OpenStore(url_);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(SubmitAndWait(*a, Batch({Event("e-1")})).ok());
  auto other = PgEventStore::Open(url_, CustomerHasher(std::string(32, 'x')), {});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.status().message(), HasSubstr("--secret_file"));
  // With the shared secret, the same customer hashes the same everywhere.
  auto b = OpenStore(url_);
  ASSERT_NE(b, nullptr);
  auto again = SubmitAndWait(*b, Batch({Event("e-1")}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].outcome(), EventResult::DUPLICATE);
}

TEST_F(PgEventStoreTest, CommitsAreSynchronousWhateverTheServerDefault) {
  auto admin = Connect(url_);
  ASSERT_NE(admin, nullptr);
  auto name = admin->Execute("SELECT current_database()");
  ASSERT_TRUE(name.ok());
  ASSERT_TRUE(admin->Exec(absl::StrCat("ALTER DATABASE \"", name->Text(0, 0),
                                       "\" SET synchronous_commit = off"))
                  .ok());
  auto store = OpenStore(url_);
  ASSERT_NE(store, nullptr);
  auto setting = store->SynchronousCommit();
  ASSERT_TRUE(setting.ok()) << setting.status();
  EXPECT_EQ(*setting, "on");
}

// A server of its own: these tests stop it.
class PgEventStoreRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = postgres::TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_TRUE(server_->CreateDatabase("feedback").ok());
    url_ = server_->Url("feedback");
  }
  std::unique_ptr<postgres::TestServer> server_;
  std::string url_;
};

TEST_F(PgEventStoreRestartTest, WhileTheDatabaseIsDownCallsAreUnavailableThenRecover) {
  auto store = OpenStore(url_);
  auto other_replica = OpenStore(url_);
  ASSERT_TRUE(store && other_replica);
  auto before = SubmitAndWait(*store, Batch({Event("e-1")}));
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(store->ReadFeed("", 1, 10).ok());  // a reader connection idles

  ASSERT_TRUE(server_->Kill().ok());
  auto down = SubmitAndWait(*store, Batch({Event("e-2")}));
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  EXPECT_THAT(down.status().message(), HasSubstr("events were not stored"));
  auto unreadable = store->ReadFeed("", 1, 10);
  EXPECT_EQ(unreadable.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(unreadable.status().message(), HasSubstr("PostgreSQL"));
  auto not_erased = testing::Erase(*store, "demo", "customer-42", false);
  EXPECT_EQ(not_erased.status().code(), absl::StatusCode::kUnavailable);

  ASSERT_TRUE(server_->Restart().ok());
  // No restart of the store: the next calls simply work.
  auto retried = SubmitAndWait(*store, Batch({Event("e-2"), Event("e-3")}));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ((*retried)[0].outcome(), EventResult::ACCEPTED);
  std::vector<std::string> stored;
  for (const StoredEvent& e : testing::StoredEvents(*store)) {
    stored.push_back(e.event().event_id());
  }
  // The acknowledged event survived the crash.
  EXPECT_EQ(stored, (std::vector<std::string>{"e-1", "e-2", "e-3"}));
  // The other replica listens again and hears of the new commits.
  absl::Notification heard;
  if (other_replica->notifier().Subscribe((*retried)[1].sequence() - 1,
                                          [&] { heard.Notify(); }) != 0) {
    EXPECT_TRUE(heard.WaitForNotificationWithTimeout(kWait));
  }
  EXPECT_EQ(other_replica->notifier().last_sequence(), (*retried)[1].sequence());
}

// The feed lock is held while a batch is written, so its cost in round
// trips is every replica's wait: a batch of 300 new events costs the
// statements of a batch of one. Counted by pg_stat_statements, which needs
// a restart to load (hence a server of its own).
TEST_F(PgEventStoreRestartTest, ABatchCostsTheSameStatementsWhateverItsSize) {
  {
    auto admin = Connect(url_);
    ASSERT_NE(admin, nullptr);
    ASSERT_TRUE(admin
                    ->Exec("ALTER SYSTEM SET shared_preload_libraries = "
                           "'pg_stat_statements'")
                    .ok());
  }
  ASSERT_TRUE(server_->Kill().ok());
  ASSERT_TRUE(server_->Restart().ok());
  auto counter = Connect(url_);
  ASSERT_NE(counter, nullptr);
  ASSERT_TRUE(counter->Exec("CREATE EXTENSION pg_stat_statements").ok());
  auto store = OpenStore(url_);
  ASSERT_NE(store, nullptr);
  // The statements run since the last call, this counter's own left out,
  // and so are the listener's (LISTEN, then the last committed sequence):
  // it connects on a thread of its own, whenever that gets to run.
  const auto statements_since = [&]() -> int64_t {
    auto counted = counter->Execute(
        "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements"
        " WHERE query NOT LIKE '%pg_stat_statements%'"
        " AND query NOT LIKE 'LISTEN %' AND query NOT LIKE 'SELECT GREATEST(%'");
    EXPECT_TRUE(counted.ok()) << counted.status();
    EXPECT_TRUE(counter->Execute("SELECT pg_stat_statements_reset()").ok());
    return counted.ok() ? counted->Int(0, 0) : -1;
  };
  const auto batch_of = [](int size, const std::string& prefix) {
    std::vector<ValidEvent> events;
    for (int i = 0; i < size; ++i) {
      events.push_back(
          Event(absl::StrCat(prefix, i), 4, absl::StrCat("customer-", i)));
    }
    return Batch(std::move(events));
  };

  // The first batch also opens the writer's connection.
  ASSERT_TRUE(SubmitAndWait(*store, batch_of(1, "warm-")).ok());
  statements_since();
  ASSERT_TRUE(SubmitAndWait(*store, batch_of(1, "one-")).ok());
  const int64_t one = statements_since();
  auto big = SubmitAndWait(*store, batch_of(300, "many-"));
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ((*big)[299].outcome(), EventResult::ACCEPTED);
  const int64_t many = statements_since();
  auto again = SubmitAndWait(*store, batch_of(300, "many-"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[299].outcome(), EventResult::DUPLICATE);
  const int64_t repeated = statements_since();

  EXPECT_GT(one, 0);
  EXPECT_EQ(many, one) << "a batch of 300 cost " << many
                       << " statements, one event " << one;
  EXPECT_LE(repeated, one);
}

TEST_F(PgEventStoreRestartTest, StartingBeforeTheDatabaseWaitsForIt) {
  ASSERT_TRUE(server_->Kill().ok());
  auto store = PgEventStore::Create(url_, CustomerHasher(testing::TestSecret()), {});
  // Not connected yet: answered at once, not queued forever.
  auto early = SubmitAndWait(*store, Batch({Event("e-1")}));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(early.status().message(), HasSubstr("not connected to PostgreSQL"));
  EXPECT_EQ(store->ReadFeed("", 1, 10).status().code(), absl::StatusCode::kUnavailable);

  std::thread restart([&] {
    absl::SleepFor(absl::Milliseconds(300));
    EXPECT_TRUE(server_->Restart().ok());
  });
  absl::Status connected = store->Connect(
      {.first_backoff = absl::Milliseconds(50), .deadline = absl::Now() + kWait});
  restart.join();
  ASSERT_TRUE(connected.ok()) << connected;
  EXPECT_TRUE(store->connected());
  EXPECT_EQ(store->feed_id().size(), 32u);
  auto later = SubmitAndWait(*store, Batch({Event("e-1")}));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ((*later)[0].outcome(), EventResult::ACCEPTED);
}

}  // namespace
}  // namespace polku::feedback
