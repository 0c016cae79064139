#include "services/feedback/sqlite_event_store.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"

namespace polku::feedback {

// Schema by version; append, never edit. Times are Unix microseconds (UTC).
// `payload` is the StoredEvent without its sequence (the row's key holds it),
// customer cleared; the other columns are there to be queried.
const std::vector<sqlite::Migration>& SqliteEventStore::Migrations() {
  static const auto* migrations = new std::vector<sqlite::Migration>{
      {1, R"sql(
        CREATE TABLE events (
          sequence INTEGER PRIMARY KEY AUTOINCREMENT,
          tenant TEXT NOT NULL,
          channel TEXT NOT NULL,
          event_id TEXT NOT NULL,
          fingerprint BLOB NOT NULL,
          customer_hash TEXT NOT NULL,
          occurred_at INTEGER NOT NULL,
          received_at INTEGER NOT NULL,
          journey TEXT NOT NULL,
          journey_version INTEGER NOT NULL,
          stage TEXT NOT NULL,
          touchpoint TEXT NOT NULL,
          payload BLOB NOT NULL,
          UNIQUE (tenant, channel, event_id));
        CREATE INDEX events_by_tenant ON events (tenant, sequence);
      )sql"},
      // Feed identity, erasure and suppression. `fingerprint` becomes keyed
      // (see Prepare). Erasures take their sequence from the events'
      // AUTOINCREMENT counter, so events and erasures share one order.
      {2, R"sql(
        CREATE TABLE feed_meta (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL) WITHOUT ROWID;
        INSERT INTO feed_meta (key, value)
          VALUES ('feed_id', lower(hex(randomblob(16))));
        CREATE INDEX events_by_customer ON events (tenant, customer_hash);
        CREATE TABLE erasures (
          sequence INTEGER PRIMARY KEY,
          tenant TEXT NOT NULL,
          customer_hash TEXT NOT NULL,
          payload BLOB NOT NULL);
        CREATE INDEX erasures_by_tenant ON erasures (tenant, sequence);
        CREATE TABLE erased_event_keys (
          tenant TEXT NOT NULL,
          channel TEXT NOT NULL,
          event_id TEXT NOT NULL,
          fingerprint BLOB NOT NULL,
          sequence INTEGER NOT NULL,
          PRIMARY KEY (tenant, channel, event_id)) WITHOUT ROWID;
        CREATE TABLE suppressed_customers (
          tenant TEXT NOT NULL,
          customer_hash TEXT NOT NULL,
          erasure_sequence INTEGER NOT NULL,
          PRIMARY KEY (tenant, customer_hash)) WITHOUT ROWID;
      )sql"},
      // Erasure finds a customer's events by CustomerKey, an integer, rather
      // than by the 64 hex digits, whose index took a large share of the
      // WAL pages every commit writes. SQLite cannot parse hex: the rows
      // stored before get their key at open (FillCustomerKeys).
      {3, R"sql(
        ALTER TABLE events ADD COLUMN customer_key INTEGER;
        DROP INDEX events_by_customer;
        CREATE INDEX events_by_customer_key ON events (customer_key);
      )sql"},
      // The customer index leads with the sequence's segment of 4096 (see
      // kCustomerSequencesSql): a new event's entry then lands among the
      // current segment's few pages instead of on a random page of the
      // whole index. Each such page is written whole to the WAL and again
      // by the checkpoint: 1000-event commits into a million events wrote
      // 1,217 WAL pages each with the customer_key index, 190 with this
      // one, 170 with none. The partial index finds the rows
      // FillCustomerKeys still has to fill, as the index on customer_key
      // did.
      {4, R"sql(
        DROP INDEX events_by_customer_key;
        CREATE INDEX events_by_segment_and_customer
          ON events (sequence >> 12, customer_key);
        CREATE INDEX events_without_customer_key ON events (sequence)
          WHERE customer_key IS NULL;
      )sql"},
      // The feed readers' progress, for erasure receipts (event_store.h).
      {5, R"sql(
        CREATE TABLE reader_progress (
          reader TEXT NOT NULL,
          feed_id TEXT NOT NULL,
          applied_sequence INTEGER NOT NULL,
          advanced_at INTEGER NOT NULL,
          reported_at INTEGER NOT NULL,
          PRIMARY KEY (reader, feed_id)) WITHOUT ROWID;
      )sql"},
  };
  return *migrations;
}

namespace {

using polku::v1::EventResult;
using polku::v1::StoredEvent;

// One customer's events (?1 CustomerKey, ?2 tenant, ?3 customer hash): a
// probe of events_by_segment_and_customer per segment of 4096 sequences
// that holds events (some 2,500 for ten million events; the step to the
// next such segment is one rowid seek, so gaps cost nothing). CROSS JOIN
// and INDEXED BY keep the planner to that, whatever its statistics say.
constexpr char kCustomerSequencesSql[] =
    "WITH RECURSIVE segment(s) AS ("
    " SELECT min(sequence) >> 12 FROM events"
    " UNION ALL SELECT (SELECT min(sequence) FROM events"
    " WHERE sequence >= (s + 1) << 12) >> 12"
    " FROM segment WHERE s IS NOT NULL)"
    " SELECT sequence FROM segment CROSS JOIN events"
    " INDEXED BY events_by_segment_and_customer"
    " WHERE (sequence >> 12) = s AND customer_key = ?1"
    " AND tenant = ?2 AND customer_hash = ?3";
constexpr char kFindEventSql[] =
    "SELECT sequence, fingerprint FROM events "
    "WHERE tenant = ?1 AND channel = ?2 AND event_id = ?3";
constexpr char kInsertEventSql[] =
    "INSERT INTO events (tenant, channel, event_id, fingerprint, customer_hash,"
    " customer_key, occurred_at, received_at, journey, journey_version, stage,"
    " touchpoint, payload)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
constexpr char kFindErasedKeySql[] =
    "SELECT sequence, fingerprint FROM erased_event_keys "
    "WHERE tenant = ?1 AND channel = ?2 AND event_id = ?3";
// Third column: 1 for an erasure.
constexpr char kFeedAllSql[] =
    "SELECT sequence, payload, 0 FROM events WHERE sequence >= ?1 "
    "UNION ALL "
    "SELECT sequence, payload, 1 FROM erasures WHERE sequence >= ?1 "
    "ORDER BY 1 LIMIT ?2";
constexpr char kFeedOfTenantSql[] =
    "SELECT sequence, payload, 0 FROM events "
    "WHERE tenant = ?3 AND sequence >= ?1 "
    "UNION ALL "
    "SELECT sequence, payload, 1 FROM erasures "
    "WHERE tenant = ?3 AND sequence >= ?1 "
    "ORDER BY 1 LIMIT ?2";
// An export's read (EventQuery): through events_by_tenant, a window of the
// tenant's sequences; the other filters are checked on the rows it holds.
constexpr char kEventsOfTenantSql[] =
    "SELECT sequence, payload FROM events "
    "WHERE tenant = ?1 AND sequence BETWEEN ?2 AND ?3 "
    "AND (?4 = '' OR journey = ?4) AND occurred_at >= ?5 AND occurred_at < ?6 "
    "ORDER BY sequence LIMIT ?7";
constexpr char kLastSequenceSql[] =
    "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'),"
    " 0)";
constexpr char kEnsureSequenceSql[] =
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'events', 0 "
    "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events')";
constexpr char kTakeSequenceSql[] =
    "UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'events' "
    "RETURNING seq";

std::string SuppressionKey(absl::string_view tenant,
                           absl::string_view customer_hash) {
  return absl::StrCat(tenant, absl::string_view("\0", 1), customer_hash);
}

absl::StatusOr<std::string> QueryText(sqlite::Database& db,
                                      absl::string_view sql) {
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * query, db.Prepare(sql));
  POLKU_ASSIGN_OR_RETURN(bool has_row, query->Step());
  std::string value = has_row ? query->ColumnText(0) : "";
  query->Reset();
  return value;
}

}  // namespace

