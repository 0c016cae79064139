// Test helpers for running the same RollupStore tests on every backend, and
// a simulated change feed (events, erasures, re-deliveries) to drive them.
//
//   class MyTest : public ::testing::TestWithParam<testing::Backend> {};
//   TEST_P(MyTest, Works) {
//     std::unique_ptr<testing::TestDatabase> db =
//         testing::TestDatabase::Create(GetParam());
//     std::unique_ptr<RollupStore> store = db->Open();   // any number of times
//     std::vector<std::string> rows = db->Dump();         // every table row
//   }
//   INSTANTIATE_TEST_SUITE_P(Backends, MyTest, testing::AllBackends(),
//                            testing::BackendName);
#ifndef POLKU_SERVICES_INSIGHT_ROLLUP_CONFORMANCE_UTIL_H_
#define POLKU_SERVICES_INSIGHT_ROLLUP_CONFORMANCE_UTIL_H_

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "lib/postgres/postgres.h"
#include "lib/postgres/testing/shared_server.h"
#include "lib/sqlite/sqlite.h"
#include "services/insight/postgres/pg_rollup_store.h"
#include "services/insight/sqlite/sqlite_rollup_store.h"
#include "services/insight/store/attribute_index.h"
#include "services/insight/store/memory_rollup_store.h"
#include "services/insight/store/rollup_math.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight::testing {

enum class Backend { kSqlite, kPostgres, kMemory };

inline void PrintTo(Backend backend, std::ostream* out) {
  *out << (backend == Backend::kSqlite     ? "SQLite"
           : backend == Backend::kPostgres ? "PostgreSQL"
                                           : "memory");
}

inline auto AllBackends() {
  return ::testing::Values(Backend::kSqlite, Backend::kPostgres,
                           Backend::kMemory);
}

inline std::string NameOf(Backend backend) {
  return backend == Backend::kSqlite     ? "Sqlite"
         : backend == Backend::kPostgres ? "Postgres"
                                         : "Memory";
}

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return NameOf(info.param);
}

// One database of a backend; stores opened on it share its rows, as
// replicas (PostgreSQL) or restarts (both) do.
class TestDatabase {
 public:
  static std::unique_ptr<TestDatabase> Create(Backend backend) {
    auto db = std::unique_ptr<TestDatabase>(new TestDatabase(backend));
    if (backend == Backend::kSqlite) {
      db->location_ = ScratchDir() + "/insight.db";
    } else if (backend == Backend::kMemory) {
      db->memory_ = std::make_shared<MemoryDatabase>();
    } else {
      absl::StatusOr<std::string> url = postgres::testing::NewDatabase();
      EXPECT_TRUE(url.ok()) << url.status();
      if (!url.ok()) return nullptr;
      db->location_ = *url;
    }
    return db;
  }

  Backend backend() const { return backend_; }
  // The SQLite file's path or the PostgreSQL URL.
  const std::string& location() const { return location_; }

  absl::StatusOr<std::unique_ptr<RollupStore>> TryOpen(
      std::vector<std::unique_ptr<Projection>> extra = {}) const {
    if (backend_ == Backend::kMemory) {
      return std::unique_ptr<RollupStore>(
          new MemoryRollupStore(memory_, std::move(extra)));
    }
    if (backend_ == Backend::kSqlite) {
      absl::StatusOr<std::unique_ptr<SqliteRollupStore>> store =
          SqliteRollupStore::Open(location_, /*durable=*/false,
                                  std::move(extra));
      if (!store.ok()) return store.status();
      return std::unique_ptr<RollupStore>(*std::move(store));
    }
    absl::StatusOr<std::unique_ptr<PgRollupStore>> store =
        PgRollupStore::Open(location_, {}, std::move(extra));
    if (!store.ok()) return store.status();
    return std::unique_ptr<RollupStore>(*std::move(store));
  }

