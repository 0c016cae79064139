#include "services/insight/postgres/pg_rollup_store.h"

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
#include "lib/base/status_macros.h"
#include "services/insight/store/rollup_math.h"
#include "services/insight/store/sql_text.h"

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

// Version 2: SqliteRollupStore's version 6 (a checkpoint per projection,
// each counted event's details, the ledger's attribute index, which catches
// up from the ledger as a projection). Nothing is rewritten: events counted
// before have no details row and read as occurring at their day's midnight,
// without a comment.
constexpr char kSchemaV2[] = R"sql(
CREATE TABLE projection_checkpoints (
  projection TEXT COLLATE "C" PRIMARY KEY,
  sequence BIGINT NOT NULL
);
INSERT INTO projection_checkpoints (projection, sequence)
  SELECT 'rollups', sequence FROM checkpoint;
CREATE TABLE event_details (
  sequence BIGINT PRIMARY KEY,   -- the counted_events row's
  occurred_at BIGINT NOT NULL,   -- Unix microseconds
  comment TEXT NOT NULL,         -- as stored by polku-feedback (redacted)
  language TEXT NOT NULL
);
-- A projection catching up reads the ledger in sequence order; the ledger's
-- key leads with the customer. Built at the first start of this version:
-- seconds per million counted events, writes to the ledger waiting for it.
CREATE INDEX counted_events_by_sequence ON counted_events (sequence);
CREATE TABLE ledger_attributes (
  attribute BIGINT NOT NULL,  -- AttributeKey(tenant, journey, name, value)
  sequence BIGINT NOT NULL,
  PRIMARY KEY (attribute, sequence)
);
)sql";

// Version 3: SqliteRollupStore's version 7: the attribute index carries the
// columns a scorecard counts, so that a filtered scorecard reads the index's
// rows of one value and no counted_events row. (PostgreSQL's heap keeps them
// in the order written, not clustered by value as SQLite's WITHOUT ROWID
// b-tree is; still one table's rows instead of a join.) The old index is
// dropped with its projection's checkpoint: it catches up from the ledger
// after the first start, in the background. The checkpoint row is locked
// first, as every writer locks it first: a replica of the previous build
// whose write began before this migration then commits (and saves the old
// index's checkpoint) before the DELETE below, not after it, where it would
// mark the new, empty index as caught up.
constexpr char kSchemaV3[] = R"sql(
SELECT sequence FROM checkpoint WHERE id = 1 FOR UPDATE;
DROP TABLE ledger_attributes;
CREATE TABLE ledger_attributes (
  attribute BIGINT NOT NULL,  -- AttributeKey(tenant, journey, name, value)
  sequence BIGINT NOT NULL,   -- the counted_events row's
  tenant TEXT COLLATE "C" NOT NULL,  -- the rest as in counted_events
  journey TEXT COLLATE "C" NOT NULL,
  journey_version INTEGER NOT NULL,
  touchpoint TEXT COLLATE "C" NOT NULL,
  stage TEXT COLLATE "C" NOT NULL,
  channel TEXT COLLATE "C" NOT NULL,
  day BIGINT NOT NULL,
  csat INTEGER, nps INTEGER, ces INTEGER,
  attributes TEXT NOT NULL,
  measures TEXT NOT NULL,
  PRIMARY KEY (attribute, sequence)
);
DELETE FROM projection_checkpoints WHERE projection = 'attribute_index';
)sql";