sqlite::Database::Options SqliteEventStore::WriterDatabaseOptions(
    bool durable) {
  sqlite::Database::Options options;
  options.durable = durable;
  // A group of thousands of events dirties many pages, and the idempotency
  // index is written at random places when channels' event ids are random:
  // they must stay in the cache. Checkpoints run beside the writer, not
  // inside its commits.
  options.cache_mib = 64;
  options.background_checkpoints = true;
  return options;
}

absl::StatusOr<std::unique_ptr<SqliteEventStore>> SqliteEventStore::Open(
    const std::string& path, CustomerHasher hasher,
    const SqliteEventStoreOptions& options) {
  POLKU_ASSIGN_OR_RETURN(
      std::unique_ptr<sqlite::Database> db,
      sqlite::Database::Open(path, WriterDatabaseOptions(options.durable)));
  POLKU_RETURN_IF_ERROR(db->Migrate(Migrations()));
  Durability durability;
  POLKU_ASSIGN_OR_RETURN(std::string synchronous,
                         QueryText(*db, "PRAGMA synchronous"));
  durability.synchronous = std::atoi(synchronous.c_str());
  POLKU_ASSIGN_OR_RETURN(durability.journal_mode,
                         QueryText(*db, "PRAGMA journal_mode"));
  if (options.durable &&
      (durability.synchronous != 2 || durability.journal_mode != "wal")) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": expected synchronous=2 (FULL) and journal_mode=wal, found ",
        durability.synchronous, " and ", durability.journal_mode));
  }
  POLKU_ASSIGN_OR_RETURN(std::string last, QueryText(*db, kLastSequenceSql));
  POLKU_ASSIGN_OR_RETURN(
      std::string feed_id,
      QueryText(*db, "SELECT value FROM feed_meta WHERE key = 'feed_id'"));
  std::unique_ptr<SqliteEventStore> store(
      new SqliteEventStore(path, std::move(db), std::move(hasher), options,
                           std::atoll(last.c_str()), std::move(feed_id)));
  store->durability_ = std::move(durability);
  POLKU_RETURN_IF_ERROR(store->Prepare());
  store->StartWriter();
  return store;
}