  std::unique_ptr<RollupStore> Open(
      std::vector<std::unique_ptr<Projection>> extra = {}) const {
    absl::StatusOr<std::unique_ptr<RollupStore>> store =
        TryOpen(std::move(extra));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Every row of the rollup tables and the checkpoint, ordered, one string
  // per row; comparable between two databases of the same backend.
  std::vector<std::string> Dump() const {
    if (backend_ == Backend::kMemory) return DumpMemory();
    return backend_ == Backend::kSqlite ? DumpSqlite() : DumpPostgres();
  }

  // The sequences with a row in event_details (the ledger's, in memory).
  std::vector<int64_t> DetailSequences() const {
    if (backend_ == Backend::kMemory) {
      std::vector<int64_t> sequences;
      for (const auto& [sequence, event] : memory_->Copy().ledger) {
        sequences.push_back(sequence);
      }
      return sequences;
    }
    return SequencesIn("event_details");
  }

  // The sequences the attribute index's chunks hold, ascending (an event
  // with two attributes once per attribute).
  std::vector<int64_t> IndexedSequences() const {
    std::vector<CountedEvent> events;
    for (const std::string& chunk : AttributeChunks()) {
      const absl::Status decoded = DecodeChunk(chunk, events);
      EXPECT_TRUE(decoded.ok()) << decoded;
    }
    std::vector<int64_t> sequences;
    for (const CountedEvent& event : events) {
      sequences.push_back(event.sequence);
    }
    std::sort(sequences.begin(), sequences.end());
    return sequences;
  }

  // The attribute index's chunks as stored, in no particular order.
  std::vector<std::string> AttributeChunks() const {
    std::vector<std::string> chunks;
    if (backend_ == Backend::kMemory) {
      for (const auto& [key, chunk] : memory_->Copy().attribute_chunks) {
        chunks.push_back(chunk.events);
      }
    } else if (backend_ == Backend::kSqlite) {
      absl::StatusOr<std::unique_ptr<sqlite::Database>> db =
          sqlite::Database::Open(location_);
      EXPECT_TRUE(db.ok()) << db.status();
      if (!db.ok()) return {};
      absl::StatusOr<sqlite::Statement*> select =
          (*db)->Prepare("SELECT events FROM ledger_attribute_chunks");
      EXPECT_TRUE(select.ok()) << select.status();
      while (select.ok() && Next(**select)) {
        chunks.push_back((*select)->ColumnBlob(0));
      }
    } else {
      absl::StatusOr<std::unique_ptr<postgres::Connection>> db =
          postgres::Connection::Open(location_, absl::Seconds(10));
      EXPECT_TRUE(db.ok()) << db.status();
      if (!db.ok()) return {};
      absl::StatusOr<postgres::Result> rows =
          (*db)->Execute("SELECT events FROM ledger_attribute_chunks");
      EXPECT_TRUE(rows.ok()) << rows.status();
      for (int row = 0; rows.ok() && row < rows->rows(); ++row) {
        chunks.push_back(rows->Bytes(row, 0));
      }
    }
    return chunks;
  }

 private:
  // The distinct sequences of a SQL table, ascending.
  std::vector<int64_t> SequencesIn(const std::string& table) const {
    std::vector<int64_t> sequences;
    const std::string sql = absl::StrCat("SELECT DISTINCT sequence FROM ", table,
                                         " ORDER BY sequence");
    if (backend_ == Backend::kSqlite) {
      absl::StatusOr<std::unique_ptr<sqlite::Database>> db =
          sqlite::Database::Open(location_);
      EXPECT_TRUE(db.ok()) << db.status();
      if (!db.ok()) return sequences;
      absl::StatusOr<sqlite::Statement*> select = (*db)->Prepare(sql);
      EXPECT_TRUE(select.ok()) << select.status();
      while (select.ok() && Next(**select)) {
        sequences.push_back((*select)->ColumnInt(0));
      }
    } else if (backend_ == Backend::kPostgres) {
      absl::StatusOr<std::unique_ptr<postgres::Connection>> db =
          postgres::Connection::Open(location_, absl::Seconds(10));
      EXPECT_TRUE(db.ok()) << db.status();
      if (!db.ok()) return sequences;
      absl::StatusOr<postgres::Result> rows = (*db)->Execute(sql);
      EXPECT_TRUE(rows.ok()) << rows.status();
      for (int row = 0; rows.ok() && row < rows->rows(); ++row) {
        sequences.push_back(rows->Int(row, 0));
      }
    }
    return sequences;
  }

  explicit TestDatabase(Backend backend) : backend_(backend) {}

  static constexpr const char* kTables[] = {"rollups", "rollup_measures",
                                            "counted_events"};

  static bool Next(sqlite::Statement& statement) {
    absl::StatusOr<bool> row = statement.Step();
    EXPECT_TRUE(row.ok()) << row.status();
    return row.ok() && *row;
  }

  std::vector<std::string> DumpSqlite() const {
    std::vector<std::string> rows;
    sqlite::Database::Options options;
    options.read_only = true;
    absl::StatusOr<std::unique_ptr<sqlite::Database>> db =
        sqlite::Database::Open(location_, options);
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return rows;
    for (const char* table : kTables) {
      absl::StatusOr<sqlite::Statement*> info =
          (*db)->Prepare(absl::StrCat("PRAGMA table_info(", table, ")"));
      EXPECT_TRUE(info.ok()) << info.status();
      if (!info.ok()) return rows;
      std::vector<std::string> columns;
      std::vector<std::string> positions;
      while (Next(**info)) {
        columns.push_back(absl::StrCat("quote(", (*info)->ColumnText(1), ")"));
        positions.push_back(absl::StrCat(columns.size()));
      }
      (*info)->Reset();
      absl::StatusOr<sqlite::Statement*> select = (*db)->Prepare(absl::StrCat(
          "SELECT '", table, "', ", absl::StrJoin(columns, ", "), " FROM ",
          table, " ORDER BY ", absl::StrJoin(positions, ", ")));
      EXPECT_TRUE(select.ok()) << select.status();
      if (!select.ok()) return rows;
      while (Next(**select)) {
        std::vector<std::string> values;
        for (size_t i = 0; i <= columns.size(); ++i) {
          values.push_back((*select)->ColumnText(i));
        }
        rows.push_back(absl::StrJoin(values, "|"));
      }
      (*select)->Reset();
    }
    absl::StatusOr<sqlite::Statement*> checkpoint =
        (*db)->Prepare("SELECT sequence FROM checkpoint");
    if (checkpoint.ok() && Next(**checkpoint)) {
      rows.push_back(absl::StrCat("checkpoint|", (*checkpoint)->ColumnInt(0)));
    }
    return rows;
  }

  std::vector<std::string> DumpPostgres() const {
    std::vector<std::string> rows;
    absl::StatusOr<std::unique_ptr<postgres::Connection>> db =
        postgres::Connection::Open(location_, absl::Seconds(10));
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return rows;
    for (const char* table : kTables) {
      // A row's text form, e.g. (acme,switching,1,…), ordered bytewise.
      absl::StatusOr<postgres::Result> result = (*db)->Execute(
          absl::StrCat("SELECT (t.*)::text COLLATE \"C\" AS r FROM ", table,
                       " t ORDER BY r"));
      EXPECT_TRUE(result.ok()) << result.status();
      if (!result.ok()) return rows;
      for (int row = 0; row < result->rows(); ++row) {
        rows.push_back(absl::StrCat(table, "|", result->Text(row, 0)));
      }
    }
    absl::StatusOr<postgres::Result> checkpoint =
        (*db)->Execute("SELECT sequence FROM checkpoint");
    EXPECT_TRUE(checkpoint.ok()) << checkpoint.status();
    if (checkpoint.ok() && checkpoint->rows() == 1) {
      rows.push_back(absl::StrCat("checkpoint|", checkpoint->Int(0, 0)));
    }
    return rows;
  }

  std::vector<std::string> DumpMemory() const {
    const MemoryTables tables = memory_->Copy();
    std::vector<std::string> rows;
    for (const auto& [key, row] : tables.rollups) {
      const auto& [tenant, journey, version, touchpoint, stage, channel, day] =
          key;
      rows.push_back(absl::StrCat("rollups|", tenant, "|", journey, "|",
                                  version, "|", touchpoint, "|", stage, "|",
                                  channel, "|", day, "|", row.events, "|",
                                  absl::StrJoin(row.histogram, "|")));
      for (const auto& [measure, sum] : row.measures) {
        rows.push_back(absl::StrCat("rollup_measures|", tenant, "|", journey,
                                    "|", version, "|", touchpoint, "|", stage,
                                    "|", channel, "|", day, "|", measure, "|",
                                    sum.n, "|", sum.sum_milli, "|",
                                    Int128ToString(sum.sum_squares_milli2)));
      }
    }
    for (const auto& [sequence, event] : tables.ledger) {
      rows.push_back(absl::StrCat(
          "counted_events|", sequence, "|", event.customer_hash, "|",
          EncodePairs(event.attributes), "|", EncodeMeasures(event.measures)));
    }
    std::sort(rows.begin(), rows.end());
    rows.push_back(absl::StrCat("checkpoint|", tables.sequence));
    return rows;
  }

  Backend backend_;
  std::string location_;
  std::shared_ptr<MemoryDatabase> memory_;
};

// The first difference of two dumps, or "" when equal.
inline std::string FirstDifference(const std::vector<std::string>& a,
                                   const std::vector<std::string>& b) {
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::string left = i < a.size() ? a[i] : "(none)";
    const std::string right = i < b.size() ? b[i] : "(none)";
    if (left != right) {
      return absl::StrCat("row ", i, ":\n  first  ", left, "\n  second ",
                          right);
    }
  }
  return "";
}

