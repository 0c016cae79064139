#include "gateway/keys/key_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"
#include "lib/base/thread.h"
#include "lib/crypto/crypto.h"

namespace polku::gateway::keys {
namespace {

// Ids are 32 bits of the hash: on a clash, draw another key, a few times.
constexpr int kKeyDraws = 8;

Principal PrincipalOf(const KeyRecord& record) {
  return Principal{.tenant = record.tenant,
                   .scopes = record.scopes,
                   .channel = record.channel,
                   .key_id = record.key_id,
                   .display_name = record.display_name};
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
          "insights:read, cases:read, cases:write, admin)"));
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

// Stored times have microsecond precision; records show what is stored.
absl::Time Micros(absl::Time t) {
  return absl::FromUnixMicros(absl::ToUnixMicros(t));
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

CachingKeyStore::~CachingKeyStore() { StopRefreshing(); }

absl::StatusOr<Principal> CachingKeyStore::Authenticate(
    absl::string_view key) const {
  if (!IsWellFormedKey(key)) {
    return absl::UnauthenticatedError("malformed API key");
  }
  std::string hash = KeyHash(key);
  absl::ReaderMutexLock lock(&keys_mu_);
  if (max_staleness_ > absl::ZeroDuration()) {
    const absl::Duration age = clock_.Now() - refreshed_at_;
    if (age > max_staleness_) {
      // A key revoked elsewhere meanwhile would still pass: refuse all.
      return absl::UnavailableError(absl::StrCat(
          "API keys cannot be checked: the key store was last read ",
          absl::FormatDuration(absl::Trunc(age, absl::Seconds(1))),
          " ago (limit ", absl::FormatDuration(max_staleness_), ")"));
    }
  }
  auto it = by_hash_.find(hash);
  // The map finds the hash; the comparison that decides is constant-time.
  if (it == by_hash_.end() || !crypto::ConstantTimeEquals(it->first, hash)) {
    return absl::UnauthenticatedError("unknown or revoked API key");
  }
  return it->second;
}

absl::StatusOr<TenantRecord> CachingKeyStore::CreateTenant(
    absl::string_view id, absl::string_view display_name) {
  if (!IsValidName(id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tenant_id: \"", id, "\" must be 1-64 of a-z, 0-9, _ and -"));
  }
  TenantRecord record{.id = std::string(id),
                      .display_name = std::string(display_name),
                      .create_time = Micros(clock_.Now())};
  POLKU_ASSIGN_OR_RETURN(bool inserted, InsertTenant(record));
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("tenant_id: tenant \"", id, "\" already exists"));
  }
  return record;
}

absl::StatusOr<std::vector<TenantRecord>> CachingKeyStore::ListTenants(
    absl::string_view after, int limit) {
  return SelectTenants(after, limit);
}

absl::StatusOr<IssuedKey> CachingKeyStore::CreateKey(
    absl::string_view tenant, absl::string_view display_name,
    const std::set<std::string>& scopes, absl::string_view channel) {
  POLKU_RETURN_IF_ERROR(ValidateScopes(scopes, channel));
  if (tenant.empty()) {
    return absl::NotFoundError("parent: no tenant \"\"");
  }
  return Issue(tenant, display_name, scopes, channel);
}

absl::StatusOr<IssuedKey> CachingKeyStore::CreateSuperAdminKey() {
  return Issue("", "bootstrap super-admin", {kScopeSuperAdmin}, "");
}

absl::StatusOr<bool> CachingKeyStore::HasSuperAdminKey() {
  return ValidSuperAdminKeyExists();
}

absl::StatusOr<IssuedKey> CachingKeyStore::Issue(
    absl::string_view tenant, absl::string_view display_name,
    const std::set<std::string>& scopes, absl::string_view channel) {
  StoredKey stored;
  stored.record.tenant = std::string(tenant);
  stored.record.display_name = std::string(display_name);
  stored.record.scopes = scopes;
  stored.record.channel = std::string(channel);
  stored.record.create_time = Micros(clock_.Now());
  IssuedKey issued;
  for (int draw = 0;; ++draw) {
    if (draw == kKeyDraws) {
      return absl::InternalError("cannot draw a unique key id");
    }
    issued.key = GenerateKey();
    stored.hash = KeyHash(issued.key);
    stored.record.key_id = stored.hash.substr(0, 8);
    POLKU_ASSIGN_OR_RETURN(InsertOutcome outcome, InsertKey(stored));
    switch (outcome) {
      case InsertOutcome::kInserted:
        break;
      case InsertOutcome::kIdTaken:
        continue;
      case InsertOutcome::kNoTenant:
        return absl::NotFoundError(
            absl::StrCat("parent: no tenant \"", tenant, "\""));
      case InsertOutcome::kSuperAdminExists:
        return absl::AlreadyExistsError("a valid super-admin key exists");
    }
    break;
  }
  {
    absl::MutexLock lock(&apply_mu_);
    Apply(stored);
  }
  issued.record = std::move(stored.record);
  return issued;
}

