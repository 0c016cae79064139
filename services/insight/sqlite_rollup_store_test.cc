#include "services/insight/sqlite_rollup_store.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/insight/rollup_test_util.h"

namespace polku::insight {
namespace {

using ::testing::ElementsAre;
using testing::EventSpec;
using ::testing::Field;
using testing::kMarch1;
using testing::MakeEvent;

google::protobuf::RepeatedPtrField<v1::StoredEvent> Page(
    const std::vector<EventSpec>& specs) {
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  for (const EventSpec& spec : specs) *page.Add() = MakeEvent(spec);
  return page;
}

class SqliteRollupStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = testing::ScratchDir() + "/insight.db";
    Reopen();
  }

  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<SqliteRollupStore>> store =
        SqliteRollupStore::Open(path_, /*durable=*/false);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  GroupedRollups Query(ScorecardQuery query) {
    absl::StatusOr<GroupedRollups> result = store_->Scorecard(query);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : GroupedRollups();
  }

  static ScorecardQuery AcmeSwitching(
      Grouping group_by = Grouping::kTouchpoint) {
    ScorecardQuery query;
    query.tenant = "acme";
    query.journey = "switching";
    query.group_by = group_by;
    return query;
  }

  std::string path_;
  std::unique_ptr<SqliteRollupStore> store_;
};

