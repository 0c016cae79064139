#include "services/insight/sqlite_rollup_store.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"
#include "services/insight/rollup_math.h"

namespace polku::insight {
namespace {

constexpr char kKeyColumns[] =
    "tenant, journey, journey_version, touchpoint, stage, channel, day";
constexpr int kKeyColumnCount = 7;

// Version 1: the rollups and the feed checkpoint. The histogram columns are
// spelled out so the schema reads as it is stored.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE rollups (
  tenant TEXT NOT NULL,
  journey TEXT NOT NULL,
  journey_version INTEGER NOT NULL,
  touchpoint TEXT NOT NULL,
  stage TEXT NOT NULL,
  channel TEXT NOT NULL,
  day INTEGER NOT NULL,  -- UTC date of occurred_at, days since 1970-01-01
  events INTEGER NOT NULL DEFAULT 0,
  csat_1 INTEGER NOT NULL DEFAULT 0, csat_2 INTEGER NOT NULL DEFAULT 0,
  csat_3 INTEGER NOT NULL DEFAULT 0, csat_4 INTEGER NOT NULL DEFAULT 0,
  csat_5 INTEGER NOT NULL DEFAULT 0,
  nps_0 INTEGER NOT NULL DEFAULT 0, nps_1 INTEGER NOT NULL DEFAULT 0,
  nps_2 INTEGER NOT NULL DEFAULT 0, nps_3 INTEGER NOT NULL DEFAULT 0,
  nps_4 INTEGER NOT NULL DEFAULT 0, nps_5 INTEGER NOT NULL DEFAULT 0,
  nps_6 INTEGER NOT NULL DEFAULT 0, nps_7 INTEGER NOT NULL DEFAULT 0,
  nps_8 INTEGER NOT NULL DEFAULT 0, nps_9 INTEGER NOT NULL DEFAULT 0,
  nps_10 INTEGER NOT NULL DEFAULT 0,
  ces_1 INTEGER NOT NULL DEFAULT 0, ces_2 INTEGER NOT NULL DEFAULT 0,
  ces_3 INTEGER NOT NULL DEFAULT 0, ces_4 INTEGER NOT NULL DEFAULT 0,
  ces_5 INTEGER NOT NULL DEFAULT 0, ces_6 INTEGER NOT NULL DEFAULT 0,
  ces_7 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, journey, journey_version, touchpoint, stage, channel, day)
) WITHOUT ROWID;

CREATE TABLE checkpoint (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  sequence INTEGER NOT NULL  -- last feed sequence counted in rollups
);
INSERT INTO checkpoint (id, sequence) VALUES (1, 0);
)sql";

// Version 2: the feed the checkpoint belongs to, and what each counted event
// added, for erasures. Events counted before version 2 have no row there and
// cannot be subtracted; rebuild insight.db to make erasures exact for them.
constexpr char kSchemaV2[] = R"sql(
ALTER TABLE checkpoint ADD COLUMN feed_id TEXT NOT NULL DEFAULT '';
-- One b-tree, keyed for the erasure's lookup: the cheapest per-event write.
CREATE TABLE counted_events (
  tenant TEXT NOT NULL,
  customer_hash TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  journey TEXT NOT NULL,
  journey_version INTEGER NOT NULL,
  touchpoint TEXT NOT NULL,
  stage TEXT NOT NULL,
  channel TEXT NOT NULL,
  day INTEGER NOT NULL,
  csat INTEGER, nps INTEGER, ces INTEGER,
  PRIMARY KEY (tenant, customer_hash, sequence)
) WITHOUT ROWID;
)sql";

// Version 3: sums of the operational measures per rollup row; each counted
// event's measures and attributes (for erasures and attribute filters); and
// change alerts. Measures and attributes of events counted before version 3
// are not known: rebuild insight.db to have them.
//
// counted_events.attributes and .measures are canonical text: "key=value"
// pairs sorted by key and joined by '&', with '%', '&', '=' and NUL in keys
// and values percent-escaped; measure values are integer thousandths (see
// rollup_math.h).
constexpr char kSchemaV3[] = R"sql(
CREATE TABLE rollup_measures (
  tenant TEXT NOT NULL,
  journey TEXT NOT NULL,
  journey_version INTEGER NOT NULL,
  touchpoint TEXT NOT NULL,
  stage TEXT NOT NULL,
  channel TEXT NOT NULL,
  day INTEGER NOT NULL,
  measure TEXT NOT NULL,
  n INTEGER NOT NULL,          -- values summed
  sum_milli INTEGER NOT NULL,  -- Σ value, in thousandths
  -- Σ (value in thousandths)², up to 127 bits, in three parts summable in
  -- SQL: high · 2⁶⁴ + mid · 2³² + low, with 0 ≤ mid, low < 2³².
  sum_squares_high INTEGER NOT NULL,
  sum_squares_mid INTEGER NOT NULL,
  sum_squares_low INTEGER NOT NULL,
  PRIMARY KEY (tenant, journey, journey_version, touchpoint, stage, channel,
               day, measure)
) WITHOUT ROWID;

