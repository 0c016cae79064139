#include "services/feedback/sqlite_event_store.h"

#include <optional>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"
#include "lib/crypto/crypto.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using polku::v1::StoredEvent;
using polku::v1::TouchpointEvent;

// Schema by version; append, never edit. Times are Unix microseconds (UTC).
// `payload` is the StoredEvent without its sequence (the row's key holds it),
// customer cleared; the other columns are there to be queried.
const std::vector<sqlite::Migration>& Migrations() {
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
  };
  return *migrations;
}

constexpr char kFindEventSql[] =
    "SELECT sequence, fingerprint FROM events "
    "WHERE tenant = ?1 AND channel = ?2 AND event_id = ?3";
constexpr char kInsertEventSql[] =
    "INSERT INTO events (tenant, channel, event_id, fingerprint, customer_hash,"
    " occurred_at, received_at, journey, journey_version, stage, touchpoint,"
    " payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
constexpr char kFeedAllSql[] =
    "SELECT sequence, payload FROM events WHERE sequence >= ?1 "
    "ORDER BY sequence LIMIT ?2";
constexpr char kFeedOfTenantSql[] =
    "SELECT sequence, payload FROM events WHERE tenant = ?3 AND sequence >= ?1 "
    "ORDER BY sequence LIMIT ?2";

// SHA-256 of the event's deterministic encoding (map entries sorted), so
// the same event re-sent always has the same fingerprint.
std::string Fingerprint(const TouchpointEvent& event) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    event.SerializeToCodedStream(&coded);
  }
  return crypto::Sha256(bytes);
}

int64_t ToUnixMicros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1'000'000 + ts.nanos() / 1'000;
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t nanos = absl::ToUnixNanos(t);
  ts.set_seconds(nanos / 1'000'000'000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  return ts;
}

using EventKey = std::tuple<std::string, std::string, std::string>;

struct Stored {
  std::string fingerprint;
  int64_t sequence;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteEventStore>> SqliteEventStore::Open(
    const std::string& path, CustomerHasher hasher,
    const SqliteEventStoreOptions& options) {
  sqlite::Database::Options db_options;
  db_options.durable = options.durable;
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> db,
                         sqlite::Database::Open(path, db_options));
  POLKU_RETURN_IF_ERROR(db->Migrate(Migrations()));
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * max_sequence,
      db->Prepare("SELECT COALESCE(MAX(sequence), 0) FROM events"));
  POLKU_ASSIGN_OR_RETURN(bool has_row, max_sequence->Step());
  const int64_t last_sequence = has_row ? max_sequence->ColumnInt(0) : 0;
  max_sequence->Reset();
  return std::unique_ptr<SqliteEventStore>(new SqliteEventStore(
      path, std::move(db), std::move(hasher), options, last_sequence));
}

SqliteEventStore::SqliteEventStore(std::string path,
                                   std::unique_ptr<sqlite::Database> writer_db,
                                   CustomerHasher hasher,
                                   const SqliteEventStoreOptions& options,
                                   int64_t last_sequence)
    : path_(std::move(path)),
      options_(options),
      notifier_(last_sequence),
      writer_db_(std::move(writer_db)),
      hasher_(std::move(hasher)) {
  writer_ = std::thread([this] { WriterLoop(); });
}

SqliteEventStore::~SqliteEventStore() { Stop(); }

void SqliteEventStore::Stop() {
  if (stopped_) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  writer_.join();
  stopped_ = true;
}

size_t SqliteEventStore::queue_depth() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void SqliteEventStore::Submit(EventBatch batch, SubmitCallback done) {
  if (batch.events.empty()) {
    done(std::vector<EventResult>());
    return;
  }
  const absl::Time received_at = options_.clock->Now();
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(Pending{std::move(batch), std::move(done), received_at});
      return;
    }
  }
  done(absl::UnavailableError("the event store is shutting down"));
}

bool SqliteEventStore::WriterHasWork() const {
  return stopping_ || !queue_.empty();
}

void SqliteEventStore::WriterLoop() {
  while (true) {
    std::vector<Pending> group;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &SqliteEventStore::WriterHasWork));
      if (queue_.empty()) return;  // stopping, and everything is committed
      size_t events = 0;
      while (!queue_.empty() &&
             (group.empty() || events + queue_.front().batch.events.size() <=
                                   options_.max_events_per_transaction)) {
        events += queue_.front().batch.events.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }

    std::vector<std::vector<EventResult>> results;
    int64_t last_sequence = 0;
    absl::Status status = WriteGroup(group, results, last_sequence);
    if (!status.ok()) {
      log::Error("storing events failed",
                 {{"batches", group.size()}, {"error", status.ToString()}});
      // Nothing of the group is durable; callers may safely retry.
      const absl::Status error = absl::UnavailableError(
          absl::StrCat("events were not stored: ", status.message()));
      for (Pending& pending : group) pending.done(error);
      continue;
    }
    ++transactions_committed_;
    if (last_sequence > 0) notifier_.Publish(last_sequence);
    for (size_t i = 0; i < group.size(); ++i) {
      group[i].done(std::move(results[i]));
    }
  }
}

