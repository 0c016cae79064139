#include "gateway/keys/pg_key_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "lib/base/status_macros.h"

namespace polku::gateway::keys {
namespace {

using ::polku::postgres::Connection;
using ::polku::postgres::Param;
using ::polku::postgres::Result;

// SqliteKeyStore's layout. Ids sort byte by byte (COLLATE "C"), as in
// SQLite, so pages come in the same order on both. Append, never edit.
const std::vector<Migration>& Migrations() {
  static const auto* const kMigrations = new std::vector<Migration>{
      {1, R"sql(
CREATE TABLE tenants (
  id TEXT COLLATE "C" PRIMARY KEY,
  display_name TEXT NOT NULL,
  create_time_us BIGINT NOT NULL
);
CREATE TABLE api_keys (
  key_id TEXT COLLATE "C" PRIMARY KEY,
  key_sha256 TEXT NOT NULL UNIQUE,
  tenant TEXT COLLATE "C" NOT NULL,
  display_name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  channel TEXT NOT NULL,
  create_time_us BIGINT NOT NULL,
  revoke_time_us BIGINT,
  change_number BIGINT NOT NULL
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, key_id);
CREATE INDEX api_keys_by_change ON api_keys (change_number);
-- Bumped by every insert and revocation of a key (key_store.h).
CREATE TABLE key_changes (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last_change BIGINT NOT NULL
);
INSERT INTO key_changes (id, last_change) VALUES (1, 0);
)sql"},
  };
  return *kMigrations;
}

constexpr char kKeyColumns[] =
    "key_id, tenant, display_name, scopes, channel, create_time_us, "
    "revoke_time_us, key_sha256, change_number";

KeyRecord KeyFromRow(const Result& result, int row) {
  KeyRecord record;
  record.key_id = result.Text(row, 0);
  record.tenant = result.Text(row, 1);
  record.display_name = result.Text(row, 2);
  for (absl::string_view scope :
       absl::StrSplit(result.Text(row, 3), ' ', absl::SkipEmpty())) {
    record.scopes.emplace(scope);
  }
  record.channel = result.Text(row, 4);
  record.create_time = absl::FromUnixMicros(result.Int(row, 5));
  if (!result.IsNull(row, 6)) {
    record.revoke_time = absl::FromUnixMicros(result.Int(row, 6));
  }
  return record;
}

// Takes the next change number, and with it the lock every change holds
// until commit.
absl::StatusOr<int64_t> NextChange(Connection& db) {
  POLKU_ASSIGN_OR_RETURN(
      Result bumped,
      db.Execute("UPDATE key_changes SET last_change = last_change + 1 "
                 "RETURNING last_change"));
  if (bumped.rows() != 1) return absl::DataLossError("key_changes has no row");
  return bumped.Int(0, 0);
}

}  // namespace

PgKeyStore::PgKeyStore(const std::string& url, const Options& options,
                       const Clock& clock)
    : CachingKeyStore(clock),
      options_(options),
      pool_(url, {.size = options.connections,
                  .connect_timeout = options.connect_timeout,
                  // A revocation is acknowledged once it is on disk,
                  // whatever the server's default.
                  .prepare = [](Connection& db) {
                    return db.Exec("SET synchronous_commit = on");
                  }}) {}

absl::StatusOr<std::unique_ptr<PgKeyStore>> PgKeyStore::Open(
    const std::string& url, const Clock& clock, const Options& options) {
  std::unique_ptr<PgKeyStore> store(new PgKeyStore(url, options, clock));
  POLKU_RETURN_IF_ERROR(
      store->Run(false, [](Connection& db) { return Migrate(db); }));
  POLKU_RETURN_IF_ERROR(store->Load());
  return store;
}

PgKeyStore::~PgKeyStore() { StopRefreshing(); }

absl::Status PgKeyStore::Migrate(Connection& db) {
  return db.Migrate("gateway", Migrations());
}

std::string PgKeyStore::description() const {
  return absl::StrCat("PostgreSQL at ", pool_.server());
}

absl::Status PgKeyStore::Run(
    bool transaction, absl::FunctionRef<absl::Status(Connection&)> work) {
  return postgres::RunWithRetries(pool_, options_.connect_timeout, "key",
                                  transaction, work);
}

absl::StatusOr<bool> PgKeyStore::InsertTenant(const TenantRecord& tenant) {
  bool inserted = false;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result result,
        db.Execute("INSERT INTO tenants (id, display_name, create_time_us) "
                   "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                   {Param::Text(tenant.id), Param::Text(tenant.display_name),
                    Param::Int(absl::ToUnixMicros(tenant.create_time))}));
    inserted = result.affected() == 1;
    return absl::OkStatus();
  }));
  return inserted;
}

