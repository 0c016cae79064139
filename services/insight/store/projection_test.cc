// Projections on every backend: the ledger keeps what analytics need, an
// erasure leaves nothing of the customer in any projection, and a projection
// registered on a database that already holds data catches up from the
// ledger, counting every event once.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/insight/store/projection_test_util.h"
#include "services/insight/store/rollup_conformance_util.h"

namespace polku::insight {
namespace {

using testing::EventSpec;
using testing::MakeEvent;

google::protobuf::RepeatedPtrField<v1::StoredEvent> Page(
    const std::vector<v1::StoredEvent>& events) {
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  for (const v1::StoredEvent& event : events) *page.Add() = event;
  return page;
}

v1::StoredEvent Event(int64_t sequence, const std::string& customer,
                      int64_t offset_seconds = 12 * 3600) {
  v1::StoredEvent event = MakeEvent({.sequence = sequence,
                                     .offset_seconds = offset_seconds,
                                     .csat = 1 + static_cast<int>(sequence % 5),
                                     .measures = {{"wait_seconds", 1.5}},
                                     .attributes = {{"store_id", "hki-01"}},
                                     .customer_hash = customer});
  event.mutable_event()->set_comment("Jonotus kesti " + customer);
  event.mutable_event()->set_language("fi");
  return event;
}

v1::Erasure ErasureOf(int64_t sequence, const std::string& customer) {
  v1::Erasure erasure;
  erasure.set_sequence(sequence);
  erasure.set_tenant("acme");
  erasure.set_customer_hash(customer);
  return erasure;
}

const ScorecardQuery kAcmeSwitching{.tenant = "acme", .journey = "switching"};

std::vector<CountedEvent> Ledger(LedgerReader& ledger,
                                 const ScorecardQuery& query = kAcmeSwitching) {
  std::vector<CountedEvent> events;
  absl::StatusOr<int64_t> as_of =
      ledger.ScanLedger(query, [&](const CountedEvent& event) {
        events.push_back(event);
        return absl::OkStatus();
      });
  EXPECT_TRUE(as_of.ok()) << as_of.status();
  std::sort(events.begin(), events.end(),
            [](const CountedEvent& a, const CountedEvent& b) {
              return a.sequence < b.sequence;
            });
  return events;
}

class ProjectionTest : public ::testing::TestWithParam<testing::Backend> {
 protected:
  void SetUp() override {
    db_ = testing::TestDatabase::Create(GetParam());
    ASSERT_NE(db_, nullptr);
  }
  std::unique_ptr<testing::TestDatabase> db_;
};

TEST_P(ProjectionTest, TheLedgerKeepsWhatAnalyticsNeed) {
  std::unique_ptr<RollupStore> store = db_->Open();
  ASSERT_NE(store, nullptr);
  v1::StoredEvent event = Event(1, "anna", 3600 + 17);
  event.mutable_event()->mutable_occurred_at()->set_nanos(123'456'789);
  event.mutable_event()->set_nps(9);
  ASSERT_TRUE(store->Apply(Page({event})).ok());

  const std::vector<CountedEvent> ledger = Ledger(*store);
  ASSERT_EQ(ledger.size(), 1u);
  const CountedEvent& counted = ledger[0];
  EXPECT_EQ(counted.sequence, 1);
  EXPECT_EQ(counted.customer_hash, "anna");
  EXPECT_EQ(counted.occurred_at_micros,
            (testing::kMarch1Seconds + 3600 + 17) * 1'000'000 + 123'456);
  const auto& [tenant, journey, version, touchpoint, stage, channel, day] =
      counted.key;
  EXPECT_EQ(tenant, "acme");
  EXPECT_EQ(journey, "switching");
  EXPECT_EQ(version, 1);
  EXPECT_EQ(touchpoint, "web_site");
  EXPECT_EQ(stage, "research");
  EXPECT_EQ(channel, "web");
  EXPECT_EQ(day, testing::kMarch1);
  EXPECT_EQ(counted.csat, 2);
  EXPECT_EQ(counted.nps, 9);
  EXPECT_EQ(counted.ces, std::nullopt);
  EXPECT_EQ(
      counted.measures,
      (std::vector<std::pair<std::string, int64_t>>{{"wait_seconds", 1500}}));
  EXPECT_EQ(counted.attributes,
            (std::vector<std::pair<std::string, std::string>>{
                {"store_id", "hki-01"}}));
  EXPECT_EQ(counted.comment, "Jonotus kesti anna");
  EXPECT_EQ(counted.language, "fi");

  // Filters apply as to scorecards.
  ScorecardQuery other = kAcmeSwitching;
  other.attributes = {{"store_id", "tre-02"}};
  EXPECT_TRUE(Ledger(*store, other).empty());
}

// Every projection forgets the customer: the ledger's rows and details, the
// rollups (as if never counted), and what a registered projection holds.
TEST_P(ProjectionTest, AnErasureLeavesNothingOfTheCustomerInAnyProjection) {
  auto record = std::make_shared<testing::ProjectionRecord>();
  std::unique_ptr<RollupStore> store = db_->Open(testing::Recording(record));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(
      store->Apply(Page({Event(1, "anna"), Event(2, "bert"), Event(3, "anna")}))
          .ok());
  ASSERT_TRUE(store->ApplyErasure(ErasureOf(4, "anna")).ok());

  for (const CountedEvent& event : Ledger(*store)) {
    EXPECT_NE(event.customer_hash, "anna") << event.sequence;
  }
  EXPECT_EQ(record->held(), (std::map<int64_t, int>{{2, 1}}));
  EXPECT_EQ(db_->DetailSequences(), std::vector<int64_t>{2});  // comments too
  // The attribute index copies each event's attributes and measures.
  EXPECT_EQ(db_->IndexedSequences(), std::vector<int64_t>{2});
  std::unique_ptr<testing::TestDatabase> bert_only =
      testing::TestDatabase::Create(GetParam());
  std::unique_ptr<RollupStore> reference = bert_only->Open();
  ASSERT_TRUE(reference->Apply(Page({Event(2, "bert")})).ok());
  ASSERT_TRUE(reference->ApplyErasure(ErasureOf(4, "anna")).ok());
  EXPECT_EQ(testing::FirstDifference(db_->Dump(), bert_only->Dump()), "");
}

TEST_P(ProjectionTest, AProjectionAddedLaterCatchesUpFromTheLedger) {
  {
    std::unique_ptr<RollupStore> before = db_->Open();
    ASSERT_NE(before, nullptr);
    ASSERT_TRUE(before->Apply(Page({Event(1, "anna"), Event(2, "bert")})).ok());
    ASSERT_TRUE(before->ApplyErasure(ErasureOf(3, "bert")).ok());
    ASSERT_TRUE(before
                    ->Apply(Page({Event(4, "cecilia"), Event(5, "anna"),
                                  Event(6, "david")}))
                    .ok());
  }
  auto record = std::make_shared<testing::ProjectionRecord>();
  std::unique_ptr<RollupStore> store = db_->Open(testing::Recording(record));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->Checkpoint(), 6);  // the feed goes on from the ledger's
  // Pages go on while it catches up: it counts them once it has.
  ASSERT_TRUE(store->Apply(Page({Event(7, "erik")})).ok());
  EXPECT_TRUE(record->held().empty());
  absl::StatusOr<bool> more = store->CatchUpStep(/*max_events=*/2);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_TRUE(*more);
  EXPECT_EQ(record->held(), (std::map<int64_t, int>{{1, 1}, {4, 1}}));
  // An erasure while it is behind takes back only what it counted.
  ASSERT_TRUE(store->ApplyErasure(ErasureOf(8, "anna")).ok());
  EXPECT_EQ(record->held(), (std::map<int64_t, int>{{4, 1}}));
  while (true) {
    more = store->CatchUpStep(2);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
  }
  EXPECT_EQ(record->held(), (std::map<int64_t, int>{{4, 1}, {6, 1}, {7, 1}}));
  ASSERT_TRUE(store->Apply(Page({Event(9, "frida")})).ok());
  EXPECT_EQ(record->held(),
            (std::map<int64_t, int>{{4, 1}, {6, 1}, {7, 1}, {9, 1}}));
  absl::StatusOr<std::map<std::string, int64_t>> checkpoints =
      store->ProjectionCheckpoints();
  ASSERT_TRUE(checkpoints.ok()) << checkpoints.status();
  EXPECT_EQ(*checkpoints,
            (std::map<std::string, int64_t>{{"attribute_index", 9},
                                            {"ledger", 9},
                                            {"recording", 9},
                                            {"rollups", 9}}));
  // Caught up, and known to be after a restart: nothing is counted twice.
  store = db_->Open(testing::Recording(record));
  EXPECT_FALSE(*store->CatchUpStep());
  EXPECT_EQ(record->held().size(), 4u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ProjectionTest, testing::AllBackends(),
                         testing::BackendName);

}  // namespace
}  // namespace polku::insight