ALTER TABLE counted_events ADD COLUMN attributes TEXT NOT NULL DEFAULT '';
ALTER TABLE counted_events ADD COLUMN measures TEXT NOT NULL DEFAULT '';
-- Attribute-filtered scorecards read one journey's days.
CREATE INDEX counted_events_by_journey
  ON counted_events (tenant, journey, day);

CREATE TABLE alerts (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  journey TEXT NOT NULL,
  state INTEGER NOT NULL,              -- polku.v1.AlertState
  first_seen_micros INTEGER NOT NULL,  -- Unix microseconds
  alert BLOB NOT NULL,                 -- serialized polku.v1.Alert
  PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
)sql";

// Version 4: the counted-events ledger becomes a rowid table keyed by the
// feed sequence, so that each new event appends at the end of its b-tree
// instead of landing at a random place in a b-tree keyed by customer (which
// dirtied a page per event and made the commits of a busy feed page-write
// bound). The erasure's lookup moves to a compact index on the customer
// hash's first 8 characters: 32 bits of a keyed hash, so a lookup finds few
// other customers' rows even in a ledger of millions (the full hash is
// compared on the rows found), and its entries are a third smaller than with
// 64 bits, which measurably cheapens the one random insert left per event.
// Existing rows are copied.
constexpr char kSchemaV4[] = R"sql(
CREATE TABLE counted_events_v4 (
  tenant TEXT NOT NULL,
  customer_hash TEXT NOT NULL,
  sequence INTEGER PRIMARY KEY,
  journey TEXT NOT NULL,
  journey_version INTEGER NOT NULL,
  touchpoint TEXT NOT NULL,
  stage TEXT NOT NULL,
  channel TEXT NOT NULL,
  day INTEGER NOT NULL,
  csat INTEGER, nps INTEGER, ces INTEGER,
  attributes TEXT NOT NULL DEFAULT '',
  measures TEXT NOT NULL DEFAULT ''
);
INSERT INTO counted_events_v4 (tenant, customer_hash, sequence, journey,
  journey_version, touchpoint, stage, channel, day, csat, nps, ces,
  attributes, measures)
SELECT tenant, customer_hash, sequence, journey, journey_version, touchpoint,
  stage, channel, day, csat, nps, ces, attributes, measures
FROM counted_events ORDER BY sequence;
DROP TABLE counted_events;
ALTER TABLE counted_events_v4 RENAME TO counted_events;
CREATE INDEX counted_events_by_journey
  ON counted_events (tenant, journey, day);
CREATE INDEX counted_events_by_customer
  ON counted_events (substr(customer_hash, 1, 8));
)sql";

// Version 5: the customer index leads with the sequence's segment (4096
// sequences), so each event's entry lands among the current segment's few
// pages. Keyed by the hash alone, it took the one random insert left per
// event, each dirtying a page written whole to the WAL and again by the
// checkpointer. WAL frames per 1000 events (1000-event transactions, 1 M
// events, 10007 customers), hash-keyed / no index / this one: 1217 / 170 /
// 190 on polku-feedback's equivalent index, 1051 / 55 / 74 on this ledger.
// An erasure probes every segment that holds events instead
// (kCustomerSequencesSql).
constexpr char kSchemaV5[] = R"sql(
DROP INDEX counted_events_by_customer;
CREATE INDEX counted_events_by_customer
  ON counted_events (sequence >> 12, substr(customer_hash, 1, 8));
)sql";

