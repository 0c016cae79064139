#include "services/feedback/pg_event_store.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using polku::v1::StoredEvent;
using postgres::Param;

// Schema by version; append, never edit. Times are Unix microseconds (UTC),
// as in the SQLite schema. `payload` is the StoredEvent without its
// sequence, customer cleared. Events and erasures take their sequence from
// one SEQUENCE, only while holding kFeedLock.
const std::vector<Migration>& Migrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, R"sql(
        CREATE SEQUENCE feed_sequence;
        CREATE TABLE feed_meta (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL);
        INSERT INTO feed_meta (key, value)
          VALUES ('feed_id', replace(gen_random_uuid()::text, '-', ''));
        CREATE TABLE events (
          sequence BIGINT PRIMARY KEY,
          tenant TEXT NOT NULL,
          channel TEXT NOT NULL,
          event_id TEXT NOT NULL,
          fingerprint BYTEA NOT NULL,
          customer_hash TEXT NOT NULL,
          occurred_at BIGINT NOT NULL,
          received_at BIGINT NOT NULL,
          journey TEXT NOT NULL,
          journey_version INTEGER NOT NULL,
          stage TEXT NOT NULL,
          touchpoint TEXT NOT NULL,
          payload BYTEA NOT NULL,
          UNIQUE (tenant, channel, event_id));
        CREATE INDEX events_by_tenant ON events (tenant, sequence);
        CREATE INDEX events_by_customer ON events (tenant, customer_hash);
        CREATE TABLE erasures (
          sequence BIGINT PRIMARY KEY,
          tenant TEXT NOT NULL,
          customer_hash TEXT NOT NULL,
          payload BYTEA NOT NULL);
        CREATE INDEX erasures_by_tenant ON erasures (tenant, sequence);
        CREATE TABLE erased_event_keys (
          tenant TEXT NOT NULL,
          channel TEXT NOT NULL,
          event_id TEXT NOT NULL,
          fingerprint BYTEA NOT NULL,
          sequence BIGINT NOT NULL,
          PRIMARY KEY (tenant, channel, event_id));
        CREATE TABLE suppressed_customers (
          tenant TEXT NOT NULL,
          customer_hash TEXT NOT NULL,
          erasure_sequence BIGINT NOT NULL,
          PRIMARY KEY (tenant, customer_hash));
      )sql"},
      // The keys lead with event_id. kFindEventsSql names a batch's ids at
      // once (event_id = ANY); behind tenant and channel, PostgreSQL could
      // plan them as a filter over every key of the channel, and did until
      // autovacuum first analysed the table (30-40 ms a commit at 100 k
      // events, whatever the batch's size). Leading, the ids are the index
      // condition whatever the statistics say.
      {2, R"sql(
        CREATE UNIQUE INDEX events_by_event_id
          ON events (event_id, tenant, channel);
        ALTER TABLE events DROP CONSTRAINT events_tenant_channel_event_id_key;
        ALTER TABLE erased_event_keys DROP CONSTRAINT erased_event_keys_pkey;
        ALTER TABLE erased_event_keys ADD PRIMARY KEY (event_id, tenant, channel);
      )sql"},
      // The feed readers' progress, for erasure receipts (event_store.h):
      // every replica stores the reports it receives and reads all.
      {3, R"sql(
        CREATE TABLE reader_progress (
          reader TEXT NOT NULL,
          feed_id TEXT NOT NULL,
          applied_sequence BIGINT NOT NULL,
          advanced_at BIGINT NOT NULL,
          reported_at BIGINT NOT NULL,
          PRIMARY KEY (reader, feed_id));
      )sql"},
  };
  return *migrations;
}

// The keys among $3 already taken, by stored events or kept after an
// erasure (see event_store.h). A key is never in both: an erasure moves it.
constexpr char kFindEventsSql[] =
    "SELECT event_id, sequence, fingerprint FROM events "
    "WHERE tenant = $1 AND channel = $2 AND event_id = ANY($3::text[]) "
    "UNION ALL "
    "SELECT event_id, sequence, fingerprint FROM erased_event_keys "
    "WHERE tenant = $1 AND channel = $2 AND event_id = ANY($3::text[])";
