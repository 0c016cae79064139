#include "gateway/keys/key_store.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/base/status_macros.h"
#include "lib/crypto/crypto.h"

namespace polku::gateway::keys {
namespace {

// Keys are stored as the SHA-256 of the whole key text; the id is its first
// 8 hex digits. Scopes are one space-separated text column.
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
  };
  return *migrations;
}

constexpr char kKeyColumns[] =
    "key_id, tenant, display_name, scopes, channel, create_time_us, "
    "revoke_time_us";

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

Principal PrincipalOf(const KeyRecord& record) {
  return Principal{.tenant = record.tenant,
                   .scopes = record.scopes,
                   .channel = record.channel,
                   .key_id = record.key_id};
}

absl::Status ValidateScopes(const std::set<std::string>& scopes,
                            absl::string_view channel) {
  if (scopes.empty()) {
    return absl::InvalidArgumentError("api_key.scopes: at least one scope");
  }
  for (const std::string& scope : scopes) {
    if (!IsKnownScope(scope) || scope == kScopeSuperAdmin) {
      return absl::InvalidArgumentError(absl::StrCat(
          "api_key.scopes: unknown scope \"", scope,
          "\" (events:write, events:read, journeys:read, journeys:write, "
          "insights:read, "
          "admin)"));
    }
  }
  // A channel key writes events as its channel, and nothing else: a key
  // that could write events without a channel would let the body choose it.
  if (scopes.count(kScopeEventsWrite) > 0) {
    if (scopes.size() != 1) {
      return absl::InvalidArgumentError(
          "api_key.scopes: events:write cannot be combined with other scopes");
    }
    if (!IsValidName(channel)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "api_key.channel: an events:write key needs a channel (1-64 of "
          "a-z, 0-9, _ and -), got \"",
          channel, "\""));
    }
  } else if (!channel.empty()) {
    return absl::InvalidArgumentError(
        "api_key.channel: only events:write keys have a channel");
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

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
      new SqliteKeyStore(std::move(db), clock));
  POLKU_RETURN_IF_ERROR(store->LoadValidKeys());
  return store;
}

absl::Status SqliteKeyStore::LoadValidKeys() {
  absl::MutexLock db_lock(&db_mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db_->Prepare(absl::StrCat("SELECT ", kKeyColumns,
                                ", key_sha256 FROM api_keys "
                                "WHERE revoke_time_us IS NULL")));
  absl::MutexLock keys_lock(&keys_mu_);
  while (true) {
    POLKU_ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    by_hash_[select->ColumnText(7)] = PrincipalOf(ReadKeyRow(*select));
  }
  return absl::OkStatus();
}

absl::StatusOr<Principal> SqliteKeyStore::Authenticate(
    absl::string_view key) const {
  if (!IsWellFormedKey(key)) {
    return absl::UnauthenticatedError("malformed API key");
  }
  std::string hash = KeyHash(key);
  absl::ReaderMutexLock lock(&keys_mu_);
  auto it = by_hash_.find(hash);
  // The map finds the hash; the comparison that decides is constant-time.
  if (it == by_hash_.end() || !crypto::ConstantTimeEquals(it->first, hash)) {
    return absl::UnauthenticatedError("unknown or revoked API key");
  }
  return it->second;
}

absl::StatusOr<TenantRecord> SqliteKeyStore::CreateTenant(
    absl::string_view id, absl::string_view display_name) {
  if (!IsValidName(id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tenant_id: \"", id, "\" must be 1-64 of a-z, 0-9, _ and -"));
  }
  TenantRecord record{
      .id = std::string(id),
      .display_name = std::string(display_name),
      .create_time = absl::FromUnixMicros(absl::ToUnixMicros(clock_.Now()))};
  absl::MutexLock lock(&db_mu_);
  POLKU_ASSIGN_OR_RETURN(sqlite::Statement * exists,
                         db_->Prepare("SELECT 1 FROM tenants WHERE id = ?1"));
  POLKU_ASSIGN_OR_RETURN(bool found, exists->Bind(1, id).Step());
  exists->Reset();
  if (found) {
    return absl::AlreadyExistsError(
        absl::StrCat("tenant_id: tenant \"", id, "\" already exists"));
  }
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * insert,
      db_->Prepare("INSERT INTO tenants (id, display_name, create_time_us) "
                   "VALUES (?1, ?2, ?3)"));
  POLKU_RETURN_IF_ERROR(insert->Bind(1, id)
                            .Bind(2, display_name)
                            .Bind(3, absl::ToUnixMicros(record.create_time))
                            .Run());
  return record;
}

absl::StatusOr<std::vector<TenantRecord>> SqliteKeyStore::ListTenants(
    absl::string_view after, int limit) {
  absl::MutexLock lock(&db_mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db_->Prepare("SELECT id, display_name, create_time_us FROM tenants "
                   "WHERE id > ?1 ORDER BY id LIMIT ?2"));
  select->Bind(1, after).Bind(2, limit);
  std::vector<TenantRecord> tenants;
  while (true) {
    POLKU_ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    tenants.push_back(
        {.id = select->ColumnText(0),
         .display_name = select->ColumnText(1),
         .create_time = absl::FromUnixMicros(select->ColumnInt(2))});
  }
  select->Reset();
  return tenants;
}

