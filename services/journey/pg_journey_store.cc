#include "services/journey/pg_journey_store.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/base/status_macros.h"
#include "services/journey/journey_store_common.h"

namespace polku::journey {
namespace {

using ::polku::postgres::Connection;
using ::polku::postgres::Param;
using ::polku::postgres::Result;
using ::polku::v1::Journey;
using ::polku::v1::PublishedJourney;
using store_internal::DecodeVersionToken;
using store_internal::DraftView;
using store_internal::CheckVersion;
using store_internal::EndPage;
using store_internal::KeyAfter;
using store_internal::NoSuchVersion;
using store_internal::PageSize;
using store_internal::SerializeContent;
using store_internal::SetTimestamp;

// Keys sort byte by byte (COLLATE "C"), as in SQLite, so that pages come in
// the same order on both backends whatever the server's locale.
const std::vector<Migration>& Migrations() {
  static const auto* const kMigrations = new std::vector<Migration>{
      {1, R"sql(
CREATE TABLE journeys (
  tenant TEXT COLLATE "C" NOT NULL,
  journey_key TEXT COLLATE "C" NOT NULL,
  create_time_us BIGINT NOT NULL,
  -- 0 until the first publish.
  latest_version INTEGER NOT NULL DEFAULT 0,
  archive_time_us BIGINT,
  PRIMARY KEY (tenant, journey_key)
);

CREATE TABLE journey_versions (
  tenant TEXT COLLATE "C" NOT NULL,
  journey_key TEXT COLLATE "C" NOT NULL,
  -- 0 = the draft; 1, 2, … published.
  version INTEGER NOT NULL,
  -- polku.v1.JourneyState.
  state INTEGER NOT NULL,
  -- polku.v1.Journey without its output-only fields.
  body BYTEA NOT NULL,
  update_time_us BIGINT NOT NULL,
  publish_time_us BIGINT,
  PRIMARY KEY (tenant, journey_key, version),
  FOREIGN KEY (tenant, journey_key) REFERENCES journeys (tenant, journey_key)
);

CREATE FUNCTION refuse_published_version_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'published journey versions are immutable'
    USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER published_versions_are_immutable
BEFORE UPDATE OR DELETE ON journey_versions
FOR EACH ROW WHEN (OLD.version > 0)
EXECUTE FUNCTION refuse_published_version_change();

CREATE TABLE channels (
  tenant TEXT COLLATE "C" NOT NULL,
  channel_key TEXT COLLATE "C" NOT NULL,
  display_name TEXT NOT NULL,
  create_time_us BIGINT NOT NULL,
  PRIMARY KEY (tenant, channel_key)
);

-- Bumped in every publish and archive transaction; replicas poll it.
CREATE TABLE published_changes (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  generation BIGINT NOT NULL
);
INSERT INTO published_changes (id, generation) VALUES (1, 0);
)sql"},
  };
  return *kMigrations;
}

// Columns every journey-returning query selects, in this order.
constexpr char kJourneyColumns[] =
    "j.journey_key, j.create_time_us, v.version, v.state, v.body, "
    "v.publish_time_us, j.archive_time_us";

// Reads a journey from `row` of `result`, columns from `first` in
// kJourneyColumns order.
absl::StatusOr<Journey> JourneyFromRow(const Result& result, int row,
                                       int first) {
  Journey journey;
  const std::string key = result.Text(row, first);
  if (!journey.ParseFromString(result.Bytes(row, first + 4))) {
    return absl::DataLossError(absl::StrCat("journey \"", key, "\" version ",
                                            result.Int(row, first + 2),
                                            ": stored body does not parse"));
  }
  journey.set_key(key);
  SetTimestamp(result.Int(row, first + 1), *journey.mutable_create_time());
  journey.set_version(static_cast<int32_t>(result.Int(row, first + 2)));
  journey.set_state(
      static_cast<polku::v1::JourneyState>(result.Int(row, first + 3)));
  if (!result.IsNull(row, first + 5)) {
    SetTimestamp(result.Int(row, first + 5), *journey.mutable_publish_time());
  }
  journey.set_archived(!result.IsNull(row, first + 6));
  return journey;
}

absl::StatusOr<std::vector<Journey>> JourneysFrom(const Result& result,
                                                  int first) {
  std::vector<Journey> journeys;
  for (int row = 0; row < result.rows(); ++row) {
    POLKU_ASSIGN_OR_RETURN(Journey journey, JourneyFromRow(result, row, first));
    journeys.push_back(std::move(journey));
  }
  return journeys;
}

absl::Status BumpPublishedGeneration(Connection& db) {
  return db.Execute("UPDATE published_changes SET generation = generation + 1")
      .status();
}

}  // namespace

absl::Status PgJourneyStore::PrepareConnection(Connection& db) {
  return db.Exec("SET synchronous_commit = on");
}

absl::Status PgJourneyStore::Migrate(Connection& db) {
  return db.Migrate("journey", Migrations());
}

absl::StatusOr<std::unique_ptr<PgJourneyStore>> PgJourneyStore::Open(
    const std::string& url, const Clock& clock, const Options& options) {
  std::unique_ptr<PgJourneyStore> store(
      new PgJourneyStore(url, options, clock));
  // The first connection migrates, then serves as the pool's first.
  POLKU_RETURN_IF_ERROR(
      store->Run(false, [](Connection& db) { return Migrate(db); }));
  return store;
}

absl::Status PgJourneyStore::Run(
    bool transaction, absl::FunctionRef<absl::Status(Connection&)> work) {
  return postgres::RunWithRetries(pool_, options_.connect_timeout, "journey",
                                  transaction, work);
}

absl::StatusOr<PgJourneyStore::JourneyRow> PgJourneyStore::FindJourney(
    Connection& db, absl::string_view tenant, absl::string_view key,
    bool for_update) {
  POLKU_ASSIGN_OR_RETURN(
      Result found,
      db.Execute(absl::StrCat("SELECT create_time_us, latest_version, "
                              "archive_time_us IS NOT NULL FROM journeys "
                              "WHERE tenant = $1 AND journey_key = $2",
                              for_update ? " FOR UPDATE" : ""),
                 {Param::Text(tenant), Param::Text(key)}));
  if (found.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("journey \"", key, "\" not found"));
  }
  return JourneyRow{.create_time_us = found.Int(0, 0),
                    .latest_version = static_cast<int>(found.Int(0, 1)),
                    .archived = found.Text(0, 2) == "t"};
}

