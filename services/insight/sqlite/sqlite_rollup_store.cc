#include "services/insight/sqlite/sqlite_rollup_store.h"

#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/base/status_macros.h"
#include "services/insight/store/rollup_math.h"
#include "services/insight/store/sql_text.h"

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
    "INSERT INTO counted_events (sequence, tenant, journey, journey_version,"
    " touchpoint, stage, channel, day, csat, nps, ces, attributes, measures,"
    " customer_hash)"
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
                 " sum_squares_low FROM rollup_measures WHERE tenant = ?1 AND "
                 "journey = ?2"
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
    POLKU_ASSIGN_OR_RETURN(sum.sum_squares_milli2, JoinSquares(parts, measure));
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

// Binds ?1…?13 of kRecordCountedSql: sequence, tenant, journey,
// journey_version, touchpoint, stage, channel, day, csat, nps, ces and the
// encoded attributes and measures.
sqlite::Statement& BindCounted(sqlite::Statement& statement,
                               const CountedEvent& event,
                               const std::string& attributes,
                               const std::string& measures) {
  const auto& [tenant, journey, version, touchpoint, stage, channel, day] =
      event.key;
  // Unowned: every caller runs the statement while `event` and the two
  // strings are alive.
  statement.Bind(1, event.sequence)
      .BindUnowned(2, tenant)
      .BindUnowned(3, journey)
      .Bind(4, int64_t{version})
      .BindUnowned(5, touchpoint)
      .BindUnowned(6, stage)
      .BindUnowned(7, channel)
      .Bind(8, int64_t{day});
  BindScore(statement, 9, event.csat);
  BindScore(statement, 10, event.nps);
  BindScore(statement, 11, event.ces);
  return statement.BindUnowned(12, attributes).BindUnowned(13, measures);
}

// Version 6: a checkpoint per projection beside the ledger's (checkpoint),
// each counted event's details that analytics of single events need, and
// the ledger's attribute index. Nothing is rewritten: events counted before
// have no details row and read as occurring at their day's midnight,
// without a comment; the attribute index is a projection, which catches up
// from the ledger after the first start (until then attribute filters read
// the journey's whole ledger, as before).
constexpr char kSchemaV6[] = R"sql(
CREATE TABLE projection_checkpoints (
  projection TEXT PRIMARY KEY,
  sequence INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO projection_checkpoints (projection, sequence)
  SELECT 'rollups', sequence FROM checkpoint;
CREATE TABLE event_details (
  sequence INTEGER PRIMARY KEY,  -- the counted_events row's
  occurred_at INTEGER NOT NULL,  -- Unix microseconds
  comment TEXT NOT NULL,         -- as stored by polku-feedback (redacted)
  language TEXT NOT NULL
);
CREATE TABLE ledger_attributes (
  attribute INTEGER NOT NULL,  -- AttributeKey(tenant, journey, name, value)
  sequence INTEGER NOT NULL,   -- the counted_events row's
  PRIMARY KEY (attribute, sequence)
) WITHOUT ROWID;
)sql";

// Version 7: the attribute index carries the columns a scorecard counts
// (all of the ledger row's but the customer hash), in its WITHOUT ROWID
// b-tree keyed by (attribute, sequence), so that one value's events are one
// contiguous range and a filtered scorecard reads only that. Joined to
// counted_events instead, each event was a lookup of its own: at 10 M
// events, one store's 100,000 events were 100,000 pages all over the ledger,
// mostly outside every cache (p99 1.5 s). An entry is about 120 bytes
// instead of 20. The old index is dropped and the projection's checkpoint
// with it, so the index catches up from the ledger after the first start,
// in the background (until then attribute filters read the journey's whole
// ledger, as before version 6).
constexpr char kSchemaV7[] = R"sql(
DROP TABLE ledger_attributes;
CREATE TABLE ledger_attributes (
  attribute INTEGER NOT NULL,  -- AttributeKey(tenant, journey, name, value)
  sequence INTEGER NOT NULL,   -- the counted_events row's
  tenant TEXT NOT NULL,        -- the rest as in counted_events
  journey TEXT NOT NULL,
  journey_version INTEGER NOT NULL,
  touchpoint TEXT NOT NULL,
  stage TEXT NOT NULL,
  channel TEXT NOT NULL,
  day INTEGER NOT NULL,
  csat INTEGER, nps INTEGER, ces INTEGER,
  attributes TEXT NOT NULL,
  measures TEXT NOT NULL,
  PRIMARY KEY (attribute, sequence)
) WITHOUT ROWID;
DELETE FROM projection_checkpoints WHERE projection = 'attribute_index';
)sql";