// The suppressed customers among the hashes $2.
constexpr char kSuppressedAmongSql[] =
    "SELECT customer_hash FROM suppressed_customers "
    "WHERE tenant = $1 AND customer_hash = ANY($2::text[])";
// Every new event of a batch, one array per column, in one statement.
// Sequences are taken in the batch's order: unnest … WITH ORDINALITY yields
// rows in array order (the planner knows it, so ORDER BY costs no sort) and
// nextval is taken row by row. A key another replica committed meanwhile is
// skipped; RETURNING names the events stored.
constexpr char kInsertEventsSql[] =
    "INSERT INTO events (sequence, tenant, channel, event_id, fingerprint,"
    " customer_hash, occurred_at, received_at, journey, journey_version,"
    " stage, touchpoint, payload) "
    "SELECT nextval('feed_sequence'), $1, $2, e.event_id, e.fingerprint,"
    " e.customer_hash, e.occurred_at, $3, e.journey, e.journey_version,"
    " e.stage, e.touchpoint, e.payload "
    "FROM unnest($4::text[], $5::bytea[], $6::text[], $7::bigint[],"
    " $8::text[], $9::bigint[], $10::text[], $11::text[], $12::bytea[])"
    " WITH ORDINALITY AS e(event_id, fingerprint, customer_hash, occurred_at,"
    " journey, journey_version, stage, touchpoint, payload, position) "
    "ORDER BY e.position "
    "ON CONFLICT (tenant, channel, event_id) DO NOTHING "
    "RETURNING event_id, sequence";
// Third column: 1 for an erasure.
constexpr char kFeedAllSql[] =
    "SELECT sequence, payload, 0 FROM events WHERE sequence >= $1 "
    "UNION ALL "
    "SELECT sequence, payload, 1 FROM erasures WHERE sequence >= $1 "
    "ORDER BY 1 LIMIT $2";
constexpr char kFeedOfTenantSql[] =
    "SELECT sequence, payload, 0 FROM events "
    "WHERE tenant = $3 AND sequence >= $1 "
    "UNION ALL "
    "SELECT sequence, payload, 1 FROM erasures "
    "WHERE tenant = $3 AND sequence >= $1 "
    "ORDER BY 1 LIMIT $2";
// An export's read (EventQuery), through events_by_tenant.
constexpr char kEventsOfTenantSql[] =
    "SELECT sequence, payload FROM events "
    "WHERE tenant = $1 AND sequence BETWEEN $2 AND $3 "
    "AND ($4 = '' OR journey = $4) AND occurred_at >= $5 AND occurred_at < $6 "
    "ORDER BY sequence LIMIT $7";
// Committed entries only (unlike the SEQUENCE's last_value).
constexpr char kLastCommittedSql[] =
    "SELECT GREATEST((SELECT COALESCE(MAX(sequence), 0) FROM events),"
    " (SELECT COALESCE(MAX(sequence), 0) FROM erasures))";

// Derived from the master secret, so replicas can tell whether they share
// it; reveals nothing about the secret or any customer.
std::string SecretCheck(const CustomerHasher& hasher) {
  return hasher.Hash("polku:secret-check", "polku:secret-check");
}

postgres::PoolOptions ConnectionOptions(int size, absl::Duration timeout) {
  return {.size = size,
          .connect_timeout = timeout,
          .prepare = [](postgres::Connection& db) {
            // Acknowledged means committed to disk, whatever the server's
            // default says.
            return db.Exec("SET synchronous_commit = on");
          }};
}

absl::Status TakeFeedLock(postgres::Connection& db) {
  return db
      .Execute("SELECT pg_advisory_xact_lock($1)",
               {Param::Int(PgEventStore::kFeedLock)})
      .status();
}

absl::Status NotifyFeed(postgres::Connection& db, int64_t last_sequence) {
  return db
      .Execute("SELECT pg_notify($1, $2)",
               {Param::Text(PgEventStore::kNotifyChannel),
                Param::Int(last_sequence)})
      .status();
}

absl::Status NotConnected(const std::string& server) {
  return absl::UnavailableError(absl::StrCat(
      "not connected to PostgreSQL at ", server, " yet (still starting)"));
}

}  // namespace