SqliteEventStore::SqliteEventStore(std::string path,
                                   std::unique_ptr<sqlite::Database> writer_db,
                                   CustomerHasher hasher,
                                   const SqliteEventStoreOptions& options,
                                   int64_t last_sequence, std::string feed_id)
    : GroupCommitStore(options.group_commit, last_sequence, std::move(hasher)),
      path_(std::move(path)),
      options_(options),
      feed_id_(std::move(feed_id)),
      writer_db_(std::move(writer_db)),
      readers_(path_, options.durable) {}

absl::Status SqliteEventStore::Prepare() {
  sqlite::Database& db = *writer_db_;
  POLKU_ASSIGN_OR_RETURN(
      std::string keyed,
      QueryText(db, "SELECT value FROM feed_meta WHERE key = 'fingerprints'"));
  if (keyed != "keyed") {
    // Written before fingerprints were keyed: recompute them from what is
    // stored (the payload and the customer hash), once.
    sqlite::Transaction transaction(db);
    POLKU_RETURN_IF_ERROR(transaction.Begin());
    std::vector<std::pair<int64_t, std::string>> updates;
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * rows,
        db.Prepare("SELECT sequence, tenant, payload FROM events"));
    POLKU_RETURN_IF_ERROR(
        rows->ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
          StoredEvent stored;
          if (!stored.ParseFromString(row.ColumnBlob(2))) {
            return absl::DataLossError(absl::StrCat(
                "stored event ", row.ColumnInt(0), " cannot be parsed"));
          }
          stored.mutable_event()->set_customer(stored.customer_hash());
          updates.emplace_back(
              row.ColumnInt(0),
              EventFingerprint(hasher().ForTenant(row.ColumnText(1)),
                               stored.event()));
          return absl::OkStatus();
        }));
    for (const auto& [sequence, fingerprint] : updates) {
      POLKU_ASSIGN_OR_RETURN(
          sqlite::Statement * update,
          db.Prepare("UPDATE events SET fingerprint = ?2 WHERE sequence = ?1"));
      POLKU_RETURN_IF_ERROR(
          update->Bind(1, sequence).BindBlob(2, fingerprint).Run());
    }
    POLKU_RETURN_IF_ERROR(
        db.Exec("INSERT OR REPLACE INTO feed_meta (key, value) "
                "VALUES ('fingerprints', 'keyed')"));
    POLKU_RETURN_IF_ERROR(transaction.Commit());
    if (!updates.empty()) {
      log::Info("fingerprints are now keyed", {{"events", updates.size()}});
    }
  }
  POLKU_RETURN_IF_ERROR(FillCustomerKeys());

  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * suppressed,
      db.Prepare("SELECT tenant, customer_hash FROM suppressed_customers"));
  POLKU_RETURN_IF_ERROR(
      suppressed->ForEachRow([&](const sqlite::Statement& row) {
        suppressed_.insert(
            SuppressionKey(row.ColumnText(0), row.ColumnText(1)));
        return absl::OkStatus();
      }));
  absl::StatusOr<std::string> any_erased =
      QueryText(db, "SELECT EXISTS (SELECT 1 FROM erased_event_keys)");
  if (!any_erased.ok()) return any_erased.status();
  has_erased_keys_ = *any_erased == "1";
  return absl::OkStatus();
}

