// JourneyStore on PostgreSQL, for several polku-journey replicas sharing one
// database.
//
//   POLKU_ASSIGN_OR_RETURN(auto store, PgJourneyStore::Open(
//       "postgresql://polku@db/polku_journey", Clock::Real()));
//
// The layout is SqliteJourneyStore's (journeys, journey_versions, channels,
// published_changes), migrated by version number at Open; the migration
// holds an advisory lock, so replicas starting together apply it once.
//
// Replicas: every change to one journey first locks its `journeys` row
// (SELECT … FOR UPDATE), so two publishes of the same draft, through one
// replica or two, queue up: the second sees the first's version and answers
// "draft unchanged since version N", or freezes its newer draft as N+1. The
// primary key (tenant, journey_key, version) backs that up. Publishes and
// archives also bump the one `published_changes` row in the same
// transaction: that row is what other replicas poll to notice changes
// (PublishedGeneration), and it counts in commit order, unlike a sequence.
//
// Connections come from a postgres::Pool. While the server is unreachable,
// calls fail with UNAVAILABLE ("the journey database is unavailable: …"); the
// pool opens fresh connections once it is back, so calls recover by
// themselves. Nothing half-done survives a lost connection: PostgreSQL rolls
// back an interrupted transaction.
#ifndef POLKU_SERVICES_JOURNEY_PG_JOURNEY_STORE_H_
#define POLKU_SERVICES_JOURNEY_PG_JOURNEY_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "lib/base/clock.h"
#include "lib/postgres/pool.h"
#include "lib/postgres/postgres.h"
#include "services/journey/versioned_journey_store.h"

namespace polku::journey {

class PgJourneyStore : public VersionedJourneyStore {
 public:
  struct Options {
    // How long one connection attempt may take.
    absl::Duration connect_timeout = absl::Seconds(5);
    // Connections open at most (polku-journey uses one store thread, the
    // poll for other replicas' changes shares it).
    int connections = 2;
  };

  // Connects to `url` and migrates the schema. UNAVAILABLE if the server
  // cannot be reached (the caller retries). `clock` stamps create and publish
  // times and must outlive the store.
  static absl::StatusOr<std::unique_ptr<PgJourneyStore>> Open(
      const std::string& url, const Clock& clock, const Options& options);
  static absl::StatusOr<std::unique_ptr<PgJourneyStore>> Open(
      const std::string& url, const Clock& clock) {
    return Open(url, clock, Options());
  }

  // Brings the schema of the database `db` is connected to up to date.
  // Open does it; exposed for postgres::WaitForServer's `ready` step.
  static absl::Status Migrate(postgres::Connection& db);

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
  // ListPublishedLatest, or with `every_version` ListPublishedVersions.
  absl::StatusOr<std::vector<polku::v1::PublishedJourney>> ListPublished(
      bool every_version);
  PgJourneyStore(const std::string& url, const Options& options,
                 const Clock& clock)
      : VersionedJourneyStore(clock),
        options_(options),
        pool_(url, {.size = options.connections,
                    .connect_timeout = options.connect_timeout,
                    .prepare = &PrepareConnection}) {}

  // Acknowledged means committed, whatever the server's default says.
  static absl::Status PrepareConnection(postgres::Connection& db);

  class Versions;

  absl::Status InTransaction(
      absl::FunctionRef<absl::Status(VersionTransaction&)> work) override;

  // Runs `work` on a live connection from the pool; inside BEGIN … COMMIT if
  // `transaction`. A deadlock or serialization failure (ABORTED) runs it again,
  // a few times. A lost connection becomes UNAVAILABLE with a message saying
  // so.
  absl::Status Run(bool transaction,
                   absl::FunctionRef<absl::Status(postgres::Connection&)> work);

  static absl::StatusOr<JourneyRow> FindJourney(postgres::Connection& db,
                                                absl::string_view tenant,
                                                absl::string_view key,
                                                bool for_update);
  static absl::StatusOr<std::string> ReadBody(postgres::Connection& db,
                                              absl::string_view tenant,
                                              absl::string_view key,
                                              int version);
  absl::StatusOr<polku::v1::Journey> GetJourneyOn(postgres::Connection& db,
                                                  absl::string_view tenant,
                                                  absl::string_view key,
                                                  int version);

  const Options options_;
  postgres::Pool pool_;
};

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_PG_JOURNEY_STORE_H_