PgEventStore::PgEventStore(std::string url, CustomerHasher hasher,
                           const PgEventStoreOptions& options)
    : GroupCommitStore(options.group_commit, /*last_sequence=*/0,
                       std::move(hasher)),
      url_(std::move(url)),
      options_(options),
      writer_pool_(url_, ConnectionOptions(1, options.connection_timeout)),
      reader_pool_(url_,
                   ConnectionOptions(std::max(1, options.reader_connections),
                                     options.connection_timeout)) {}

std::unique_ptr<PgEventStore> PgEventStore::Create(
    std::string url, CustomerHasher hasher,
    const PgEventStoreOptions& options) {
  std::unique_ptr<PgEventStore> store(
      new PgEventStore(std::move(url), std::move(hasher), options));
  // Until connected, the writer answers every batch UNAVAILABLE at once.
  store->StartWriter();
  return store;
}

absl::StatusOr<std::unique_ptr<PgEventStore>> PgEventStore::Open(
    std::string url, CustomerHasher hasher, const PgEventStoreOptions& options,
    absl::Duration wait) {
  std::unique_ptr<PgEventStore> store =
      Create(std::move(url), std::move(hasher), options);
  POLKU_RETURN_IF_ERROR(store->Connect({.first_backoff = absl::Milliseconds(100),
                                        .deadline = absl::Now() + wait}));
  return store;
}

PgEventStore::~PgEventStore() { Stop(); }

absl::Status PgEventStore::PrepareDatabase(postgres::Connection& db) {
  POLKU_RETURN_IF_ERROR(db.Migrate("feedback", Migrations()));
  // The first replica records its secret's check value; the others compare.
  const std::string check = SecretCheck(hasher());
  POLKU_RETURN_IF_ERROR(
      db.Execute("INSERT INTO feed_meta (key, value) VALUES ('secret_check', $1) "
                 "ON CONFLICT (key) DO NOTHING",
                 {Param::Text(check)})
          .status());
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result meta,
      db.Execute("SELECT key, value FROM feed_meta "
                 "WHERE key IN ('feed_id', 'secret_check')"));
  std::string recorded_check;
  for (int row = 0; row < meta.rows(); ++row) {
    if (meta.Text(row, 0) == "feed_id") feed_id_ = meta.Text(row, 1);
    if (meta.Text(row, 0) == "secret_check") recorded_check = meta.Text(row, 1);
  }
  if (recorded_check != check) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the customer secret differs from the one PostgreSQL at ",
        writer_pool_.server(),
        " was first used with: every polku-feedback replica needs the same "
        "secret file (--secret_file), else one customer would get two "
        "hashes"));
  }
  POLKU_ASSIGN_OR_RETURN(postgres::Result last, db.Execute(kLastCommittedSql));
  notifier().Publish(last.Int(0, 0));
  return absl::OkStatus();
}

absl::Status PgEventStore::Connect(const postgres::WaitOptions& wait) {
  if (listener_.joinable()) {
    return absl::FailedPreconditionError("the event store is already connected");
  }
  postgres::WaitOptions options = wait;
  options.ready = [this](postgres::Connection& db) {
    return PrepareDatabase(db);
  };
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<postgres::Connection> db,
                         postgres::WaitForServer(url_, options));
  db.reset();
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return absl::InternalError("eventfd failed");
  listener_ = std::thread([this] { ListenLoop(); });
  connected_ = true;
  log::Info("connected to PostgreSQL",
            {{"server", writer_pool_.server()}, {"feed_id", feed_id_}});
  return absl::OkStatus();
}

void PgEventStore::Stop() {
  GroupCommitStore::Stop();
  if (stop_listening_.HasBeenNotified()) return;  // stopped before
  stop_listening_.Notify();
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
  }
  if (listener_.joinable()) listener_.join();
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
    wake_fd_ = -1;
  }
}