// One customer's counted events (?1 tenant, ?2 customer hash): a probe of
// counted_events_by_customer per segment of 4096 sequences that holds
// events (~2,400 for 10 M events; the step to the next such segment is one
// rowid seek, so gaps cost nothing; an empty ledger has one NULL segment,
// which matches nothing). CROSS JOIN and INDEXED BY keep the planner to
// that, whatever its statistics say. The unary + on customer_hash keeps
// SQLite from substituting ?2 for it in the indexed expression (constant
// propagation), which would leave the index unusable.
constexpr char kCustomerSequencesSql[] =
    "WITH RECURSIVE segment(s) AS ("
    " SELECT min(sequence) >> 12 FROM counted_events"
    " UNION ALL SELECT (SELECT min(sequence) FROM counted_events"
    " WHERE sequence >= (s + 1) << 12) >> 12"
    " FROM segment WHERE s IS NOT NULL)"
    " SELECT sequence FROM segment CROSS JOIN counted_events"
    " INDEXED BY counted_events_by_customer"
    " WHERE (sequence >> 12) = s"
    " AND substr(customer_hash, 1, 8) = substr(?2, 1, 8)"
    " AND tenant = ?1 AND +customer_hash = ?2";

// Each new sequence is above every counted one (Apply skips the rest), so a
// conflict here would mean the ledger and the checkpoint disagree: an error,
// never a silent replacement.
constexpr char kRecordCountedSql[] =
    "INSERT INTO counted_events (sequence, tenant, customer_hash,"
    " journey, journey_version, touchpoint, stage, channel, day, csat, nps,"
    " ces, attributes, measures)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

// INSERT … ON CONFLICT DO UPDATE adding the page's counts to the row.
const std::string& UpsertSql() {
  static const std::string* sql = [] {
    std::vector<std::string> columns = HistogramColumns();
    columns.insert(columns.begin(), "events");
    std::vector<std::string> params;
    std::vector<std::string> sums;
    for (size_t i = 0; i < kKeyColumnCount + columns.size(); ++i) {
      params.push_back(absl::StrCat("?", i + 1));
    }
    for (const std::string& c : columns) {
      sums.push_back(absl::StrCat(c, " = ", c, " + excluded.", c));
    }
    return new std::string(absl::StrCat(
        "INSERT INTO rollups (", kKeyColumns, ", ",
        absl::StrJoin(columns, ", "), ") VALUES (", absl::StrJoin(params, ", "),
        ") ON CONFLICT (", kKeyColumns, ") DO UPDATE SET ",
        absl::StrJoin(sums, ", ")));
  }();
  return *sql;
}

void BindKey(sqlite::Statement& statement, const RollupKey& key) {
  const auto& [tenant, journey, version, touchpoint, stage, channel, day] = key;
  statement.Bind(1, tenant)
      .Bind(2, journey)
      .Bind(3, version)
      .Bind(4, touchpoint)
      .Bind(5, stage)
      .Bind(6, channel)
      .Bind(7, int64_t{day});
}

// Adds (sign 1) or subtracts (sign -1) each measure sum to its stored row.
// Read, summed and written back in C++: the squares are wider than SQL's
// integers, and the arithmetic stays the same for every database.
absl::Status AddToMeasures(sqlite::Database& db, const RollupKey& key,
                           const std::map<std::string, MeasureSum>& measures,
                           int64_t sign) {
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db.Prepare("SELECT n, sum_milli, sum_squares_high, sum_squares_mid,"
                 " sum_squares_low FROM rollup_measures WHERE tenant = ?1 AND journey = ?2"
                 " AND journey_version = ?3 AND touchpoint = ?4 AND stage = ?5"
                 " AND channel = ?6 AND day = ?7 AND measure = ?8"));
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * write,
      db.Prepare(absl::StrCat(
          "INSERT OR REPLACE INTO rollup_measures (", kKeyColumns,
          ", measure, n, sum_milli, sum_squares_high, sum_squares_mid,"
          " sum_squares_low)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")));
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * remove,
      db.Prepare("DELETE FROM rollup_measures WHERE tenant = ?1 AND"
                 " journey = ?2 AND journey_version = ?3 AND touchpoint = ?4"
                 " AND stage = ?5 AND channel = ?6 AND day = ?7"
                 " AND measure = ?8"));
  for (const auto& [measure, add] : measures) {
    BindKey(*select, key);
    select->Bind(8, measure);
    MeasureSum sum;
    SquaresParts parts;
    absl::StatusOr<bool> found = select->Step();
    if (found.ok() && *found) {
      sum.n = select->ColumnInt(0);
      sum.sum_milli = select->ColumnInt(1);
      parts = {select->ColumnInt(2), select->ColumnInt(3),
               select->ColumnInt(4)};
    }
    select->Reset();
    POLKU_RETURN_IF_ERROR(found.status());
    POLKU_ASSIGN_OR_RETURN(sum.sum_squares_milli2,
                           JoinSquares(parts, measure));
    POLKU_ASSIGN_OR_RETURN(std::optional<MeasureSum> next,
                           NextMeasureSum(sum, add, sign, measure));
    if (!next) {
      BindKey(*remove, key);
      POLKU_RETURN_IF_ERROR(remove->Bind(8, measure).Run());
      continue;
    }
    const SquaresParts split = SplitSquares(next->sum_squares_milli2);
    BindKey(*write, key);
    POLKU_RETURN_IF_ERROR(write->Bind(8, measure)
                              .Bind(9, next->n)
                              .Bind(10, next->sum_milli)
                              .Bind(11, split.high)
                              .Bind(12, split.mid)
                              .Bind(13, split.low)
                              .Run());
  }
  return absl::OkStatus();
}

