#include "services/insight/pg_rollup_store.h"

#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"
#include "services/insight/rollup_math.h"

namespace polku::insight {
namespace {

using postgres::Param;

// Version 1: SqliteRollupStore's schema at its version 3, in one step. Text
// keys use the "C" collation, so groups come back in byte order as the
// interface promises, whatever the database's locale.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE rollups (
  tenant TEXT COLLATE "C" NOT NULL,
  journey TEXT COLLATE "C" NOT NULL,
  journey_version INTEGER NOT NULL,
  touchpoint TEXT COLLATE "C" NOT NULL,
  stage TEXT COLLATE "C" NOT NULL,
  channel TEXT COLLATE "C" NOT NULL,
  day BIGINT NOT NULL,  -- UTC date of occurred_at, days since 1970-01-01
  events BIGINT NOT NULL DEFAULT 0,
  csat_1 BIGINT NOT NULL DEFAULT 0, csat_2 BIGINT NOT NULL DEFAULT 0,
  csat_3 BIGINT NOT NULL DEFAULT 0, csat_4 BIGINT NOT NULL DEFAULT 0,
  csat_5 BIGINT NOT NULL DEFAULT 0,
  nps_0 BIGINT NOT NULL DEFAULT 0, nps_1 BIGINT NOT NULL DEFAULT 0,
  nps_2 BIGINT NOT NULL DEFAULT 0, nps_3 BIGINT NOT NULL DEFAULT 0,
  nps_4 BIGINT NOT NULL DEFAULT 0, nps_5 BIGINT NOT NULL DEFAULT 0,
  nps_6 BIGINT NOT NULL DEFAULT 0, nps_7 BIGINT NOT NULL DEFAULT 0,
  nps_8 BIGINT NOT NULL DEFAULT 0, nps_9 BIGINT NOT NULL DEFAULT 0,
  nps_10 BIGINT NOT NULL DEFAULT 0,
  ces_1 BIGINT NOT NULL DEFAULT 0, ces_2 BIGINT NOT NULL DEFAULT 0,
  ces_3 BIGINT NOT NULL DEFAULT 0, ces_4 BIGINT NOT NULL DEFAULT 0,
  ces_5 BIGINT NOT NULL DEFAULT 0, ces_6 BIGINT NOT NULL DEFAULT 0,
  ces_7 BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, journey, journey_version, touchpoint, stage, channel, day)
);

-- Sums of each operational measure per rollup row. Σ squares is split into
-- high · 2⁶⁴ + mid · 2³² + low (0 ≤ mid, low < 2³²) so each part sums in SQL.
CREATE TABLE rollup_measures (
  tenant TEXT COLLATE "C" NOT NULL,
  journey TEXT COLLATE "C" NOT NULL,
  journey_version INTEGER NOT NULL,
  touchpoint TEXT COLLATE "C" NOT NULL,
  stage TEXT COLLATE "C" NOT NULL,
  channel TEXT COLLATE "C" NOT NULL,
  day BIGINT NOT NULL,
  measure TEXT COLLATE "C" NOT NULL,
  n BIGINT NOT NULL,
  sum_milli BIGINT NOT NULL,
  sum_squares_high BIGINT NOT NULL,
  sum_squares_mid BIGINT NOT NULL,
  sum_squares_low BIGINT NOT NULL,
  PRIMARY KEY (tenant, journey, journey_version, touchpoint, stage, channel,
               day, measure)
);

-- The single row every writing transaction locks first (see the header).
CREATE TABLE checkpoint (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  sequence BIGINT NOT NULL,      -- last feed sequence counted in rollups
  feed_id TEXT NOT NULL DEFAULT ''
);
INSERT INTO checkpoint (id, sequence) VALUES (1, 0);

-- What each counted event added, for erasures and attribute filters;
-- attributes and measures in rollup_math.h's canonical text.
CREATE TABLE counted_events (
  tenant TEXT COLLATE "C" NOT NULL,
  customer_hash TEXT COLLATE "C" NOT NULL,
  sequence BIGINT NOT NULL,
  journey TEXT COLLATE "C" NOT NULL,
  journey_version INTEGER NOT NULL,
  touchpoint TEXT COLLATE "C" NOT NULL,
  stage TEXT COLLATE "C" NOT NULL,
  channel TEXT COLLATE "C" NOT NULL,
  day BIGINT NOT NULL,
  csat INTEGER, nps INTEGER, ces INTEGER,
  attributes TEXT NOT NULL DEFAULT '',
  measures TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (tenant, customer_hash, sequence)
);
CREATE INDEX counted_events_by_journey ON counted_events (tenant, journey, day);

