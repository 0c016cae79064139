#include "gateway/keys/sqlite_key_store.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/base/status_macros.h"

namespace polku::gateway::keys {
namespace {

// Keys are stored as the SHA-256 of the whole key text; the id is its first
// 8 hex digits. Scopes are one space-separated text column. Append, never
// edit.
const std::vector<sqlite::Migration>& Migrations() {
  static const auto* migrations = new std::vector<sqlite::Migration>{
      {1,
       "CREATE TABLE tenants ("
       "  id TEXT PRIMARY KEY,"
       "  display_name TEXT NOT NULL,"
       "  create_time_us INTEGER NOT NULL);"
       "CREATE TABLE api_keys ("
       "  key_id TEXT PRIMARY KEY,"
       "  key_sha256 TEXT NOT NULL UNIQUE,"
       "  tenant TEXT NOT NULL,"
       "  display_name TEXT NOT NULL,"
       "  scopes TEXT NOT NULL,"
       "  channel TEXT NOT NULL,"
       "  create_time_us INTEGER NOT NULL,"
       "  revoke_time_us INTEGER);"
       "CREATE INDEX api_keys_by_tenant ON api_keys (tenant, key_id);"},
      // Change numbers (key_store.h). Keys from before count as loaded.
      {2,
       "ALTER TABLE api_keys ADD COLUMN change_number INTEGER NOT NULL "
       "  DEFAULT 0;"
       "CREATE INDEX api_keys_by_change ON api_keys (change_number);"
       "CREATE TABLE key_changes ("
       "  id INTEGER PRIMARY KEY CHECK (id = 1),"
       "  last_change INTEGER NOT NULL);"
       "INSERT INTO key_changes (id, last_change) VALUES (1, 0);"},
  };
  return *migrations;
}

constexpr char kKeyColumns[] =
    "key_id, tenant, display_name, scopes, channel, create_time_us, "
    "revoke_time_us, key_sha256, change_number";

KeyRecord ReadKeyRow(const sqlite::Statement& row) {
  KeyRecord record;
  record.key_id = row.ColumnText(0);
  record.tenant = row.ColumnText(1);
  record.display_name = row.ColumnText(2);
  for (absl::string_view scope :
       absl::StrSplit(row.ColumnText(3), ' ', absl::SkipEmpty())) {
    record.scopes.emplace(scope);
  }
  record.channel = row.ColumnText(4);
  record.create_time = absl::FromUnixMicros(row.ColumnInt(5));
  if (!row.IsNull(6)) {
    record.revoke_time = absl::FromUnixMicros(row.ColumnInt(6));
  }
  return record;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteKeyStore>> SqliteKeyStore::Open(
    const std::string& path, const Clock& clock) {
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> db,
                         sqlite::Database::Open(path));
  // Only hashes are stored, but tenants and key metadata are nobody else's
  // business; SQLite gives the -wal and -shm files the database's mode.
  if (path != ":memory:" && chmod(path.c_str(), 0600) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot restrict ", path, " to mode 0600"));
  }
  POLKU_RETURN_IF_ERROR(db->Migrate(Migrations()));
  std::unique_ptr<SqliteKeyStore> store(
      new SqliteKeyStore(std::move(db), path, clock));
  POLKU_RETURN_IF_ERROR(store->Load());
  return store;
}

SqliteKeyStore::~SqliteKeyStore() { StopRefreshing(); }

std::string SqliteKeyStore::description() const {
  return absl::StrCat("SQLite ", path_);
}

absl::StatusOr<int64_t> SqliteKeyStore::NextChange() {
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * bump,
      db_->Prepare("UPDATE key_changes SET last_change = last_change + 1 "
                   "RETURNING last_change"));
  POLKU_ASSIGN_OR_RETURN(bool row, bump->Step());
  if (!row) return absl::DataLossError("key_changes has no row");
  int64_t change = bump->ColumnInt(0);
  bump->Reset();
  return change;
}

absl::StatusOr<bool> SqliteKeyStore::InsertTenant(const TenantRecord& tenant) {
  absl::MutexLock lock(&mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * insert,
      db_->Prepare("INSERT OR IGNORE INTO tenants (id, display_name, "
                   "create_time_us) VALUES (?1, ?2, ?3)"));
  POLKU_RETURN_IF_ERROR(insert->Bind(1, tenant.id)
                            .Bind(2, tenant.display_name)
                            .Bind(3, absl::ToUnixMicros(tenant.create_time))
                            .Run());
  return db_->Changes() == 1;
}

absl::StatusOr<std::vector<TenantRecord>> SqliteKeyStore::SelectTenants(
    absl::string_view after, int limit) {
  absl::MutexLock lock(&mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db_->Prepare("SELECT id, display_name, create_time_us FROM tenants "
                   "WHERE id > ?1 ORDER BY id LIMIT ?2"));
  std::vector<TenantRecord> tenants;
  POLKU_RETURN_IF_ERROR(select->Bind(1, after).Bind(2, limit).ForEachRow(
      [&](const sqlite::Statement& row) {
        tenants.push_back(
            {.id = row.ColumnText(0),
             .display_name = row.ColumnText(1),
             .create_time = absl::FromUnixMicros(row.ColumnInt(2))});
        return absl::OkStatus();
      }));
  return tenants;
}

absl::StatusOr<CachingKeyStore::InsertOutcome> SqliteKeyStore::InsertKey(
    StoredKey& key) {
  absl::MutexLock lock(&mu_);
  sqlite::Transaction txn(*db_);
  // BEGIN IMMEDIATE: the check below and the insert are one step, also
  // against polku-keys writing the file meanwhile.
  POLKU_RETURN_IF_ERROR(txn.Begin());
  const bool super_admin = key.record.tenant.empty();
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * exists,
      db_->Prepare(super_admin ? "SELECT 1 FROM api_keys WHERE tenant = ?1 "
                                 "AND revoke_time_us IS NULL LIMIT 1"
                               : "SELECT 1 FROM tenants WHERE id = ?1"));
  POLKU_ASSIGN_OR_RETURN(bool found, exists->Bind(1, key.record.tenant).Step());
  exists->Reset();
  if (super_admin && found) return InsertOutcome::kSuperAdminExists;
  if (!super_admin && !found) return InsertOutcome::kNoTenant;
  POLKU_ASSIGN_OR_RETURN(key.change, NextChange());
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * insert,
      db_->Prepare("INSERT OR IGNORE INTO api_keys (key_id, key_sha256, "
                   "tenant, display_name, scopes, channel, create_time_us, "
                   "change_number) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  POLKU_RETURN_IF_ERROR(insert->Bind(1, key.record.key_id)
                            .Bind(2, key.hash)
                            .Bind(3, key.record.tenant)
                            .Bind(4, key.record.display_name)
                            .Bind(5, absl::StrJoin(key.record.scopes, " "))
                            .Bind(6, key.record.channel)
                            .Bind(7, absl::ToUnixMicros(key.record.create_time))
                            .Bind(8, key.change)
                            .Run());
  if (db_->Changes() != 1) return InsertOutcome::kIdTaken;  // Rolls back.
  POLKU_RETURN_IF_ERROR(txn.Commit());
  return InsertOutcome::kInserted;
}