absl::StatusOr<IssuedKey> SqliteKeyStore::CreateKey(
    absl::string_view tenant, absl::string_view display_name,
    const std::set<std::string>& scopes, absl::string_view channel) {
  POLKU_RETURN_IF_ERROR(ValidateScopes(scopes, channel));
  {
    absl::MutexLock lock(&db_mu_);
    POLKU_ASSIGN_OR_RETURN(sqlite::Statement * exists,
                           db_->Prepare("SELECT 1 FROM tenants WHERE id = ?1"));
    POLKU_ASSIGN_OR_RETURN(bool found, exists->Bind(1, tenant).Step());
    exists->Reset();
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("parent: no tenant \"", tenant, "\""));
    }
  }
  return InsertKey(tenant, display_name, scopes, channel);
}

absl::StatusOr<IssuedKey> SqliteKeyStore::CreateSuperAdminKey() {
  return InsertKey("", "bootstrap super-admin", {kScopeSuperAdmin}, "");
}

absl::StatusOr<bool> SqliteKeyStore::HasSuperAdminKey() {
  absl::MutexLock lock(&db_mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db_->Prepare("SELECT 1 FROM api_keys WHERE tenant = '' AND "
                   "revoke_time_us IS NULL LIMIT 1"));
  POLKU_ASSIGN_OR_RETURN(bool found, select->Step());
  select->Reset();
  return found;
}

absl::StatusOr<IssuedKey> SqliteKeyStore::InsertKey(
    absl::string_view tenant, absl::string_view display_name,
    const std::set<std::string>& scopes, absl::string_view channel) {
  IssuedKey issued;
  issued.record.tenant = std::string(tenant);
  issued.record.display_name = std::string(display_name);
  issued.record.scopes = scopes;
  issued.record.channel = std::string(channel);
  issued.record.create_time =
      absl::FromUnixMicros(absl::ToUnixMicros(clock_.Now()));
  std::string hash;
  absl::MutexLock lock(&db_mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * insert,
      db_->Prepare("INSERT OR IGNORE INTO api_keys (key_id, key_sha256, "
                   "tenant, display_name, scopes, channel, create_time_us) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  // Ids are 32 bits of the hash: on the rare clash, draw another key.
  for (int attempt = 0;; ++attempt) {
    if (attempt == 8) return absl::InternalError("cannot draw a unique key id");
    issued.key = GenerateKey();
    hash = KeyHash(issued.key);
    issued.record.key_id = hash.substr(0, 8);
    POLKU_RETURN_IF_ERROR(
        insert->Bind(1, issued.record.key_id)
            .Bind(2, hash)
            .Bind(3, tenant)
            .Bind(4, display_name)
            .Bind(5, absl::StrJoin(scopes, " "))
            .Bind(6, channel)
            .Bind(7, absl::ToUnixMicros(issued.record.create_time))
            .Run());
    if (db_->Changes() == 1) break;
  }
  absl::MutexLock keys_lock(&keys_mu_);
  by_hash_[hash] = PrincipalOf(issued.record);
  return issued;
}

absl::StatusOr<std::vector<KeyRecord>> SqliteKeyStore::ListKeys(
    absl::string_view tenant, absl::string_view after, int limit,
    bool show_revoked) {
  absl::MutexLock lock(&db_mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db_->Prepare(absl::StrCat(
          "SELECT ", kKeyColumns,
          " FROM api_keys WHERE tenant = ?1 AND key_id > ?2 AND "
          "(?3 OR revoke_time_us IS NULL) ORDER BY key_id LIMIT ?4")));
  select->Bind(1, tenant)
      .Bind(2, after)
      .Bind(3, show_revoked ? 1 : 0)
      .Bind(4, limit);
  std::vector<KeyRecord> records;
  while (true) {
    POLKU_ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    records.push_back(ReadKeyRow(*select));
  }
  select->Reset();
  return records;
}

absl::StatusOr<KeyRecord> SqliteKeyStore::ReadKey(absl::string_view key_id) {
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * select,
      db_->Prepare(absl::StrCat("SELECT ", kKeyColumns,
                                " FROM api_keys WHERE key_id = ?1")));
  POLKU_ASSIGN_OR_RETURN(bool row, select->Bind(1, key_id).Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("name: no API key ", key_id));
  }
  KeyRecord record = ReadKeyRow(*select);
  select->Reset();
  return record;
}

absl::StatusOr<KeyRecord> SqliteKeyStore::RevokeKey(absl::string_view tenant,
                                                    absl::string_view key_id) {
  absl::MutexLock lock(&db_mu_);
  absl::StatusOr<KeyRecord> record = ReadKey(key_id);
  // Another tenant's key is reported exactly like a missing one.
  if (!record.ok() || record->tenant != tenant) {
    return absl::NotFoundError(
        absl::StrCat("name: tenant \"", tenant, "\" has no API key ", key_id));
  }
  if (record->revoke_time.has_value()) return record;
  absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(clock_.Now()));
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * update,
      db_->Prepare("UPDATE api_keys SET revoke_time_us = ?2 WHERE key_id = ?1 "
                   "RETURNING key_sha256"));
  POLKU_ASSIGN_OR_RETURN(
      bool row,
      update->Bind(1, key_id).Bind(2, absl::ToUnixMicros(now)).Step());
  std::string hash = row ? update->ColumnText(0) : "";
  update->Reset();
  record->revoke_time = now;
  absl::MutexLock keys_lock(&keys_mu_);
  by_hash_.erase(hash);
  return record;
}

size_t SqliteKeyStore::size() const {
  absl::ReaderMutexLock lock(&keys_mu_);
  return by_hash_.size();
}

}  // namespace polku::gateway::keys