void PgEventStore::ListenLoop() {
  std::unique_ptr<postgres::Connection> db;
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop_listening_.HasBeenNotified()) {
    if (db == nullptr) {
      absl::StatusOr<std::unique_ptr<postgres::Connection>> opened =
          postgres::Connection::Open(url_, options_.connection_timeout);
      absl::StatusOr<postgres::Result> last = [&]() -> absl::StatusOr<postgres::Result> {
        POLKU_RETURN_IF_ERROR(opened.status());
        POLKU_RETURN_IF_ERROR(
            (*opened)->Exec(absl::StrCat("LISTEN ", kNotifyChannel)));
        // What committed while nobody listened.
        return (*opened)->Execute(kLastCommittedSql);
      }();
      if (!last.ok()) {
        log::Warning("cannot listen for other replicas' commits; retrying",
                     {{"server", writer_pool_.server()},
                      {"error", std::string(last.status().message())},
                      {"retry_ms", absl::ToInt64Milliseconds(backoff)}});
        stop_listening_.WaitForNotificationWithTimeout(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(5));
        continue;
      }
      backoff = absl::Milliseconds(100);
      db = *std::move(opened);
      notifier().Publish(last->Int(0, 0));
    }
    absl::StatusOr<std::vector<postgres::Connection::Notification>> heard =
        db->WaitForNotifications(absl::Seconds(10), wake_fd_);
    if (!heard.ok()) {
      db.reset();  // reconnect, then catch up
      continue;
    }
    for (const auto& notification : *heard) {
      int64_t sequence = 0;
      if (absl::SimpleAtoi(notification.payload, &sequence)) {
        notifier().Publish(sequence);
      }
    }
  }
}

absl::StatusOr<postgres::Pool::Lease> PgEventStore::WriterConnection() {
  if (!connected_) return NotConnected(writer_pool_.server());
  return writer_pool_.Acquire(absl::Now() + options_.connection_timeout);
}

absl::StatusOr<std::string> PgEventStore::SynchronousCommit() {
  POLKU_ASSIGN_OR_RETURN(postgres::Pool::Lease db, WriterConnection());
  POLKU_ASSIGN_OR_RETURN(postgres::Result setting,
                         db->Execute("SHOW synchronous_commit"));
  return setting.Text(0, 0);
}

absl::Status PgEventStore::WriteGroup(const std::vector<Pending>& group,
                                      std::vector<BatchResult>& results,
                                      int64_t& last_sequence) {
  POLKU_ASSIGN_OR_RETURN(postgres::Pool::Lease lease, WriterConnection());
  postgres::Connection& db = *lease;
  postgres::Transaction transaction(db);
  POLKU_RETURN_IF_ERROR(transaction.Begin());
  POLKU_RETURN_IF_ERROR(TakeFeedLock(db));
  results.clear();
  results.reserve(group.size());
  for (const Pending& pending : group) {
    POLKU_RETURN_IF_ERROR(db.Exec("SAVEPOINT batch"));
    int64_t batch_last = 0;
    BatchResult result = WriteBatch(db, pending, batch_last);
    if (result.ok()) {
      POLKU_RETURN_IF_ERROR(db.Exec("RELEASE SAVEPOINT batch"));
      if (batch_last > 0) last_sequence = batch_last;
    } else {
      // A lost connection fails the whole group (UNAVAILABLE); else only
      // this batch is undone and the others still commit. Retrying the same
      // statements would fail the same way, hence INTERNAL.
      if (!db.healthy()) return result.status();
      POLKU_RETURN_IF_ERROR(db.Exec("ROLLBACK TO SAVEPOINT batch"));
      POLKU_RETURN_IF_ERROR(db.Exec("RELEASE SAVEPOINT batch"));
      log::Error("a batch of events failed",
                 {{"tenant", pending.tenant},
                  {"channel", pending.channel},
                  {"error", result.status().ToString()}});
      result = absl::InternalError(
          absl::StrCat("events were not stored: ", result.status().message()));
    }
    results.push_back(std::move(result));
  }
  if (last_sequence > 0) POLKU_RETURN_IF_ERROR(NotifyFeed(db, last_sequence));
  return transaction.Commit();
}

