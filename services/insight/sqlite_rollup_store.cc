#include "services/insight/sqlite_rollup_store.h"

#include <array>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"

namespace polku::insight {
namespace {

// Histogram columns in the order they are bound and read: csat_1..csat_5,
// nps_0..nps_10, ces_1..ces_7.
std::vector<std::string> HistogramColumns() {
  std::vector<std::string> columns;
  for (int k = 1; k <= 5; ++k) columns.push_back(absl::StrCat("csat_", k));
  for (int k = 0; k <= 10; ++k) columns.push_back(absl::StrCat("nps_", k));
  for (int k = 1; k <= 7; ++k) columns.push_back(absl::StrCat("ces_", k));
  return columns;
}

constexpr int kHistogramColumns = 5 + 11 + 7;
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

const std::vector<sqlite::Migration>& Migrations() {
  static const auto* migrations =
      new std::vector<sqlite::Migration>{{1, kSchemaV1}, {2, kSchemaV2}};
  return *migrations;
}

constexpr char kRecordCountedSql[] =
    "INSERT OR REPLACE INTO counted_events (sequence, tenant, customer_hash,"
    " journey, journey_version, touchpoint, stage, channel, day, csat, nps,"
    " ces) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

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

// The grouping column comes from this fixed list, never from input.
const char* GroupColumn(Grouping grouping) {
  switch (grouping) {
    case Grouping::kTouchpoint:
      return "touchpoint";
    case Grouping::kStage:
      return "stage";
    case Grouping::kChannel:
      return "channel";
  }
  return "touchpoint";
}

std::string ScorecardSql(Grouping grouping) {
  std::vector<std::string> sums = {"SUM(events)"};
  for (const std::string& c : HistogramColumns()) {
    sums.push_back(absl::StrCat("SUM(", c, ")"));
  }
  const char* group = GroupColumn(grouping);
  return absl::StrCat("SELECT ", group, ", ", absl::StrJoin(sums, ", "),
                      " FROM rollups WHERE tenant = ?1 AND journey = ?2"
                      " AND (?3 = 0 OR journey_version = ?3)"
                      " AND day >= ?4 AND day < ?5 GROUP BY ",
                      group, " ORDER BY ", group);
}

// What one page adds to one rollup row.
using RollupKey = std::tuple<std::string, std::string, int32_t, std::string,
                             std::string, std::string, Day>;
struct Contribution {
  int64_t events = 0;
  std::array<int64_t, kHistogramColumns> histogram{};  // HistogramColumns order
};

void Count(const v1::StoredEvent& stored, Contribution& c) {
  const v1::TouchpointEvent& event = stored.event();
  ++c.events;
  // polku-feedback rejects out-of-range scores; one slipping through is
  // logged and left out rather than stopping the whole feed.
  auto out_of_range = [&](const char* field, int value) {
    log::Warning(
        "feed event score out of range, not counted",
        {{"sequence", stored.sequence()}, {"field", field}, {"value", value}});
  };
  if (event.has_csat()) {
    if (event.csat() >= 1 && event.csat() <= 5) {
      ++c.histogram[event.csat() - 1];
    } else {
      out_of_range("csat", event.csat());
    }
  }
  if (event.has_nps()) {
    if (event.nps() >= 0 && event.nps() <= 10) {
      ++c.histogram[5 + event.nps()];
    } else {
      out_of_range("nps", event.nps());
    }
  }
  if (event.has_ces()) {
    if (event.ces() >= 1 && event.ces() <= 7) {
      ++c.histogram[5 + 11 + event.ces() - 1];
    } else {
      out_of_range("ces", event.ces());
    }
  }
}

absl::Time OccurredAt(const v1::TouchpointEvent& event) {
  return absl::FromUnixSeconds(event.occurred_at().seconds()) +
         absl::Nanoseconds(event.occurred_at().nanos());
}

// Adds (sign 1) or subtracts (sign -1) `contributions` to the rollups; rows
// left with no events are deleted, as if never written.
absl::Status AddToRollups(
    sqlite::Database& db,
    const std::map<RollupKey, Contribution>& contributions, int64_t sign) {
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * upsert, db.Prepare(UpsertSql()));
  for (const auto& [key, c] : contributions) {
    const auto& [tenant, journey, version, touchpoint, stage, channel, day] =
        key;
    upsert->Bind(1, tenant)
        .Bind(2, journey)
        .Bind(3, version)
        .Bind(4, touchpoint)
        .Bind(5, stage)
        .Bind(6, channel)
        .Bind(7, int64_t{day})
        .Bind(8, sign * c.events);
    for (int i = 0; i < kHistogramColumns; ++i) {
      upsert->Bind(kKeyColumnCount + 2 + i, sign * c.histogram[i]);
    }
    POLKU_RETURN_IF_ERROR(upsert->Run());
  }
  if (sign > 0) return absl::OkStatus();
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * prune,
      db.Prepare("DELETE FROM rollups WHERE tenant = ?1 AND journey = ?2 AND "
                 "journey_version = ?3 AND touchpoint = ?4 AND stage = ?5 AND "
                 "channel = ?6 AND day = ?7 AND events = 0"));
  for (const auto& [key, c] : contributions) {
    const auto& [tenant, journey, version, touchpoint, stage, channel, day] =
        key;
    POLKU_RETURN_IF_ERROR(prune->Bind(1, tenant)
                              .Bind(2, journey)
                              .Bind(3, version)
                              .Bind(4, touchpoint)
                              .Bind(5, stage)
                              .Bind(6, channel)
                              .Bind(7, int64_t{day})
                              .Run());
  }
  return absl::OkStatus();
}