CREATE TABLE alerts (
  tenant TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  journey TEXT COLLATE "C" NOT NULL,
  state INTEGER NOT NULL,             -- polku.v1.AlertState
  first_seen_micros BIGINT NOT NULL,  -- Unix microseconds
  alert BYTEA NOT NULL,               -- serialized polku.v1.Alert
  PRIMARY KEY (tenant, id)
);
)sql";

const std::vector<Migration>& Migrations() {
  static const auto* migrations = new std::vector<Migration>{{1, kSchemaV1}};
  return *migrations;
}

// Writes take every row of a page in one statement, one array per column
// (unnest), so an apply costs the same few round trips whatever its size.
constexpr char kKeyColumns[] =
    "tenant, journey, journey_version, touchpoint, stage, channel, day";
// The key columns' array types, in kKeyColumns' order.
constexpr const char* kKeyArrayTypes[] = {"text", "text", "bigint", "text",
                                          "text", "text", "bigint"};

// "unnest($1::text[], …)" over the key columns' arrays followed by `more`
// arrays of the given types.
std::string Unnest(const std::vector<std::string>& more) {
  std::vector<std::string> arrays;
  for (const char* type : kKeyArrayTypes) {
    arrays.push_back(absl::StrCat("$", arrays.size() + 1, "::", type, "[]"));
  }
  for (const std::string& type : more) {
    arrays.push_back(absl::StrCat("$", arrays.size() + 1, "::", type, "[]"));
  }
  return absl::StrCat("unnest(", absl::StrJoin(arrays, ", "), ")");
}

// "m.tenant = k.tenant AND …": the rows of `table` with the key of `keys`.
std::string KeyJoin(absl::string_view table, absl::string_view keys) {
  std::vector<std::string> terms;
  for (absl::string_view column : absl::StrSplit(kKeyColumns, ", ")) {
    terms.push_back(absl::StrCat(table, ".", column, " = ", keys, ".", column));
  }
  return absl::StrJoin(terms, " AND ");
}

// Rollup keys as one array per key column.
class KeyArrays {
 public:
  void Add(const RollupKey& key) {
    const auto& [tenant, journey, version, touchpoint, stage, channel, day] =
        key;
    tenants_.push_back(tenant);
    journeys_.push_back(journey);
    versions_.push_back(version);
    touchpoints_.push_back(touchpoint);
    stages_.push_back(stage);
    channels_.push_back(channel);
    days_.push_back(day);
  }
  // Binds them in kKeyColumns' order.
  std::vector<Param> Params() const {
    return {Param::TextArray(tenants_), Param::TextArray(journeys_),
            Param::IntArray(versions_), Param::TextArray(touchpoints_),
            Param::TextArray(stages_),  Param::TextArray(channels_),
            Param::IntArray(days_)};
  }

 private:
  std::vector<std::string> tenants_, journeys_, touchpoints_, stages_,
      channels_;
  std::vector<int64_t> versions_, days_;
};

// Adds each row's counts to the stored row, inserting rows not stored yet.
// The keys are distinct (ON CONFLICT DO UPDATE may touch a row only once).
const std::string& AddToRollupsSql() {
  static const std::string* sql = [] {
    std::vector<std::string> columns = HistogramColumns();
    columns.insert(columns.begin(), "events");
    std::vector<std::string> sums;
    for (const std::string& c : columns) {
      sums.push_back(absl::StrCat(c, " = rollups.", c, " + excluded.", c));
    }
    return new std::string(
        absl::StrCat("INSERT INTO rollups (", kKeyColumns, ", ",
                     absl::StrJoin(columns, ", "), ") SELECT * FROM ",
                     Unnest(std::vector<std::string>(columns.size(), "bigint")),
                     " ON CONFLICT (", kKeyColumns, ") DO UPDATE SET ",
                     absl::StrJoin(sums, ", ")));
  }();
  return *sql;
}

const std::string& DeleteEmptyRollupsSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      "DELETE FROM rollups r USING ", Unnest({}), " AS k(", kKeyColumns,
      ") WHERE ", KeyJoin("r", "k"), " AND r.events = 0"));
  return *sql;
}

// The stored sums of the (key, measure) rows $1…$8, by their 1-based
// position in the arrays; rows not stored are left out.
const std::string& StoredMeasuresSql() {
  static const std::string* sql = new std::string(
      absl::StrCat("SELECT k.position, m.n, m.sum_milli, m.sum_squares_high,"
                   " m.sum_squares_mid, m.sum_squares_low FROM ",
                   Unnest({"text"}), " WITH ORDINALITY AS k(", kKeyColumns,
                   ", measure, position) JOIN rollup_measures m ON ",
                   KeyJoin("m", "k"), " AND m.measure = k.measure"));
  return *sql;
}