absl::StatusOr<std::string> PgJourneyStore::ReadBody(Connection& db,
                                                     absl::string_view tenant,
                                                     absl::string_view key,
                                                     int version) {
  POLKU_ASSIGN_OR_RETURN(
      Result found,
      db.Execute("SELECT body FROM journey_versions "
                 "WHERE tenant = $1 AND journey_key = $2 AND version = $3",
                 {Param::Text(tenant), Param::Text(key), Param::Int(version)}));
  if (found.rows() == 0) {
    return absl::DataLossError(absl::StrCat("journey \"", key, "\": version ",
                                            version, " is missing"));
  }
  return found.Bytes(0, 0);
}

absl::StatusOr<Journey> PgJourneyStore::CreateJourney(absl::string_view tenant,
                                                      const Journey& journey) {
  const int64_t now_us = absl::ToUnixMicros(clock().Now());
  const std::string body = SerializeContent(journey);
  POLKU_RETURN_IF_ERROR(Run(true, [&](Connection& db) -> absl::Status {
    // ON CONFLICT: a replica creating the same key at the same moment makes
    // this one ALREADY_EXISTS with a message, not a constraint error.
    POLKU_ASSIGN_OR_RETURN(
        Result inserted,
        db.Execute("INSERT INTO journeys (tenant, journey_key, create_time_us) "
                   "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                   {Param::Text(tenant), Param::Text(journey.key()),
                    Param::Int(now_us)}));
    if (inserted.affected() == 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("journey \"", journey.key(), "\" already exists"));
    }
    return db
        .Execute(
            "INSERT INTO journey_versions "
            "(tenant, journey_key, version, state, body, update_time_us) "
            "VALUES ($1, $2, 0, $3, $4, $5)",
            {Param::Text(tenant), Param::Text(journey.key()),
             Param::Int(polku::v1::DRAFT), Param::Bytes(body),
             Param::Int(now_us)})
        .status();
  }));
  return DraftView(body, journey.key(), now_us);
}