absl::StatusOr<std::optional<CachingKeyStore::StoredKey>>
SqliteKeyStore::RevokeStoredKey(absl::string_view tenant,
                                absl::string_view key_id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  sqlite::Transaction txn(*db_);
  POLKU_RETURN_IF_ERROR(txn.Begin());
  POLKU_ASSIGN_OR_RETURN(std::vector<StoredKey> found,
                         SelectStoredKeys("key_id = ?1 AND tenant = ?2",
                                          [&](sqlite::Statement& select) {
                                            select.Bind(1, key_id).Bind(2,
                                                                        tenant);
                                          }));
  if (found.empty()) return std::nullopt;
  StoredKey key = std::move(found.front());
  if (key.record.revoke_time.has_value()) return key;  // Nothing changes.
  POLKU_ASSIGN_OR_RETURN(key.change, NextChange());
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * update,
      db_->Prepare("UPDATE api_keys SET revoke_time_us = ?2, "
                   "change_number = ?3 WHERE key_id = ?1"));
  POLKU_RETURN_IF_ERROR(update->Bind(1, key_id)
                            .Bind(2, absl::ToUnixMicros(now))
                            .Bind(3, key.change)
                            .Run());
  POLKU_RETURN_IF_ERROR(txn.Commit());
  key.record.revoke_time = now;
  return key;
}