const std::string& StoreMeasuresSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      "INSERT INTO rollup_measures (", kKeyColumns,
      ", measure, n, sum_milli, sum_squares_high, sum_squares_mid,"
      " sum_squares_low) SELECT * FROM ",
      Unnest({"text", "bigint", "bigint", "bigint", "bigint", "bigint"}),
      " ON CONFLICT (", kKeyColumns,
      ", measure) DO UPDATE SET n = excluded.n, sum_milli = excluded.sum_milli,"
      " sum_squares_high = excluded.sum_squares_high, sum_squares_mid ="
      " excluded.sum_squares_mid, sum_squares_low = excluded.sum_squares_low"));
  return *sql;
}

const std::string& DeleteMeasuresSql() {
  static const std::string* sql = new std::string(
      absl::StrCat("DELETE FROM rollup_measures m USING ", Unnest({"text"}),
                   " AS k(", kKeyColumns, ", measure) WHERE ",
                   KeyJoin("m", "k"), " AND m.measure = k.measure"));
  return *sql;
}

// Scores travel as BIGINT[] elements, which lib/postgres's binary arrays
// cannot make NULL. A counted score is never negative (FromFeed leaves
// out-of-range ones out), so kNoScore stands for an absent one and NULLIF
// turns it back into NULL.
constexpr int64_t kNoScore = -1;

int64_t ScoreElement(const std::optional<int>& score) {
  return score ? *score : kNoScore;
}

// Every counted event of a page in one plain INSERT: a sequence counted
// twice violates the primary key and fails the page rather than count it
// again.
const std::string& InsertCountedEventsSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      "INSERT INTO counted_events (", kKeyColumns,
      ", customer_hash, sequence, csat, nps, ces, attributes, measures)"
      " SELECT ",
      kKeyColumns, ", customer_hash, sequence, NULLIF(csat, ", kNoScore,
      "), NULLIF(nps, ", kNoScore, "), NULLIF(ces, ", kNoScore,
      "), attributes, measures FROM ",
      Unnest({"text", "bigint", "bigint", "bigint", "bigint", "text", "text"}),
      " AS e(", kKeyColumns,
      ", customer_hash, sequence, csat, nps, ces, attributes, measures)"));
  return *sql;
}

std::optional<int> ScoreAt(const postgres::Result& result, int row,
                           int column) {
  if (result.IsNull(row, column)) return std::nullopt;
  return static_cast<int>(result.Int(row, column));
}

// An integer column (or SUM, which PostgreSQL returns as NUMERIC) that must
// be exact: a value beyond 64 bits is an error, never a silent 0.
absl::StatusOr<int64_t> ExactInt(const postgres::Result& result, int row,
                                 int column) {
  if (result.IsNull(row, column)) return 0;
  int64_t value;
  if (!absl::SimpleAtoi(result.Text(row, column), &value)) {
    return absl::OutOfRangeError(
        absl::StrCat("a rollup sum (", result.Text(row, column),
                     ") exceeds 64 bits; narrow the scorecard's range"));
  }
  return value;
}