absl::StatusOr<Journey> PgJourneyStore::UpdateDraft(absl::string_view tenant,
                                                    const Journey& journey) {
  const int64_t now_us = absl::ToUnixMicros(clock().Now());
  const std::string body = SerializeContent(journey);
  JourneyRow row;
  POLKU_RETURN_IF_ERROR(Run(true, [&](Connection& db) -> absl::Status {
    // Locked so that an archive cannot slip in between check and write.
    POLKU_ASSIGN_OR_RETURN(row, FindJourney(db, tenant, journey.key(),
                                            /*for_update=*/true));
    if (row.archived) {
      return absl::FailedPreconditionError(absl::StrCat(
          "journey \"", journey.key(), "\" is archived; its draft is frozen"));
    }
    return db
        .Execute(
            "UPDATE journey_versions SET body = $3, update_time_us = $4 "
            "WHERE tenant = $1 AND journey_key = $2 AND version = 0",
            {Param::Text(tenant), Param::Text(journey.key()),
             Param::Bytes(body), Param::Int(now_us)})
        .status();
  }));
  return DraftView(body, journey.key(), row.create_time_us);
}

absl::StatusOr<Journey> PgJourneyStore::GetJourneyOn(Connection& db,
                                                     absl::string_view tenant,
                                                     absl::string_view key,
                                                     int version) {
  // Version 0 asks for the latest published version, which is the draft
  // (latest_version = 0) until the first publish.
  POLKU_ASSIGN_OR_RETURN(
      Result found,
      db.Execute(absl::StrCat(
                     "SELECT ", kJourneyColumns,
                     " FROM journeys j JOIN journey_versions v"
                     " ON v.tenant = j.tenant AND v.journey_key = j.journey_key"
                     " AND v.version = CASE WHEN $3::integer = 0"
                     " THEN j.latest_version ELSE $3::integer END"
                     " WHERE j.tenant = $1 AND j.journey_key = $2"),
                 {Param::Text(tenant), Param::Text(key), Param::Int(version)}));
  if (found.rows() > 0) return JourneyFromRow(found, 0, 0);
  POLKU_ASSIGN_OR_RETURN(JourneyRow row,
                         FindJourney(db, tenant, key, /*for_update=*/false));
  return NoSuchVersion(key, version, row.latest_version,
                       /*say_never_published=*/true);
}

absl::StatusOr<Journey> PgJourneyStore::GetJourney(absl::string_view tenant,
                                                   absl::string_view key,
                                                   int version) {
  POLKU_RETURN_IF_ERROR(CheckVersion(version, /*zero_is_latest=*/true));
  Journey journey;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(journey, GetJourneyOn(db, tenant, key, version));
    return absl::OkStatus();
  }));
  return journey;
}

absl::StatusOr<Journey> PgJourneyStore::GetVersion(absl::string_view tenant,
                                                   absl::string_view key,
                                                   int version) {
  POLKU_RETURN_IF_ERROR(CheckVersion(version, /*zero_is_latest=*/false));
  Journey journey;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result found,
        db.Execute(
            absl::StrCat(
                "SELECT ", kJourneyColumns,
                " FROM journeys j JOIN journey_versions v"
                " ON v.tenant = j.tenant AND v.journey_key = j.journey_key"
                " WHERE j.tenant = $1 AND j.journey_key = $2"
                " AND v.version = $3"),
            {Param::Text(tenant), Param::Text(key), Param::Int(version)}));
    if (found.rows() > 0) {
      POLKU_ASSIGN_OR_RETURN(journey, JourneyFromRow(found, 0, 0));
      return absl::OkStatus();
    }
    POLKU_ASSIGN_OR_RETURN(JourneyRow row,
                           FindJourney(db, tenant, key, /*for_update=*/false));
    return NoSuchVersion(key, version, row.latest_version,
                         /*say_never_published=*/false);
  }));
  return journey;
}