absl::StatusOr<std::vector<KeyRecord>> SqliteKeyStore::SelectKeys(
    absl::string_view tenant, absl::string_view after, int limit,
    bool show_revoked) {
  absl::MutexLock lock(&mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db_->Prepare(absl::StrCat(
          "SELECT ", kKeyColumns,
          " FROM api_keys WHERE tenant = ?1 AND key_id > ?2 AND "
          "(?3 OR revoke_time_us IS NULL) ORDER BY key_id LIMIT ?4")));
  std::vector<KeyRecord> records;
  POLKU_RETURN_IF_ERROR(select->Bind(1, tenant)
                            .Bind(2, after)
                            .Bind(3, show_revoked ? 1 : 0)
                            .Bind(4, limit)
                            .ForEachRow([&](const sqlite::Statement& row) {
                              records.push_back(ReadKeyRow(row));
                              return absl::OkStatus();
                            }));
  return records;
}

absl::StatusOr<bool> SqliteKeyStore::ValidSuperAdminKeyExists() {
  absl::MutexLock lock(&mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db_->Prepare("SELECT 1 FROM api_keys WHERE tenant = '' AND "
                   "revoke_time_us IS NULL LIMIT 1"));
  POLKU_ASSIGN_OR_RETURN(bool found, select->Step());
  select->Reset();
  return found;
}

absl::StatusOr<int64_t> SqliteKeyStore::LastChange() {
  absl::MutexLock lock(&mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db_->Prepare("SELECT last_change FROM key_changes WHERE id = 1"));
  POLKU_ASSIGN_OR_RETURN(bool row, select->Step());
  if (!row) return absl::DataLossError("key_changes has no row");
  int64_t last = select->ColumnInt(0);
  select->Reset();
  return last;
}

absl::StatusOr<std::vector<CachingKeyStore::StoredKey>>
SqliteKeyStore::SelectValidKeys() {
  absl::MutexLock lock(&mu_);
  return SelectStoredKeys("revoke_time_us IS NULL", [](sqlite::Statement&) {});
}

absl::StatusOr<std::vector<CachingKeyStore::StoredKey>>
SqliteKeyStore::SelectChangesAfter(int64_t after) {
  absl::MutexLock lock(&mu_);
  return SelectStoredKeys(
      "change_number > ?1 ORDER BY change_number",
      [after](sqlite::Statement& select) { select.Bind(1, after); });
}

absl::StatusOr<std::vector<CachingKeyStore::StoredKey>>
SqliteKeyStore::SelectStoredKeys(
    absl::string_view where, absl::FunctionRef<void(sqlite::Statement&)> bind) {
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db_->Prepare(absl::StrCat("SELECT ", kKeyColumns, " FROM api_keys WHERE ",
                                where)));
  bind(*select);
  std::vector<StoredKey> keys;
  POLKU_RETURN_IF_ERROR(select->ForEachRow([&](const sqlite::Statement& row) {
    keys.push_back({.record = ReadKeyRow(row),
                    .hash = row.ColumnText(7),
                    .change = row.ColumnInt(8)});
    return absl::OkStatus();
  }));
  return keys;
}

}  // namespace polku::gateway::keys