absl::Status SqliteEventStore::WriteGroup(
    const std::vector<Pending>& group,
    std::vector<std::vector<EventResult>>& results, int64_t& last_sequence) {
  sqlite::Database& db = *writer_db_;
  sqlite::Transaction transaction(db);
  POLKU_RETURN_IF_ERROR(transaction.Begin());
  // Events stored earlier in this transaction, so that a key repeated within
  // the group is answered like one repeated across transactions.
  absl::flat_hash_map<EventKey, Stored> stored_now;
  results.clear();
  results.reserve(group.size());
  for (const Pending& pending : group) {
    const EventBatch& batch = pending.batch;
    std::vector<EventResult>& batch_results = results.emplace_back();
    batch_results.reserve(batch.events.size());
    for (const ValidEvent& valid : batch.events) {
      const TouchpointEvent& event = valid.event;
      EventResult& result = batch_results.emplace_back();
      result.set_event_id(event.event_id());
      const std::string fingerprint = Fingerprint(event);
      EventKey key{batch.tenant, batch.channel, event.event_id()};

      std::optional<Stored> earlier;
      if (auto it = stored_now.find(key); it != stored_now.end()) {
        earlier = it->second;
      } else {
        POLKU_ASSIGN_OR_RETURN(sqlite::Statement * find,
                               db.Prepare(kFindEventSql));
        find->Bind(1, batch.tenant)
            .Bind(2, batch.channel)
            .Bind(3, event.event_id());
        POLKU_ASSIGN_OR_RETURN(bool found, find->Step());
        if (found) earlier = Stored{find->ColumnBlob(1), find->ColumnInt(0)};
        find->Reset();
      }
      if (earlier.has_value()) {
        if (earlier->fingerprint == fingerprint) {
          result.set_outcome(EventResult::DUPLICATE);
          result.set_sequence(earlier->sequence);
        } else {
          result.set_outcome(EventResult::REJECTED);
          result.set_field("event_id");
          result.set_reason(absl::StrCat("event_id '", event.event_id(),
                                         "' was already used for a different "
                                         "event"));
        }
        continue;
      }

      StoredEvent stored;
      stored.set_tenant(batch.tenant);
      stored.set_channel(batch.channel);
      stored.set_journey(valid.touchpoint.journey);
      stored.set_journey_version(valid.touchpoint.journey_version);
      stored.set_stage(valid.touchpoint.stage);
      stored.set_customer_hash(hasher_.Hash(batch.tenant, event.customer()));
      *stored.mutable_received_at() = ToTimestamp(pending.received_at);
      *stored.mutable_event() = event;
      stored.mutable_event()->clear_customer();

      POLKU_ASSIGN_OR_RETURN(sqlite::Statement * insert,
                             db.Prepare(kInsertEventSql));
      POLKU_RETURN_IF_ERROR(
          insert->Bind(1, batch.tenant)
              .Bind(2, batch.channel)
              .Bind(3, event.event_id())
              .BindBlob(4, fingerprint)
              .Bind(5, stored.customer_hash())
              .Bind(6, ToUnixMicros(event.occurred_at()))
              .Bind(7, absl::ToUnixMicros(pending.received_at))
              .Bind(8, valid.touchpoint.journey)
              .Bind(9, int64_t{valid.touchpoint.journey_version})
              .Bind(10, valid.touchpoint.stage)
              .Bind(11, event.touchpoint())
              .BindBlob(12, stored.SerializeAsString())
              .Run());
      const int64_t sequence = db.LastInsertRowId();
      stored_now.emplace(std::move(key), Stored{fingerprint, sequence});
      result.set_outcome(EventResult::ACCEPTED);
      result.set_sequence(sequence);
      last_sequence = sequence;
    }
  }
  return transaction.Commit();
}

absl::StatusOr<std::unique_ptr<sqlite::Database>>
SqliteEventStore::TakeReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<sqlite::Database> reader =
          std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
  }
  sqlite::Database::Options options;
  options.durable = options_.durable;
  options.read_only = true;
  return sqlite::Database::Open(path_, options);
}

void SqliteEventStore::ReturnReader(std::unique_ptr<sqlite::Database> reader) {
  absl::MutexLock lock(&readers_mu_);
  idle_readers_.push_back(std::move(reader));
}

absl::StatusOr<std::vector<StoredEvent>> SqliteEventStore::ReadFeed(
    absl::string_view tenant, int64_t from_sequence, int limit) {
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> reader,
                         TakeReader());
  std::vector<StoredEvent> events;
  absl::Status status = [&]() -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * read,
        reader->Prepare(tenant.empty() ? kFeedAllSql : kFeedOfTenantSql));
    read->Bind(1, from_sequence).Bind(2, int64_t{limit});
    if (!tenant.empty()) read->Bind(3, tenant);
    while (true) {
      absl::StatusOr<bool> row = read->Step();
      if (!row.ok()) {
        read->Reset();
        return row.status();
      }
      if (!*row) break;
      StoredEvent& event = events.emplace_back();
      if (!event.ParseFromString(read->ColumnBlob(1))) {
        const int64_t sequence = read->ColumnInt(0);
        read->Reset();
        return absl::DataLossError(
            absl::StrCat("stored event ", sequence, " cannot be parsed"));
      }
      event.set_sequence(read->ColumnInt(0));
    }
    // Ends the read transaction, so the writer's checkpoints can proceed.
    read->Reset();
    return absl::OkStatus();
  }();
  ReturnReader(std::move(reader));
  if (!status.ok()) return status;
  return events;
}

}  // namespace polku::feedback