// Adds (sign 1) or subtracts (sign -1) `contributions` to the rollups; rows
// left with no events are deleted, as if never written.
absl::Status AddToRollups(
    sqlite::Database& db,
    const std::map<RollupKey, Contribution>& contributions, int64_t sign) {
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * upsert, db.Prepare(UpsertSql()));
  for (const auto& [key, c] : contributions) {
    BindKey(*upsert, key);
    upsert->Bind(8, sign * c.events);
    for (int i = 0; i < kHistogramColumns; ++i) {
      upsert->Bind(kKeyColumnCount + 2 + i, sign * c.histogram[i]);
    }
    POLKU_RETURN_IF_ERROR(upsert->Run());
    POLKU_RETURN_IF_ERROR(AddToMeasures(db, key, c.measures, sign));
  }
  if (sign > 0) return absl::OkStatus();
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * prune,
      db.Prepare("DELETE FROM rollups WHERE tenant = ?1 AND journey = ?2 AND "
                 "journey_version = ?3 AND touchpoint = ?4 AND stage = ?5 AND "
                 "channel = ?6 AND day = ?7 AND events = 0"));
  for (const auto& [key, c] : contributions) {
    BindKey(*prune, key);
    POLKU_RETURN_IF_ERROR(prune->Run());
  }
  return absl::OkStatus();
}

void BindScore(sqlite::Statement& statement, int index,
               const std::optional<int>& value) {
  if (value) {
    statement.Bind(index, int64_t{*value});
  } else {
    statement.BindNull(index);
  }
}

std::optional<int> ColumnScore(const sqlite::Statement& statement, int column) {
  if (statement.IsNull(column)) return std::nullopt;
  return static_cast<int>(statement.ColumnInt(column));
}

// ---------------------------------------------------------------------------
// Scorecard queries.

// The grouping column comes from this fixed list, never from input.
const char* GroupColumn(Grouping grouping) {
  switch (grouping) {
    case Grouping::kTouchpoint:
      return "touchpoint";
    case Grouping::kStage:
      return "stage";
    case Grouping::kChannel:
      return "channel";
    case Grouping::kDay:
      return "day";
  }
  return "touchpoint";
}

// The query's conditions, for any table with the rollup key's columns
// (rollups, rollup_measures, counted_events). Parameters ?1–?5 are always
// there; the optional filters follow in BindWhere's order.
std::string WhereSql(const ScorecardQuery& query) {
  std::string sql =
      " WHERE tenant = ?1 AND journey = ?2"
      " AND (?3 = 0 OR journey_version = ?3) AND day >= ?4 AND day < ?5";
  int param = 6;
  if (!query.touchpoints.empty()) {
    std::vector<std::string> params;
    for (size_t i = 0; i < query.touchpoints.size(); ++i) {
      params.push_back(absl::StrCat("?", param++));
    }
    absl::StrAppend(&sql, " AND touchpoint IN (", absl::StrJoin(params, ", "),
                    ")");
  }
  if (!query.stage.empty()) absl::StrAppend(&sql, " AND stage = ?", param++);
  if (!query.channel.empty()) {
    absl::StrAppend(&sql, " AND channel = ?", param++);
  }
  return sql;
}

void BindWhere(sqlite::Statement& statement, const ScorecardQuery& query) {
  statement.Bind(1, query.tenant)
      .Bind(2, query.journey)
      .Bind(3, query.journey_version)
      .Bind(4, int64_t{query.start_day})
      .Bind(5, int64_t{query.end_day});
  int param = 6;
  for (const std::string& touchpoint : query.touchpoints) {
    statement.Bind(param++, touchpoint);
  }
  if (!query.stage.empty()) statement.Bind(param++, query.stage);
  if (!query.channel.empty()) statement.Bind(param++, query.channel);
}