// Version 8: the attribute index in chunks (attribute_index.h): a row per
// attribute value and feed page instead of per event and attribute, which
// cost the feed a b-tree insert each (about 3 µs an event, as much as the
// rest of the ledger's row). A rowid table: chunks are written in the order
// of pages, at its end; the unique index finds one value's chunks in order.
// The old index is dropped with its checkpoint and the new one catches up
// from the ledger after the first start, in the background (until then
// attribute filters read the journey's whole ledger, as before version 6).
constexpr char kSchemaV8[] = R"sql(
DROP TABLE ledger_attributes;
CREATE TABLE ledger_attribute_chunks (
  attribute INTEGER NOT NULL,       -- AttributeKey(tenant, journey, name, value)
  first_sequence INTEGER NOT NULL,  -- of the events written in it
  last_sequence INTEGER NOT NULL,
  events BLOB NOT NULL              -- polku.insight.store.AttributeChunk
);
CREATE UNIQUE INDEX ledger_attribute_chunks_by_attribute
  ON ledger_attribute_chunks (attribute, first_sequence);
DELETE FROM projection_checkpoints WHERE projection = 'attribute_index';
)sql";

constexpr char kRecordDetailsSql[] =
    "INSERT INTO event_details (sequence, occurred_at, comment, language)"
    " VALUES (?1, ?2, ?3, ?4)";

// SQLite's placeholders: ?1, ?2, …
std::string Placeholder(int index, SqlType) { return absl::StrCat("?", index); }

void BindAll(sqlite::Statement& statement,
             const std::vector<SqlValue>& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].is_text) {
      statement.Bind(static_cast<int>(i + 1), params[i].text);
    } else {
      statement.Bind(static_cast<int>(i + 1), params[i].number);
    }
  }
}

class Row final : public SqlRow {
 public:
  explicit Row(const sqlite::Statement& statement) : statement_(statement) {}
  bool IsNull(int column) const override { return statement_.IsNull(column); }
  int64_t Int(int column) const override {
    return statement_.ColumnInt(column);
  }
  // SQLite's SUM fails on overflow rather than going wrong.
  absl::StatusOr<int64_t> Sum(int column) const override {
    return statement_.ColumnInt(column);
  }
  std::string Text(int column) const override {
    return statement_.ColumnText(column);
  }

 private:
  const sqlite::Statement& statement_;
};

absl::StatusOr<RollupStore::Checkpoints> ReadCheckpointsOn(
    sqlite::Database& db) {
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db.Prepare("SELECT sequence, feed_id FROM checkpoint WHERE id = 1"));
  RollupStore::Checkpoints checkpoints;
  bool found = false;
  POLKU_RETURN_IF_ERROR(select->ForEachRow([&](const sqlite::Statement& row) {
    found = true;
    checkpoints.sequence = row.ColumnInt(0);
    checkpoints.feed_id = row.ColumnText(1);
    return absl::OkStatus();
  }));
  if (!found) return absl::DataLossError("insight.db has no checkpoint row");
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * projections,
      db.Prepare("SELECT projection, sequence FROM projection_checkpoints"));
  POLKU_RETURN_IF_ERROR(
      projections->ForEachRow([&](const sqlite::Statement& row) {
        checkpoints.projections[row.ColumnText(0)] = row.ColumnInt(1);
        return absl::OkStatus();
      }));
  return checkpoints;
}

}  // namespace

class SqliteRollupStore::WriterTransaction final : public Transaction {
 public:
  explicit WriterTransaction(sqlite::Database& db) : db_(db) {}

