// What only the SQLite store has: a file on disk, its pragmas, and
// fingerprints written by an older version. Everything else it must do is
// in event_store_conformance_test.cc, shared with PostgreSQL.
#include "services/feedback/sqlite_event_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "services/feedback/event_store_test_util.h"
#include "services/feedback/test_journeys.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using polku::v1::StoredEvent;
using testing::Batch;
using testing::Event;

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
        path_, CustomerHasher(testing::TestSecret()), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  absl::StatusOr<std::vector<EventResult>> Submit(EventBatch batch) {
    return testing::SubmitAndWait(*store_, std::move(batch));
  }

  std::vector<StoredEvent> Feed() { return testing::StoredEvents(*store_); }

  FakeClock clock_{absl::FromUnixSeconds(1'714'564'800)};
  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteEventStore> store_;
};

TEST_F(SqliteEventStoreTest, TheProductionOpenIsDurable) {
  // The fixture opens like main.cc does (default options).
  EXPECT_EQ(store_->durability().synchronous, 2);  // FULL
  EXPECT_EQ(store_->durability().journal_mode, "wal");
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