absl::Status SqliteEventStore::FillCustomerKeys() {
  sqlite::Database& db = *writer_db_;
  sqlite::Transaction transaction(db);
  POLKU_RETURN_IF_ERROR(transaction.Begin());
  // In slices, so the rows to update never need much memory however many
  // there are.
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * rows,
                         db.Prepare(kRowsWithoutCustomerKeySql));
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * update,
      db.Prepare("UPDATE events SET customer_key = ?2 WHERE sequence = ?1"));
  std::vector<std::pair<int64_t, int64_t>> slice;  // sequence, customer key
  size_t filled = 0;
  do {
    slice.clear();
    POLKU_RETURN_IF_ERROR(
        rows->ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
          const int64_t sequence = row.ColumnInt(0);
          std::optional<int64_t> key = CustomerKey(row.ColumnText(1));
          if (!key.has_value()) {
            return absl::DataLossError(absl::StrCat(
                "stored event ", sequence, " has no valid customer hash"));
          }
          slice.emplace_back(sequence, *key);
          return absl::OkStatus();
        }));
    for (const auto& [sequence, key] : slice) {
      POLKU_RETURN_IF_ERROR(update->Bind(1, sequence).Bind(2, key).Run());
    }
    filled += slice.size();
  } while (!slice.empty());
  if (filled == 0) return absl::OkStatus();  // nothing written
  POLKU_RETURN_IF_ERROR(transaction.Commit());
  log::Info("customer keys filled in", {{"events", filled}});
  return absl::OkStatus();
}

const std::string& SqliteEventStore::KeepErasedKeysSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      "INSERT OR IGNORE INTO erased_event_keys "
      "(tenant, channel, event_id, fingerprint, sequence) "
      "SELECT tenant, channel, event_id, fingerprint, sequence FROM events "
      "WHERE sequence IN (",
      kCustomerSequencesSql, ")"));
  return *sql;
}

const std::string& SqliteEventStore::EraseEventsSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      "DELETE FROM events WHERE sequence IN (", kCustomerSequencesSql, ")"));
  return *sql;
}

SqliteEventStore::~SqliteEventStore() { Stop(); }

absl::StatusOr<int64_t> SqliteEventStore::TakeSequence() {
  sqlite::Database& db = *writer_db_;
  POLKU_RETURN_IF_ERROR(db.Exec(kEnsureSequenceSql));
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * take,
                         db.Prepare(kTakeSequenceSql));
  POLKU_ASSIGN_OR_RETURN(bool has_row, take->Step());
  const int64_t sequence = has_row ? take->ColumnInt(0) : 0;
  take->Reset();
  if (!has_row) return absl::InternalError("no feed sequence counter");
  return sequence;
}

absl::StatusOr<EraseResult> SqliteEventStore::WriteErasure(
    const EraseOrder& order) {
  sqlite::Database& db = *writer_db_;
  const std::string customer_hash = hasher().Hash(order.tenant, order.customer);
  const int64_t customer_key = CustomerKey(customer_hash).value();
  sqlite::Transaction transaction(db);
  POLKU_RETURN_IF_ERROR(transaction.Begin());
  // The keys stay (see event_store.h); the events go.
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * keep_keys,
                         db.Prepare(KeepErasedKeysSql()));
  POLKU_RETURN_IF_ERROR(keep_keys->Bind(1, customer_key)
                            .Bind(2, order.tenant)
                            .Bind(3, customer_hash)
                            .Run());
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * erase,
                         db.Prepare(EraseEventsSql()));
  POLKU_RETURN_IF_ERROR(erase->Bind(1, customer_key)
                            .Bind(2, order.tenant)
                            .Bind(3, customer_hash)
                            .Run());
  EraseResult result;
  result.erased_events = db.Changes();
  POLKU_ASSIGN_OR_RETURN(result.sequence, TakeSequence());

  const polku::v1::Erasure erasure =
      ErasureEntry(order.tenant, customer_hash, result.erased_events,
                   order.suppress_future, clock().Now());
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * record,
      db.Prepare("INSERT INTO erasures (sequence, tenant, customer_hash, "
                 "payload) VALUES (?1, ?2, ?3, ?4)"));
  POLKU_RETURN_IF_ERROR(record->Bind(1, result.sequence)
                            .Bind(2, order.tenant)
                            .Bind(3, customer_hash)
                            .BindBlob(4, erasure.SerializeAsString())
                            .Run());
  if (order.suppress_future) {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * suppress,
        db.Prepare("INSERT OR REPLACE INTO suppressed_customers "
                   "(tenant, customer_hash, erasure_sequence) "
                   "VALUES (?1, ?2, ?3)"));
    POLKU_RETURN_IF_ERROR(suppress->Bind(1, order.tenant)
                              .Bind(2, customer_hash)
                              .Bind(3, result.sequence)
                              .Run());
  }
  POLKU_RETURN_IF_ERROR(transaction.Commit());
  if (order.suppress_future) {
    suppressed_.insert(SuppressionKey(order.tenant, customer_hash));
  }
  if (result.erased_events > 0) has_erased_keys_ = true;
  return result;
}