absl::StatusOr<JourneyPage> PgJourneyStore::ListVersions(
    absl::string_view tenant, absl::string_view key, int page_size,
    absl::string_view page_token) {
  POLKU_ASSIGN_OR_RETURN(page_size, PageSize(page_size));
  POLKU_ASSIGN_OR_RETURN(const int after, DecodeVersionToken(page_token));
  JourneyPage page;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_RETURN_IF_ERROR(
        FindJourney(db, tenant, key, /*for_update=*/false).status());
    POLKU_ASSIGN_OR_RETURN(
        Result found,
        db.Execute(
            absl::StrCat(
                "SELECT ", kJourneyColumns,
                " FROM journeys j JOIN journey_versions v"
                " ON v.tenant = j.tenant AND v.journey_key = j.journey_key"
                " WHERE j.tenant = $1 AND j.journey_key = $2"
                " AND v.version > $3 ORDER BY v.version LIMIT $4"),
            {Param::Text(tenant), Param::Text(key), Param::Int(after),
             Param::Int(page_size + 1)}));
    POLKU_ASSIGN_OR_RETURN(page.journeys, JourneysFrom(found, 0));
    return absl::OkStatus();
  }));
  // One row more than the page tells whether another page follows.
  EndPage(page_size, /*by_version=*/true, page);
  return page;
}

absl::StatusOr<Journey> PgJourneyStore::Archive(absl::string_view tenant,
                                                absl::string_view key) {
  const int64_t now_us = absl::ToUnixMicros(clock().Now());
  Journey journey;
  POLKU_RETURN_IF_ERROR(Run(true, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result archived, db.Execute("UPDATE journeys SET archive_time_us = $3 "
                                    "WHERE tenant = $1 AND journey_key = $2 "
                                    "AND archive_time_us IS NULL",
                                    {Param::Text(tenant), Param::Text(key),
                                     Param::Int(now_us)}));
    if (archived.affected() > 0) {
      POLKU_RETURN_IF_ERROR(BumpPublishedGeneration(db));
    }
    POLKU_ASSIGN_OR_RETURN(journey, GetJourneyOn(db, tenant, key, 0));
    return absl::OkStatus();
  }));
  return journey;
}

absl::StatusOr<polku::v1::Channel> PgJourneyStore::CreateChannel(
    absl::string_view tenant, const polku::v1::Channel& channel) {
  const int64_t now_us = absl::ToUnixMicros(clock().Now());
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result inserted,
        db.Execute("INSERT INTO channels (tenant, channel_key, display_name, "
                   "create_time_us) VALUES ($1, $2, $3, $4) "
                   "ON CONFLICT DO NOTHING",
                   {Param::Text(tenant), Param::Text(channel.key()),
                    Param::Text(channel.display_name()), Param::Int(now_us)}));
    if (inserted.affected() == 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("channel \"", channel.key(), "\" already exists"));
    }
    return absl::OkStatus();
  }));
  return channel;
}

absl::StatusOr<std::vector<polku::v1::Channel>> PgJourneyStore::ListChannels(
    absl::string_view tenant) {
  std::vector<polku::v1::Channel> channels;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result found,
        db.Execute("SELECT channel_key, display_name FROM channels "
                   "WHERE tenant = $1 ORDER BY channel_key",
                   {Param::Text(tenant)}));
    channels.clear();
    for (int row = 0; row < found.rows(); ++row) {
      polku::v1::Channel& channel = channels.emplace_back();
      channel.set_key(found.Text(row, 0));
      channel.set_display_name(found.Text(row, 1));
    }
    return absl::OkStatus();
  }));
  return channels;
}

absl::StatusOr<JourneyPage> PgJourneyStore::ListJourneys(
    absl::string_view tenant, int page_size, absl::string_view page_token,
    bool include_archived) {
  POLKU_ASSIGN_OR_RETURN(page_size, PageSize(page_size));
  POLKU_ASSIGN_OR_RETURN(const std::string after, KeyAfter(page_token));
  JourneyPage page;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result found,
        db.Execute(
            absl::StrCat(
                "SELECT ", kJourneyColumns,
                " FROM journeys j JOIN journey_versions v"
                " ON v.tenant = j.tenant AND v.journey_key = j.journey_key"
                " AND v.version = j.latest_version"
                " WHERE j.tenant = $1 AND j.journey_key > $2"
                " AND ($4::boolean OR j.archive_time_us IS NULL)"
                " ORDER BY j.journey_key LIMIT $3"),
            {Param::Text(tenant), Param::Text(after), Param::Int(page_size + 1),
             Param::Text(include_archived ? "true" : "false")}));
    POLKU_ASSIGN_OR_RETURN(page.journeys, JourneysFrom(found, 0));
    return absl::OkStatus();
  }));
  // One row more than the page tells whether another page follows.
  EndPage(page_size, /*by_version=*/false, page);
  return page;
}

