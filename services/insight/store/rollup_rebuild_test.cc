// Rebuild from feed sequence 0 equals the incrementally maintained rollups.
//
// A simulated change feed (several tenants, journeys, versions, days;
// ratings, measures, attributes; erasures that remove a customer's earlier
// events from the feed) is applied incrementally as it grows, with the store
// closed and reopened mid-run and pages re-delivered from older positions.
// A fresh store is then fed the surviving feed from the start. Every row of
// every rollup table, and scorecards over many groupings and filters, must be
// identical; the numbers must also match a plain in-memory count. On every
// backend (SQLite, PostgreSQL); rows are compared within one backend.
#include <stdlib.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/insight/store/rollup_conformance_util.h"

namespace polku::insight {
namespace {

using testing::Backend;
using testing::DeliverPage;
using testing::Entry;
using testing::FirstDifference;
using testing::kJourneys;
using testing::kTenants;
using testing::Queries;
using testing::ScorecardOf;
using testing::TestDatabase;
using testing::Visible;

uint64_t SeedFromEnvironment(uint64_t fallback) {
  const char* seed = getenv("POLKU_REBUILD_SEED");
  return seed != nullptr ? std::strtoull(seed, nullptr, 10) : fallback;
}

class RollupRebuildTest
    : public ::testing::TestWithParam<std::tuple<Backend, uint64_t>> {};

TEST_P(RollupRebuildTest, RebuildFromTheStartEqualsIncremental) {
  const Backend backend = std::get<0>(GetParam());
  const uint64_t seed = SeedFromEnvironment(std::get<1>(GetParam()));
  SCOPED_TRACE(absl::StrCat("seed ", seed,
                            " (rerun with POLKU_REBUILD_SEED=", seed, ")"));
  testing::FeedSimulation simulation(seed);
  const std::vector<Entry> feed = simulation.Generate(3000);

  // Incrementally, as the feed grows, with restarts.
  std::unique_ptr<TestDatabase> incremental = TestDatabase::Create(backend);
  ASSERT_NE(incremental, nullptr);
  std::unique_ptr<RollupStore> store = incremental->Open();
  ASSERT_NE(store, nullptr);
  size_t committed = 0;
  size_t position = 0;
  int restarts = 0;
  for (int step = 0; position < feed.size() && step < 100'000; ++step) {
    committed = std::min(feed.size(), committed + simulation.Uniform(0, 40));
    ASSERT_TRUE(DeliverPage(*store, feed, committed, simulation.Uniform(1, 50),
                            &position)
                    .ok());
    if (simulation.Chance(0.02)) {
      // A restart: the tailer resumes from an older position, so pages the
      // store counted already come again (split differently).
      store.reset();
      store = incremental->Open();
      ASSERT_NE(store, nullptr);
      ++restarts;
      const size_t back = simulation.Uniform(0, 60);
      position = position > back ? position - back : 0;
    }
  }
  ASSERT_EQ(position, feed.size());
  EXPECT_GE(restarts, 3);

  // Rebuilt: a fresh store reads the whole surviving feed from the start.
  std::unique_ptr<TestDatabase> rebuilt_db = TestDatabase::Create(backend);
  ASSERT_NE(rebuilt_db, nullptr);
  std::unique_ptr<RollupStore> rebuilt = rebuilt_db->Open();
  ASSERT_NE(rebuilt, nullptr);
  for (size_t at = 0; at < feed.size();) {
    ASSERT_TRUE(DeliverPage(*rebuilt, feed, feed.size(),
                            simulation.Uniform(1, 500), &at)
                    .ok());
  }
  EXPECT_EQ(*store->Checkpoint(), feed.back().sequence());
  EXPECT_EQ(*rebuilt->Checkpoint(), feed.back().sequence());

  const std::vector<std::string> incremental_rows = incremental->Dump();
  const std::vector<std::string> rebuilt_rows = rebuilt_db->Dump();
  EXPECT_GT(rebuilt_rows.size(), 1000u);
  EXPECT_EQ(incremental_rows.size(), rebuilt_rows.size());
  EXPECT_EQ(FirstDifference(incremental_rows, rebuilt_rows), "");
  // The attribute index holds the same events (an event once per attribute;
  // chunks are cut where the pages were, so they differ), and an erasure
  // left no chunk empty.
  const std::vector<int64_t> indexed = incremental->IndexedSequences();
  EXPECT_GT(indexed.size(), 1000u);
  EXPECT_EQ(indexed, rebuilt_db->IndexedSequences());
  for (const std::string& chunk : incremental->AttributeChunks()) {
    std::vector<CountedEvent> events;
    ASSERT_TRUE(DecodeChunk(chunk, events).ok());
    EXPECT_FALSE(events.empty());
  }

  int compared = 0;
  for (const ScorecardQuery& query : Queries()) {
    const std::string expected = ScorecardOf(*rebuilt, query);
    ASSERT_EQ(ScorecardOf(*store, query), expected)
        << query.tenant << "/" << query.journey << " grouping "
        << static_cast<int>(query.group_by);
    // An attribute every event has: the counted events give the rollups'
    // own answer.
    if (query.attributes.empty()) {
      ScorecardQuery everything = query;
      everything.attributes = {{"feed", "simulated"}};
      ASSERT_EQ(ScorecardOf(*store, everything), expected);
    }
    ++compared;
  }
  EXPECT_EQ(compared, 3 * 2 * 4 * 6);

  // And the numbers are the surviving events', counted plainly.
  struct Plain {
    int64_t events = 0;
    stats::CsatHistogram csat{};
    int64_t waits = 0;
    int64_t wait_milli = 0;
  };
  std::map<std::string, Plain> plain;  // "tenant/journey/touchpoint"
  for (size_t i = 0; i < feed.size(); ++i) {
    if (feed[i].erasure || !Visible(feed, i, feed.size())) continue;
    const v1::StoredEvent& e = feed[i].event;
    Plain& p = plain[absl::StrCat(e.tenant(), "/", e.journey(), "/",
                                  e.event().touchpoint())];
    ++p.events;
    if (e.event().has_csat() && e.event().csat() <= 5) {
      ++p.csat[e.event().csat() - 1];
    }
    auto wait = e.event().measures().find("wait_seconds");
    if (wait != e.event().measures().end() && std::isfinite(wait->second)) {
      ++p.waits;
      p.wait_milli += static_cast<int64_t>(std::round(wait->second * 1000));
    }
  }
  for (const std::string& tenant : kTenants) {
    for (const std::string& journey : kJourneys) {
      absl::StatusOr<GroupedRollups> rollups =
          store->Scorecard({.tenant = tenant, .journey = journey});
      ASSERT_TRUE(rollups.ok()) << rollups.status();
      for (const GroupRollup& group : rollups->groups) {
        const Plain& p =
            plain[absl::StrCat(tenant, "/", journey, "/", group.group)];
        EXPECT_EQ(group.events, p.events) << group.group;
        EXPECT_EQ(group.csat, p.csat) << group.group;
        auto wait = group.measures.find("wait_seconds");
        EXPECT_EQ(wait == group.measures.end() ? 0 : wait->second.n, p.waits);
        EXPECT_EQ(wait == group.measures.end() ? 0 : wait->second.sum_milli,
                  p.wait_milli);
        plain.erase(absl::StrCat(tenant, "/", journey, "/", group.group));
      }
    }
  }
  EXPECT_TRUE(plain.empty()) << plain.size() << " groups missing, e.g. "
                             << (plain.empty() ? "" : plain.begin()->first);
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, RollupRebuildTest,
    ::testing::Combine(testing::AllBackends(),
                       ::testing::Values(20261122, 7, 424242)),
    [](const ::testing::TestParamInfo<std::tuple<Backend, uint64_t>>& info) {
      return absl::StrCat(testing::NameOf(std::get<0>(info.param)), "_",
                          std::get<1>(info.param));
    });

}  // namespace
}  // namespace polku::insight