// Version 4: SqliteRollupStore's version 8: the attribute index in chunks
// (attribute_index.h), a row per attribute value and feed page instead of
// per event and attribute. The old index is dropped with its checkpoint,
// after locking the checkpoint row as version 3 does, and the new one
// catches up from the ledger after the first start, in the background.
constexpr char kSchemaV4[] = R"sql(
SELECT sequence FROM checkpoint WHERE id = 1 FOR UPDATE;
DROP TABLE ledger_attributes;
CREATE TABLE ledger_attribute_chunks (
  attribute BIGINT NOT NULL,       -- AttributeKey(tenant, journey, name, value)
  first_sequence BIGINT NOT NULL,  -- of the events written in it
  last_sequence BIGINT NOT NULL,
  events BYTEA NOT NULL,           -- polku.insight.store.AttributeChunk
  PRIMARY KEY (attribute, first_sequence)
);
DELETE FROM projection_checkpoints WHERE projection = 'attribute_index';
)sql";

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

// Inserts rows of counted events from arrays (LedgerRowArrays): the key
// columns, the table's own column `own` (of array type `own_type`), the
// sequence, the scores (kNoScore for none) and the encoded attributes and
// measures.
std::string InsertLedgerRowsSql(const char* table, const char* own,
                                const char* own_type) {
  const std::string columns =
      absl::StrCat(kKeyColumns, ", ", own,
                   ", sequence, csat, nps, ces, attributes, measures");
  return absl::StrCat(
      "INSERT INTO ", table, " (", columns, ") SELECT ", kKeyColumns, ", ",
      own, ", sequence, NULLIF(csat, ", kNoScore, "), NULLIF(nps, ", kNoScore,
      "), NULLIF(ces, ", kNoScore, "), attributes, measures FROM ",
      Unnest({own_type, "bigint", "bigint", "bigint", "bigint", "text",
              "text"}),
      " AS e(", columns, ")");
}

// Every counted event of a page in one plain INSERT: a sequence counted
// twice violates the primary key and fails the page rather than count it
// again.
const std::string& InsertCountedEventsSql() {
  static const std::string* sql = new std::string(
      InsertLedgerRowsSql("counted_events", "customer_hash", "text"));
  return *sql;
}

// The columns of InsertLedgerRowsSql but the table's own, one array each.
class LedgerRowArrays {
 public:
  void Add(const CountedEvent& event, const std::string& attributes,
           const std::string& measures) {
    keys_.Add(event.key);
    sequences_.push_back(event.sequence);
    csat_.push_back(ScoreElement(event.csat));
    nps_.push_back(ScoreElement(event.nps));
    ces_.push_back(ScoreElement(event.ces));
    attributes_.push_back(attributes);
    measures_.push_back(measures);
  }
  const std::vector<int64_t>& sequences() const { return sequences_; }
  // Binds them in InsertLedgerRowsSql's order, with the table's own column.
  std::vector<Param> Params(Param own) const {
    std::vector<Param> params = keys_.Params();
    params.insert(params.end(),
                  {std::move(own), Param::IntArray(sequences_),
                   Param::IntArray(csat_), Param::IntArray(nps_),
                   Param::IntArray(ces_), Param::TextArray(attributes_),
                   Param::TextArray(measures_)});
    return params;
  }

 private:
  KeyArrays keys_;
  std::vector<int64_t> sequences_, csat_, nps_, ces_;
  std::vector<std::string> attributes_, measures_;
};

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

const std::string& InsertDetailsSql() {
  static const std::string* sql = new std::string(
      "INSERT INTO event_details (sequence, occurred_at, comment, language)"
      " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[],"
      " $4::text[])");
  return *sql;
}

// PostgreSQL's placeholders, typed so that the planner never guesses.
std::string Placeholder(int index, SqlType type) {
  switch (type) {
    case SqlType::kInteger:
      return absl::StrCat("$", index, "::integer");
    case SqlType::kBigint:
      return absl::StrCat("$", index, "::bigint");
    default:
      return absl::StrCat("$", index);
  }
}

std::vector<Param> ParamsOf(const std::vector<SqlValue>& values) {
  std::vector<Param> params;
  for (const SqlValue& value : values) {
    params.push_back(value.is_text ? Param::Text(value.text)
                                   : Param::Int(value.number));
  }
  return params;
}