absl::StatusOr<std::vector<EventResult>> PgEventStore::WriteBatch(
    postgres::Connection& db, const Pending& pending, int64_t& last_sequence) {
  const std::vector<PreparedEvent>& events = pending.events;
  std::vector<EventResult> results(events.size());
  std::vector<std::string> event_ids;
  event_ids.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    results[i].set_event_id(events[i].event_id);
    event_ids.push_back(events[i].event_id);
  }

  // Within this transaction, so keys of the group's earlier batches are
  // seen too.
  POLKU_ASSIGN_OR_RETURN(StoredKeys stored,
                         FindStoredKeys(db, pending, event_ids));
  std::vector<std::string> unseen_customers;
  for (const PreparedEvent& event : events) {
    if (!stored.contains(event.event_id)) {
      unseen_customers.push_back(event.customer_hash);
    }
  }
  absl::flat_hash_set<std::string> suppressed;
  if (!unseen_customers.empty()) {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result rows,
        db.Execute(kSuppressedAmongSql, {Param::Text(pending.tenant),
                                         Param::TextArray(unseen_customers)}));
    for (int row = 0; row < rows.rows(); ++row) {
      suppressed.insert(rows.Text(row, 0));
    }
  }

  // In the batch's order, as if stored one by one: the first new event with
  // a key claims it; a later one with the same key is a repeat of it.
  absl::flat_hash_map<absl::string_view, size_t> claimed;  // key → position
  std::vector<size_t> fresh;    // positions to insert, in order
  std::vector<size_t> repeats;  // positions repeating a fresh event's key
  for (size_t i = 0; i < events.size(); ++i) {
    const PreparedEvent& event = events[i];
    if (auto it = stored.find(event.event_id); it != stored.end()) {
      AnswerRepeat(it->second.fingerprint, it->second.sequence,
                   event.fingerprint, results[i]);
    } else if (claimed.contains(event.event_id)) {
      repeats.push_back(i);
    } else if (suppressed.contains(event.customer_hash)) {
      AnswerSuppressed(results[i]);
    } else {
      claimed.emplace(event.event_id, i);
      fresh.push_back(i);
    }
  }
  if (fresh.empty()) return results;

  POLKU_ASSIGN_OR_RETURN(StoredSequences inserted,
                         InsertEvents(db, pending, fresh));
  std::vector<size_t> conflicted;  // positions another replica took first
  std::vector<std::string> conflicted_ids;
  for (const size_t i : fresh) {
    auto it = inserted.find(events[i].event_id);
    if (it == inserted.end()) {
      conflicted.push_back(i);
      conflicted_ids.push_back(events[i].event_id);
      continue;
    }
    results[i].set_outcome(EventResult::ACCEPTED);
    results[i].set_sequence(it->second);
    last_sequence = std::max(last_sequence, it->second);
  }
  if (!conflicted.empty()) {
    // Another replica committed these keys since they were looked up:
    // answer from its rows.
    POLKU_ASSIGN_OR_RETURN(StoredKeys theirs,
                           FindStoredKeys(db, pending, conflicted_ids));
    for (const size_t i : conflicted) {
      auto it = theirs.find(events[i].event_id);
      if (it == theirs.end()) {
        return absl::AbortedError(
            absl::StrCat("event_id '", events[i].event_id,
                         "' conflicted but is not stored"));
      }
      AnswerRepeat(it->second.fingerprint, it->second.sequence,
                   events[i].fingerprint, results[i]);
    }
    stored.merge(theirs);
  }
  for (const size_t i : repeats) {
    const PreparedEvent& event = events[i];
    if (auto it = stored.find(event.event_id); it != stored.end()) {
      AnswerRepeat(it->second.fingerprint, it->second.sequence,
                   event.fingerprint, results[i]);
    } else {
      const size_t first = claimed.at(event.event_id);
      AnswerRepeat(events[first].fingerprint, results[first].sequence(),
                   event.fingerprint, results[i]);
    }
  }
  return results;
}

absl::StatusOr<PgEventStore::StoredKeys> PgEventStore::FindStoredKeys(
    postgres::Connection& db, const Pending& pending,
    const std::vector<std::string>& event_ids) {
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result rows,
      db.Execute(kFindEventsSql,
                 {Param::Text(pending.tenant), Param::Text(pending.channel),
                  Param::TextArray(event_ids)}));
  StoredKeys stored;
  stored.reserve(rows.rows());
  for (int row = 0; row < rows.rows(); ++row) {
    stored.try_emplace(rows.Text(row, 0),
                       StoredKey{rows.Int(row, 1), rows.Bytes(row, 2)});
  }
  return stored;
}

