// What both JourneyStore backends share beyond the stored layout: the
// version algorithms, written once over a few primitives of a transaction
// (as polku-feedback's GroupCommitStore and polku-insight's RollupStore do).
// SqliteJourneyStore and PgJourneyStore derive from it and supply only the
// transaction and its statements.
//
//   class MyStore : public VersionedJourneyStore {
//     absl::Status InTransaction(
//         absl::FunctionRef<absl::Status(VersionTransaction&)> work) override;
//   };
#ifndef POLKU_SERVICES_JOURNEY_VERSIONED_JOURNEY_STORE_H_
#define POLKU_SERVICES_JOURNEY_VERSIONED_JOURNEY_STORE_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/base/clock.h"
#include "services/journey/journey_store.h"

namespace polku::journey {

class VersionedJourneyStore : public JourneyStore {
 public:
  absl::StatusOr<polku::v1::Journey> PublishDraft(
      absl::string_view tenant, absl::string_view key,
      PrepareVersionFn prepare) final;
  absl::StatusOr<polku::v1::Journey> ResetDraft(absl::string_view tenant,
                                                absl::string_view key,
                                                bool discard_changes) final;

 protected:
  // The `journeys` row of (tenant, key).
  struct JourneyRow {
    int64_t create_time_us = 0;
    int latest_version = 0;
    bool archived = false;
  };

  // The statements of one transaction.
  class VersionTransaction {
   public:
    virtual ~VersionTransaction() = default;
    // The row, locked against other writers of the journey (other replicas
    // included) until the transaction ends; NOT_FOUND naming the key.
    virtual absl::StatusOr<JourneyRow> LockJourney(absl::string_view tenant,
                                                   absl::string_view key) = 0;
    // The stored body of one version, or DATA_LOSS.
    virtual absl::StatusOr<std::string> ReadBody(absl::string_view tenant,
                                                 absl::string_view key,
                                                 int version) = 0;
    virtual absl::Status WriteDraft(absl::string_view tenant,
                                    absl::string_view key,
                                    const std::string& body,
                                    int64_t now_us) = 0;
    // Inserts published version `version` and makes it the latest; bumps
    // the published generation.
    virtual absl::Status InsertPublished(absl::string_view tenant,
                                         absl::string_view key, int version,
                                         const std::string& body,
                                         int64_t now_us) = 0;
  };

  explicit VersionedJourneyStore(const Clock& clock) : clock_(clock) {}

  // Runs `work` in one transaction, committed if it returns OK.
  virtual absl::Status InTransaction(
      absl::FunctionRef<absl::Status(VersionTransaction&)> work) = 0;

  const Clock& clock() const { return clock_; }

 private:
  const Clock& clock_;
};

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_VERSIONED_JOURNEY_STORE_H_