  absl::StatusOr<Checkpoints> ReadCheckpoints() override {
    return ReadCheckpointsOn(db_);
  }
  absl::Status SaveCheckpoints(
      int64_t sequence,
      const std::map<std::string, int64_t>& projections) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * advance,
        db_.Prepare("UPDATE checkpoint SET sequence = ?1 WHERE id = 1"));
    POLKU_RETURN_IF_ERROR(advance->Bind(1, sequence).Run());
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * save,
        db_.Prepare("INSERT INTO projection_checkpoints (projection, sequence)"
                    " VALUES (?1, ?2) ON CONFLICT (projection)"
                    " DO UPDATE SET sequence = excluded.sequence"));
    for (const auto& [projection, at] : projections) {
      POLKU_RETURN_IF_ERROR(save->Bind(1, projection).Bind(2, at).Run());
    }
    return absl::OkStatus();
  }
  absl::Status BindFeed(const std::string& feed_id) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * bind,
        db_.Prepare("UPDATE checkpoint SET feed_id = ?1 WHERE id = 1"));
    return bind->Bind(1, feed_id).Run();
  }
  absl::StatusOr<std::vector<CountedEvent>> CustomerEvents(
      const std::string& tenant, const std::string& customer_hash) override {
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * select,
                           db_.Prepare(CustomerEventsSql()));
    return Events(select->Bind(1, tenant).Bind(2, customer_hash), false);
  }
  absl::StatusOr<std::vector<CountedEvent>> LedgerAfter(int64_t after,
                                                        int64_t through,
                                                        int limit) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare(absl::StrCat(
            LedgerScanSql({}, " WHERE c.sequence > ?1 AND c.sequence <= ?2"),
            " ORDER BY c.sequence LIMIT ?3")));
    return Events(select->Bind(1, after).Bind(2, through).Bind(3, limit), true);
  }
  absl::Status AppendToLedger(absl::Span<const CountedEvent> events) override {
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * record,
                           db_.Prepare(kRecordCountedSql));
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * details,
                           db_.Prepare(kRecordDetailsSql));
    for (const CountedEvent& event : events) {
      POLKU_RETURN_IF_ERROR(BindCounted(*record, event,
                                        EncodePairs(event.attributes),
                                        EncodeMeasures(event.measures))
                                .BindUnowned(14, event.customer_hash)
                                .Run());
      POLKU_RETURN_IF_ERROR(details->Bind(1, event.sequence)
                                .Bind(2, event.occurred_at_micros)
                                .BindUnowned(3, event.comment)
                                .BindUnowned(4, event.language)
                                .Run());
    }
    return absl::OkStatus();
  }
  absl::Status ForgetCustomer(const std::string& tenant,
                              const std::string& customer_hash) override {
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * details,
                           db_.Prepare(ForgetDetailsSql()));
    POLKU_RETURN_IF_ERROR(
        details->Bind(1, tenant).Bind(2, customer_hash).Run());
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * forget,
                           db_.Prepare(ForgetCustomerSql()));
    return forget->Bind(1, tenant).Bind(2, customer_hash).Run();
  }
  absl::Status InsertAttributeChunks(
      absl::Span<const AttributeChunkRow> chunks) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * insert,
        db_.Prepare("INSERT INTO ledger_attribute_chunks (attribute,"
                    " first_sequence, last_sequence, events)"
                    " VALUES (?1, ?2, ?3, ?4)"));
    for (const AttributeChunkRow& chunk : chunks) {
      POLKU_RETURN_IF_ERROR(insert->Bind(1, chunk.attribute)
                                .Bind(2, chunk.first_sequence)
                                .Bind(3, chunk.last_sequence)
                                .BindBlob(4, chunk.events)
                                .Run());
    }
    return absl::OkStatus();
  }
  absl::Status ReplaceAttributeChunk(int64_t attribute, int64_t first_sequence,
                                     const std::string& events) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * update,
        db_.Prepare("UPDATE ledger_attribute_chunks SET events = ?3"
                    " WHERE attribute = ?1 AND first_sequence = ?2"));
    return update->Bind(1, attribute)
        .Bind(2, first_sequence)
        .BindBlob(3, events)
        .Run();
  }
  absl::StatusOr<std::optional<AttributeChunkRow>> AttributeChunkAt(
      int64_t attribute, int64_t sequence) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare("SELECT first_sequence, last_sequence, events"
                    " FROM ledger_attribute_chunks"
                    " WHERE attribute = ?1 AND first_sequence <= ?2"
                    " ORDER BY first_sequence DESC LIMIT 1"));
    std::optional<AttributeChunkRow> chunk;
    POLKU_RETURN_IF_ERROR(select->Bind(1, attribute)
                              .Bind(2, sequence)
                              .ForEachRow([&](const sqlite::Statement& row) {
                                chunk = AttributeChunkRow{
                                    .attribute = attribute,
                                    .first_sequence = row.ColumnInt(0),
                                    .last_sequence = row.ColumnInt(1),
                                    .events = row.ColumnBlob(2)};
                                return absl::OkStatus();
                              }));
    return chunk;
  }
  absl::Status DeleteAttributeChunk(int64_t attribute,
                                    int64_t first_sequence) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * remove,
        db_.Prepare("DELETE FROM ledger_attribute_chunks"
                    " WHERE attribute = ?1 AND first_sequence = ?2"));
    return remove->Bind(1, attribute).Bind(2, first_sequence).Run();
  }
  absl::Status AddToRollups(
      const std::map<RollupKey, Contribution>& contributions,
      int sign) override {
    return insight::AddToRollups(db_, contributions, sign);
  }

 private:
  absl::StatusOr<std::vector<CountedEvent>> Events(sqlite::Statement& select,
                                                   bool details) {
    std::vector<CountedEvent> events;
    POLKU_RETURN_IF_ERROR(
        select.ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
          POLKU_ASSIGN_OR_RETURN(CountedEvent event,
                                 LedgerRow(Row(row), details));
          events.push_back(std::move(event));
          return absl::OkStatus();
        }));
    return events;
  }

  sqlite::Database& db_;
};