absl::StatusOr<std::vector<KeyRecord>> CachingKeyStore::ListKeys(
    absl::string_view tenant, absl::string_view after, int limit,
    bool show_revoked) {
  return SelectKeys(tenant, after, limit, show_revoked);
}

absl::StatusOr<KeyRecord> CachingKeyStore::RevokeKey(absl::string_view tenant,
                                                     absl::string_view key_id) {
  POLKU_ASSIGN_OR_RETURN(std::optional<StoredKey> revoked,
                         RevokeStoredKey(tenant, key_id, Micros(clock_.Now())));
  // Another tenant's key is reported exactly like a missing one.
  if (!revoked.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("name: tenant \"", tenant, "\" has no API key ", key_id));
  }
  {
    absl::MutexLock lock(&apply_mu_);
    Apply(*revoked);
  }
  return revoked->record;
}

void CachingKeyStore::Apply(const StoredKey& key) {
  absl::MutexLock lock(&keys_mu_);
  if (key.record.revoke_time.has_value()) {
    by_hash_.erase(key.hash);
  } else {
    by_hash_[key.hash] = PrincipalOf(key.record);
  }
}

absl::Status CachingKeyStore::Refresh() {
  absl::MutexLock lock(&apply_mu_);
  // What memory shows is the database as of when the reading began.
  const absl::Time read_at = clock_.Now();
  if (watermark_ < 0) {
    // The change number first: a change committed after it was read is
    // numbered above it, so the next refresh reads it again, whether or
    // not the keys below already showed it.
    POLKU_ASSIGN_OR_RETURN(int64_t last, LastChange());
    POLKU_ASSIGN_OR_RETURN(std::vector<StoredKey> valid, SelectValidKeys());
    absl::flat_hash_map<std::string, Principal> by_hash;
    for (const StoredKey& key : valid) {
      by_hash[key.hash] = PrincipalOf(key.record);
    }
    absl::MutexLock keys_lock(&keys_mu_);
    by_hash_ = std::move(by_hash);
    refreshed_at_ = read_at;
    watermark_ = last;
    return absl::OkStatus();
  }
  POLKU_ASSIGN_OR_RETURN(std::vector<StoredKey> changes,
                         SelectChangesAfter(watermark_));
  for (const StoredKey& key : changes) {
    Apply(key);
    watermark_ = std::max(watermark_, key.change);
  }
  absl::MutexLock keys_lock(&keys_mu_);
  refreshed_at_ = read_at;
  return absl::OkStatus();
}

void CachingKeyStore::StartRefreshing(absl::Duration interval,
                                      absl::Duration max_staleness) {
  {
    absl::MutexLock lock(&keys_mu_);
    max_staleness_ = max_staleness;
  }
  refresher_ = std::thread([this, interval] { RefreshLoop(interval); });
}

void CachingKeyStore::RefreshLoop(absl::Duration interval) {
  NameThisThread("key-refresh");
  bool failing = false;
  while (!stop_refreshing_.WaitForNotificationWithTimeout(interval)) {
    absl::Status refreshed = Refresh();
    // One line when refreshing starts failing and one when it recovers,
    // not one a second.
    if (!refreshed.ok() && !failing) {
      log::Warning(
          "cannot refresh the API keys; keys revoked or issued by "
          "other gateways are not seen meanwhile",
          {{"store", description()}, {"error", refreshed.ToString()}});
    } else if (refreshed.ok() && failing) {
      log::Info("refreshing the API keys again", {{"store", description()}});
    }
    failing = !refreshed.ok();
  }
}

void CachingKeyStore::StopRefreshing() {
  if (!refresher_.joinable()) return;
  stop_refreshing_.Notify();
  refresher_.join();
}

size_t CachingKeyStore::size() const {
  absl::ReaderMutexLock lock(&keys_mu_);
  return by_hash_.size();
}

}  // namespace polku::gateway::keys