// ---------------------------------------------------------------------------
// A simulated change feed.

// One position of the feed: an event, or an erasure of a customer's events
// before it.
struct Entry {
  v1::StoredEvent event;
  std::optional<v1::Erasure> erasure;
  int64_t sequence() const {
    return erasure ? erasure->sequence() : event.sequence();
  }
};

inline const std::vector<std::string> kTenants = {"acme", "globex", "initech"};
inline const std::vector<std::string> kJourneys = {"switching", "renovation"};
inline const std::vector<std::string> kTouchpoints = {
    "web_site", "search_ad", "shop_sales", "call", "welcome_mail"};
inline const std::vector<std::string> kStages = {"research", "purchase", "use"};
inline const std::vector<std::string> kChannels = {"web", "shop", "phone",
                                                   "email"};
inline const std::vector<std::string> kStores = {"hki-01", "tre-02", "oulu&3",
                                                 "a=b%c"};

class FeedSimulation {
 public:
  explicit FeedSimulation(uint64_t seed) : random_(seed) {}

  // `events` events with an erasure now and then, and one at the end.
  std::vector<Entry> Generate(int events) {
    std::vector<Entry> feed;
    int64_t sequence = 0;
    for (int i = 0; i < events; ++i) {
      if (Chance(0.015)) feed.push_back(Erasure(++sequence));
      feed.push_back({.event = Event(++sequence)});
    }
    feed.push_back(Erasure(++sequence));
    return feed;
  }