TEST(DayTest, UtcDaysRoundTowardsThePast) {
  EXPECT_EQ(DayOf(absl::FromUnixSeconds(0)), 0);
  EXPECT_EQ(DayOf(absl::FromUnixSeconds(86'399)), 0);
  EXPECT_EQ(DayOf(absl::FromUnixSeconds(86'400)), 1);
  EXPECT_EQ(DayOf(absl::FromUnixSeconds(-1)), -1);
  EXPECT_EQ(DayOf(absl::FromUnixSeconds(-86'400)), -1);
  EXPECT_EQ(DayOf(absl::FromUnixSeconds(-86'401)), -2);
  EXPECT_EQ(DayOf(absl::FromUnixSeconds(testing::kMarch1Seconds)), kMarch1);
  EXPECT_EQ(StartOfDay(kMarch1),
            absl::FromUnixSeconds(testing::kMarch1Seconds));
}

TEST_F(SqliteRollupStoreTest, EmptyStoreHasCheckpointZeroAndNoGroups) {
  EXPECT_EQ(*store_->Checkpoint(), 0);
  GroupedRollups rollups = Query(AcmeSwitching());
  EXPECT_TRUE(rollups.groups.empty());
  EXPECT_EQ(rollups.as_of_sequence, 0);
}

TEST_F(SqliteRollupStoreTest, SumsHistogramsPerTouchpoint) {
  ASSERT_TRUE(
      store_
          ->Apply(Page({{.sequence = 1, .csat = 5, .nps = 10},
                        {.sequence = 2, .csat = 4, .nps = 0, .ces = 7},
                        {.sequence = 3},  // no ratings: counts as an event
                        {.sequence = 4,
                         .touchpoint = "confirmation_call",
                         .stage = "purchase",
                         .channel = "phone",
                         .offset_seconds = 86'400,  // the next day
                         .nps = 6,
                         .ces = 1}}))
          .ok());
  EXPECT_EQ(*store_->Checkpoint(), 4);

  GroupedRollups rollups = Query(AcmeSwitching());
  EXPECT_EQ(rollups.as_of_sequence, 4);
  ASSERT_EQ(rollups.groups.size(), 2u);
  // Byte order: "confirmation_call" < "web_site".
  const GroupRollup& call = rollups.groups[0];
  EXPECT_EQ(call.group, "confirmation_call");
  EXPECT_EQ(call.events, 1);
  EXPECT_EQ(call.nps, (stats::NpsHistogram{0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(call.ces, (stats::CesHistogram{1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(call.csat, (stats::CsatHistogram{0, 0, 0, 0, 0}));

  const GroupRollup& web = rollups.groups[1];
  EXPECT_EQ(web.group, "web_site");
  EXPECT_EQ(web.events, 3);
  EXPECT_EQ(web.csat, (stats::CsatHistogram{0, 0, 0, 1, 1}));
  EXPECT_EQ(web.nps, (stats::NpsHistogram{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(web.ces, (stats::CesHistogram{0, 0, 0, 0, 0, 0, 1}));
}

TEST_F(SqliteRollupStoreTest, GroupsByStageAndByChannel) {
  ASSERT_TRUE(
      store_
          ->Apply(Page({{.sequence = 1, .stage = "research", .channel = "web"},
                        {.sequence = 2,
                         .touchpoint = "search_ad",
                         .stage = "research",
                         .channel = "web"},
                        {.sequence = 3,
                         .touchpoint = "shop_in_shop_sales",
                         .stage = "purchase",
                         .channel = "shop"},
                        {.sequence = 4,
                         .touchpoint = "confirmation_call",
                         .stage = "purchase",
                         .channel = "phone"}}))
          .ok());
  EXPECT_THAT(Query(AcmeSwitching(Grouping::kStage)).groups,
              ElementsAre(AllOf(Field(&GroupRollup::group, "purchase"),
                                Field(&GroupRollup::events, 2)),
                          AllOf(Field(&GroupRollup::group, "research"),
                                Field(&GroupRollup::events, 2))));
  EXPECT_THAT(Query(AcmeSwitching(Grouping::kChannel)).groups,
              ElementsAre(AllOf(Field(&GroupRollup::group, "phone"),
                                Field(&GroupRollup::events, 1)),
                          AllOf(Field(&GroupRollup::group, "shop"),
                                Field(&GroupRollup::events, 1)),
                          AllOf(Field(&GroupRollup::group, "web"),
                                Field(&GroupRollup::events, 2))));
}

TEST_F(SqliteRollupStoreTest, FiltersByUtcDayRange) {
  ASSERT_TRUE(
      store_
          ->Apply(Page({{.sequence = 1, .offset_seconds = -1},  // Feb 29
                        {.sequence = 2, .offset_seconds = 0},   // Mar 1
                        {.sequence = 3, .offset_seconds = 86'399},
                        {.sequence = 4, .offset_seconds = 86'400},  // Mar 2
                        {.sequence = 5, .offset_seconds = 2 * 86'400}}))
          .ok());
  auto events_in = [&](Day start, Day end) {
    ScorecardQuery query = AcmeSwitching();
    query.start_day = start;
    query.end_day = end;
    GroupedRollups rollups = Query(query);
    return rollups.groups.empty() ? 0 : rollups.groups[0].events;
  };
  EXPECT_EQ(events_in(kMarch1, kMarch1 + 1), 2);
  EXPECT_EQ(events_in(kMarch1 - 1, kMarch1 + 2), 4);
  EXPECT_EQ(events_in(kMarch1 + 1, kLastDay), 2);
  EXPECT_EQ(events_in(kFirstDay, kMarch1), 1);
  EXPECT_EQ(events_in(kMarch1 + 3, kMarch1 + 10), 0);
}

TEST_F(SqliteRollupStoreTest, FiltersByJourneyVersionZeroMeansAll) {
  ASSERT_TRUE(
      store_
          ->Apply(Page({{.sequence = 1, .journey_version = 1, .nps = 10},
                        {.sequence = 2, .journey_version = 2, .nps = 0},
                        {.sequence = 3, .journey_version = 2, .nps = 0}}))
          .ok());
  ScorecardQuery query = AcmeSwitching();
  query.journey_version = 2;
  ASSERT_EQ(Query(query).groups.size(), 1u);
  EXPECT_EQ(Query(query).groups[0].events, 2);
  EXPECT_EQ(Query(query).groups[0].nps[0], 2);
  EXPECT_EQ(Query(query).groups[0].nps[10], 0);
  query.journey_version = 0;
  EXPECT_EQ(Query(query).groups[0].events, 3);
  query.journey_version = 3;
  EXPECT_TRUE(Query(query).groups.empty());
}

TEST_F(SqliteRollupStoreTest, TenantsAndJourneysNeverMix) {
  ASSERT_TRUE(store_
                  ->Apply(Page({{.sequence = 1, .tenant = "acme", .nps = 10},
                                {.sequence = 2, .tenant = "globex", .nps = 0},
                                {.sequence = 3, .tenant = "globex", .nps = 0},
                                {.sequence = 4,
                                 .tenant = "acme",
                                 .journey = "renovation",
                                 .nps = 0}}))
                  .ok());
  GroupedRollups acme = Query(AcmeSwitching());
  ASSERT_EQ(acme.groups.size(), 1u);
  EXPECT_EQ(acme.groups[0].events, 1);
  EXPECT_EQ(acme.groups[0].nps[10], 1);
  EXPECT_EQ(acme.groups[0].nps[0], 0);

  ScorecardQuery globex = AcmeSwitching();
  globex.tenant = "globex";
  EXPECT_EQ(Query(globex).groups[0].events, 2);
}

TEST_F(SqliteRollupStoreTest, RedeliveredEventsAreIgnored) {
  ASSERT_TRUE(
      store_
          ->Apply(Page({{.sequence = 1, .nps = 10}, {.sequence = 2, .nps = 9}}))
          .ok());
  // The same page again, then one overlapping it.
  ASSERT_TRUE(
      store_
          ->Apply(Page({{.sequence = 1, .nps = 10}, {.sequence = 2, .nps = 9}}))
          .ok());
  ASSERT_TRUE(
      store_
          ->Apply(Page({{.sequence = 2, .nps = 9}, {.sequence = 3, .nps = 0}}))
          .ok());
  EXPECT_EQ(*store_->Checkpoint(), 3);
  GroupedRollups rollups = Query(AcmeSwitching());
  EXPECT_EQ(rollups.groups[0].events, 3);
  EXPECT_EQ(rollups.groups[0].nps[10], 1);
  EXPECT_EQ(rollups.groups[0].nps[9], 1);
  EXPECT_EQ(rollups.groups[0].nps[0], 1);
}

TEST_F(SqliteRollupStoreTest, CheckpointSurvivesReopenWithoutDoubleCounting) {
  ASSERT_TRUE(store_
                  ->Apply(Page(
                      {{.sequence = 1, .csat = 5}, {.sequence = 2, .csat = 1}}))
                  .ok());
  ASSERT_TRUE(store_->Apply(Page({{.sequence = 3, .csat = 4}})).ok());

  Reopen();  // as after a restart
  EXPECT_EQ(*store_->Checkpoint(), 3);
  // The feed re-delivers from an older position, overlapping what was counted.
  ASSERT_TRUE(store_
                  ->Apply(Page({{.sequence = 2, .csat = 1},
                                {.sequence = 3, .csat = 4},
                                {.sequence = 4, .csat = 2}}))
                  .ok());
  EXPECT_EQ(*store_->Checkpoint(), 4);

  Reopen();
  GroupedRollups rollups = Query(AcmeSwitching());
  EXPECT_EQ(rollups.as_of_sequence, 4);
  ASSERT_EQ(rollups.groups.size(), 1u);
  EXPECT_EQ(rollups.groups[0].events, 4);
  EXPECT_EQ(rollups.groups[0].csat, (stats::CsatHistogram{1, 1, 0, 1, 1}));
}

TEST_F(SqliteRollupStoreTest, OutOfRangeScoresAreNotCounted) {
  ASSERT_TRUE(store_
                  ->Apply(Page({{.sequence = 1, .csat = 0, .nps = 11, .ces = 8},
                                {.sequence = 2, .csat = 3}}))
                  .ok());
  GroupedRollups rollups = Query(AcmeSwitching());
  EXPECT_EQ(rollups.groups[0].events, 2);
  EXPECT_EQ(rollups.groups[0].csat, (stats::CsatHistogram{0, 0, 1, 0, 0}));
  EXPECT_EQ(rollups.groups[0].nps, stats::NpsHistogram{});
  EXPECT_EQ(rollups.groups[0].ces, stats::CesHistogram{});
}

TEST_F(SqliteRollupStoreTest, QueriesRunWhileTheWriterHoldsATransaction) {
  ASSERT_TRUE(store_->Apply(Page({{.sequence = 1}})).ok());
  // A second writer connection holding the write lock stands in for an
  // Apply in progress: readers see the last committed snapshot at once.
  absl::StatusOr<std::unique_ptr<sqlite::Database>> other =
      sqlite::Database::Open(path_);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE((*other)
                  ->Exec("BEGIN IMMEDIATE; UPDATE checkpoint SET sequence = 99")
                  .ok());
  GroupedRollups rollups = Query(AcmeSwitching());
  EXPECT_EQ(rollups.as_of_sequence, 1);
  EXPECT_EQ(rollups.groups[0].events, 1);
  ASSERT_TRUE((*other)->Exec("ROLLBACK").ok());
}

// A page of events with customers: {sequence, customer, touchpoint, csat}.
struct Counted {
  int64_t sequence;
  std::string customer;
  std::string touchpoint;
  int csat;
  int64_t offset_seconds = 12 * 3600;
};

google::protobuf::RepeatedPtrField<v1::StoredEvent> CustomerPage(
    const std::vector<Counted>& events, const std::string& tenant = "acme") {
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  for (const Counted& c : events) {
    v1::StoredEvent& stored = *page.Add();
    stored = MakeEvent({.sequence = c.sequence,
                        .tenant = tenant,
                        .touchpoint = c.touchpoint,
                        .offset_seconds = c.offset_seconds,
                        .csat = c.csat,
                        .nps = c.csat * 2});
    stored.set_customer_hash("hash-" + c.customer);
  }
  return page;
}

v1::Erasure ErasureOf(int64_t sequence, const std::string& customer,
                      const std::string& tenant = "acme") {
  v1::Erasure erasure;
  erasure.set_sequence(sequence);
  erasure.set_tenant(tenant);
  erasure.set_customer_hash("hash-" + customer);
  return erasure;
}

// Every grouping of the scorecard, for comparing two stores.
std::string Everything(RollupStore& store) {
  std::string out;
  for (Grouping g :
       {Grouping::kTouchpoint, Grouping::kStage, Grouping::kChannel}) {
    ScorecardQuery query;
    query.tenant = "acme";
    query.journey = "switching";
    query.group_by = g;
    absl::StatusOr<GroupedRollups> rollups = store.Scorecard(query);
    EXPECT_TRUE(rollups.ok()) << rollups.status();
    if (!rollups.ok()) return "";
    absl::StrAppend(&out, "as_of=", rollups->as_of_sequence, "\n");
    for (const GroupRollup& group : rollups->groups) {
      absl::StrAppend(&out, group.group, " events=", group.events,
                      " csat=", absl::StrJoin(group.csat, ","),
                      " nps=", absl::StrJoin(group.nps, ","), "\n");
    }
  }
  return out;
}

TEST_F(SqliteRollupStoreTest, AnErasureSubtractsExactlyWhatTheCustomerAdded) {
  const std::vector<Counted> feed = {
      {1, "anna", "web_site", 5},        {2, "bert", "web_site", 3},
      {3, "anna", "shop", 1, 36 * 3600},  // another touchpoint and day
      {4, "anna", "web_site", 4},        {5, "cecilia", "shop", 2},
  };
  // Incrementally: everything, then anna's erasure at 6.
  ASSERT_TRUE(store_->Apply(CustomerPage({feed[0], feed[1], feed[2]})).ok());
  ASSERT_TRUE(store_->Apply(CustomerPage({feed[3], feed[4]})).ok());
  // Another tenant's customer with the same hash is not touched.
  ASSERT_TRUE(
      store_->Apply(CustomerPage({{6, "anna", "web_site", 5}}, "globex")).ok());
  ASSERT_TRUE(store_->ApplyErasure(ErasureOf(7, "anna")).ok());
  EXPECT_EQ(*store_->Checkpoint(), 7);

  // Rebuilt from sequence 1 after the erasure: anna's events are gone from
  // the feed, the erasure is still there.
  auto rebuilt =
      SqliteRollupStore::Open(testing::ScratchDir() + "/rebuilt.db", false);
  ASSERT_TRUE(rebuilt.ok());
  ASSERT_TRUE((*rebuilt)->Apply(CustomerPage({feed[1], feed[4]})).ok());
  ASSERT_TRUE((*rebuilt)
                  ->Apply(CustomerPage({{6, "anna", "web_site", 5}}, "globex"))
                  .ok());
  ASSERT_TRUE((*rebuilt)->ApplyErasure(ErasureOf(7, "anna")).ok());

  EXPECT_EQ(Everything(*store_), Everything(**rebuilt));
  // And the numbers are bert's and cecilia's only; anna's emptied rows are
  // gone, not left at zero.
  GroupedRollups rollups = Query(AcmeSwitching());
  ASSERT_EQ(rollups.groups.size(), 2u);
  EXPECT_EQ(rollups.groups[0].group, "shop");
  EXPECT_EQ(rollups.groups[0].events, 1);
  EXPECT_EQ(rollups.groups[0].csat, (stats::CsatHistogram{0, 1, 0, 0, 0}));
  EXPECT_EQ(rollups.groups[1].group, "web_site");
  EXPECT_EQ(rollups.groups[1].events, 1);
  EXPECT_EQ(rollups.groups[1].csat, (stats::CsatHistogram{0, 0, 1, 0, 0}));
  ScorecardQuery globex = AcmeSwitching();
  globex.tenant = "globex";
  EXPECT_EQ(Query(globex).groups[0].events, 1);
}

TEST_F(SqliteRollupStoreTest, AnErasureIsAppliedOnceAcrossRestarts) {
  ASSERT_TRUE(store_
                  ->Apply(CustomerPage(
                      {{1, "anna", "web_site", 5}, {2, "bert", "web_site", 3}}))
                  .ok());
  ASSERT_TRUE(store_->ApplyErasure(ErasureOf(3, "anna")).ok());
  Reopen();
  // Re-delivered after a restart: already applied.
  ASSERT_TRUE(store_->ApplyErasure(ErasureOf(3, "anna")).ok());
  // Events of the customer after the erasure count again (not suppressed),
  // and a second erasure removes only those.
  ASSERT_TRUE(store_->Apply(CustomerPage({{4, "anna", "web_site", 1}})).ok());
  EXPECT_EQ(Query(AcmeSwitching()).groups[0].events, 2);
  ASSERT_TRUE(store_->ApplyErasure(ErasureOf(5, "anna")).ok());
  GroupedRollups rollups = Query(AcmeSwitching());
  EXPECT_EQ(rollups.as_of_sequence, 5);
  ASSERT_EQ(rollups.groups.size(), 1u);
  EXPECT_EQ(rollups.groups[0].events, 1);
  EXPECT_EQ(rollups.groups[0].csat, (stats::CsatHistogram{0, 0, 1, 0, 0}));
}

TEST_F(SqliteRollupStoreTest, TheCheckpointBelongsToOneFeed) {
  EXPECT_TRUE(store_->CheckFeed("feed-a").ok());  // binds
  ASSERT_TRUE(store_->Apply(Page({{.sequence = 1, .csat = 5}})).ok());
  EXPECT_TRUE(store_->CheckFeed("feed-a").ok());
  EXPECT_TRUE(store_->CheckFeed("").ok());  // a feed without identity
  Reopen();
  absl::Status other = store_->CheckFeed("feed-b");
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.message().find("feed-a"), std::string::npos);
  EXPECT_NE(other.message().find("delete insight.db"), std::string::npos);
  EXPECT_TRUE(store_->CheckFeed("feed-a").ok());
}

}  // namespace
}  // namespace polku::insight