absl::StatusOr<std::vector<TenantRecord>> PgKeyStore::SelectTenants(
    absl::string_view after, int limit) {
  std::vector<TenantRecord> tenants;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result result,
        db.Execute("SELECT id, display_name, create_time_us FROM tenants "
                   "WHERE id > $1 ORDER BY id LIMIT $2",
                   {Param::Text(after), Param::Int(limit)}));
    tenants.clear();
    for (int row = 0; row < result.rows(); ++row) {
      tenants.push_back(
          {.id = result.Text(row, 0),
           .display_name = result.Text(row, 1),
           .create_time = absl::FromUnixMicros(result.Int(row, 2))});
    }
    return absl::OkStatus();
  }));
  return tenants;
}

absl::StatusOr<CachingKeyStore::InsertOutcome> PgKeyStore::InsertKey(
    StoredKey& key) {
  InsertOutcome outcome = InsertOutcome::kInserted;
  POLKU_RETURN_IF_ERROR(Run(true, [&](Connection& db) -> absl::Status {
    // The lock first: what the check below finds then stays true until
    // commit, on every replica. (An outcome other than kInserted commits
    // just the number, which leaves a harmless gap.)
    POLKU_ASSIGN_OR_RETURN(key.change, NextChange(db));
    const bool super_admin = key.record.tenant.empty();
    POLKU_ASSIGN_OR_RETURN(
        Result found,
        db.Execute(super_admin ? "SELECT 1 FROM api_keys WHERE tenant = $1 "
                                 "AND revoke_time_us IS NULL LIMIT 1"
                               : "SELECT 1 FROM tenants WHERE id = $1",
                   {Param::Text(key.record.tenant)}));
    if (super_admin && found.rows() > 0) {
      outcome = InsertOutcome::kSuperAdminExists;
      return absl::OkStatus();
    }
    if (!super_admin && found.rows() == 0) {
      outcome = InsertOutcome::kNoTenant;
      return absl::OkStatus();
    }
    POLKU_ASSIGN_OR_RETURN(
        Result inserted,
        db.Execute(
            "INSERT INTO api_keys (key_id, key_sha256, tenant, display_name, "
            "scopes, channel, create_time_us, change_number) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            {Param::Text(key.record.key_id), Param::Text(key.hash),
             Param::Text(key.record.tenant),
             Param::Text(key.record.display_name),
             Param::Text(absl::StrJoin(key.record.scopes, " ")),
             Param::Text(key.record.channel),
             Param::Int(absl::ToUnixMicros(key.record.create_time)),
             Param::Int(key.change)}));
    outcome = inserted.affected() == 1 ? InsertOutcome::kInserted
                                       : InsertOutcome::kIdTaken;
    return absl::OkStatus();
  }));
  return outcome;
}