absl::StatusOr<PgEventStore::StoredSequences> PgEventStore::InsertEvents(
    postgres::Connection& db, const Pending& pending,
    const std::vector<size_t>& positions) {
  const size_t n = positions.size();
  std::vector<std::string> event_ids, fingerprints, customer_hashes, journeys,
      stages, touchpoints, payloads;
  std::vector<int64_t> occurred_at, journey_versions;
  for (auto* column : {&event_ids, &fingerprints, &customer_hashes, &journeys,
                       &stages, &touchpoints, &payloads}) {
    column->reserve(n);
  }
  occurred_at.reserve(n);
  journey_versions.reserve(n);
  for (const size_t i : positions) {
    const PreparedEvent& event = pending.events[i];
    event_ids.push_back(event.event_id);
    fingerprints.push_back(event.fingerprint);
    customer_hashes.push_back(event.customer_hash);
    occurred_at.push_back(event.occurred_at);
    journeys.push_back(event.where.journey);
    journey_versions.push_back(event.where.journey_version);
    stages.push_back(event.where.stage);
    touchpoints.push_back(event.touchpoint);
    payloads.push_back(event.payload);
  }
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result rows,
      db.Execute(kInsertEventsSql,
                 {Param::Text(pending.tenant), Param::Text(pending.channel),
                  Param::Int(absl::ToUnixMicros(pending.received_at)),
                  Param::TextArray(event_ids), Param::BytesArray(fingerprints),
                  Param::TextArray(customer_hashes),
                  Param::IntArray(occurred_at), Param::TextArray(journeys),
                  Param::IntArray(journey_versions), Param::TextArray(stages),
                  Param::TextArray(touchpoints), Param::BytesArray(payloads)}));
  StoredSequences inserted;
  inserted.reserve(rows.rows());
  for (int row = 0; row < rows.rows(); ++row) {
    inserted.emplace(rows.Text(row, 0), rows.Int(row, 1));
  }
  return inserted;
}

absl::StatusOr<EraseResult> PgEventStore::WriteErasure(
    const EraseOrder& order) {
  POLKU_ASSIGN_OR_RETURN(postgres::Pool::Lease lease, WriterConnection());
  postgres::Connection& db = *lease;
  const std::string customer_hash = hasher().Hash(order.tenant, order.customer);
  const std::vector<Param> customer = {Param::Text(order.tenant),
                                       Param::Text(customer_hash)};
  postgres::Transaction transaction(db);
  POLKU_RETURN_IF_ERROR(transaction.Begin());
  POLKU_RETURN_IF_ERROR(TakeFeedLock(db));
  // The keys stay (see event_store.h); the events go.
  POLKU_RETURN_IF_ERROR(
      db.Execute("INSERT INTO erased_event_keys "
                 "(tenant, channel, event_id, fingerprint, sequence) "
                 "SELECT tenant, channel, event_id, fingerprint, sequence "
                 "FROM events WHERE tenant = $1 AND customer_hash = $2 "
                 "ON CONFLICT DO NOTHING",
                 customer)
          .status());
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result deleted,
      db.Execute("DELETE FROM events WHERE tenant = $1 AND customer_hash = $2",
                 customer));
  EraseResult result;
  result.erased_events = deleted.affected();
  POLKU_ASSIGN_OR_RETURN(postgres::Result sequence,
                         db.Execute("SELECT nextval('feed_sequence')"));
  result.sequence = sequence.Int(0, 0);
  const polku::v1::Erasure erasure =
      ErasureEntry(order.tenant, customer_hash, result.erased_events,
                   order.suppress_future, clock().Now());
  POLKU_RETURN_IF_ERROR(
      db.Execute("INSERT INTO erasures (sequence, tenant, customer_hash, "
                 "payload) VALUES ($1, $2, $3, $4)",
                 {Param::Int(result.sequence), Param::Text(order.tenant),
                  Param::Text(customer_hash),
                  Param::Bytes(erasure.SerializeAsString())})
          .status());
  if (order.suppress_future) {
    POLKU_RETURN_IF_ERROR(
        db.Execute("INSERT INTO suppressed_customers "
                   "(tenant, customer_hash, erasure_sequence) "
                   "VALUES ($1, $2, $3) ON CONFLICT (tenant, customer_hash) "
                   "DO UPDATE SET erasure_sequence = EXCLUDED.erasure_sequence",
                   {Param::Text(order.tenant), Param::Text(customer_hash),
                    Param::Int(result.sequence)})
            .status());
  }
  POLKU_RETURN_IF_ERROR(NotifyFeed(db, result.sequence));
  POLKU_RETURN_IF_ERROR(transaction.Commit());
  return result;
}