class Row final : public SqlRow {
 public:
  Row(const postgres::Result& result, int row) : result_(result), row_(row) {}
  bool IsNull(int column) const override {
    return result_.IsNull(row_, column);
  }
  int64_t Int(int column) const override { return result_.Int(row_, column); }
  absl::StatusOr<int64_t> Sum(int column) const override {
    return ExactInt(result_, row_, column);
  }
  std::string Text(int column) const override {
    return result_.Text(row_, column);
  }

 private:
  const postgres::Result& result_;
  const int row_;
};

absl::StatusOr<std::vector<CountedEvent>> EventsOf(const postgres::Result& rows,
                                                   bool details) {
  std::vector<CountedEvent> events;
  for (int row = 0; row < rows.rows(); ++row) {
    POLKU_ASSIGN_OR_RETURN(CountedEvent event,
                           LedgerRow(Row(rows, row), details));
    events.push_back(std::move(event));
  }
  return events;
}

absl::StatusOr<RollupStore::Checkpoints> ReadCheckpointsOn(
    postgres::Connection& db, bool lock) {
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result row,
      db.Execute(
          lock ? "SELECT sequence, feed_id FROM checkpoint WHERE id = 1"
                 " FOR UPDATE"
               : "SELECT sequence, feed_id FROM checkpoint WHERE id = 1"));
  if (row.rows() != 1) {
    return absl::DataLossError("the insight database has no checkpoint row");
  }
  RollupStore::Checkpoints checkpoints;
  checkpoints.sequence = row.Int(0, 0);
  checkpoints.feed_id = row.Text(0, 1);
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result projections,
      db.Execute("SELECT projection, sequence FROM projection_checkpoints"));
  for (int i = 0; i < projections.rows(); ++i) {
    checkpoints.projections[projections.Text(i, 0)] = projections.Int(i, 1);
  }
  return checkpoints;
}

}  // namespace

class PgRollupStore::LockedTransaction final : public Transaction {
 public:
  explicit LockedTransaction(postgres::Connection& db) : db_(db) {}