absl::Status SqliteEventStore::WriteGroup(const std::vector<Pending>& group,
                                          std::vector<BatchResult>& results,
                                          int64_t& last_sequence) {
  sqlite::Database& db = *writer_db_;
  sqlite::Transaction transaction(db);
  POLKU_RETURN_IF_ERROR(transaction.Begin());
  // So that a key repeated within the group is answered like one repeated
  // across transactions.
  StoredInGroup stored_in_group;
  size_t events = 0;
  for (const Pending& pending : group) events += pending.events.size();
  stored_in_group.reserve(events);
  std::vector<EventKey> batch_keys;
  results.clear();
  results.reserve(group.size());
  // Prepared once (cached), as they run once per batch.
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * savepoint,
                         db.Prepare("SAVEPOINT batch"));
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * release,
                         db.Prepare("RELEASE batch"));
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * rollback,
                         db.Prepare("ROLLBACK TO batch"));
  for (const Pending& pending : group) {
    POLKU_RETURN_IF_ERROR(savepoint->Run());
    batch_keys.clear();
    int64_t batch_last = 0;
    BatchResult result =
        WriteBatch(pending, stored_in_group, batch_keys, batch_last);
    if (result.ok()) {
      POLKU_RETURN_IF_ERROR(release->Run());
      if (batch_last > 0) last_sequence = batch_last;
    } else {
      // Only this batch is undone; the others still commit. Retrying the
      // same statements would fail the same way, hence not UNAVAILABLE.
      POLKU_RETURN_IF_ERROR(rollback->Run());
      POLKU_RETURN_IF_ERROR(release->Run());
      for (const EventKey& key : batch_keys) stored_in_group.erase(key);
      log::Error("a batch of events failed",
                 {{"tenant", pending.tenant},
                  {"channel", pending.channel},
                  {"error", result.status().ToString()}});
      result = absl::InternalError(
          absl::StrCat("events were not stored: ", result.status().message()));
    }
    results.push_back(std::move(result));
  }
  return transaction.Commit();
}

absl::StatusOr<std::vector<EventResult>> SqliteEventStore::WriteBatch(
    const Pending& pending, StoredInGroup& stored_in_group,
    std::vector<EventKey>& batch_keys, int64_t& last_sequence) {
  sqlite::Database& db = *writer_db_;
  const int64_t received_at = absl::ToUnixMicros(pending.received_at);
  std::vector<EventResult> batch_results;
  batch_results.reserve(pending.events.size());
  for (const PreparedEvent& event : pending.events) {
    EventResult& result = batch_results.emplace_back();
    result.set_event_id(event.event_id);
    const EventKey key{pending.tenant, pending.channel, event.event_id};

    if (auto it = stored_in_group.find(key); it != stored_in_group.end()) {
      AnswerRepeat(it->second.fingerprint, it->second.sequence,
                   event.fingerprint, result);
      continue;
    }
    std::optional<std::pair<std::string, int64_t>> earlier;
    for (const char* sql : {kFindEventSql, kFindErasedKeySql}) {
      if (sql == kFindErasedKeySql && !has_erased_keys_) break;
      POLKU_ASSIGN_OR_RETURN(sqlite::Statement * find, db.Prepare(sql));
      find->Bind(1, pending.tenant)
          .Bind(2, pending.channel)
          .Bind(3, event.event_id);
      POLKU_ASSIGN_OR_RETURN(bool found, find->Step());
      if (found) earlier.emplace(find->ColumnBlob(1), find->ColumnInt(0));
      find->Reset();
      if (found) break;
    }
    if (earlier.has_value()) {
      AnswerRepeat(earlier->first, earlier->second, event.fingerprint, result);
      continue;
    }
    if (!suppressed_.empty() && suppressed_.contains(SuppressionKey(
                                    pending.tenant, event.customer_hash))) {
      AnswerSuppressed(result);
      continue;
    }

    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * insert,
                           db.Prepare(kInsertEventSql));
    POLKU_RETURN_IF_ERROR(insert->Bind(1, pending.tenant)
                              .Bind(2, pending.channel)
                              .Bind(3, event.event_id)
                              .BindBlob(4, event.fingerprint)
                              .Bind(5, event.customer_hash)
                              .Bind(6, event.customer_key)
                              .Bind(7, event.occurred_at)
                              .Bind(8, received_at)
                              .Bind(9, event.where.journey)
                              .Bind(10, int64_t{event.where.journey_version})
                              .Bind(11, event.where.stage)
                              .Bind(12, event.touchpoint)
                              .BindBlob(13, event.payload)
                              .Run());
    const int64_t sequence = db.LastInsertRowId();
    stored_in_group.emplace(key, Stored{event.fingerprint, sequence});
    batch_keys.push_back(key);
    result.set_outcome(EventResult::ACCEPTED);
    result.set_sequence(sequence);
    last_sequence = sequence;
  }
  return batch_results;
}