absl::StatusOr<std::vector<FeedRecord>> PgEventStore::ReadFeedRecords(
    absl::string_view tenant, int64_t from_sequence, int limit) {
  if (!connected_) return NotConnected(reader_pool_.server());
  POLKU_ASSIGN_OR_RETURN(
      postgres::Pool::Lease db,
      reader_pool_.Acquire(absl::Now() + options_.connection_timeout));
  std::vector<Param> params = {Param::Int(from_sequence), Param::Int(limit)};
  if (!tenant.empty()) params.push_back(Param::Text(tenant));
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result rows,
      db->Execute(tenant.empty() ? kFeedAllSql : kFeedOfTenantSql, params));
  std::vector<FeedRecord> records;
  records.reserve(rows.rows());
  for (int row = 0; row < rows.rows(); ++row) {
    records.push_back({.sequence = rows.Int(row, 0),
                       .erasure = rows.Int(row, 2) == 1,
                       .payload = rows.Bytes(row, 1)});
  }
  return records;
}

absl::StatusOr<std::vector<FeedRecord>> PgEventStore::ReadEventRecords(
    const EventQuery& query) {
  if (!connected_) return NotConnected(reader_pool_.server());
  POLKU_ASSIGN_OR_RETURN(
      postgres::Pool::Lease db,
      reader_pool_.Acquire(absl::Now() + options_.connection_timeout));
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result rows,
      db->Execute(kEventsOfTenantSql,
                  {Param::Text(query.tenant), Param::Int(query.from_sequence),
                   Param::Int(query.to_sequence), Param::Text(query.journey),
                   Param::Int(query.occurred_from),
                   Param::Int(query.occurred_to), Param::Int(query.limit)}));
  std::vector<FeedRecord> records;
  records.reserve(rows.rows());
  for (int row = 0; row < rows.rows(); ++row) {
    records.push_back(
        {.sequence = rows.Int(row, 0), .payload = rows.Bytes(row, 1)});
  }
  return records;
}

absl::Status PgEventStore::RecordReaderProgress(absl::string_view reader,
                                                int64_t applied_sequence,
                                                int64_t reported_at) {
  // A reader connection: one autocommit statement, not the writer's turn.
  if (!connected_) return NotConnected(reader_pool_.server());
  POLKU_ASSIGN_OR_RETURN(
      postgres::Pool::Lease db,
      reader_pool_.Acquire(absl::Now() + options_.connection_timeout));
  return db->Execute(kUpsertReaderProgressSql,
                     {Param::Text(reader), Param::Text(feed_id_),
                      Param::Int(applied_sequence), Param::Int(reported_at)})
      .status();
}

absl::StatusOr<std::vector<ReaderProgress>> PgEventStore::ReadReaderProgress() {
  if (!connected_) return NotConnected(reader_pool_.server());
  POLKU_ASSIGN_OR_RETURN(
      postgres::Pool::Lease db,
      reader_pool_.Acquire(absl::Now() + options_.connection_timeout));
  POLKU_ASSIGN_OR_RETURN(
      postgres::Result rows,
      db->Execute(kReadReaderProgressSql, {Param::Text(feed_id_)}));
  std::vector<ReaderProgress> progress;
  progress.reserve(rows.rows());
  for (int row = 0; row < rows.rows(); ++row) {
    progress.push_back({.reader = rows.Text(row, 0),
                        .applied_sequence = rows.Int(row, 1),
                        .advanced_at = rows.Int(row, 2),
                        .reported_at = rows.Int(row, 3)});
  }
  return progress;
}

}  // namespace polku::feedback