// The group of a row whose first column is the grouping column.
std::pair<std::string, Day> GroupOf(const sqlite::Statement& statement,
                                    int column, Grouping grouping) {
  if (grouping == Grouping::kDay) {
    const Day day = statement.ColumnInt(column);
    return {IsoDate(day), day};
  }
  return {statement.ColumnText(column), 0};
}

absl::StatusOr<int64_t> ReadCheckpoint(sqlite::Database& db) {
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * checkpoint,
                         db.Prepare("SELECT sequence FROM checkpoint"));
  POLKU_ASSIGN_OR_RETURN(bool found, checkpoint->Step());
  if (!found) return absl::DataLossError("insight.db has no checkpoint row");
  const int64_t sequence = checkpoint->ColumnInt(0);
  checkpoint->Reset();
  return sequence;
}

// Summed from the rollups (and their measure sums).
absl::Status ReadRollups(sqlite::Database& db, const ScorecardQuery& query,
                         GroupedRollups& result) {
  const char* group = GroupColumn(query.group_by);
  const std::string where = WhereSql(query);
  std::vector<std::string> sums = {"SUM(events)"};
  for (const std::string& c : HistogramColumns()) {
    sums.push_back(absl::StrCat("SUM(", c, ")"));
  }
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db.Prepare(absl::StrCat("SELECT ", group, ", ", absl::StrJoin(sums, ", "),
                              " FROM rollups", where, " GROUP BY ", group,
                              " ORDER BY ", group)));
  BindWhere(*select, query);
  std::map<std::string, size_t> index;
  POLKU_RETURN_IF_ERROR(select->ForEachRow([&](const sqlite::Statement& row) {
    auto [key, day] = GroupOf(row, 0, query.group_by);
    Contribution c;
    c.events = row.ColumnInt(1);
    for (int i = 0; i < kHistogramColumns; ++i) {
      c.histogram[i] = row.ColumnInt(2 + i);
    }
    index[key] = result.groups.size();
    result.groups.push_back(ToGroup(std::move(key), day, std::move(c)));
    return absl::OkStatus();
  }));

  // Each part of the squares is summed separately (mid and low are below
  // 2³², so their SQL sums cannot overflow before 2³¹ rows) and joined here.
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * measures,
      db.Prepare(absl::StrCat(
          "SELECT ", group,
          ", measure, SUM(n), SUM(sum_milli), SUM(sum_squares_high),"
          " SUM(sum_squares_mid), SUM(sum_squares_low) FROM rollup_measures",
          where, " GROUP BY ", group, ", measure ORDER BY ", group,
          ", measure")));
  BindWhere(*measures, query);
  return measures->ForEachRow(
      [&](const sqlite::Statement& row) -> absl::Status {
        auto found = index.find(GroupOf(row, 0, query.group_by).first);
        if (found == index.end()) {
          return absl::DataLossError(
              "insight.db has measure sums without their rollup row; "
              "rebuild it");
        }
        const std::string name = row.ColumnText(1);
        MeasureSum& sum = result.groups[found->second].measures[name];
        sum.n = row.ColumnInt(2);
        sum.sum_milli = row.ColumnInt(3);
        POLKU_ASSIGN_OR_RETURN(
            sum.sum_squares_milli2,
            JoinSquares({row.ColumnInt(4), row.ColumnInt(5), row.ColumnInt(6)},
                        name));
        return absl::OkStatus();
      });
}

// Summed from the counted events, exactly as Apply summed them into rollups.
absl::Status ReadCountedEvents(sqlite::Database& db,
                               const ScorecardQuery& query,
                               GroupedRollups& result) {
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db.Prepare(absl::StrCat(
          "SELECT touchpoint, stage, channel, day, csat, nps, ces, attributes,"
          " measures FROM counted_events",
          WhereSql(query))));
  BindWhere(*select, query);
  int group_column = 0;  // touchpoint
  if (query.group_by == Grouping::kStage) group_column = 1;
  if (query.group_by == Grouping::kChannel) group_column = 2;
  if (query.group_by == Grouping::kDay) group_column = 3;
  // By group key; for days the ISO date, whose order is the days' order.
  std::map<std::string, std::pair<Day, Contribution>> groups;
  POLKU_RETURN_IF_ERROR(
      select->ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
        if (!HasAttributes(DecodePairs(row.ColumnText(7)), query.attributes)) {
          return absl::OkStatus();
        }
        CountedEvent event;
        event.csat = ColumnScore(row, 4);
        event.nps = ColumnScore(row, 5);
        event.ces = ColumnScore(row, 6);
        POLKU_ASSIGN_OR_RETURN(event.measures,
                               DecodeMeasures(row.ColumnText(8)));
        auto [key, day] = GroupOf(row, group_column, query.group_by);
        auto& [group_day, c] = groups[key];
        group_day = day;
        return Count(event, c);
      }));
  for (auto& [key, group] : groups) {
    result.groups.push_back(
        ToGroup(key, group.first, std::move(group.second)));
  }
  return absl::OkStatus();
}

}  // namespace