void BindScore(sqlite::Statement& statement, int index, bool has,
               int32_t value) {
  if (has) {
    statement.Bind(index, int64_t{value});
  } else {
    statement.BindNull(index);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteRollupStore>> SqliteRollupStore::Open(
    const std::string& path, bool durable) {
  sqlite::Database::Options options;
  options.durable = durable;
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> writer,
                         sqlite::Database::Open(path, options));
  POLKU_RETURN_IF_ERROR(writer->Migrate(Migrations()));
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * select,
                         writer->Prepare("SELECT sequence FROM checkpoint"));
  POLKU_ASSIGN_OR_RETURN(bool found, select->Step());
  if (!found) return absl::DataLossError("insight.db has no checkpoint row");
  const int64_t checkpoint = select->ColumnInt(0);
  select->Reset();
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
  std::vector<const v1::StoredEvent*> counted;
  for (const v1::StoredEvent& stored : events) {
    if (stored.sequence() <= last) continue;  // counted already
    last = stored.sequence();
    counted.push_back(&stored);
    RollupKey key{stored.tenant(),
                  stored.journey(),
                  stored.journey_version(),
                  stored.event().touchpoint(),
                  stored.stage(),
                  stored.channel(),
                  DayOf(OccurredAt(stored.event()))};
    Count(stored, contributions[std::move(key)]);
  }
  if (last == checkpoint) return absl::OkStatus();

  sqlite::Transaction txn(*writer_);
  POLKU_RETURN_IF_ERROR(txn.Begin());
  POLKU_RETURN_IF_ERROR(AddToRollups(*writer_, contributions, 1));
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * record,
                         writer_->Prepare(kRecordCountedSql));
  for (const v1::StoredEvent* stored : counted) {
    const v1::TouchpointEvent& event = stored->event();
    record->Bind(1, stored->sequence())
        .Bind(2, stored->tenant())
        .Bind(3, stored->customer_hash())
        .Bind(4, stored->journey())
        .Bind(5, int64_t{stored->journey_version()})
        .Bind(6, event.touchpoint())
        .Bind(7, stored->stage())
        .Bind(8, stored->channel())
        .Bind(9, int64_t{DayOf(OccurredAt(event))});
    BindScore(*record, 10, event.has_csat(), event.csat());
    BindScore(*record, 11, event.has_nps(), event.nps());
    BindScore(*record, 12, event.has_ces(), event.ces());
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
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      writer_->Prepare(
          "SELECT sequence, journey, journey_version, touchpoint, stage,"
          " channel, day, csat, nps, ces FROM counted_events"
          " WHERE tenant = ?1 AND customer_hash = ?2"));
  select->Bind(1, erasure.tenant()).Bind(2, erasure.customer_hash());
  int64_t erased = 0;
  while (true) {
    absl::StatusOr<bool> row = select->Step();
    if (!row.ok()) {
      select->Reset();
      return row.status();
    }
    if (!*row) break;
    v1::StoredEvent stored;
    stored.set_sequence(select->ColumnInt(0));
    v1::TouchpointEvent& event = *stored.mutable_event();
    if (!select->IsNull(7)) event.set_csat(select->ColumnInt(7));
    if (!select->IsNull(8)) event.set_nps(select->ColumnInt(8));
    if (!select->IsNull(9)) event.set_ces(select->ColumnInt(9));
    RollupKey key{erasure.tenant(),
                  select->ColumnText(1),
                  static_cast<int32_t>(select->ColumnInt(2)),
                  select->ColumnText(3),
                  select->ColumnText(4),
                  select->ColumnText(5),
                  select->ColumnInt(6)};
    Count(stored, contributions[std::move(key)]);
    ++erased;
  }
  select->Reset();
  POLKU_RETURN_IF_ERROR(AddToRollups(*writer_, contributions, -1));
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * forget,
      writer_->Prepare("DELETE FROM counted_events"
                       " WHERE tenant = ?1 AND customer_hash = ?2"));
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