class SqliteRollupStore::ReaderSnapshot final : public Snapshot {
 public:
  explicit ReaderSnapshot(sqlite::Database& db) : db_(db) {}

  absl::StatusOr<Checkpoints> ReadCheckpoints() override {
    return ReadCheckpointsOn(db_);
  }
  absl::Status SumRollups(const ScorecardQuery& query,
                          GroupedRollups& result) override {
    const SqlWhere where = RollupWhere(query, Placeholder);
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * sums,
                           db_.Prepare(RollupSumsSql(query, where.sql)));
    BindAll(*sums, where.params);
    std::map<std::string, size_t> index;
    POLKU_RETURN_IF_ERROR(sums->ForEachRow([&](const sqlite::Statement& row) {
      return AddRollupSums(Row(row), query.group_by, index, result);
    }));
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * measures,
                           db_.Prepare(MeasureSumsSql(query, where.sql)));
    BindAll(*measures, where.params);
    return measures->ForEachRow([&](const sqlite::Statement& row) {
      return AddMeasureSums(Row(row), query.group_by, index, "insight.db",
                            result);
    });
  }
  absl::Status ScanLedger(
      const ScorecardQuery& query, const LedgerFields& fields,
      absl::FunctionRef<absl::Status(const CountedEvent&)> visit) override {
    const SqlWhere scan = LedgerScan(query, fields, Placeholder);
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * select, db_.Prepare(scan.sql));
    BindAll(*select, scan.params);
    return select->ForEachRow(
        [&](const sqlite::Statement& row) -> absl::Status {
          POLKU_ASSIGN_OR_RETURN(const CountedEvent event,
                                 LedgerRow(Row(row), fields.details));
          return visit(event);
        });
  }
  absl::Status ScanAttributeChunks(
      int64_t attribute, int64_t after_sequence,
      absl::FunctionRef<absl::Status(absl::string_view)> visit) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare(SqliteRollupStore::AttributeChunksSql()));
    return select->Bind(1, attribute)
        .Bind(2, after_sequence)
        .ForEachRow([&](const sqlite::Statement& row) {
          return visit(row.ColumnBlob(0));
        });
  }
  // A lookup each: in-process, as cheap as a join's.
  absl::StatusOr<std::vector<CountedEvent>> LedgerEventsAt(
      const std::string& tenant, absl::Span<const int64_t> sequences) override {
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * select,
                           db_.Prepare(SqliteRollupStore::LedgerEventAtSql()));
    std::vector<CountedEvent> events;
    for (const int64_t sequence : sequences) {
      POLKU_RETURN_IF_ERROR(
          select->Bind(1, sequence)
              .Bind(2, tenant)
              .ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
                POLKU_ASSIGN_OR_RETURN(CountedEvent event,
                                       LedgerRow(Row(row), true));
                events.push_back(std::move(event));
                return absl::OkStatus();
              }));
    }
    return events;
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  JourneysWithEvents() override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare("SELECT DISTINCT tenant, journey FROM rollups"
                    " ORDER BY tenant, journey"));
    std::vector<std::pair<std::string, std::string>> journeys;
    POLKU_RETURN_IF_ERROR(select->ForEachRow([&](const sqlite::Statement& row) {
      journeys.emplace_back(row.ColumnText(0), row.ColumnText(1));
      return absl::OkStatus();
    }));
    return journeys;
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> AlertRows(
      const std::string& tenant, const std::string& journey,
      bool include_cleared) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare("SELECT id, alert FROM alerts WHERE tenant = ?1"
                    " AND (?2 = '' OR journey = ?2) AND (?3 OR state <> ?4)"
                    " ORDER BY first_seen_micros DESC, id"));
    select->Bind(1, tenant)
        .Bind(2, journey)
        .Bind(3, int64_t{include_cleared})
        .Bind(4, int64_t{v1::CLEARED});
    std::vector<std::pair<std::string, std::string>> rows;
    POLKU_RETURN_IF_ERROR(select->ForEachRow([&](const sqlite::Statement& row) {
      rows.emplace_back(row.ColumnText(0), row.ColumnBlob(1));
      return absl::OkStatus();
    }));
    return rows;
  }

 private:
  sqlite::Database& db_;
};