  // Every writer reads the checkpoints first, locking their row to COMMIT:
  // the exactly-once argument in the header rests on it.
  absl::StatusOr<Checkpoints> ReadCheckpoints() override {
    return ReadCheckpointsOn(db_, /*lock=*/true);
  }
  absl::Status SaveCheckpoints(
      int64_t sequence,
      const std::map<std::string, int64_t>& projections) override {
    POLKU_RETURN_IF_ERROR(
        db_.Execute("UPDATE checkpoint SET sequence = $1 WHERE id = 1",
                    {Param::Int(sequence)})
            .status());
    if (projections.empty()) return absl::OkStatus();
    std::vector<std::string> names;
    std::vector<int64_t> sequences;
    for (const auto& [name, at] : projections) {
      names.push_back(name);
      sequences.push_back(at);
    }
    return db_
        .Execute(
            "INSERT INTO projection_checkpoints (projection, sequence)"
            " SELECT * FROM unnest($1::text[], $2::bigint[])"
            " ON CONFLICT (projection) DO UPDATE SET sequence = "
            "excluded.sequence",
            {Param::TextArray(names), Param::IntArray(sequences)})
        .status();
  }
  absl::Status BindFeed(const std::string& feed_id) override {
    return db_
        .Execute("UPDATE checkpoint SET feed_id = $1 WHERE id = 1",
                 {Param::Text(feed_id)})
        .status();
  }
  absl::StatusOr<std::vector<CountedEvent>> CustomerEvents(
      const std::string& tenant, const std::string& customer_hash) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result rows,
        db_.Execute(LedgerScanSql({.details = false},
                                  " WHERE c.tenant = $1"
                                  " AND c.customer_hash = $2"),
                    {Param::Text(tenant), Param::Text(customer_hash)}));
    return EventsOf(rows, false);
  }
  absl::StatusOr<std::vector<CountedEvent>> LedgerAfter(int64_t after,
                                                        int64_t through,
                                                        int limit) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result rows,
        db_.Execute(
            absl::StrCat(LedgerScanSql({},
                                       " WHERE c.sequence > $1::bigint"
                                       " AND c.sequence <= $2::bigint"),
                         " ORDER BY c.sequence LIMIT $3::bigint"),
            {Param::Int(after), Param::Int(through), Param::Int(limit)}));
    return EventsOf(rows, true);
  }
  absl::Status AppendToLedger(absl::Span<const CountedEvent> events) override {
    if (events.empty()) return absl::OkStatus();
    // The rows, one array per column.
    LedgerRowArrays rows;
    std::vector<std::string> customer_hashes, comments, languages;
    std::vector<int64_t> occurred_at;
    for (const CountedEvent& event : events) {
      rows.Add(event, EncodePairs(event.attributes),
               EncodeMeasures(event.measures));
      customer_hashes.push_back(event.customer_hash);
      occurred_at.push_back(event.occurred_at_micros);
      comments.push_back(event.comment);
      languages.push_back(event.language);
    }
    POLKU_RETURN_IF_ERROR(
        db_.Execute(InsertCountedEventsSql(),
                    rows.Params(Param::TextArray(customer_hashes)))
            .status());
    return db_
        .Execute(InsertDetailsSql(),
                 {Param::IntArray(rows.sequences()), Param::IntArray(occurred_at),
                  Param::TextArray(comments), Param::TextArray(languages)})
        .status();
  }
  absl::Status ForgetCustomer(const std::string& tenant,
                              const std::string& customer_hash) override {
    const std::vector<Param> customer = {Param::Text(tenant),
                                         Param::Text(customer_hash)};
    POLKU_RETURN_IF_ERROR(
        db_.Execute("DELETE FROM event_details WHERE sequence IN"
                    " (SELECT sequence FROM counted_events"
                    " WHERE tenant = $1 AND customer_hash = $2)",
                    customer)
            .status());
    return db_
        .Execute(
            "DELETE FROM counted_events"
            " WHERE tenant = $1 AND customer_hash = $2",
            customer)
        .status();
  }
  absl::Status InsertAttributeChunks(
      absl::Span<const AttributeChunkRow> chunks) override {
    std::vector<int64_t> attributes, firsts, lasts;
    std::vector<std::string> events;
    for (const AttributeChunkRow& chunk : chunks) {
      attributes.push_back(chunk.attribute);
      firsts.push_back(chunk.first_sequence);
      lasts.push_back(chunk.last_sequence);
      events.push_back(chunk.events);
    }
    return db_
        .Execute(
            "INSERT INTO ledger_attribute_chunks (attribute, first_sequence,"
            " last_sequence, events) SELECT * FROM unnest($1::bigint[],"
            " $2::bigint[], $3::bigint[], $4::bytea[])",
            {Param::IntArray(attributes), Param::IntArray(firsts),
             Param::IntArray(lasts), Param::BytesArray(events)})
        .status();
  }
  absl::Status ReplaceAttributeChunk(int64_t attribute, int64_t first_sequence,
                                     const std::string& events) override {
    return db_
        .Execute(
            "UPDATE ledger_attribute_chunks SET events = $3"
            " WHERE attribute = $1 AND first_sequence = $2",
            {Param::Int(attribute), Param::Int(first_sequence),
             Param::Bytes(events)})
        .status();
  }
  absl::StatusOr<std::optional<AttributeChunkRow>> AttributeChunkAt(
      int64_t attribute, int64_t sequence) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result rows,
        db_.Execute("SELECT first_sequence, last_sequence, events"
                    " FROM ledger_attribute_chunks WHERE attribute = $1"
                    " AND first_sequence <= $2"
                    " ORDER BY first_sequence DESC LIMIT 1",
                    {Param::Int(attribute), Param::Int(sequence)}));
    if (rows.rows() == 0) return std::nullopt;
    return AttributeChunkRow{.attribute = attribute,
                             .first_sequence = rows.Int(0, 0),
                             .last_sequence = rows.Int(0, 1),
                             .events = rows.Bytes(0, 2)};
  }
  absl::Status DeleteAttributeChunk(int64_t attribute,
                                    int64_t first_sequence) override {
    return db_
        .Execute(
            "DELETE FROM ledger_attribute_chunks"
            " WHERE attribute = $1 AND first_sequence = $2",
            {Param::Int(attribute), Param::Int(first_sequence)})
        .status();
  }
  absl::Status AddToRollups(
      const std::map<RollupKey, Contribution>& contributions,
      int sign) override {
    return insight::AddToRollups(db_, contributions, sign);
  }

 private:
  postgres::Connection& db_;
};