const std::string& SqliteRollupStore::CustomerEventsSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      "SELECT journey, journey_version, touchpoint, stage, channel, day, csat,"
      " nps, ces, measures FROM counted_events WHERE sequence IN (",
      kCustomerSequencesSql, ")"));
  return *sql;
}

const std::string& SqliteRollupStore::ForgetCustomerSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      "DELETE FROM counted_events WHERE sequence IN (", kCustomerSequencesSql,
      ")"));
  return *sql;
}

const std::vector<sqlite::Migration>& SqliteRollupStore::Migrations() {
  static const auto* migrations = new std::vector<sqlite::Migration>{
      {1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}, {4, kSchemaV4},
      {5, kSchemaV5}};
  return *migrations;
}

absl::StatusOr<std::unique_ptr<SqliteRollupStore>> SqliteRollupStore::Open(
    const std::string& path, bool durable) {
  sqlite::Database::Options options;
  options.durable = durable;
  // A feed page's upserts touch the rollup tables all over, and an erasure
  // seeks the customer index once per segment of the ledger: keep their
  // pages cached.
  options.cache_mib = 64;
  options.background_checkpoints = true;
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> writer,
                         sqlite::Database::Open(path, options));
  POLKU_RETURN_IF_ERROR(writer->Migrate(Migrations()));
  POLKU_ASSIGN_OR_RETURN(const int64_t checkpoint, ReadCheckpoint(*writer));
  return std::unique_ptr<SqliteRollupStore>(
      new SqliteRollupStore(path, options, std::move(writer), checkpoint));
}

SqliteRollupStore::SqliteRollupStore(std::string path,
                                     sqlite::Database::Options options,
                                     std::unique_ptr<sqlite::Database> writer,
                                     int64_t checkpoint)
    : path_(std::move(path)),
      options_(options),
      writer_(std::move(writer)),
      checkpoint_(checkpoint) {}

absl::Status SqliteRollupStore::Apply(
    const google::protobuf::RepeatedPtrField<v1::StoredEvent>& events) {
  absl::MutexLock lock(&writer_mu_);
  const int64_t checkpoint = checkpoint_.load();
  int64_t last = checkpoint;
  // Summed per row first, so a page touching one row many times costs one
  // upsert; std::map keeps the write order deterministic.
  std::map<RollupKey, Contribution> contributions;
  std::vector<std::pair<const v1::StoredEvent*, CountedEvent>> counted;
  for (const v1::StoredEvent& stored : events) {
    if (stored.sequence() <= last) continue;  // counted already
    last = stored.sequence();
    CountedEvent event = FromFeed(stored);
    POLKU_RETURN_IF_ERROR(Count(event, contributions[event.key]));
    counted.emplace_back(&stored, std::move(event));
  }
  if (last == checkpoint) return absl::OkStatus();

  sqlite::Transaction txn(*writer_);
  POLKU_RETURN_IF_ERROR(txn.Begin());
  POLKU_RETURN_IF_ERROR(AddToRollups(*writer_, contributions, 1));
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * record,
                         writer_->Prepare(kRecordCountedSql));
  for (const auto& [stored, event] : counted) {
    const auto& [tenant, journey, version, touchpoint, stage, channel, day] =
        event.key;
    record->Bind(1, stored->sequence())
        .Bind(2, tenant)
        .Bind(3, stored->customer_hash())
        .Bind(4, journey)
        .Bind(5, int64_t{version})
        .Bind(6, touchpoint)
        .Bind(7, stage)
        .Bind(8, channel)
        .Bind(9, int64_t{day});
    BindScore(*record, 10, event.csat);
    BindScore(*record, 11, event.nps);
    BindScore(*record, 12, event.ces);
    record->Bind(13, EncodePairs(event.attributes))
        .Bind(14, EncodeMeasures(event.measures));
    POLKU_RETURN_IF_ERROR(record->Run());
  }
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * advance,
      writer_->Prepare("UPDATE checkpoint SET sequence = ?1 WHERE id = 1"));
  POLKU_RETURN_IF_ERROR(advance->Bind(1, last).Run());
  POLKU_RETURN_IF_ERROR(txn.Commit());
  checkpoint_.store(last);
  return absl::OkStatus();
}