const std::string& SqliteRollupStore::CustomerEventsSql() {
  static const std::string* sql = new std::string(
      absl::StrCat("SELECT ", LedgerColumns({.details = false}),
                   " FROM counted_events c WHERE c.sequence IN (",
                   kCustomerSequencesSql, ")"));
  return *sql;
}

const std::string& SqliteRollupStore::ForgetCustomerSql() {
  static const std::string* sql = new std::string(
      absl::StrCat("DELETE FROM counted_events WHERE sequence IN (",
                   kCustomerSequencesSql, ")"));
  return *sql;
}

const std::string& SqliteRollupStore::ForgetDetailsSql() {
  static const std::string* sql = new std::string(
      absl::StrCat("DELETE FROM event_details WHERE sequence IN (",
                   kCustomerSequencesSql, ")"));
  return *sql;
}

const std::string& SqliteRollupStore::AttributeChunksSql() {
  static const std::string* sql = new std::string(
      "SELECT events FROM ledger_attribute_chunks"
      " WHERE attribute = ?1 AND last_sequence > ?2 ORDER BY first_sequence");
  return *sql;
}

const std::string& SqliteRollupStore::LedgerEventAtSql() {
  static const std::string* sql = new std::string(
      LedgerScanSql({}, " WHERE c.sequence = ?1 AND c.tenant = ?2"));
  return *sql;
}

const std::vector<sqlite::Migration>& SqliteRollupStore::Migrations() {
  static const auto* migrations = new std::vector<sqlite::Migration>{
      {1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}, {4, kSchemaV4},
      {5, kSchemaV5}, {6, kSchemaV6}, {7, kSchemaV7}, {8, kSchemaV8}};
  return *migrations;
}

absl::StatusOr<std::unique_ptr<SqliteRollupStore>> SqliteRollupStore::Open(
    const std::string& path, bool durable,
    std::vector<std::unique_ptr<Projection>> extra) {
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
  return std::unique_ptr<SqliteRollupStore>(new SqliteRollupStore(
      path, durable, std::move(writer), std::move(extra)));
}

SqliteRollupStore::SqliteRollupStore(
    const std::string& path, bool durable,
    std::unique_ptr<sqlite::Database> writer,
    std::vector<std::unique_ptr<Projection>> extra)
    : RollupStore(std::move(extra)),
      writer_(std::move(writer)),
      readers_(path, durable) {}

absl::Status SqliteRollupStore::Write(
    absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> write) {
  absl::MutexLock lock(&writer_mu_);
  sqlite::Transaction txn(*writer_);
  POLKU_RETURN_IF_ERROR(txn.Begin());
  WriterTransaction primitives(*writer_);
  POLKU_ASSIGN_OR_RETURN(const bool commit, write(primitives));
  return commit ? txn.Commit() : txn.Rollback();
}

absl::Status SqliteRollupStore::Read(
    absl::FunctionRef<absl::Status(Snapshot&)> read) {
  return readers_.Snapshot([&](sqlite::Database& db) {
    ReaderSnapshot snapshot(db);
    return read(snapshot);
  });
}

absl::Status SqliteRollupStore::WriteAlerts(
    const std::string& tenant, const std::vector<v1::Alert>& alerts) {
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

}  // namespace polku::insight
