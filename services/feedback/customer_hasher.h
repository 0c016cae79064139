// Customer references are personal data: Polku stores only a keyed hash,
// HMAC-SHA-256 under a per-tenant key derived from one master secret, so the
// same customer links across a tenant's events but not across tenants, and
// the database alone does not reveal who anyone is.
//
//   POLKU_ASSIGN_OR_RETURN(CustomerHasher hasher,
//                          CustomerHasher::LoadOrCreate(data_dir +
//                          "/feedback-secret.key"));
//   std::string hash = hasher.Hash("demo", "customer-42");  // 64 hex digits
//   const TenantHasher& demo = hasher.ForTenant("demo");  // many customers
//   std::string same = demo.Hash("customer-42");
//
// Thread-safe: the event store hashes on every submitting thread at once.
// Per-tenant keys are derived once and kept as prepared HMAC states, so a
// hash costs a copy of that state rather than a key setup.
//
// The master secret is 32 random bytes in a file readable only by the owner,
// created on first start. Losing it breaks the link between old and new
// events of the same customer; keep it with the database's backups.
#ifndef POLKU_SERVICES_FEEDBACK_CUSTOMER_HASHER_H_
#define POLKU_SERVICES_FEEDBACK_CUSTOMER_HASHER_H_

#include <openssl/types.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace polku::feedback {

inline constexpr size_t kMasterSecretBytes = 32;

// HMAC-SHA-256 under one fixed key, set up once. Immutable: safe to use
// from several threads at once.
class HmacSha256Key {
 public:
  explicit HmacSha256Key(absl::string_view key);
  // Raw 32-byte tag of `data`.
  std::string Tag(absl::string_view data) const;

 private:
  struct Free {
    void operator()(EVP_MAC_CTX* ctx) const;
  };
  // Initialised with the key, never updated: each Tag works on a copy.
  std::unique_ptr<EVP_MAC_CTX, Free> initialised_;
};

// One tenant's keys. Immutable: safe to use from several threads at once.
class TenantHasher {
 public:
  TenantHasher(absl::string_view master_secret, absl::string_view tenant);

  // Lowercase hex HMAC-SHA-256 of `customer` under the tenant's key.
  std::string Hash(absl::string_view customer) const;

  // Raw HMAC-SHA-256 of `bytes` under another key of the tenant's: the
  // stored fingerprint of an event, which without the secret confirms
  // nothing about guessed content.
  std::string Fingerprint(absl::string_view bytes) const;

 private:
  // HMAC(master secret, "tenant:" + tenant).
  const HmacSha256Key customer_key_;
  // HMAC(master secret, "fingerprint:" + tenant).
  const HmacSha256Key fingerprint_key_;
};

class CustomerHasher {
 public:
  // Reads the master secret from `path`, or creates it (mode 0600) if the
  // file does not exist. Fails on a file of the wrong size.
  static absl::StatusOr<CustomerHasher> LoadOrCreate(const std::string& path);

  // From a known secret (tests).
  explicit CustomerHasher(std::string master_secret);

  // `tenant`'s keys, derived on first use. The reference stays valid as
  // long as the hasher.
  const TenantHasher& ForTenant(absl::string_view tenant) const;

  // ForTenant(tenant).Hash(customer).
  std::string Hash(absl::string_view tenant, absl::string_view customer) const;

  // ForTenant(tenant).Fingerprint(bytes).
  std::string Fingerprint(absl::string_view tenant,
                          absl::string_view bytes) const;

 private:
  struct TenantCache {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, std::unique_ptr<const TenantHasher>>
        tenants ABSL_GUARDED_BY(mu);
  };

  std::string master_secret_;
  // Behind a pointer so that the hasher stays movable.
  std::unique_ptr<TenantCache> cache_;
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_CUSTOMER_HASHER_H_