absl::Status SqliteRollupStore::ApplyErasure(const v1::Erasure& erasure) {
  absl::MutexLock lock(&writer_mu_);
  if (erasure.sequence() <= checkpoint_.load()) return absl::OkStatus();
  sqlite::Transaction txn(*writer_);
  POLKU_RETURN_IF_ERROR(txn.Begin());
  // What the customer's counted events added, rebuilt exactly as Apply
  // counted it.
  std::map<RollupKey, Contribution> contributions;
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * select,
                         writer_->Prepare(CustomerEventsSql()));
  select->Bind(1, erasure.tenant()).Bind(2, erasure.customer_hash());
  int64_t erased = 0;
  POLKU_RETURN_IF_ERROR(
      select->ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
        CountedEvent event;
        event.key = RollupKey{erasure.tenant(),
                              row.ColumnText(0),
                              static_cast<int32_t>(row.ColumnInt(1)),
                              row.ColumnText(2),
                              row.ColumnText(3),
                              row.ColumnText(4),
                              row.ColumnInt(5)};
        event.csat = ColumnScore(row, 6);
        event.nps = ColumnScore(row, 7);
        event.ces = ColumnScore(row, 8);
        POLKU_ASSIGN_OR_RETURN(event.measures,
                               DecodeMeasures(row.ColumnText(9)));
        POLKU_RETURN_IF_ERROR(Count(event, contributions[event.key]));
        ++erased;
        return absl::OkStatus();
      }));
  POLKU_RETURN_IF_ERROR(AddToRollups(*writer_, contributions, -1));
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * forget,
                         writer_->Prepare(ForgetCustomerSql()));
  POLKU_RETURN_IF_ERROR(
      forget->Bind(1, erasure.tenant()).Bind(2, erasure.customer_hash()).Run());
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * advance,
      writer_->Prepare("UPDATE checkpoint SET sequence = ?1 WHERE id = 1"));
  POLKU_RETURN_IF_ERROR(advance->Bind(1, erasure.sequence()).Run());
  POLKU_RETURN_IF_ERROR(txn.Commit());
  checkpoint_.store(erasure.sequence());
  log::Info("customer erased from rollups", {{"tenant", erasure.tenant()},
                                             {"events", erased},
                                             {"sequence", erasure.sequence()}});
  return absl::OkStatus();
}

absl::Status SqliteRollupStore::CheckFeed(const std::string& feed_id) {
  if (feed_id.empty()) return absl::OkStatus();  // a feed without identity
  absl::MutexLock lock(&writer_mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      writer_->Prepare(
          "SELECT feed_id, sequence FROM checkpoint WHERE id = 1"));
  POLKU_ASSIGN_OR_RETURN(bool found, select->Step());
  const std::string bound = found ? select->ColumnText(0) : "";
  const int64_t checkpoint = found ? select->ColumnInt(1) : 0;
  select->Reset();
  if (bound == feed_id) return absl::OkStatus();
  if (!bound.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the change feed is ", feed_id, " but insight.db counted feed ", bound,
        " up to sequence ", checkpoint,
        "; polku-feedback's database was replaced. Refusing to apply it: "
        "delete insight.db to rebuild from the new feed, or restore the old "
        "feedback.db"));
  }
  if (checkpoint > 0) {
    log::Warning("binding a checkpoint of an unknown feed to this feed",
                 {{"feed_id", feed_id}, {"checkpoint", checkpoint}});
  }
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * bind,
      writer_->Prepare("UPDATE checkpoint SET feed_id = ?1 WHERE id = 1"));
  return bind->Bind(1, feed_id).Run();
}

absl::StatusOr<int64_t> SqliteRollupStore::Checkpoint() {
  return checkpoint_.load();
}

template <typename T>
absl::StatusOr<T> SqliteRollupStore::Read(
    absl::FunctionRef<absl::StatusOr<T>(sqlite::Database&)> read) {
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> reader,
                         TakeReader());
  absl::StatusOr<T> result = [&]() -> absl::StatusOr<T> {
    POLKU_RETURN_IF_ERROR(reader->Exec("BEGIN"));
    absl::StatusOr<T> result = read(*reader);
    absl::Status end = reader->Exec(result.ok() ? "COMMIT" : "ROLLBACK");
    if (result.ok() && !end.ok()) return end;
    return result;
  }();
  if (result.ok()) {
    ReturnReader(std::move(reader));
  }  // else the connection is dropped: its state is unknown.
  return result;
}