// Adds (sign 1) or subtracts (sign -1) the measure sums of `contributions`
// to their stored rows: read in one statement, summed in C++ as
// SqliteRollupStore does (the squares are wider than BIGINT), written back
// in one more (and rows left with no values deleted in another).
absl::Status AddToMeasures(
    postgres::Connection& db,
    const std::map<RollupKey, Contribution>& contributions, int64_t sign) {
  struct Row {
    const RollupKey* key;
    const std::string* measure;
    const MeasureSum* add;
    MeasureSum stored;
  };
  std::vector<Row> rows;
  KeyArrays keys;
  std::vector<std::string> measures;
  for (const auto& [key, c] : contributions) {
    for (const auto& [measure, add] : c.measures) {
      rows.push_back({&key, &measure, &add, {}});
      keys.Add(key);
      measures.push_back(measure);
    }
  }
  if (rows.empty()) return absl::OkStatus();

  std::vector<Param> params = keys.Params();
  params.push_back(Param::TextArray(measures));
  POLKU_ASSIGN_OR_RETURN(postgres::Result stored,
                         db.Execute(StoredMeasuresSql(), params));
  for (int i = 0; i < stored.rows(); ++i) {
    Row& row = rows.at(stored.Int(i, 0) - 1);
    row.stored.n = stored.Int(i, 1);
    row.stored.sum_milli = stored.Int(i, 2);
    POLKU_ASSIGN_OR_RETURN(
        row.stored.sum_squares_milli2,
        JoinSquares({stored.Int(i, 3), stored.Int(i, 4), stored.Int(i, 5)},
                    *row.measure));
  }

  KeyArrays kept_keys, emptied_keys;
  std::vector<std::string> kept_measures, emptied_measures;
  std::vector<int64_t> n, sum_milli, high, mid, low;
  for (const Row& row : rows) {
    POLKU_ASSIGN_OR_RETURN(
        std::optional<MeasureSum> next,
        NextMeasureSum(row.stored, *row.add, sign, *row.measure));
    if (!next) {
      emptied_keys.Add(*row.key);
      emptied_measures.push_back(*row.measure);
      continue;
    }
    const SquaresParts split = SplitSquares(next->sum_squares_milli2);
    kept_keys.Add(*row.key);
    kept_measures.push_back(*row.measure);
    n.push_back(next->n);
    sum_milli.push_back(next->sum_milli);
    high.push_back(split.high);
    mid.push_back(split.mid);
    low.push_back(split.low);
  }
  if (!kept_measures.empty()) {
    params = kept_keys.Params();
    params.insert(params.end(),
                  {Param::TextArray(kept_measures), Param::IntArray(n),
                   Param::IntArray(sum_milli), Param::IntArray(high),
                   Param::IntArray(mid), Param::IntArray(low)});
    POLKU_RETURN_IF_ERROR(db.Execute(StoreMeasuresSql(), params).status());
  }
  if (!emptied_measures.empty()) {
    params = emptied_keys.Params();
    params.push_back(Param::TextArray(emptied_measures));
    POLKU_RETURN_IF_ERROR(db.Execute(DeleteMeasuresSql(), params).status());
  }
  return absl::OkStatus();
}

