#include "services/feedback/sqlite_event_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <thread>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "lib/crypto/crypto.h"
#include "services/feedback/retry_hint.h"
#include "services/feedback/test_journeys.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using polku::v1::StoredEvent;
using polku::v1::TouchpointEvent;

constexpr absl::Duration kWait = absl::Seconds(20);

ValidEvent Event(const std::string& event_id, int csat = 4,
                 const std::string& customer = "customer-42") {
  ValidEvent valid;
  valid.event.set_event_id(event_id);
  valid.event.set_touchpoint("shop_in_shop_sales");
  valid.event.set_customer(customer);
  valid.event.mutable_occurred_at()->set_seconds(1'714'557'600);  // 2024-05-01
  valid.event.set_csat(csat);
  (*valid.event.mutable_attributes())["store_id"] = "helsinki-1";
  (*valid.event.mutable_attributes())["agent_id"] = "a-7";
  valid.touchpoint = {.journey = "switching",
                      .journey_version = 2,
                      .stage = "purchase",
                      .channel = "shop"};
  return valid;
}

EventBatch Batch(std::vector<ValidEvent> events,
                 const std::string& tenant = "demo",
                 const std::string& channel = "shop") {
  return EventBatch{tenant, channel, std::move(events)};
}

class SqliteEventStoreTest : public ::testing::Test {
 protected:
  SqliteEventStoreTest()
      : dir_(testing::ScratchDir()), path_(dir_ + "/feedback.db") {
    Reopen();
  }

  void Reopen() {
    store_.reset();
    SqliteEventStoreOptions options;
    options.clock = &clock_;
    auto store = SqliteEventStore::Open(
        path_, CustomerHasher(std::string(32, 'k')), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // Submits and waits for the answer.
  absl::StatusOr<std::vector<EventResult>> Submit(EventBatch batch) {
    absl::Notification done;
    absl::StatusOr<std::vector<EventResult>> out;
    store_->Submit(std::move(batch), [&](auto results) {
      out = std::move(results);
      done.Notify();
    });
    if (!done.WaitForNotificationWithTimeout(kWait)) {
      return absl::DeadlineExceededError("no answer from the store");
    }
    return out;
  }

  std::vector<FeedEntry> Entries(const std::string& tenant = "",
                                 int64_t from = 1, int limit = 1000) {
    auto entries = store_->ReadFeed(tenant, from, limit);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<FeedEntry>();
  }

  // The stored events of the feed (erasures left out).
  std::vector<StoredEvent> Feed(const std::string& tenant = "",
                                int64_t from = 1, int limit = 1000) {
    std::vector<StoredEvent> events;
    for (FeedEntry& entry : Entries(tenant, from, limit)) {
      if (auto* event = std::get_if<StoredEvent>(&entry)) {
        events.push_back(std::move(*event));
      }
    }
    return events;
  }

  FakeClock clock_{absl::FromUnixSeconds(1'714'564'800)};
  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteEventStore> store_;
};

TEST_F(SqliteEventStoreTest, AcceptsEventsInOrderWithIncreasingSequences) {
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

TEST_F(SqliteEventStoreTest, TheFeedHoldsWhatTheServerStamped) {
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

TEST_F(SqliteEventStoreTest, AResentEventIsADuplicateWithTheOriginalSequence) {
  ASSERT_TRUE(Submit(Batch({Event("e-1"), Event("e-2")})).ok());
  auto again = Submit(Batch({Event("e-3"), Event("e-2")}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ((*again)[0].sequence(), 3);
  EXPECT_EQ((*again)[1].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ((*again)[1].sequence(), 2);
  EXPECT_EQ(Feed().size(), 3u);  // never a second row
}

TEST_F(SqliteEventStoreTest, DuplicatesAreRecognisedAfterReopening) {
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

TEST_F(SqliteEventStoreTest, ReusingAnEventIdForDifferentContentIsRejected) {
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

TEST_F(SqliteEventStoreTest, TheSameEventIdIsFreeInAnotherChannelOrTenant) {
  ASSERT_TRUE(Submit(Batch({Event("e-1")})).ok());
  auto phone = Submit(Batch({Event("e-1")}, "demo", "phone"));
  auto other = Submit(Batch({Event("e-1")}, "other", "shop"));
  ASSERT_TRUE(phone.ok() && other.ok());
  EXPECT_EQ((*phone)[0].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ((*other)[0].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(Feed().size(), 3u);
}

TEST_F(SqliteEventStoreTest, RepeatsWithinOneBatchAreHandledTheSameWay) {
  auto results = Submit(Batch({Event("e-1"), Event("e-1"), Event("e-1", 1)}));
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ((*results)[1].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ((*results)[1].sequence(), (*results)[0].sequence());
  EXPECT_EQ((*results)[2].outcome(), EventResult::REJECTED);
  EXPECT_EQ(Feed().size(), 1u);
}

TEST_F(SqliteEventStoreTest, MapOrderDoesNotMakeAResentEventDifferent) {
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

TEST_F(SqliteEventStoreTest, ConcurrentSubmissionsShareTransactions) {
  // Another connection holds the write lock, so the writer's first
  // BEGIN IMMEDIATE waits while every batch queues up behind it.
  auto blocker = sqlite::Database::Open(path_);
  ASSERT_TRUE(blocker.ok()) << blocker.status();
  ASSERT_TRUE((*blocker)->Exec("BEGIN IMMEDIATE").ok());

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
  ASSERT_TRUE((*blocker)->Exec("COMMIT").ok());

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

TEST_F(SqliteEventStoreTest, AcknowledgedEventsArePresentAfterReopening) {
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

TEST_F(SqliteEventStoreTest, StopCommitsWhatIsQueued) {
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

TEST_F(SqliteEventStoreTest, AFailingBatchAcknowledgesNothing) {
  ASSERT_TRUE(Submit(Batch({Event("e-1")})).ok());
  // Sabotage: the table disappears under the writer.
  auto saboteur = sqlite::Database::Open(path_);
  ASSERT_TRUE(saboteur.ok());
  ASSERT_TRUE((*saboteur)->Exec("DROP TABLE events").ok());

  auto results = Submit(Batch({Event("e-2"), Event("e-3")}));
  // The same statements would fail again: not worth retrying as is.
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(store_->notifier().last_sequence(), 1);
}

TEST_F(SqliteEventStoreTest, TheCustomerReferenceIsNeverStoredInTheClear) {
  const std::string customer = "customer-7f3a@example.fi";
  ASSERT_TRUE(Submit(Batch({Event("e-1", 4, customer)})).ok());
  const std::string hash = Feed()[0].customer_hash();
  store_.reset();  // close: the WAL is folded into the main file

  std::string everything;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    std::ifstream file(entry.path(), std::ios::binary);
    everything.append(std::istreambuf_iterator<char>(file), {});
  }
  EXPECT_EQ(everything.find(customer), std::string::npos);
  EXPECT_NE(everything.find(hash), std::string::npos);  // the scan sees rows
}

TEST_F(SqliteEventStoreTest, TheFeedIsInSequenceOrderAndFiltersByTenant) {
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

TEST_F(SqliteEventStoreTest, FeedReadsRunBesideTheWriter) {
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

// Submits without waiting; the answer arrives in `out`.
struct Pending {
  absl::Notification done;
  absl::StatusOr<std::vector<EventResult>> out;
};

TEST_F(SqliteEventStoreTest, TheProductionOpenIsDurable) {
  // The fixture opens like main.cc does (default options).
  EXPECT_EQ(store_->durability().synchronous, 2);  // FULL
  EXPECT_EQ(store_->durability().journal_mode, "wal");
}

TEST_F(SqliteEventStoreTest, StoredFingerprintsNeedTheSecret) {
  ValidEvent event = Event("e-1");
  ASSERT_TRUE(Submit(Batch({event})).ok());
  auto db = sqlite::Database::Open(path_);
  ASSERT_TRUE(db.ok());
  auto row = (*db)->Prepare("SELECT fingerprint FROM events");
  ASSERT_TRUE(row.ok());
  ASSERT_TRUE(*(*row)->Step());
  const std::string stored = (*row)->ColumnBlob(0);
  (*row)->Reset();

  // Someone with the database and a guess of the customer reference (or of
  // its absence) cannot confirm it from the payload.
  const auto sha = [](const TouchpointEvent& e) {
    std::string bytes;
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    e.SerializeToCodedStream(&coded);
    coded.Trim();
    return bytes;
  };
  TouchpointEvent guessed = event.event;  // customer-42, in the clear
  EXPECT_NE(stored, crypto::Sha256(sha(guessed)));
  guessed.clear_customer();
  EXPECT_NE(stored, crypto::Sha256(sha(guessed)));
  guessed.set_customer(CustomerHasher(std::string(32, 'x'))
                           .Hash("demo", "customer-42"));  // a wrong secret
  EXPECT_NE(stored, crypto::Sha256(sha(guessed)));
  // With the secret, the store recognises the same event again.
  auto again = Submit(Batch({event}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].outcome(), EventResult::DUPLICATE);
}

TEST_F(SqliteEventStoreTest, AFailingBatchFailsAloneAndTheGroupCommits) {
  // Another connection holds the write lock, so batches queue up behind the
  // writer and are then stored in one group; its trigger fails every insert
  // for tenant "broken".
  auto saboteur = sqlite::Database::Open(path_);
  ASSERT_TRUE(saboteur.ok());
  ASSERT_TRUE((*saboteur)->Exec("BEGIN IMMEDIATE").ok());
  ASSERT_TRUE((*saboteur)
                  ->Exec("CREATE TRIGGER sabotage BEFORE INSERT ON events "
                         "WHEN NEW.tenant = 'broken' "
                         "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
                  .ok());
  std::vector<std::unique_ptr<Pending>> pending;
  auto submit = [&](EventBatch batch) {
    auto& p = pending.emplace_back(std::make_unique<Pending>());
    store_->Submit(std::move(batch), [p = p.get()](auto results) {
      p->out = std::move(results);
      p->done.Notify();
    });
  };
  submit(Batch({Event("first")}));
  const absl::Time deadline = absl::Now() + kWait;
  while (store_->queue_depth() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  submit(Batch({Event("a-1"), Event("a-2")}, "demo"));
  submit(Batch({Event("b-1"), Event("b-2")}, "broken"));
  submit(Batch({Event("c-1")}, "other"));
  const int64_t transactions = store_->transactions_committed();
  ASSERT_TRUE((*saboteur)->Exec("COMMIT").ok());
  for (auto& p : pending)
    ASSERT_TRUE(p->done.WaitForNotificationWithTimeout(kWait));

  ASSERT_TRUE(pending[1]->out.ok()) << pending[1]->out.status();
  EXPECT_EQ((*pending[1]->out)[1].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(pending[2]->out.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(pending[2]->out.status().message().find("injected failure"),
            std::string::npos);
  ASSERT_TRUE(pending[3]->out.ok()) << pending[3]->out.status();
  EXPECT_EQ((*pending[3]->out)[0].outcome(), EventResult::ACCEPTED);
  // "first" alone, then the other three together.
  EXPECT_EQ(store_->transactions_committed(), transactions + 2);
  std::vector<std::string> stored;
  for (const StoredEvent& e : Feed()) stored.push_back(e.event().event_id());
  EXPECT_EQ(stored, (std::vector<std::string>{"first", "a-1", "a-2", "c-1"}));
}

TEST_F(SqliteEventStoreTest, AFullQueueIsRefusedAtOnceWithAHint) {
  store_.reset();
  SqliteEventStoreOptions options;
  options.clock = &clock_;
  options.max_queued_events = 3;
  auto store = SqliteEventStore::Open(
      path_, CustomerHasher(std::string(32, 'k')), options);
  ASSERT_TRUE(store.ok());
  store_ = *std::move(store);
  auto saboteur = sqlite::Database::Open(path_);
  ASSERT_TRUE(saboteur.ok());
  ASSERT_TRUE((*saboteur)->Exec("BEGIN IMMEDIATE").ok());

  std::vector<std::unique_ptr<Pending>> pending;
  auto submit = [&](EventBatch batch) {
    auto& p = pending.emplace_back(std::make_unique<Pending>());
    store_->Submit(std::move(batch), [p = p.get()](auto results) {
      p->out = std::move(results);
      p->done.Notify();
    });
  };
  submit(Batch({Event("taken")}));  // the writer takes it and waits
  const absl::Time deadline = absl::Now() + kWait;
  while (store_->queue_depth() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  submit(Batch({Event("q-1"), Event("q-2")}));
  submit(Batch({Event("q-3"), Event("q-4")}));  // 4 > 3: refused
  ASSERT_TRUE(
      pending[2]->done.WaitForNotificationWithTimeout(absl::Seconds(1)));
  EXPECT_EQ(pending[2]->out.status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_NE(pending[2]->out.status().message().find("writer queue is full"),
            std::string::npos);
  ASSERT_TRUE(RetryAfter(pending[2]->out.status()).has_value());
  EXPECT_GE(*RetryAfter(pending[2]->out.status()), absl::Milliseconds(10));
  ASSERT_TRUE((*saboteur)->Exec("COMMIT").ok());
  ASSERT_TRUE(pending[1]->done.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(pending[1]->out.ok());
  // Room again.
  EXPECT_TRUE(Submit(Batch({Event("q-3"), Event("q-4")})).ok());
}

TEST_F(SqliteEventStoreTest, TheFeedIdIsRandomAndKept) {
  const std::string id = store_->feed_id();
  EXPECT_EQ(id.size(), 32u);
  Reopen();
  EXPECT_EQ(store_->feed_id(), id);
  auto other = SqliteEventStore::Open(testing::ScratchDir() + "/feedback.db",
                                      CustomerHasher(std::string(32, 'k')),
                                      SqliteEventStoreOptions());
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->feed_id(), id);
}

// Erases and waits.
absl::StatusOr<EraseResult> Erase(EventStore& store, const std::string& tenant,
                                  const std::string& customer, bool suppress) {
  absl::Notification done;
  absl::StatusOr<EraseResult> out;
  store.Erase(tenant, customer, suppress, [&](auto result) {
    out = std::move(result);
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(kWait)) {
    return absl::DeadlineExceededError("no answer from the store");
  }
  return out;
}

TEST_F(SqliteEventStoreTest, ErasingACustomerDeletesTheirEventsOnly) {
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

TEST_F(SqliteEventStoreTest, AnErasedEventResentIsStillADuplicate) {
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

TEST_F(SqliteEventStoreTest, ASuppressedCustomerIsRejectedEvenAfterReopening) {
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

TEST_F(SqliteEventStoreTest, ErasingNobodyStillRecordsTheErasure) {
  auto erased = Erase(*store_, "demo", "nobody", false);
  ASSERT_TRUE(erased.ok());
  EXPECT_EQ(erased->erased_events, 0);
  EXPECT_EQ(erased->sequence, 1);
  EXPECT_EQ(Entries().size(), 1u);
}

TEST_F(SqliteEventStoreTest, FingerprintsOfAnOlderVersionAreKeyedOnOpen) {
  ASSERT_TRUE(Submit(Batch({Event("e-1")})).ok());
  store_.reset();
  {
    // As written before fingerprints were keyed: some other digest, and no
    // marker.
    auto db = sqlite::Database::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("UPDATE events SET fingerprint = x'00'; "
                           "DELETE FROM feed_meta WHERE key = 'fingerprints'")
                    .ok());
  }
  Reopen();
  auto again = Submit(Batch({Event("e-1")}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ((*again)[0].sequence(), 1);
}

}  // namespace
}  // namespace polku::feedback