absl::StatusOr<std::optional<CachingKeyStore::StoredKey>>
PgKeyStore::RevokeStoredKey(absl::string_view tenant, absl::string_view key_id,
                            absl::Time now) {
  std::optional<StoredKey> key;
  POLKU_RETURN_IF_ERROR(Run(true, [&](Connection& db) -> absl::Status {
    key.reset();
    // The change lock before the key's row, in every transaction.
    POLKU_ASSIGN_OR_RETURN(int64_t change, NextChange(db));
    POLKU_ASSIGN_OR_RETURN(
        Result found,
        db.Execute(absl::StrCat("SELECT ", kKeyColumns,
                                " FROM api_keys WHERE key_id = $1 AND "
                                "tenant = $2"),
                   {Param::Text(key_id), Param::Text(tenant)}));
    if (found.rows() == 0) return absl::OkStatus();
    key = StoredKey{.record = KeyFromRow(found, 0),
                    .hash = found.Text(0, 7),
                    .change = found.Int(0, 8)};
    if (key->record.revoke_time.has_value()) return absl::OkStatus();
    POLKU_RETURN_IF_ERROR(
        db.Execute("UPDATE api_keys SET revoke_time_us = $2, "
                   "change_number = $3 WHERE key_id = $1",
                   {Param::Text(key_id), Param::Int(absl::ToUnixMicros(now)),
                    Param::Int(change)})
            .status());
    key->change = change;
    key->record.revoke_time = now;
    return absl::OkStatus();
  }));
  return key;
}

absl::StatusOr<std::vector<KeyRecord>> PgKeyStore::SelectKeys(
    absl::string_view tenant, absl::string_view after, int limit,
    bool show_revoked) {
  std::vector<KeyRecord> records;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result result,
        db.Execute(
            absl::StrCat("SELECT ", kKeyColumns,
                         " FROM api_keys WHERE tenant = $1 AND "
                         "key_id > $2 AND ($3 OR revoke_time_us IS "
                         "NULL) ORDER BY key_id LIMIT $4"),
            {Param::Text(tenant), Param::Text(after),
             Param::Text(show_revoked ? "true" : "false"), Param::Int(limit)}));
    records.clear();
    for (int row = 0; row < result.rows(); ++row) {
      records.push_back(KeyFromRow(result, row));
    }
    return absl::OkStatus();
  }));
  return records;
}

absl::StatusOr<bool> PgKeyStore::ValidSuperAdminKeyExists() {
  bool exists = false;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result result,
        db.Execute("SELECT 1 FROM api_keys WHERE tenant = '' AND "
                   "revoke_time_us IS NULL LIMIT 1"));
    exists = result.rows() > 0;
    return absl::OkStatus();
  }));
  return exists;
}

absl::StatusOr<int64_t> PgKeyStore::LastChange() {
  int64_t last = 0;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result result,
        db.Execute("SELECT last_change FROM key_changes WHERE id = 1"));
    if (result.rows() != 1) {
      return absl::DataLossError("key_changes has no row");
    }
    last = result.Int(0, 0);
    return absl::OkStatus();
  }));
  return last;
}

absl::StatusOr<std::vector<CachingKeyStore::StoredKey>>
PgKeyStore::SelectValidKeys() {
  return SelectStoredKeys("revoke_time_us IS NULL", {});
}

absl::StatusOr<std::vector<CachingKeyStore::StoredKey>>
PgKeyStore::SelectChangesAfter(int64_t after) {
  return SelectStoredKeys("change_number > $1 ORDER BY change_number",
                          {Param::Int(after)});
}

absl::StatusOr<std::vector<CachingKeyStore::StoredKey>>
PgKeyStore::SelectStoredKeys(absl::string_view where,
                             const std::vector<postgres::Param>& params) {
  std::vector<StoredKey> keys;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result result, db.Execute(absl::StrCat("SELECT ", kKeyColumns,
                                               " FROM api_keys WHERE ", where),
                                  params));
    keys.clear();
    for (int row = 0; row < result.rows(); ++row) {
      keys.push_back({.record = KeyFromRow(result, row),
                      .hash = result.Text(row, 7),
                      .change = result.Int(row, 8)});
    }
    return absl::OkStatus();
  }));
  return keys;
}

}  // namespace polku::gateway::keys