  int Uniform(int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(random_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(random_); }

 private:
  std::string Customer() { return absl::StrCat("customer-", Uniform(1, 40)); }

  Entry Erasure(int64_t sequence) {
    v1::Erasure erasure;
    erasure.set_sequence(sequence);
    erasure.set_tenant(kTenants[Uniform(0, kTenants.size() - 1)]);
    erasure.set_customer_hash(Customer());
    return {.erasure = erasure};
  }

  std::optional<int> Score(int low, int high) {
    if (!Chance(0.6)) return std::nullopt;
    if (Chance(0.01)) return high + 1;  // out of range: not counted
    return Uniform(low, high);
  }

  double Measure() {
    if (Chance(0.01)) return std::nan("");
    if (Chance(0.3)) return Uniform(0, 600000) / 1000.0;  // whole thousandths
    return std::uniform_real_distribution<double>(0, 900)(random_);
  }

  v1::StoredEvent Event(int64_t sequence) {
    const int touchpoint = Uniform(0, kTouchpoints.size() - 1);
    const int version = Uniform(1, 3);
    EventSpec spec{
        .sequence = sequence,
        .tenant = kTenants[Uniform(0, kTenants.size() - 1)],
        .journey = kJourneys[Uniform(0, kJourneys.size() - 1)],
        .journey_version = version,
        .touchpoint = kTouchpoints[touchpoint],
        // Version 3 moved touchpoints to other stages.
        .stage = kStages[(touchpoint + (version == 3 ? 1 : 0)) % 3],
        .channel = kChannels[Uniform(0, kChannels.size() - 1)],
        // Twenty days from the day before March 1, any second of them.
        .offset_seconds = Uniform(-86'400, 19 * 86'400),
        .csat = Score(1, 5),
        .nps = Score(0, 10),
        .ces = Score(1, 7),
        .customer_hash = Customer(),
    };
    if (Chance(0.5)) spec.measures["wait_seconds"] = Measure();
    if (Chance(0.3)) spec.measures["handle_seconds"] = Measure();
    spec.attributes["feed"] = "simulated";  // on every event
    if (Chance(0.7)) {
      spec.attributes["store_id"] = kStores[Uniform(0, kStores.size() - 1)];
    }
    if (Chance(0.3)) spec.attributes["campaign"] = "spring";
    return MakeEvent(spec);
  }

  std::mt19937_64 random_;
};

// The feed as a reader sees it once entries [0, committed) exist: an
// erasure has removed the customer's earlier events.
inline bool Visible(const std::vector<Entry>& feed, size_t index,
                    size_t committed) {
  const Entry& entry = feed[index];
  if (entry.erasure) return true;
  for (size_t i = index + 1; i < committed; ++i) {
    const std::optional<v1::Erasure>& erasure = feed[i].erasure;
    if (erasure && erasure->tenant() == entry.event.tenant() &&
        erasure->customer_hash() == entry.event.customer_hash()) {
      return false;
    }
  }
  return true;
}

// Delivers one page from `*position` as the feed does (consecutive visible
// events up to `limit`, or one erasure) and moves `*position` past it.
inline absl::Status DeliverPage(RollupStore& store,
                                const std::vector<Entry>& feed,
                                size_t committed, int limit, size_t* position) {
  while (*position < committed && !Visible(feed, *position, committed)) {
    ++*position;
  }
  if (*position >= committed) return absl::OkStatus();
  if (feed[*position].erasure) {
    return store.ApplyErasure(*feed[(*position)++].erasure);
  }
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  while (*position < committed && page.size() < limit &&
         !feed[*position].erasure) {
    if (Visible(feed, *position, committed)) {
      *page.Add() = feed[*position].event;
    }
    ++*position;
  }
  return store.Apply(page);
}

// Scorecards over groupings and filters, for every tenant and journey.
inline std::vector<ScorecardQuery> Queries() {
  std::vector<ScorecardQuery> queries;
  for (const std::string& tenant : kTenants) {
    for (const std::string& journey : kJourneys) {
      for (Grouping g : {Grouping::kTouchpoint, Grouping::kStage,
                         Grouping::kChannel, Grouping::kDay}) {
        ScorecardQuery base{
            .tenant = tenant, .journey = journey, .group_by = g};
        queries.push_back(base);
        ScorecardQuery q = base;
        q.journey_version = 3;
        q.start_day = kMarch1 + 2;
        q.end_day = kMarch1 + 9;
        queries.push_back(q);
        q = base;
        q.touchpoints = {"call", "web_site"};
        q.channel = "phone";
        queries.push_back(q);
        q = base;
        q.stage = "purchase";
        queries.push_back(q);
        q = base;
        q.attributes = {{"store_id", "oulu&3"}};
        queries.push_back(q);
        q.attributes = {{"store_id", "a=b%c"}, {"campaign", "spring"}};
        q.journey_version = 1;
        queries.push_back(q);
      }
    }
  }
  return queries;
}

inline std::string ScorecardOf(RollupStore& store,
                               const ScorecardQuery& query) {
  absl::StatusOr<GroupedRollups> rollups = store.Scorecard(query);
  EXPECT_TRUE(rollups.ok()) << rollups.status();
  return rollups.ok() ? Describe(*rollups) : "";
}

}  // namespace polku::insight::testing

#endif  // POLKU_SERVICES_INSIGHT_ROLLUP_CONFORMANCE_UTIL_H_