absl::StatusOr<std::vector<PublishedJourney>>
PgJourneyStore::ListPublishedLatest() {
  return ListPublished(/*every_version=*/false);
}

absl::StatusOr<std::vector<PublishedJourney>>
PgJourneyStore::ListPublishedVersions() {
  return ListPublished(/*every_version=*/true);
}

absl::StatusOr<std::vector<PublishedJourney>> PgJourneyStore::ListPublished(
    bool every_version) {
  std::vector<PublishedJourney> published;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    // Version 0 is the draft.
    POLKU_ASSIGN_OR_RETURN(
        Result found,
        db.Execute(absl::StrCat(
            "SELECT j.tenant, ", kJourneyColumns,
            " FROM journeys j JOIN journey_versions v"
            " ON v.tenant = j.tenant AND v.journey_key = j.journey_key",
            every_version ? " AND v.version BETWEEN 1 AND j.latest_version"
                          : " AND v.version = j.latest_version",
            " WHERE j.latest_version > 0 AND j.archive_time_us IS NULL"
            " ORDER BY j.tenant, j.journey_key, v.version")));
    published.clear();
    for (int row = 0; row < found.rows(); ++row) {
      POLKU_ASSIGN_OR_RETURN(Journey journey, JourneyFromRow(found, row, 1));
      PublishedJourney& entry = published.emplace_back();
      entry.set_tenant(found.Text(row, 0));
      *entry.mutable_journey() = std::move(journey);
    }
    return absl::OkStatus();
  }));
  return published;
}

absl::StatusOr<int64_t> PgJourneyStore::PublishedGeneration() {
  int64_t generation = 0;
  POLKU_RETURN_IF_ERROR(Run(false, [&](Connection& db) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        Result found, db.Execute("SELECT generation FROM published_changes"));
    if (found.rows() > 0) generation = found.Int(0, 0);
    return absl::OkStatus();
  }));
  return generation;
}

// The version algorithms' statements (versioned_journey_store.h) on one
// connection inside Run's transaction.
class PgJourneyStore::Versions final : public VersionTransaction {
 public:
  explicit Versions(Connection& db) : db_(db) {}

  absl::StatusOr<JourneyRow> LockJourney(absl::string_view tenant,
                                         absl::string_view key) override {
    return FindJourney(db_, tenant, key, /*for_update=*/true);
  }
  absl::StatusOr<std::string> ReadBody(absl::string_view tenant,
                                       absl::string_view key,
                                       int version) override {
    return PgJourneyStore::ReadBody(db_, tenant, key, version);
  }
  absl::Status WriteDraft(absl::string_view tenant, absl::string_view key,
                          const std::string& body, int64_t now_us) override {
    return db_
        .Execute(
            "UPDATE journey_versions SET body = $3, update_time_us = $4 "
            "WHERE tenant = $1 AND journey_key = $2 AND version = 0",
            {Param::Text(tenant), Param::Text(key), Param::Bytes(body),
             Param::Int(now_us)})
        .status();
  }
  absl::Status InsertPublished(absl::string_view tenant, absl::string_view key,
                               int version, const std::string& body,
                               int64_t now_us) override {
    POLKU_RETURN_IF_ERROR(
        db_.Execute("INSERT INTO journey_versions (tenant, journey_key, "
                    "version, state, body, update_time_us, publish_time_us) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $6)",
                    {Param::Text(tenant), Param::Text(key), Param::Int(version),
                     Param::Int(polku::v1::PUBLISHED), Param::Bytes(body),
                     Param::Int(now_us)})
            .status());
    POLKU_RETURN_IF_ERROR(
        db_.Execute("UPDATE journeys SET latest_version = $3 "
                    "WHERE tenant = $1 AND journey_key = $2",
                    {Param::Text(tenant), Param::Text(key), Param::Int(version)})
            .status());
    // Last, so that the one row every publish updates is held briefly.
    return BumpPublishedGeneration(db_);
  }

 private:
  Connection& db_;
};

absl::Status PgJourneyStore::InTransaction(
    absl::FunctionRef<absl::Status(VersionTransaction&)> work) {
  return Run(true, [&](Connection& db) {
    Versions versions(db);
    return work(versions);
  });
}

}  // namespace polku::journey
