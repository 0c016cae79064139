// Customer references are personal data: Polku stores only a keyed hash,
// HMAC-SHA-256 under a per-tenant key derived from one master secret, so the
// same customer links across a tenant's events but not across tenants, and
// the database alone does not reveal who anyone is.
//
//   POLKU_ASSIGN_OR_RETURN(CustomerHasher hasher,
//                          CustomerHasher::LoadOrCreate(data_dir +
//                          "/feedback-secret.key"));
//   std::string hash = hasher.Hash("demo", "customer-42");  // 64 hex digits
//
// The master secret is 32 random bytes in a file readable only by the owner,
// created on first start. Losing it breaks the link between old and new
// events of the same customer; keep it with the database's backups.
#ifndef POLKU_SERVICES_FEEDBACK_CUSTOMER_HASHER_H_
#define POLKU_SERVICES_FEEDBACK_CUSTOMER_HASHER_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polku::feedback {

inline constexpr size_t kMasterSecretBytes = 32;

class CustomerHasher {
 public:
  // Reads the master secret from `path`, or creates it (mode 0600) if the
  // file does not exist. Fails on a file of the wrong size.
  static absl::StatusOr<CustomerHasher> LoadOrCreate(const std::string& path);

  // From a known secret (tests).
  explicit CustomerHasher(std::string master_secret)
      : master_secret_(std::move(master_secret)) {}

  // Lowercase hex HMAC-SHA-256 of `customer` under `tenant`'s key. Not
  // thread-safe (it caches tenant keys): one hasher per thread.
  std::string Hash(absl::string_view tenant, absl::string_view customer);

  // Raw HMAC-SHA-256 of `bytes` under another key of `tenant`'s: the stored
  // fingerprint of an event, which without the secret confirms nothing
  // about guessed content.
  std::string Fingerprint(absl::string_view tenant, absl::string_view bytes);

 private:
  std::string master_secret_;
  // tenant → HMAC(master secret, "fingerprint:" + tenant).
  absl::flat_hash_map<std::string, std::string> fingerprint_keys_;
  // tenant → HMAC(master secret, "tenant:" + tenant).
  absl::flat_hash_map<std::string, std::string> tenant_keys_;
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_CUSTOMER_HASHER_H_
