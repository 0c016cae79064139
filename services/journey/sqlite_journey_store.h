// JourneyStore on an embedded SQLite database (<data_dir>/journey.db).
//
//   POLKU_ASSIGN_OR_RETURN(auto store,
//                          SqliteJourneyStore::Open(data_dir + "/journey.db",
//                                                   Clock::Real()));
//
// Schema: `journeys` holds one row per (tenant, key) with its latest published
// version number and whether it is archived; `journey_versions` holds the
// draft (version 0) and every published version as a serialized
// polku.v1.Journey without its output-only fields (published versions keep
// their touchpoints' rename chains, `former_keys`); `channels` holds the
// channels tenants registered; `published_changes` counts publishes and
// archives (PublishedGeneration). A trigger refuses to change a published row,
// so immutability does not depend on this code staying correct.
#ifndef POLKU_SERVICES_JOURNEY_SQLITE_JOURNEY_STORE_H_
#define POLKU_SERVICES_JOURNEY_SQLITE_JOURNEY_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "lib/base/clock.h"
#include "lib/sqlite/sqlite.h"
#include "services/journey/versioned_journey_store.h"

namespace polku::journey {

class SqliteJourneyStore : public VersionedJourneyStore {
 public:
  // Opens (creating if needed) and migrates the database at `path`
  // (":memory:" for a private in-memory one). `clock` stamps create and
  // publish times and must outlive the store.
  static absl::StatusOr<std::unique_ptr<SqliteJourneyStore>> Open(
      const std::string& path, const Clock& clock,
      const sqlite::Database::Options& options = sqlite::Database::Options());

  absl::StatusOr<polku::v1::Journey> CreateJourney(
      absl::string_view tenant, const polku::v1::Journey& journey) override;
  absl::StatusOr<polku::v1::Journey> UpdateDraft(
      absl::string_view tenant, const polku::v1::Journey& journey) override;
  absl::StatusOr<polku::v1::Journey> GetJourney(absl::string_view tenant,
                                                absl::string_view key,
                                                int version) override;
  absl::StatusOr<polku::v1::Journey> GetVersion(absl::string_view tenant,
                                                absl::string_view key,
                                                int version) override;
  absl::StatusOr<JourneyPage> ListVersions(
      absl::string_view tenant, absl::string_view key, int page_size,
      absl::string_view page_token) override;
  absl::StatusOr<polku::v1::Journey> Archive(absl::string_view tenant,
                                             absl::string_view key) override;
  absl::StatusOr<polku::v1::Channel> CreateChannel(
      absl::string_view tenant, const polku::v1::Channel& channel) override;
  absl::StatusOr<std::vector<polku::v1::Channel>> ListChannels(
      absl::string_view tenant) override;
  absl::StatusOr<JourneyPage> ListJourneys(absl::string_view tenant,
                                           int page_size,
                                           absl::string_view page_token,
                                           bool include_archived) override;
  absl::StatusOr<std::vector<polku::v1::PublishedJourney>> ListPublishedLatest()
      override;
  absl::StatusOr<std::vector<polku::v1::PublishedJourney>>
  ListPublishedVersions() override;
  absl::StatusOr<int64_t> PublishedGeneration() override;

 private:
  class Versions;
  // ListPublishedLatest, or with `every_version` ListPublishedVersions.
  absl::StatusOr<std::vector<polku::v1::PublishedJourney>> ListPublished(
      bool every_version);

  SqliteJourneyStore(std::unique_ptr<sqlite::Database> db, const Clock& clock)
      : VersionedJourneyStore(clock), db_(std::move(db)) {}

  absl::Status InTransaction(
      absl::FunctionRef<absl::Status(VersionTransaction&)> work) override;
  absl::StatusOr<JourneyRow> FindJourney(absl::string_view tenant,
                                         absl::string_view key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stored body of one version, or DATA_LOSS.
  absl::StatusOr<std::string> ReadBody(absl::string_view tenant,
                                       absl::string_view key, int version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Part of every publish and archive transaction.
  absl::Status BumpPublishedGeneration() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs a query selecting kJourneyColumns (first at `first`) to the end.
  absl::StatusOr<std::vector<polku::v1::Journey>> ReadJourneys(
      sqlite::Statement& query, int first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  // One connection, used by one thread at a time (sqlite.h).
  std::unique_ptr<sqlite::Database> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_SQLITE_JOURNEY_STORE_H_