// Adds (sign 1) or subtracts (sign -1) `contributions` to the rollups; rows
// left with no events are deleted, as if never written.
absl::Status AddToRollups(
    postgres::Connection& db,
    const std::map<RollupKey, Contribution>& contributions, int64_t sign) {
  if (contributions.empty()) return absl::OkStatus();
  KeyArrays keys;
  std::vector<int64_t> events;
  std::vector<std::vector<int64_t>> histogram(kHistogramColumns);
  for (const auto& [key, c] : contributions) {
    keys.Add(key);
    events.push_back(sign * c.events);
    for (int i = 0; i < kHistogramColumns; ++i) {
      histogram[i].push_back(sign * c.histogram[i]);
    }
  }
  std::vector<Param> params = keys.Params();
  params.push_back(Param::IntArray(events));
  for (const std::vector<int64_t>& column : histogram) {
    params.push_back(Param::IntArray(column));
  }
  POLKU_RETURN_IF_ERROR(db.Execute(AddToRollupsSql(), params).status());
  POLKU_RETURN_IF_ERROR(AddToMeasures(db, contributions, sign));
  if (sign < 0) {
    POLKU_RETURN_IF_ERROR(
        db.Execute(DeleteEmptyRollupsSql(), keys.Params()).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ReadCheckpoint(postgres::Connection& db, bool lock) {
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result row,
      db.Execute(lock
                     ? "SELECT sequence FROM checkpoint WHERE id = 1 FOR UPDATE"
                     : "SELECT sequence FROM checkpoint WHERE id = 1"));
  if (row.rows() != 1) {
    return absl::DataLossError("the insight database has no checkpoint row");
  }
  return row.Int(0, 0);
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

// The query's conditions, for any table with the rollup key's columns, and
// their parameters.
std::string WhereSql(const ScorecardQuery& query, std::vector<Param>& params) {
  params = {Param::Text(query.tenant), Param::Text(query.journey),
            Param::Int(query.journey_version), Param::Int(query.start_day),
            Param::Int(query.end_day)};
  std::string sql =
      " WHERE tenant = $1 AND journey = $2"
      " AND ($3::integer = 0 OR journey_version = $3::integer)"
      " AND day >= $4::bigint AND day < $5::bigint";
  if (!query.touchpoints.empty()) {
    std::vector<std::string> in;
    for (const std::string& touchpoint : query.touchpoints) {
      params.push_back(Param::Text(touchpoint));
      in.push_back(absl::StrCat("$", params.size()));
    }
    absl::StrAppend(&sql, " AND touchpoint IN (", absl::StrJoin(in, ", "), ")");
  }
  if (!query.stage.empty()) {
    params.push_back(Param::Text(query.stage));
    absl::StrAppend(&sql, " AND stage = $", params.size());
  }
  if (!query.channel.empty()) {
    params.push_back(Param::Text(query.channel));
    absl::StrAppend(&sql, " AND channel = $", params.size());
  }
  return sql;
}

std::pair<std::string, Day> GroupOf(const postgres::Result& result, int row,
                                    int column, Grouping grouping) {
  if (grouping == Grouping::kDay) {
    const Day day = result.Int(row, column);
    return {IsoDate(day), day};
  }
  return {result.Text(row, column), 0};
}

absl::Status ReadRollups(postgres::Connection& db, const ScorecardQuery& query,
                         GroupedRollups& result) {
  const char* group = GroupColumn(query.group_by);
  std::vector<Param> params;
  const std::string where = WhereSql(query, params);
  std::vector<std::string> sums = {"SUM(events)"};
  for (const std::string& c : HistogramColumns()) {
    sums.push_back(absl::StrCat("SUM(", c, ")"));
  }
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result rows,
      db.Execute(absl::StrCat("SELECT ", group, ", ", absl::StrJoin(sums, ", "),
                              " FROM rollups", where, " GROUP BY ", group,
                              " ORDER BY ", group),
                 params));
  std::map<std::string, size_t> index;
  for (int row = 0; row < rows.rows(); ++row) {
    auto [key, day] = GroupOf(rows, row, 0, query.group_by);
    Contribution c;
    POLKU_ASSIGN_OR_RETURN(c.events, ExactInt(rows, row, 1));
    for (int i = 0; i < kHistogramColumns; ++i) {
      POLKU_ASSIGN_OR_RETURN(c.histogram[i], ExactInt(rows, row, 2 + i));
    }
    index[key] = result.groups.size();
    result.groups.push_back(ToGroup(std::move(key), day, std::move(c)));
  }

  POLKU_ASSIGN_OR_RETURN(
      postgres::Result measures,
      db.Execute(absl::StrCat("SELECT ", group,
                              ", measure, SUM(n), SUM(sum_milli),"
                              " SUM(sum_squares_high), SUM(sum_squares_mid),"
                              " SUM(sum_squares_low) FROM rollup_measures",
                              where, " GROUP BY ", group, ", measure"),
                 params));
  for (int row = 0; row < measures.rows(); ++row) {
    auto found = index.find(GroupOf(measures, row, 0, query.group_by).first);
    if (found == index.end()) {
      return absl::DataLossError(
          "the insight database has measure sums without their rollup row;"
          " rebuild it");
    }
    const std::string name = measures.Text(row, 1);
    MeasureSum& sum = result.groups[found->second].measures[name];
    POLKU_ASSIGN_OR_RETURN(sum.n, ExactInt(measures, row, 2));
    POLKU_ASSIGN_OR_RETURN(sum.sum_milli, ExactInt(measures, row, 3));
    SquaresParts parts;
    POLKU_ASSIGN_OR_RETURN(parts.high, ExactInt(measures, row, 4));
    POLKU_ASSIGN_OR_RETURN(parts.mid, ExactInt(measures, row, 5));
    POLKU_ASSIGN_OR_RETURN(parts.low, ExactInt(measures, row, 6));
    POLKU_ASSIGN_OR_RETURN(sum.sum_squares_milli2, JoinSquares(parts, name));
  }
  return absl::OkStatus();
}

// Summed from the counted events, exactly as Apply summed them into rollups.
absl::Status ReadCountedEvents(postgres::Connection& db,
                               const ScorecardQuery& query,
                               GroupedRollups& result) {
  std::vector<Param> params;
  const std::string where = WhereSql(query, params);
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result rows,
      db.Execute(absl::StrCat("SELECT touchpoint, stage, channel, day, csat,"
                              " nps, ces, attributes, measures"
                              " FROM counted_events",
                              where),
                 params));
  int group_column = 0;  // touchpoint
  if (query.group_by == Grouping::kStage) group_column = 1;
  if (query.group_by == Grouping::kChannel) group_column = 2;
  if (query.group_by == Grouping::kDay) group_column = 3;
  // By group key; for days the ISO date, whose order is the days' order.
  std::map<std::string, std::pair<Day, Contribution>> groups;
  for (int row = 0; row < rows.rows(); ++row) {
    if (!HasAttributes(DecodePairs(rows.Text(row, 7)), query.attributes)) {
      continue;
    }
    CountedEvent event;
    event.csat = ScoreAt(rows, row, 4);
    event.nps = ScoreAt(rows, row, 5);
    event.ces = ScoreAt(rows, row, 6);
    POLKU_ASSIGN_OR_RETURN(event.measures, DecodeMeasures(rows.Text(row, 8)));
    auto [key, day] = GroupOf(rows, row, group_column, query.group_by);
    auto& [group_day, c] = groups[key];
    group_day = day;
    POLKU_RETURN_IF_ERROR(Count(event, c));
  }
  for (auto& [key, group] : groups) {
    result.groups.push_back(ToGroup(key, group.first, std::move(group.second)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgRollupStore>> PgRollupStore::Open(
    const std::string& url, PgRollupStoreOptions options) {
  std::unique_ptr<PgRollupStore> store(new PgRollupStore(url, options));
  POLKU_ASSIGN_OR_RETURN(postgres::Pool::Lease db, store->Connect());
  POLKU_RETURN_IF_ERROR(store->Describe(Migrate(*db)));
  return store;
}

absl::Status PgRollupStore::Migrate(postgres::Connection& db) {
  return db.Migrate("insight", Migrations());
}

PgRollupStore::PgRollupStore(const std::string& url,
                             PgRollupStoreOptions options)
    : options_(options),
      pool_(url, {.size = options.connections,
                  .connect_timeout = options.connection_timeout,
                  // Counted means on the server's disk, whatever the
                  // server's or database's default.
                  .prepare = [](postgres::Connection& db) {
                    return db.Exec("SET synchronous_commit = on");
                  }}) {}

absl::StatusOr<postgres::Pool::Lease> PgRollupStore::Connect() {
  return pool_.Acquire(absl::Now() + options_.connection_timeout);
}

absl::Status PgRollupStore::Describe(absl::Status status) const {
  if (!absl::IsUnavailable(status) ||
      absl::StrContains(status.message(), pool_.server())) {
    return status;
  }
  return absl::UnavailableError(absl::StrCat(
      "PostgreSQL at ", pool_.server(), " unreachable: ", status.message()));
}

absl::Status PgRollupStore::WriteLocked(
    absl::FunctionRef<absl::StatusOr<int64_t>(postgres::Connection&, int64_t)>
        write) {
  absl::StatusOr<postgres::Pool::Lease> lease = Connect();
  if (!lease.ok()) return lease.status();
  postgres::Connection& db = **lease;
  absl::Status status = [&]() -> absl::Status {
    postgres::Transaction txn(db);
    POLKU_RETURN_IF_ERROR(txn.Begin());
    // Every writer takes this row lock first and holds it to COMMIT: the
    // exactly-once argument in the header rests on it.
    POLKU_ASSIGN_OR_RETURN(const int64_t checkpoint,
                           ReadCheckpoint(db, /*lock=*/true));
    POLKU_ASSIGN_OR_RETURN(const int64_t next, write(db, checkpoint));
    if (next == checkpoint) return txn.Rollback();
    POLKU_RETURN_IF_ERROR(
        db.Execute("UPDATE checkpoint SET sequence = $1 WHERE id = 1",
                   {Param::Int(next)})
            .status());
    return txn.Commit();
  }();
  return Describe(status);
}

template <typename T>
absl::StatusOr<T> PgRollupStore::Read(
    absl::FunctionRef<absl::StatusOr<T>(postgres::Connection&)> read) {
  absl::StatusOr<postgres::Pool::Lease> lease = Connect();
  if (!lease.ok()) return lease.status();
  postgres::Connection& db = **lease;
  absl::StatusOr<T> result = [&]() -> absl::StatusOr<T> {
    postgres::Transaction txn(db);
    POLKU_RETURN_IF_ERROR(
        txn.Begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    absl::StatusOr<T> result = read(db);
    if (!result.ok()) return result;
    POLKU_RETURN_IF_ERROR(txn.Commit());
    return result;
  }();
  if (!result.ok()) return Describe(result.status());
  return result;
}

absl::Status PgRollupStore::Apply(
    const google::protobuf::RepeatedPtrField<v1::StoredEvent>& events) {
  if (events.empty()) return absl::OkStatus();
  return WriteLocked([&](postgres::Connection& db,
                         int64_t checkpoint) -> absl::StatusOr<int64_t> {
    int64_t last = checkpoint;
    // Summed per row first, as one upsert may touch a row only once;
    // std::map keeps the write order deterministic.
    std::map<RollupKey, Contribution> contributions;
    // The counted_events rows, one array per column.
    KeyArrays keys;
    std::vector<std::string> customer_hashes, attributes, measures;
    std::vector<int64_t> sequences, csat, nps, ces;
    for (const v1::StoredEvent& stored : events) {
      if (stored.sequence() <= last) continue;  // counted already
      last = stored.sequence();
      const CountedEvent event = FromFeed(stored);
      POLKU_RETURN_IF_ERROR(Count(event, contributions[event.key]));
      keys.Add(event.key);
      customer_hashes.push_back(stored.customer_hash());
      sequences.push_back(stored.sequence());
      csat.push_back(ScoreElement(event.csat));
      nps.push_back(ScoreElement(event.nps));
      ces.push_back(ScoreElement(event.ces));
      attributes.push_back(EncodePairs(event.attributes));
      measures.push_back(EncodeMeasures(event.measures));
    }
    if (last == checkpoint) return checkpoint;
    POLKU_RETURN_IF_ERROR(AddToRollups(db, contributions, 1));
    std::vector<Param> params = keys.Params();
    params.insert(
        params.end(),
        {Param::TextArray(customer_hashes), Param::IntArray(sequences),
         Param::IntArray(csat), Param::IntArray(nps), Param::IntArray(ces),
         Param::TextArray(attributes), Param::TextArray(measures)});
    POLKU_RETURN_IF_ERROR(
        db.Execute(InsertCountedEventsSql(), params).status());
    return last;
  });
}

absl::Status PgRollupStore::ApplyErasure(const v1::Erasure& erasure) {
  int64_t erased = 0;
  POLKU_RETURN_IF_ERROR(WriteLocked([&](postgres::Connection& db,
                                        int64_t checkpoint)
                                        -> absl::StatusOr<int64_t> {
    if (erasure.sequence() <= checkpoint) return checkpoint;  // applied
    // What the customer's counted events added, rebuilt exactly as
    // Apply counted it.
    const std::vector<Param> customer = {Param::Text(erasure.tenant()),
                                         Param::Text(erasure.customer_hash())};
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result rows,
        db.Execute("SELECT journey, journey_version, touchpoint, stage,"
                   " channel, day, csat, nps, ces, measures"
                   " FROM counted_events"
                   " WHERE tenant = $1 AND customer_hash = $2",
                   customer));
    std::map<RollupKey, Contribution> contributions;
    for (int row = 0; row < rows.rows(); ++row) {
      CountedEvent event;
      event.key = RollupKey{erasure.tenant(),
                            rows.Text(row, 0),
                            static_cast<int32_t>(rows.Int(row, 1)),
                            rows.Text(row, 2),
                            rows.Text(row, 3),
                            rows.Text(row, 4),
                            rows.Int(row, 5)};
      event.csat = ScoreAt(rows, row, 6);
      event.nps = ScoreAt(rows, row, 7);
      event.ces = ScoreAt(rows, row, 8);
      POLKU_ASSIGN_OR_RETURN(event.measures, DecodeMeasures(rows.Text(row, 9)));
      POLKU_RETURN_IF_ERROR(Count(event, contributions[event.key]));
    }
    erased = rows.rows();
    POLKU_RETURN_IF_ERROR(AddToRollups(db, contributions, -1));
    POLKU_RETURN_IF_ERROR(
        db.Execute("DELETE FROM counted_events"
                   " WHERE tenant = $1 AND customer_hash = $2",
                   customer)
            .status());
    return erasure.sequence();
  }));
  if (erased > 0) {
    log::Info("customer erased from rollups",
              {{"tenant", erasure.tenant()},
               {"events", erased},
               {"sequence", erasure.sequence()}});
  }
  return absl::OkStatus();
}

absl::Status PgRollupStore::CheckFeed(const std::string& feed_id) {
  if (feed_id.empty()) return absl::OkStatus();  // a feed without identity
  absl::StatusOr<postgres::Pool::Lease> lease = Connect();
  if (!lease.ok()) return lease.status();
  postgres::Connection& db = **lease;
  return Describe([&]() -> absl::Status {
    postgres::Transaction txn(db);
    POLKU_RETURN_IF_ERROR(txn.Begin());
    // Locked like every write, so replicas binding at once agree.
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result row,
        db.Execute("SELECT feed_id, sequence FROM checkpoint WHERE id = 1"
                   " FOR UPDATE"));
    if (row.rows() != 1) {
      return absl::DataLossError("the insight database has no checkpoint row");
    }
    const std::string bound = row.Text(0, 0);
    const int64_t checkpoint = row.Int(0, 1);
    if (bound == feed_id) return txn.Commit();
    if (!bound.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the change feed is ", feed_id, " but the insight database at ",
          pool_.server(), " counted feed ", bound, " up to sequence ",
          checkpoint,
          "; polku-feedback's database was replaced. Refusing to apply it: "
          "drop the insight database's tables to rebuild from the new feed, "
          "or restore the old feedback database"));
    }
    if (checkpoint > 0) {
      log::Warning("binding a checkpoint of an unknown feed to this feed",
                   {{"feed_id", feed_id}, {"checkpoint", checkpoint}});
    }
    POLKU_RETURN_IF_ERROR(
        db.Execute("UPDATE checkpoint SET feed_id = $1 WHERE id = 1",
                   {Param::Text(feed_id)})
            .status());
    return txn.Commit();
  }());
}

absl::StatusOr<int64_t> PgRollupStore::Checkpoint() {
  // Read from the database every time: another replica may have advanced it.
  absl::StatusOr<postgres::Pool::Lease> lease = Connect();
  if (!lease.ok()) return lease.status();
  absl::StatusOr<int64_t> checkpoint = ReadCheckpoint(**lease, /*lock=*/false);
  if (!checkpoint.ok()) return Describe(checkpoint.status());
  return checkpoint;
}

absl::StatusOr<GroupedRollups> PgRollupStore::Scorecard(
    const ScorecardQuery& query) {
  return Read<GroupedRollups>(
      [&](postgres::Connection& db) -> absl::StatusOr<GroupedRollups> {
        GroupedRollups result;
        POLKU_ASSIGN_OR_RETURN(result.as_of_sequence,
                               ReadCheckpoint(db, /*lock=*/false));
        if (query.attributes.empty()) {
          POLKU_RETURN_IF_ERROR(ReadRollups(db, query, result));
        } else {
          POLKU_RETURN_IF_ERROR(ReadCountedEvents(db, query, result));
        }
        return result;
      });
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
PgRollupStore::JourneysWithEvents() {
  using Journeys = std::vector<std::pair<std::string, std::string>>;
  return Read<Journeys>(
      [](postgres::Connection& db) -> absl::StatusOr<Journeys> {
        POLKU_ASSIGN_OR_RETURN(
            postgres::Result rows,
            db.Execute("SELECT DISTINCT tenant, journey FROM rollups"
                       " ORDER BY tenant, journey"));
        Journeys journeys;
        for (int row = 0; row < rows.rows(); ++row) {
          journeys.emplace_back(rows.Text(row, 0), rows.Text(row, 1));
        }
        return journeys;
      });
}

absl::Status PgRollupStore::SaveAlerts(const std::string& tenant,
                                       const std::vector<v1::Alert>& alerts) {
  if (tenant.empty()) return absl::InvalidArgumentError("tenant is required");
  for (const v1::Alert& alert : alerts) {
    if (alert.id().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("alert.id is required (alert of journey \"",
                       alert.journey(), "\", key \"", alert.key(), "\")"));
    }
  }
  absl::StatusOr<postgres::Pool::Lease> lease = Connect();
  if (!lease.ok()) return lease.status();
  postgres::Connection& db = **lease;
  return Describe([&]() -> absl::Status {
    postgres::Transaction txn(db);
    POLKU_RETURN_IF_ERROR(txn.Begin());
    for (const v1::Alert& alert : alerts) {
      POLKU_RETURN_IF_ERROR(
          db.Execute(
                "INSERT INTO alerts (tenant, id, journey, state,"
                " first_seen_micros, alert) VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (tenant, id) DO UPDATE SET journey ="
                " excluded.journey, state = excluded.state,"
                " first_seen_micros = excluded.first_seen_micros,"
                " alert = excluded.alert",
                {Param::Text(tenant), Param::Text(alert.id()),
                 Param::Text(alert.journey()), Param::Int(alert.state()),
                 Param::Int(UnixMicros(alert.first_seen())),
                 Param::Bytes(alert.SerializeAsString())})
              .status());
    }
    return txn.Commit();
  }());
}

absl::StatusOr<std::vector<v1::Alert>> PgRollupStore::LoadAlerts(
    const std::string& tenant, const std::string& journey,
    bool include_cleared) {
  using Alerts = std::vector<v1::Alert>;
  return Read<Alerts>([&](postgres::Connection& db) -> absl::StatusOr<Alerts> {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result rows,
        db.Execute("SELECT id, alert FROM alerts WHERE tenant = $1"
                   " AND ($2 = '' OR journey = $2)"
                   " AND ($3::boolean OR state <> $4::integer)"
                   " ORDER BY first_seen_micros DESC, id",
                   {Param::Text(tenant), Param::Text(journey),
                    Param::Text(include_cleared ? "true" : "false"),
                    Param::Int(v1::CLEARED)}));
    Alerts alerts;
    for (int row = 0; row < rows.rows(); ++row) {
      if (!alerts.emplace_back().ParseFromString(rows.Bytes(row, 1))) {
        return absl::DataLossError(
            absl::StrCat("alert ", rows.Text(row, 0),
                         " in the insight database is unreadable"));
      }
    }
    return alerts;
  });
}

}  // namespace polku::insight