class PgRollupStore::ReadSnapshot final : public Snapshot {
 public:
  ReadSnapshot(postgres::Connection& db, std::string database)
      : db_(db), database_(std::move(database)) {}

  absl::StatusOr<Checkpoints> ReadCheckpoints() override {
    return ReadCheckpointsOn(db_, /*lock=*/false);
  }
  absl::Status SumRollups(const ScorecardQuery& query,
                          GroupedRollups& result) override {
    const SqlWhere where = RollupWhere(query, Placeholder);
    const std::vector<Param> params = ParamsOf(where.params);
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result sums,
        db_.Execute(RollupSumsSql(query, where.sql), params));
    std::map<std::string, size_t> index;
    for (int row = 0; row < sums.rows(); ++row) {
      POLKU_RETURN_IF_ERROR(
          AddRollupSums(Row(sums, row), query.group_by, index, result));
    }
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result measures,
        db_.Execute(MeasureSumsSql(query, where.sql), params));
    for (int row = 0; row < measures.rows(); ++row) {
      POLKU_RETURN_IF_ERROR(AddMeasureSums(Row(measures, row), query.group_by,
                                           index, database_, result));
    }
    return absl::OkStatus();
  }
  absl::Status ScanLedger(
      const ScorecardQuery& query, const LedgerFields& fields,
      absl::FunctionRef<absl::Status(const CountedEvent&)> visit) override {
    const SqlWhere scan = LedgerScan(query, fields, Placeholder);
    POLKU_ASSIGN_OR_RETURN(postgres::Result rows,
                           db_.Execute(scan.sql, ParamsOf(scan.params)));
    for (int row = 0; row < rows.rows(); ++row) {
      POLKU_ASSIGN_OR_RETURN(const CountedEvent event,
                             LedgerRow(Row(rows, row), fields.details));
      POLKU_RETURN_IF_ERROR(visit(event));
    }
    return absl::OkStatus();
  }
  absl::Status ScanAttributeChunks(
      int64_t attribute, int64_t after_sequence,
      absl::FunctionRef<absl::Status(absl::string_view)> visit) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result rows,
        db_.Execute("SELECT events FROM ledger_attribute_chunks"
                    " WHERE attribute = $1 AND last_sequence > $2"
                    " ORDER BY first_sequence",
                    {Param::Int(attribute), Param::Int(after_sequence)}));
    for (int row = 0; row < rows.rows(); ++row) {
      POLKU_RETURN_IF_ERROR(visit(rows.Bytes(row, 0)));
    }
    return absl::OkStatus();
  }
  // One round trip for them all.
  absl::StatusOr<std::vector<CountedEvent>> LedgerEventsAt(
      const std::string& tenant, absl::Span<const int64_t> sequences) override {
    if (sequences.empty()) return std::vector<CountedEvent>();
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result rows,
        db_.Execute(absl::StrCat(LedgerScanSql({},
                                               " WHERE c.sequence = ANY("
                                               "$1::bigint[]) AND"
                                               " c.tenant = $2"),
                                 " ORDER BY c.sequence"),
                    {Param::IntArray(sequences), Param::Text(tenant)}));
    return EventsOf(rows, true);
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  JourneysWithEvents() override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result rows,
        db_.Execute("SELECT DISTINCT tenant, journey FROM rollups"
                    " ORDER BY tenant, journey"));
    std::vector<std::pair<std::string, std::string>> journeys;
    for (int row = 0; row < rows.rows(); ++row) {
      journeys.emplace_back(rows.Text(row, 0), rows.Text(row, 1));
    }
    return journeys;
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> AlertRows(
      const std::string& tenant, const std::string& journey,
      bool include_cleared) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result rows,
        db_.Execute("SELECT id, alert FROM alerts WHERE tenant = $1"
                    " AND ($2 = '' OR journey = $2)"
                    " AND ($3::boolean OR state <> $4::integer)"
                    " ORDER BY first_seen_micros DESC, id",
                    {Param::Text(tenant), Param::Text(journey),
                     Param::Text(include_cleared ? "true" : "false"),
                     Param::Int(v1::CLEARED)}));
    std::vector<std::pair<std::string, std::string>> alerts;
    for (int row = 0; row < rows.rows(); ++row) {
      alerts.emplace_back(rows.Text(row, 0), rows.Bytes(row, 1));
    }
    return alerts;
  }

 private:
  postgres::Connection& db_;
  const std::string database_;
};