absl::StatusOr<GroupedRollups> SqliteRollupStore::Scorecard(
    const ScorecardQuery& query) {
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> reader,
                         TakeReader());
  absl::StatusOr<GroupedRollups> result = Read(*reader, query);
  if (result.ok()) {
    ReturnReader(std::move(reader));
  }  // else the connection is dropped: its state is unknown.
  return result;
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
  sqlite::Database::Options options = options_;
  options.read_only = true;
  return sqlite::Database::Open(path_, options);
}

void SqliteRollupStore::ReturnReader(std::unique_ptr<sqlite::Database> reader) {
  absl::MutexLock lock(&readers_mu_);
  idle_readers_.push_back(std::move(reader));
}

absl::StatusOr<GroupedRollups> SqliteRollupStore::Read(
    sqlite::Database& db, const ScorecardQuery& query) {
  // One read transaction, so the checkpoint and the rollups are the same
  // snapshot: as_of_sequence is exactly what the numbers include.
  POLKU_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto read = [&]() -> absl::StatusOr<GroupedRollups> {
    GroupedRollups result;
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * checkpoint,
                           db.Prepare("SELECT sequence FROM checkpoint"));
    POLKU_ASSIGN_OR_RETURN(bool found, checkpoint->Step());
    if (!found) return absl::DataLossError("insight.db has no checkpoint row");
    result.as_of_sequence = checkpoint->ColumnInt(0);
    checkpoint->Reset();

    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * select,
                           db.Prepare(ScorecardSql(query.group_by)));
    select->Bind(1, query.tenant)
        .Bind(2, query.journey)
        .Bind(3, query.journey_version)
        .Bind(4, int64_t{query.start_day})
        .Bind(5, int64_t{query.end_day});
    while (true) {
      POLKU_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      GroupRollup& group = result.groups.emplace_back();
      group.group = select->ColumnText(0);
      group.events = select->ColumnInt(1);
      int column = 2;
      for (int64_t& n : group.csat) n = select->ColumnInt(column++);
      for (int64_t& n : group.nps) n = select->ColumnInt(column++);
      for (int64_t& n : group.ces) n = select->ColumnInt(column++);
    }
    select->Reset();
    return result;
  };
  absl::StatusOr<GroupedRollups> result = read();
  absl::Status end = db.Exec(result.ok() ? "COMMIT" : "ROLLBACK");
  if (result.ok() && !end.ok()) return end;
  return result;
}

}  // namespace polku::insight
