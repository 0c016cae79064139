// The RollupStore conformance suite: every test runs on SQLite and on a real
// PostgreSQL server (started by the test, see lib/postgres/testing).
#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/postgres/postgres.h"
#include "lib/sqlite/sqlite.h"
#include "services/insight/store/rollup_conformance_util.h"

namespace polku::insight {
namespace {

using ::testing::ElementsAre;
using testing::EventSpec;
using ::testing::Field;
using testing::kMarch1;
using testing::kMarch1Seconds;
using testing::MakeEvent;
using ::testing::Pair;

google::protobuf::RepeatedPtrField<v1::StoredEvent> Page(
    const std::vector<EventSpec>& specs) {
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  for (const EventSpec& spec : specs) *page.Add() = MakeEvent(spec);
  return page;
}

class RollupStoreTest : public ::testing::TestWithParam<testing::Backend> {
 protected:
  void SetUp() override {
    db_ = testing::TestDatabase::Create(GetParam());
    ASSERT_NE(db_, nullptr);
    Reopen();
  }

  // As after a restart (or, on PostgreSQL, another replica).
  void Reopen() {
    store_.reset();
    store_ = db_->Open();
    ASSERT_NE(store_, nullptr);
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

  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<RollupStore> store_;
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

TEST_P(RollupStoreTest, EmptyStoreHasCheckpointZeroAndNoGroups) {
  EXPECT_EQ(*store_->Checkpoint(), 0);
  GroupedRollups rollups = Query(AcmeSwitching());
  EXPECT_TRUE(rollups.groups.empty());
  EXPECT_EQ(rollups.as_of_sequence, 0);
}

TEST_P(RollupStoreTest, SumsHistogramsPerTouchpoint) {
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

// A ledger scan with after_sequence reads only the later events (what the
// touch index asks for on each call), with the same filters, unrated
// events included.
TEST_P(RollupStoreTest, LedgerScanAfterASequenceReadsOnlyTheLaterEvents) {
  ASSERT_TRUE(store_
                  ->Apply(Page({{.sequence = 1, .csat = 5, .customer_hash = "a"},
                                {.sequence = 2, .customer_hash = "b"},
                                {.sequence = 3, .tenant = "globex",
                                 .customer_hash = "c"},
                                {.sequence = 4, .channel = "shop",
                                 .customer_hash = "d"},
                                {.sequence = 5, .customer_hash = "e"}}))
                  .ok());
  auto scan = [&](ScorecardQuery query) {
    std::vector<int64_t> sequences;
    absl::StatusOr<int64_t> as_of =
        store_->ScanLedger(query, [&](const CountedEvent& event) {
          sequences.push_back(event.sequence);
          return absl::OkStatus();
        });
    EXPECT_TRUE(as_of.ok()) << as_of.status();
    EXPECT_EQ(as_of.value_or(-1), 5);
    std::sort(sequences.begin(), sequences.end());
    return sequences;
  };
  ScorecardQuery query = AcmeSwitching();
  EXPECT_EQ(scan(query), (std::vector<int64_t>{1, 2, 4, 5}));
  query.after_sequence = 1;
  EXPECT_EQ(scan(query), (std::vector<int64_t>{2, 4, 5}));
  query.after_sequence = 4;
  EXPECT_EQ(scan(query), (std::vector<int64_t>{5}));
  query.after_sequence = 2;
  query.channel = "web";
  EXPECT_EQ(scan(query), (std::vector<int64_t>{5}));
  query.channel.clear();
  query.after_sequence = 5;
  EXPECT_TRUE(scan(query).empty());
}

// A scan reads the fields asked for and leaves the rest out, on every
// backend alike (a reader cannot come to rely on what it did not ask for);
// attributes are read for an attribute filter whatever the fields say.
TEST_P(RollupStoreTest, ALedgerScanReadsTheFieldsAskedFor) {
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page =
      Page({{.sequence = 1,
             .offset_seconds = 9 * 3600 + 30,
             .csat = 4,
             .measures = {{"wait_seconds", 2}},
             .attributes = {{"store_id", "hki-01"}},
             .customer_hash = "a"}});
  page[0].mutable_event()->set_comment("Jono oli pitkä");
  page[0].mutable_event()->set_language("fi");
  ASSERT_TRUE(store_->Apply(page).ok());
  auto read = [&](LedgerFields fields, bool filtered) {
    ScorecardQuery query = AcmeSwitching();
    query.fields = fields;
    if (filtered) query.attributes = {{"store_id", "hki-01"}};
    std::vector<CountedEvent> events;
    EXPECT_TRUE(store_
                    ->ScanLedger(query,
                                 [&](const CountedEvent& event) {
                                   events.push_back(event);
                                   return absl::OkStatus();
                                 })
                    .ok());
    EXPECT_EQ(events.size(), 1u);
    return events.empty() ? CountedEvent() : events[0];
  };
  const int64_t occurred_at = (kMarch1Seconds + 9 * 3600 + 30) * 1'000'000;
  const CountedEvent all = read({}, false);
  EXPECT_EQ(all.customer_hash, "a");
  EXPECT_EQ(all.csat, 4);
  EXPECT_EQ(all.occurred_at_micros, occurred_at);
  EXPECT_EQ(all.comment, "Jono oli pitkä");
  EXPECT_EQ(all.language, "fi");
  EXPECT_THAT(all.attributes, ElementsAre(Pair("store_id", "hki-01")));
  EXPECT_THAT(all.measures, ElementsAre(Pair("wait_seconds", 2000)));

  for (const bool filtered : {false, true}) {
    SCOPED_TRACE(filtered ? "filtered by store_id" : "unfiltered");
    const CountedEvent lean =
        read({.customer = false, .pairs = false}, filtered);
    EXPECT_EQ(lean.sequence, 1);
    EXPECT_EQ(lean.key, all.key);
    EXPECT_EQ(lean.csat, 4);
    EXPECT_EQ(lean.customer_hash, "");
    EXPECT_EQ(lean.occurred_at_micros, occurred_at);
    EXPECT_EQ(lean.comment, "Jono oli pitkä");
    EXPECT_EQ(lean.language, "fi");
    if (filtered) {
      EXPECT_THAT(lean.attributes, ElementsAre(Pair("store_id", "hki-01")));
    } else {
      EXPECT_TRUE(lean.attributes.empty());
      EXPECT_TRUE(lean.measures.empty());
    }
  }
  for (const bool filtered : {false, true}) {
    SCOPED_TRACE(filtered ? "filtered by store_id" : "unfiltered");
    const CountedEvent undetailed = read({.details = false}, filtered);
    EXPECT_EQ(undetailed.customer_hash, "a");
    EXPECT_EQ(undetailed.occurred_at_micros, kMarch1Seconds * 1'000'000);
    EXPECT_EQ(undetailed.comment, "");
    EXPECT_EQ(undetailed.language, "");
    EXPECT_THAT(undetailed.measures, ElementsAre(Pair("wait_seconds", 2000)));
  }
}

TEST_P(RollupStoreTest, GroupsByStageAndByChannel) {
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

TEST_P(RollupStoreTest, FiltersByUtcDayRange) {
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

TEST_P(RollupStoreTest, FiltersByJourneyVersionZeroMeansAll) {
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

TEST_P(RollupStoreTest, TenantsAndJourneysNeverMix) {
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

TEST_P(RollupStoreTest, RedeliveredEventsAreIgnored) {
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

TEST_P(RollupStoreTest, CheckpointSurvivesReopenWithoutDoubleCounting) {
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

TEST_P(RollupStoreTest, OutOfRangeScoresAreNotCounted) {
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

TEST_P(RollupStoreTest, QueriesRunWhileTheWriterHoldsATransaction) {
  if (GetParam() == testing::Backend::kMemory) {
    GTEST_SKIP() << "a database connection of its own is what is tested";
  }
  ASSERT_TRUE(store_->Apply(Page({{.sequence = 1}})).ok());
  // A second writer connection inside an uncommitted transaction stands in
  // for an Apply in progress: readers see the last committed snapshot at
  // once.
  std::unique_ptr<sqlite::Database> sqlite_writer;
  std::unique_ptr<postgres::Connection> pg_writer;
  if (GetParam() == testing::Backend::kSqlite) {
    absl::StatusOr<std::unique_ptr<sqlite::Database>> other =
        sqlite::Database::Open(db_->location());
    ASSERT_TRUE(other.ok()) << other.status();
    sqlite_writer = *std::move(other);
    ASSERT_TRUE(
        sqlite_writer
            ->Exec("BEGIN IMMEDIATE; UPDATE checkpoint SET sequence = 99")
            .ok());
  } else {
    absl::StatusOr<std::unique_ptr<postgres::Connection>> other =
        postgres::Connection::Open(db_->location(), absl::Seconds(10));
    ASSERT_TRUE(other.ok()) << other.status();
    pg_writer = *std::move(other);
    ASSERT_TRUE(
        pg_writer->Exec("BEGIN; UPDATE checkpoint SET sequence = 99").ok());
  }
  GroupedRollups rollups = Query(AcmeSwitching());
  EXPECT_EQ(rollups.as_of_sequence, 1);
  EXPECT_EQ(rollups.groups[0].events, 1);
  if (sqlite_writer) {
    ASSERT_TRUE(sqlite_writer->Exec("ROLLBACK").ok());
  } else {
    ASSERT_TRUE(pg_writer->Exec("ROLLBACK").ok());
  }
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

// Events read back by sequence: the tenant's only, in sequence order, with
// their comments; an erased customer's and unknown sequences left out.
TEST_P(RollupStoreTest, LedgerEventsReadsTheTenantsEventsBySequence) {
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page =
      Page({{.sequence = 1, .csat = 2, .customer_hash = "hash-anna"},
            {.sequence = 2, .tenant = "globex", .customer_hash = "hash-bo"},
            {.sequence = 3, .csat = 5, .customer_hash = "hash-cia"},
            {.sequence = 4, .customer_hash = "hash-anna"}});
  for (v1::StoredEvent& event : page) {
    event.mutable_event()->set_comment(
        absl::StrCat("comment ", event.sequence()));
    event.mutable_event()->set_language("en");
  }
  ASSERT_TRUE(store_->Apply(page).ok());
  auto read = [&](const std::string& tenant, std::vector<int64_t> sequences) {
    absl::StatusOr<std::vector<CountedEvent>> events =
        store_->LedgerEvents(tenant, std::move(sequences));
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<std::string> comments;
    for (const CountedEvent& event :
         events.value_or(std::vector<CountedEvent>{})) {
      comments.push_back(absl::StrCat(event.sequence, ": ", event.comment, " (",
                                      event.customer_hash, ")"));
    }
    return comments;
  };
  EXPECT_THAT(read("acme", {4, 3, 2, 1, 99, 3}),
              ElementsAre("1: comment 1 (hash-anna)", "3: comment 3 (hash-cia)",
                          "4: comment 4 (hash-anna)"));
  EXPECT_THAT(read("globex", {1, 2}), ElementsAre("2: comment 2 (hash-bo)"));
  EXPECT_TRUE(read("acme", {}).empty());
  ASSERT_TRUE(store_->ApplyErasure(ErasureOf(5, "anna")).ok());
  EXPECT_THAT(read("acme", {1, 3, 4}), ElementsAre("3: comment 3 (hash-cia)"));
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

TEST_P(RollupStoreTest, AnErasureSubtractsExactlyWhatTheCustomerAdded) {
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
  std::unique_ptr<testing::TestDatabase> rebuilt_db =
      testing::TestDatabase::Create(GetParam());
  ASSERT_NE(rebuilt_db, nullptr);
  std::unique_ptr<RollupStore> rebuilt = rebuilt_db->Open();
  ASSERT_NE(rebuilt, nullptr);
  ASSERT_TRUE(rebuilt->Apply(CustomerPage({feed[1], feed[4]})).ok());
  ASSERT_TRUE(
      rebuilt->Apply(CustomerPage({{6, "anna", "web_site", 5}}, "globex"))
          .ok());
  ASSERT_TRUE(rebuilt->ApplyErasure(ErasureOf(7, "anna")).ok());

  EXPECT_EQ(Everything(*store_), Everything(*rebuilt));
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

TEST_P(RollupStoreTest, AnErasureIsAppliedOnceAcrossRestarts) {
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

TEST_P(RollupStoreTest, AnErasureComparesTheWholeCustomerHash) {
  // Hashes alike in their first 16 characters (SQLite's customer index
  // holds 8) are still different customers.
  const std::string prefix = "0123456789abcdef";
  ASSERT_TRUE(store_
                  ->Apply(CustomerPage({{1, prefix + "anna", "web_site", 5},
                                        {2, prefix + "bert", "web_site", 3},
                                        {3, prefix, "web_site", 1}}))
                  .ok());
  ASSERT_TRUE(store_->ApplyErasure(ErasureOf(4, prefix + "anna")).ok());
  GroupedRollups rollups = Query(AcmeSwitching());
  ASSERT_EQ(rollups.groups.size(), 1u);
  EXPECT_EQ(rollups.groups[0].events, 2);
  EXPECT_EQ(rollups.groups[0].csat, (stats::CsatHistogram{1, 0, 1, 0, 0}));
}

TEST_P(RollupStoreTest, TheCheckpointBelongsToOneFeed) {
  EXPECT_TRUE(store_->CheckFeed("feed-a").ok());  // binds
  ASSERT_TRUE(store_->Apply(Page({{.sequence = 1, .csat = 5}})).ok());
  EXPECT_TRUE(store_->CheckFeed("feed-a").ok());
  EXPECT_TRUE(store_->CheckFeed("").ok());  // a feed without identity
  Reopen();
  absl::Status other = store_->CheckFeed("feed-b");
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.message().find("feed-a"), std::string::npos);
  // And says how to recover.
  EXPECT_NE(other.message().find(GetParam() == testing::Backend::kSqlite
                                     ? "delete insight.db"
                                 : GetParam() == testing::Backend::kPostgres
                                     ? "drop the insight database's tables"
                                     : "start a new memory database"),
            std::string::npos)
      << other;
  EXPECT_TRUE(store_->CheckFeed("feed-a").ok());
}

TEST(MeasureSumTest, MeanAndSampleVarianceFromExactSums) {
  MeasureSum sum;  // 1.5, 2.5, 4.0 in thousandths
  sum.n = 3;
  sum.sum_milli = 1500 + 2500 + 4000;
  sum.sum_squares_milli2 =
      __int128{1500} * 1500 + __int128{2500} * 2500 + __int128{4000} * 4000;
  EXPECT_DOUBLE_EQ(sum.mean(), 8.0 / 3);
  // Σ(x − x̄)² / (n − 1) = (1.5² + 2.5² + 4² − 8²/3) / 2.
  EXPECT_NEAR(sum.variance(), (2.25 + 6.25 + 16 - 64.0 / 3) / 2, 1e-12);
  EXPECT_EQ(MeasureSum{}.mean(), 0);
  MeasureSum one{.n = 1, .sum_milli = 7000, .sum_squares_milli2 = 49'000'000};
  EXPECT_EQ(one.mean(), 7);
  EXPECT_EQ(one.variance(), 0);
}

TEST_P(RollupStoreTest, SumsMeasuresExactlyInThousandths) {
  ASSERT_TRUE(
      store_
          ->Apply(Page({{.sequence = 1,
                         .measures = {{"wait_seconds", 1.5},
                                      {"handle_seconds", 0.0005}}},
                        {.sequence = 2,
                         .measures = {{"wait_seconds", 2.0004}}},  // 2.000
                        {.sequence = 3,
                         .touchpoint = "call",
                         .measures = {{"wait_seconds", 10}}}}))
          .ok());
  Reopen();
  GroupedRollups rollups = Query(AcmeSwitching());
  ASSERT_EQ(rollups.groups.size(), 2u);
  const GroupRollup& web = rollups.groups[1];
  ASSERT_EQ(web.group, "web_site");
  ASSERT_EQ(web.measures.size(), 2u);
  const MeasureSum& wait = web.measures.at("wait_seconds");
  EXPECT_EQ(wait.n, 2);
  EXPECT_EQ(wait.sum_milli, 3500);
  EXPECT_EQ(wait.sum_squares_milli2, __int128{1500 * 1500 + 2000 * 2000});
  EXPECT_DOUBLE_EQ(wait.mean(), 1.75);
  // Half a thousandth rounds away from zero.
  EXPECT_EQ(web.measures.at("handle_seconds").sum_milli, 1);
  EXPECT_EQ(rollups.groups[0].measures.at("wait_seconds").sum_milli, 10'000);

  // Summed over groups too: the stage has all three.
  GroupedRollups stages = Query(AcmeSwitching(Grouping::kStage));
  ASSERT_EQ(stages.groups.size(), 1u);
  EXPECT_EQ(stages.groups[0].measures.at("wait_seconds").n, 3);
  EXPECT_EQ(stages.groups[0].measures.at("wait_seconds").sum_milli, 13'500);
}

TEST_P(RollupStoreTest, NonFiniteMeasuresAreLeftOutButTheEventCounts) {
  ASSERT_TRUE(
      store_
          ->Apply(
              Page({{.sequence = 1,
                     .measures = {{"wait_seconds",
                                   std::numeric_limits<double>::quiet_NaN()},
                                  {"hold_seconds", 3}}},
                    {.sequence = 2,
                     .measures = {{"wait_seconds",
                                   std::numeric_limits<double>::infinity()}}},
                    {.sequence = 3, .measures = {{"wait_seconds", 1e300}}}}))
          .ok());
  GroupedRollups rollups = Query(AcmeSwitching());
  ASSERT_EQ(rollups.groups.size(), 1u);
  EXPECT_EQ(rollups.groups[0].events, 3);
  EXPECT_EQ(rollups.groups[0].measures.count("wait_seconds"), 0u);
  EXPECT_EQ(rollups.groups[0].measures.at("hold_seconds").n, 1);
}

TEST_P(RollupStoreTest, AnOverflowingMeasureSumIsAnErrorNotSilent) {
  // 9·10¹⁵ is 9·10¹⁸ thousandths: one fits 64 bits, two do not.
  ASSERT_TRUE(
      store_->Apply(Page({{.sequence = 1, .measures = {{"big", 9e15}}}})).ok());
  absl::Status status =
      store_->Apply(Page({{.sequence = 2, .measures = {{"big", 9e15}}}}));
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(status.message().find("big"), std::string::npos);
  // Nothing of the failed page counts.
  EXPECT_EQ(*store_->Checkpoint(), 1);
  GroupedRollups rollups = Query(AcmeSwitching());
  EXPECT_EQ(rollups.as_of_sequence, 1);
  EXPECT_EQ(rollups.groups[0].events, 1);
  EXPECT_EQ(rollups.groups[0].measures.at("big").sum_milli,
            int64_t{9'000'000'000'000'000'000});
  // The squares, far beyond 64 bits, are kept exactly.
  EXPECT_EQ(rollups.groups[0].measures.at("big").sum_squares_milli2,
            __int128{9'000'000'000'000'000'000} * 9'000'000'000'000'000'000);
}

TEST_P(RollupStoreTest, AnErasureSubtractsMeasuresExactly) {
  ASSERT_TRUE(store_
                  ->Apply(Page({{.sequence = 1,
                                 .measures = {{"wait_seconds", 0.1}},
                                 .customer_hash = "anna"},
                                {.sequence = 2,
                                 .measures = {{"wait_seconds", 0.2}},
                                 .customer_hash = "bert"},
                                {.sequence = 3,
                                 .touchpoint = "call",
                                 .measures = {{"hold_seconds", 7}},
                                 .customer_hash = "anna"}}))
                  .ok());
  v1::Erasure erasure;
  erasure.set_sequence(4);
  erasure.set_tenant("acme");
  erasure.set_customer_hash("anna");
  ASSERT_TRUE(store_->ApplyErasure(erasure).ok());
  GroupedRollups rollups = Query(AcmeSwitching());
  ASSERT_EQ(rollups.groups.size(), 1u);  // anna's "call" row is gone
  const MeasureSum& wait = rollups.groups[0].measures.at("wait_seconds");
  EXPECT_EQ(wait.n, 1);
  EXPECT_EQ(wait.sum_milli, 200);
  EXPECT_EQ(wait.sum_squares_milli2, 40'000);
  EXPECT_EQ(rollups.groups[0].measures.size(), 1u);
}

TEST_P(RollupStoreTest, GroupsByDayWithIsoDates) {
  ASSERT_TRUE(store_
                  ->Apply(Page({{.sequence = 1, .offset_seconds = 86'400 + 5},
                                {.sequence = 2, .offset_seconds = -1, .nps = 9},
                                {.sequence = 3, .offset_seconds = 10},
                                {.sequence = 4, .offset_seconds = 20}}))
                  .ok());
  GroupedRollups days = Query(AcmeSwitching(Grouping::kDay));
  ASSERT_EQ(days.groups.size(), 3u);
  EXPECT_EQ(days.groups[0].group, "2024-02-29");
  EXPECT_EQ(days.groups[0].day, kMarch1 - 1);
  EXPECT_EQ(days.groups[0].nps[9], 1);
  EXPECT_EQ(days.groups[1].group, "2024-03-01");
  EXPECT_EQ(days.groups[1].day, kMarch1);
  EXPECT_EQ(days.groups[1].events, 2);
  EXPECT_EQ(days.groups[2].group, "2024-03-02");
  EXPECT_EQ(days.groups[2].day, kMarch1 + 1);
  ScorecardQuery range = AcmeSwitching(Grouping::kDay);
  range.start_day = kMarch1;
  range.end_day = kMarch1 + 1;
  EXPECT_THAT(Query(range).groups,
              ElementsAre(Field(&GroupRollup::group, "2024-03-01")));
}

// Four events over two stages, three channels and three touchpoints.
google::protobuf::RepeatedPtrField<v1::StoredEvent> MixedPage() {
  return Page({{.sequence = 1,
                .touchpoint = "web_site",
                .stage = "research",
                .channel = "web",
                .csat = 5,
                .measures = {{"wait_seconds", 1}},
                .attributes = {{"store_id", "hki-01"}, {"src", "all"}}},
               {.sequence = 2,
                .touchpoint = "search_ad",
                .stage = "research",
                .channel = "web",
                .csat = 4,
                .attributes = {{"store_id", "tre-02"}, {"src", "all"}}},
               {.sequence = 3,
                .touchpoint = "shop_sales",
                .stage = "purchase",
                .channel = "shop",
                .offset_seconds = 86'400,
                .csat = 1,
                .measures = {{"wait_seconds", 4}},
                .attributes = {{"store_id", "hki-01"},
                               {"src", "all"},
                               {"note", "a=b&c%d"}}},
               {.sequence = 4,
                .touchpoint = "confirmation_call",
                .stage = "purchase",
                .channel = "phone",
                .csat = 2,
                .measures = {{"wait_seconds", 9}},
                .attributes = {{"src", "all"}}}});
}

std::vector<std::string> Groups(const GroupedRollups& rollups) {
  std::vector<std::string> groups;
  for (const GroupRollup& group : rollups.groups) {
    groups.push_back(absl::StrCat(group.group, ":", group.events));
  }
  return groups;
}

TEST_P(RollupStoreTest, FiltersByTouchpointsStageAndChannel) {
  ASSERT_TRUE(store_->Apply(MixedPage()).ok());
  ScorecardQuery query = AcmeSwitching(Grouping::kStage);
  query.touchpoints = {"web_site", "shop_sales", "renamed_away"};
  EXPECT_THAT(Groups(Query(query)), ElementsAre("purchase:1", "research:1"));

  query = AcmeSwitching(Grouping::kTouchpoint);
  query.stage = "purchase";
  EXPECT_THAT(Groups(Query(query)),
              ElementsAre("confirmation_call:1", "shop_sales:1"));

  query.channel = "phone";
  GroupedRollups phone = Query(query);
  EXPECT_THAT(Groups(phone), ElementsAre("confirmation_call:1"));
  EXPECT_EQ(phone.groups[0].measures.at("wait_seconds").sum_milli, 9000);

  query = AcmeSwitching(Grouping::kChannel);
  query.touchpoints = {"search_ad"};
  query.channel = "shop";
  EXPECT_TRUE(Query(query).groups.empty());
}

TEST_P(RollupStoreTest, FiltersByAttributesFromTheCountedEvents) {
  ASSERT_TRUE(store_->Apply(MixedPage()).ok());
  ScorecardQuery query = AcmeSwitching(Grouping::kChannel);
  query.attributes = {{"store_id", "hki-01"}};
  GroupedRollups hki = Query(query);
  EXPECT_EQ(hki.as_of_sequence, 4);
  EXPECT_THAT(Groups(hki), ElementsAre("shop:1", "web:1"));
  EXPECT_EQ(hki.groups[0].csat, (stats::CsatHistogram{1, 0, 0, 0, 0}));
  EXPECT_EQ(hki.groups[1].measures.at("wait_seconds").sum_milli, 1000);

  // Every pair must match; escaped characters match as they were sent.
  query.attributes = {{"store_id", "hki-01"}, {"note", "a=b&c%d"}};
  EXPECT_THAT(Groups(Query(query)), ElementsAre("shop:1"));
  query.attributes = {{"note", "a=b"}};
  EXPECT_TRUE(Query(query).groups.empty());
  // Other filters apply as well.
  query.attributes = {{"store_id", "hki-01"}};
  query.stage = "research";
  EXPECT_THAT(Groups(Query(query)), ElementsAre("web:1"));
}

TEST_P(RollupStoreTest, AnAttributeEveryEventHasGivesTheRollupsAnswer) {
  ASSERT_TRUE(store_->Apply(MixedPage()).ok());
  for (Grouping g : {Grouping::kTouchpoint, Grouping::kStage,
                     Grouping::kChannel, Grouping::kDay}) {
    for (const char* stage : {"", "purchase"}) {
      ScorecardQuery plain = AcmeSwitching(g);
      plain.stage = stage;
      ScorecardQuery filtered = plain;
      filtered.attributes = {{"src", "all"}};
      EXPECT_EQ(testing::Describe(Query(plain)),
                testing::Describe(Query(filtered)))
          << "grouping " << static_cast<int>(g) << " stage " << stage;
    }
  }
}

TEST_P(RollupStoreTest, NulCharactersCountTheSameOnEveryBackend) {
  const std::string nul("a\0b", 3);
  ASSERT_TRUE(
      store_
          ->Apply(Page(
              {{.sequence = 1,
                .measures = {{"wait_seconds", 2}, {std::string("x\0y", 3), 1}},
                .attributes = {{"note", nul}}},
               {.sequence = 2, .attributes = {{"note", "a"}}}}))
          .ok());
  ScorecardQuery query = AcmeSwitching();
  query.attributes = {{"note", nul}};
  GroupedRollups matched = Query(query);
  ASSERT_THAT(Groups(matched), ElementsAre("web_site:1"));
  // A measure whose name holds a NUL is left out; the others count.
  EXPECT_EQ(matched.groups[0].measures.size(), 1u);
  EXPECT_EQ(matched.groups[0].measures.at("wait_seconds").sum_milli, 2000);
  query.attributes = {{"note", "a"}};
  EXPECT_THAT(Groups(Query(query)), ElementsAre("web_site:1"));
  EXPECT_EQ(Query(AcmeSwitching()).groups[0].measures.size(), 1u);
}

TEST_P(RollupStoreTest, ErasedEventsLeaveAttributeQueries) {
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page = MixedPage();
  page[0].set_customer_hash("anna");
  ASSERT_TRUE(store_->Apply(page).ok());
  v1::Erasure erasure;
  erasure.set_sequence(5);
  erasure.set_tenant("acme");
  erasure.set_customer_hash("anna");
  ASSERT_TRUE(store_->ApplyErasure(erasure).ok());
  ScorecardQuery query = AcmeSwitching(Grouping::kChannel);
  query.attributes = {{"store_id", "hki-01"}};
  EXPECT_THAT(Groups(Query(query)), ElementsAre("shop:1"));
}

// The attribute index keeps a chunk per attribute value and page. An
// erasure rewrites the chunks that held the customer's events and deletes
// those it leaves empty; scans filtered by an attribute, with details or
// without, after a sequence or not, read what is left in sequence order.
TEST_P(RollupStoreTest, AnErasureRewritesTheAttributeChunksOfTheCustomer) {
  const auto at = [](int64_t sequence, const char* customer,
                     const char* store) {
    return EventSpec{.sequence = sequence,
                     .csat = 3,
                     .attributes = {{"store_id", store}},
                     .customer_hash = customer};
  };
  ASSERT_TRUE(
      store_
          ->Apply(Page({at(1, "anna", "hki-01"), at(2, "bert", "hki-01"),
                        at(3, "anna", "tre-02")}))
          .ok());
  ASSERT_TRUE(
      store_->Apply(Page({at(4, "bert", "hki-01"), at(5, "anna", "hki-01")}))
          .ok());
  EXPECT_EQ(db_->AttributeChunks().size(), 3u);
  EXPECT_EQ(db_->IndexedSequences(), (std::vector<int64_t>{1, 2, 3, 4, 5}));

  v1::Erasure erasure;
  erasure.set_sequence(6);
  erasure.set_tenant("acme");
  erasure.set_customer_hash("anna");
  ASSERT_TRUE(store_->ApplyErasure(erasure).ok());
  // tre-02's chunk held anna alone.
  EXPECT_EQ(db_->AttributeChunks().size(), 2u);
  EXPECT_EQ(db_->IndexedSequences(), (std::vector<int64_t>{2, 4}));

  ScorecardQuery query = AcmeSwitching();
  query.attributes = {{"store_id", "hki-01"}};
  for (const bool details : {false, true}) {
    for (const int64_t after : {0, 2}) {
      query.fields = {.details = details, .customer = details};
      query.after_sequence = after;
      std::vector<int64_t> read;
      ASSERT_TRUE(store_
                      ->ScanLedger(query,
                                   [&](const CountedEvent& event) {
                                     read.push_back(event.sequence);
                                     EXPECT_EQ(event.customer_hash,
                                               details ? "bert" : "");
                                     return absl::OkStatus();
                                   })
                      .ok());
      const std::vector<int64_t> expected =
          after == 0 ? std::vector<int64_t>{2, 4} : std::vector<int64_t>{4};
      EXPECT_EQ(read, expected) << "details " << details << ", after " << after;
    }
  }
  query = AcmeSwitching();
  query.attributes = {{"store_id", "tre-02"}};
  EXPECT_TRUE(Query(query).groups.empty());
}

// With details, the events a filtered scan finds in the index are read from
// the ledger a batch at a time: every one of them, in order, whatever the
// number of batches. After a sequence inside the page's one chunk per
// value, only the later events, with details or without.
TEST_P(RollupStoreTest, AFilteredScanWithDetailsReadsEveryEventFound) {
  std::vector<EventSpec> specs;
  for (int64_t sequence = 1; sequence <= 1234; ++sequence) {
    specs.push_back(
        {.sequence = sequence,
         .attributes = {{"store_id", sequence % 3 == 0 ? "hki-01" : "tre-02"}},
         .customer_hash = absl::StrCat("c", sequence)});
  }
  ASSERT_TRUE(store_->Apply(Page(specs)).ok());
  for (const int64_t after : {0, 700}) {
    for (const bool details : {true, false}) {
      ScorecardQuery query = AcmeSwitching();
      query.attributes = {{"store_id", "tre-02"}};
      query.after_sequence = after;
      query.fields = {.details = details, .customer = details};
      std::vector<int64_t> read;
      ASSERT_TRUE(
          store_
              ->ScanLedger(
                  query,
                  [&](const CountedEvent& event) {
                    EXPECT_EQ(event.customer_hash,
                              details ? absl::StrCat("c", event.sequence) : "");
                    read.push_back(event.sequence);
                    return absl::OkStatus();
                  })
              .ok());
      std::vector<int64_t> expected;
      for (int64_t sequence = after + 1; sequence <= 1234; ++sequence) {
        if (sequence % 3 != 0) expected.push_back(sequence);
      }
      EXPECT_EQ(read, expected) << "after " << after << ", details " << details;
    }
  }
}

TEST_P(RollupStoreTest, JourneysWithEventsAreDistinctAndOrdered) {
  EXPECT_TRUE(store_->JourneysWithEvents()->empty());
  ASSERT_TRUE(
      store_
          ->Apply(Page(
              {{.sequence = 1, .tenant = "globex"},
               {.sequence = 2, .journey = "renovation"},
               {.sequence = 3, .journey = "renovation", .journey_version = 2},
               {.sequence = 4, .customer_hash = "anna"},
               {.sequence = 5,
                .offset_seconds = 86'400,
                .customer_hash = "anna"}}))
          .ok());
  using Journey = std::pair<std::string, std::string>;
  EXPECT_THAT(
      *store_->JourneysWithEvents(),
      ElementsAre(Journey{"acme", "renovation"}, Journey{"acme", "switching"},
                  Journey{"globex", "switching"}));
  // A journey whose every event was erased has none left.
  v1::Erasure erasure;
  erasure.set_sequence(6);
  erasure.set_tenant("acme");
  erasure.set_customer_hash("anna");
  ASSERT_TRUE(store_->ApplyErasure(erasure).ok());
  EXPECT_THAT(*store_->JourneysWithEvents(),
              ElementsAre(Journey{"acme", "renovation"},
                          Journey{"globex", "switching"}));
}

v1::Alert MakeAlert(const std::string& id, const std::string& journey,
                    int64_t first_seen_seconds,
                    v1::AlertState state = v1::OPEN) {
  v1::Alert alert;
  alert.set_id(id);
  alert.set_journey(journey);
  alert.set_key("web_site");
  alert.set_metric(v1::CSAT_TOP2_BOX);
  alert.set_before(0.8);
  alert.set_after(0.6);
  alert.set_state(state);
  alert.mutable_first_seen()->set_seconds(first_seen_seconds);
  return alert;
}

std::vector<std::string> Ids(const std::vector<v1::Alert>& alerts) {
  std::vector<std::string> ids;
  for (const v1::Alert& alert : alerts) ids.push_back(alert.id());
  return ids;
}

TEST_P(RollupStoreTest, AlertsAreKeptNewestFirstAcrossRestarts) {
  ASSERT_TRUE(
      store_
          ->SaveAlerts("acme", {MakeAlert("a1", "switching", 100),
                                MakeAlert("a2", "switching", 300),
                                MakeAlert("a3", "renovation", 200),
                                MakeAlert("a4", "switching", 50, v1::CLEARED)})
          .ok());
  ASSERT_TRUE(
      store_->SaveAlerts("globex", {MakeAlert("g1", "switching", 400)}).ok());
  Reopen();
  EXPECT_THAT(Ids(*store_->LoadAlerts("acme", "", false)),
              ElementsAre("a2", "a3", "a1"));
  EXPECT_THAT(Ids(*store_->LoadAlerts("acme", "switching", false)),
              ElementsAre("a2", "a1"));
  EXPECT_THAT(Ids(*store_->LoadAlerts("acme", "switching", true)),
              ElementsAre("a2", "a1", "a4"));
  EXPECT_THAT(Ids(*store_->LoadAlerts("globex", "", true)), ElementsAre("g1"));
  EXPECT_TRUE(store_->LoadAlerts("initech", "", true)->empty());

  // Saving again replaces by id: a1 clears, keeping everything it carries.
  v1::Alert cleared = MakeAlert("a1", "switching", 100, v1::CLEARED);
  cleared.mutable_cleared_at()->set_seconds(500);
  ASSERT_TRUE(store_->SaveAlerts("acme", {cleared}).ok());
  EXPECT_THAT(Ids(*store_->LoadAlerts("acme", "switching", false)),
              ElementsAre("a2"));
  std::vector<v1::Alert> all = *store_->LoadAlerts("acme", "switching", true);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].id(), "a1");
  EXPECT_EQ(all[1].state(), v1::CLEARED);
  EXPECT_EQ(all[1].cleared_at().seconds(), 500);
  EXPECT_EQ(all[1].before(), 0.8);

  absl::Status no_id = store_->SaveAlerts("acme", {MakeAlert("", "j", 1)});
  EXPECT_EQ(no_id.code(), absl::StatusCode::kInvalidArgument);
}

// An emerging-theme alert (alert_monitor.h) is kept with its kind and theme
// like any other, and survives a restart: the monitor's "raised once" rests
// on finding it again.
TEST_P(RollupStoreTest, ThemeAlertsKeepTheirThemeAcrossRestarts) {
  v1::Alert theme = MakeAlert("switching/touchpoint/web_site/theme/"
                              "th_0123456789abcdef/2024-W14",
                              "switching", 700);
  theme.set_kind(v1::EMERGING_THEME);
  theme.clear_metric();
  theme.set_baseline_n(172);
  theme.set_current_n(27);
  theme.set_p_value(1.5e-9);
  theme.mutable_theme()->set_theme_id("th_0123456789abcdef");
  theme.mutable_theme()->set_term("lasku virheellinen");
  theme.mutable_theme()->add_terms("lasku");
  theme.mutable_theme()->add_terms("virheellinen");
  theme.mutable_theme()->set_week("2024-W14");
  theme.mutable_theme()->set_baseline_count(4);
  theme.mutable_theme()->set_current_count(9);
  theme.mutable_theme()->set_z(6.25);
  theme.mutable_theme()->set_log_odds_z(4.5);
  v1::Alert metric = MakeAlert("m1", "switching", 600);
  metric.set_kind(v1::METRIC_CHANGE);
  ASSERT_TRUE(store_->SaveAlerts("acme", {theme, metric}).ok());
  Reopen();
  std::vector<v1::Alert> open = *store_->LoadAlerts("acme", "switching", false);
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[0].SerializeAsString(), theme.SerializeAsString())
      << open[0].DebugString();
  EXPECT_EQ(open[1].kind(), v1::METRIC_CHANGE);
  EXPECT_FALSE(open[1].has_theme());
  // Every journey of the tenant, too.
  EXPECT_THAT(Ids(*store_->LoadAlerts("acme", "", false)),
              ElementsAre(theme.id(), "m1"));
}

INSTANTIATE_TEST_SUITE_P(Backends, RollupStoreTest, testing::AllBackends(),
                         testing::BackendName);

}  // namespace
}  // namespace polku::insight