absl::StatusOr<std::unique_ptr<PgRollupStore>> PgRollupStore::Open(
    const std::string& url, PgRollupStoreOptions options,
    std::vector<std::unique_ptr<Projection>> extra) {
  std::unique_ptr<PgRollupStore> store(
      new PgRollupStore(url, options, std::move(extra)));
  POLKU_ASSIGN_OR_RETURN(postgres::Pool::Lease db, store->Connect());
  POLKU_RETURN_IF_ERROR(store->Describe(Migrate(*db)));
  return store;
}

const std::vector<Migration>& PgRollupStore::Migrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}, {4, kSchemaV4}};
  return *migrations;
}

absl::Status PgRollupStore::Migrate(postgres::Connection& db) {
  return db.Migrate("insight", Migrations());
}

PgRollupStore::PgRollupStore(const std::string& url,
                             PgRollupStoreOptions options,
                             std::vector<std::unique_ptr<Projection>> extra)
    : RollupStore(std::move(extra)),
      options_(options),
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

std::string PgRollupStore::DatabaseName() const {
  return absl::StrCat("the insight database at ", pool_.server());
}

absl::Status PgRollupStore::Write(
    absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> write) {
  absl::StatusOr<postgres::Pool::Lease> lease = Connect();
  if (!lease.ok()) return lease.status();
  postgres::Connection& db = **lease;
  return Describe([&]() -> absl::Status {
    postgres::Transaction txn(db);
    POLKU_RETURN_IF_ERROR(txn.Begin());
    LockedTransaction primitives(db);
    POLKU_ASSIGN_OR_RETURN(const bool commit, write(primitives));
    return commit ? txn.Commit() : txn.Rollback();
  }());
}

absl::Status PgRollupStore::Read(
    absl::FunctionRef<absl::Status(Snapshot&)> read) {
  absl::StatusOr<postgres::Pool::Lease> lease = Connect();
  if (!lease.ok()) return lease.status();
  postgres::Connection& db = **lease;
  return Describe([&]() -> absl::Status {
    postgres::Transaction txn(db);
    POLKU_RETURN_IF_ERROR(
        txn.Begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    ReadSnapshot snapshot(db, DatabaseName());
    POLKU_RETURN_IF_ERROR(read(snapshot));
    return txn.Commit();
  }());
}

absl::Status PgRollupStore::WriteAlerts(const std::string& tenant,
                                        const std::vector<v1::Alert>& alerts) {
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

}  // namespace polku::insight