absl::StatusOr<std::vector<FeedRecord>> SqliteEventStore::ReadFeedRecords(
    absl::string_view tenant, int64_t from_sequence, int limit) {
  std::vector<FeedRecord> records;
  POLKU_RETURN_IF_ERROR(readers_.WithReader([&](sqlite::Database& reader)
                                                -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * read,
        reader.Prepare(tenant.empty() ? kFeedAllSql : kFeedOfTenantSql));
    read->Bind(1, from_sequence).Bind(2, int64_t{limit});
    if (!tenant.empty()) read->Bind(3, tenant);
    // ForEachRow's reset ends the read transaction, so the writer's
    // checkpoints can proceed.
    return read->ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
      records.push_back({.sequence = row.ColumnInt(0),
                         .erasure = row.ColumnInt(2) == 1,
                         .payload = std::string(row.ColumnBlob(1))});
      return absl::OkStatus();
    });
  }));
  return records;
}

absl::StatusOr<std::vector<FeedRecord>> SqliteEventStore::ReadEventRecords(
    const EventQuery& query) {
  std::vector<FeedRecord> records;
  POLKU_RETURN_IF_ERROR(readers_.WithReader([&](sqlite::Database& reader)
                                                -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * read,
                           reader.Prepare(kEventsOfTenantSql));
    read->Bind(1, query.tenant)
        .Bind(2, query.from_sequence)
        .Bind(3, query.to_sequence)
        .Bind(4, query.journey)
        .Bind(5, query.occurred_from)
        .Bind(6, query.occurred_to)
        .Bind(7, int64_t{query.limit});
    return read->ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
      records.push_back({.sequence = row.ColumnInt(0),
                         .payload = std::string(row.ColumnBlob(1))});
      return absl::OkStatus();
    });
  }));
  return records;
}

absl::Status SqliteEventStore::RecordReaderProgress(absl::string_view reader,
                                                    int64_t applied_sequence,
                                                    int64_t reported_at) {
  absl::MutexLock lock(&progress_mu_);
  if (progress_db_ == nullptr) {
    // A connection of its own: one short autocommit statement between the
    // writer's commits (busy_timeout), not a place in the group commit.
    sqlite::Database::Options db_options;
    db_options.durable = options_.durable;
    POLKU_ASSIGN_OR_RETURN(progress_db_,
                           sqlite::Database::Open(path_, db_options));
  }
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * upsert,
                         progress_db_->Prepare(kUpsertReaderProgressSql));
  return upsert->Bind(1, reader)
      .Bind(2, feed_id_)
      .Bind(3, applied_sequence)
      .Bind(4, reported_at)
      .Run();
}

absl::StatusOr<std::vector<ReaderProgress>>
SqliteEventStore::ReadReaderProgress() {
  std::vector<ReaderProgress> progress;
  POLKU_RETURN_IF_ERROR(readers_.WithReader([&](sqlite::Database& reader)
                                                -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * read,
                           reader.Prepare(kReadReaderProgressSql));
    read->Bind(1, feed_id_);
    return read->ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
      progress.push_back({.reader = row.ColumnText(0),
                          .applied_sequence = row.ColumnInt(1),
                          .advanced_at = row.ColumnInt(2),
                          .reported_at = row.ColumnInt(3)});
      return absl::OkStatus();
    });
  }));
  return progress;
}

}  // namespace polku::feedback