absl::StatusOr<GroupedRollups> SqliteRollupStore::Scorecard(
    const ScorecardQuery& query) {
  // One read transaction, so the checkpoint and the rollups are the same
  // snapshot: as_of_sequence is exactly what the numbers include.
  return Read<GroupedRollups>(
      [&](sqlite::Database& db) -> absl::StatusOr<GroupedRollups> {
        GroupedRollups result;
        POLKU_ASSIGN_OR_RETURN(result.as_of_sequence, ReadCheckpoint(db));
        if (query.attributes.empty()) {
          POLKU_RETURN_IF_ERROR(ReadRollups(db, query, result));
        } else {
          POLKU_RETURN_IF_ERROR(ReadCountedEvents(db, query, result));
        }
        return result;
      });
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
SqliteRollupStore::JourneysWithEvents() {
  using Journeys = std::vector<std::pair<std::string, std::string>>;
  return Read<Journeys>([](sqlite::Database& db) -> absl::StatusOr<Journeys> {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db.Prepare("SELECT DISTINCT tenant, journey FROM rollups"
                   " ORDER BY tenant, journey"));
    Journeys journeys;
    POLKU_RETURN_IF_ERROR(select->ForEachRow([&](const sqlite::Statement& row) {
      journeys.emplace_back(row.ColumnText(0), row.ColumnText(1));
      return absl::OkStatus();
    }));
    return journeys;
  });
}

absl::Status SqliteRollupStore::SaveAlerts(
    const std::string& tenant, const std::vector<v1::Alert>& alerts) {
  if (tenant.empty()) return absl::InvalidArgumentError("tenant is required");
  for (const v1::Alert& alert : alerts) {
    if (alert.id().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "alert.id is required (alert of journey \"", alert.journey(),
          "\", key \"", alert.key(), "\")"));
    }
  }
  absl::MutexLock lock(&writer_mu_);
  sqlite::Transaction txn(*writer_);
  POLKU_RETURN_IF_ERROR(txn.Begin());
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * save,
      writer_->Prepare("INSERT OR REPLACE INTO alerts (tenant, id, journey,"
                       " state, first_seen_micros, alert)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  for (const v1::Alert& alert : alerts) {
    POLKU_RETURN_IF_ERROR(save->Bind(1, tenant)
                              .Bind(2, alert.id())
                              .Bind(3, alert.journey())
                              .Bind(4, int64_t{alert.state()})
                              .Bind(5, UnixMicros(alert.first_seen()))
                              .BindBlob(6, alert.SerializeAsString())
                              .Run());
  }
  return txn.Commit();
}

absl::StatusOr<std::vector<v1::Alert>> SqliteRollupStore::LoadAlerts(
    const std::string& tenant, const std::string& journey,
    bool include_cleared) {
  using Alerts = std::vector<v1::Alert>;
  return Read<Alerts>([&](sqlite::Database& db) -> absl::StatusOr<Alerts> {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db.Prepare("SELECT id, alert FROM alerts WHERE tenant = ?1"
                   " AND (?2 = '' OR journey = ?2) AND (?3 OR state <> ?4)"
                   " ORDER BY first_seen_micros DESC, id"));
    select->Bind(1, tenant)
        .Bind(2, journey)
        .Bind(3, int64_t{include_cleared})
        .Bind(4, int64_t{v1::CLEARED});
    Alerts alerts;
    POLKU_RETURN_IF_ERROR(
        select->ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
          if (!alerts.emplace_back().ParseFromString(row.ColumnBlob(1))) {
            return absl::DataLossError(absl::StrCat(
                "alert ", row.ColumnText(0), " in insight.db is unreadable"));
          }
          return absl::OkStatus();
        }));
    return alerts;
  });
}

absl::StatusOr<std::unique_ptr<sqlite::Database>>
SqliteRollupStore::TakeReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<sqlite::Database> reader =
          std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
  }
  sqlite::Database::Options options;  // the default, small page cache
  options.durable = options_.durable;
  options.read_only = true;
  return sqlite::Database::Open(path_, options);
}

void SqliteRollupStore::ReturnReader(std::unique_ptr<sqlite::Database> reader) {
  absl::MutexLock lock(&readers_mu_);
  idle_readers_.push_back(std::move(reader));
}

}  // namespace polku::insight
