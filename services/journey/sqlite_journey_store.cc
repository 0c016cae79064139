#include "services/journey/sqlite_journey_store.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lib/base/status_macros.h"
#include "services/journey/journey_store_common.h"

namespace polku::journey {
namespace {

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

// The PostgreSQL store (pg_journey_store.cc) keeps the same layout.
const std::vector<sqlite::Migration>& Migrations() {
  static const auto* const kMigrations = new std::vector<sqlite::Migration>{
      {1, R"sql(
CREATE TABLE journeys (
  tenant TEXT NOT NULL,
  journey_key TEXT NOT NULL,
  create_time_us INTEGER NOT NULL,
  -- 0 until the first publish.
  latest_version INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, journey_key)
) WITHOUT ROWID;

CREATE TABLE journey_versions (
  tenant TEXT NOT NULL,
  journey_key TEXT NOT NULL,
  -- 0 = the draft; 1, 2, … published.
  version INTEGER NOT NULL,
  -- polku.v1.JourneyState.
  state INTEGER NOT NULL,
  -- polku.v1.Journey without its output-only fields.
  body BLOB NOT NULL,
  update_time_us INTEGER NOT NULL,
  publish_time_us INTEGER,
  PRIMARY KEY (tenant, journey_key, version)
) WITHOUT ROWID;

CREATE TRIGGER published_versions_are_immutable_update
BEFORE UPDATE ON journey_versions WHEN OLD.version > 0
BEGIN
  SELECT RAISE(ABORT, 'published journey versions are immutable');
END;

CREATE TRIGGER published_versions_are_immutable_delete
BEFORE DELETE ON journey_versions WHEN OLD.version > 0
BEGIN
  SELECT RAISE(ABORT, 'published journey versions are immutable');
END;
)sql"},
      {2, R"sql(
ALTER TABLE journeys ADD COLUMN archive_time_us INTEGER;

CREATE TABLE channels (
  tenant TEXT NOT NULL,
  channel_key TEXT NOT NULL,
  display_name TEXT NOT NULL,
  create_time_us INTEGER NOT NULL,
  PRIMARY KEY (tenant, channel_key)
) WITHOUT ROWID;
)sql"},
      {3, R"sql(
-- Bumped by every publish and archive: watchers compare it to notice
-- changes made through another connection.
CREATE TABLE published_changes (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  generation INTEGER NOT NULL
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

// Reads a journey from the row `statement` is on, columns from `first` in
// kJourneyColumns order.
absl::StatusOr<Journey> JourneyFromRow(const sqlite::Statement& statement,
                                       int first) {
  Journey journey;
  const std::string key = statement.ColumnText(first);
  if (!journey.ParseFromString(statement.ColumnBlob(first + 4))) {
    return absl::DataLossError(absl::StrCat("journey \"", key, "\" version ",
                                            statement.ColumnInt(first + 2),
                                            ": stored body does not parse"));
  }
  journey.set_key(key);
  SetTimestamp(statement.ColumnInt(first + 1), *journey.mutable_create_time());
  journey.set_version(static_cast<int32_t>(statement.ColumnInt(first + 2)));
  journey.set_state(
      static_cast<polku::v1::JourneyState>(statement.ColumnInt(first + 3)));
  if (!statement.IsNull(first + 5)) {
    SetTimestamp(statement.ColumnInt(first + 5),
                 *journey.mutable_publish_time());
  }
  journey.set_archived(!statement.IsNull(first + 6));
  return journey;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteJourneyStore>> SqliteJourneyStore::Open(
    const std::string& path, const Clock& clock,
    const sqlite::Database::Options& options) {
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> db,
                         sqlite::Database::Open(path, options));
  POLKU_RETURN_IF_ERROR(db->Migrate(Migrations()));
  return std::unique_ptr<SqliteJourneyStore>(
      new SqliteJourneyStore(std::move(db), clock));
}

absl::StatusOr<SqliteJourneyStore::JourneyRow> SqliteJourneyStore::FindJourney(
    absl::string_view tenant, absl::string_view key) {
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * find,
      db_->Prepare("SELECT create_time_us, latest_version, "
                   "archive_time_us IS NOT NULL FROM journeys "
                   "WHERE tenant = ?1 AND journey_key = ?2"));
  find->Bind(1, tenant).Bind(2, key);
  POLKU_ASSIGN_OR_RETURN(bool found, find->Step());
  if (!found) {
    return absl::NotFoundError(absl::StrCat("journey \"", key, "\" not found"));
  }
  JourneyRow row{.create_time_us = find->ColumnInt(0),
                 .latest_version = static_cast<int>(find->ColumnInt(1)),
                 .archived = find->ColumnInt(2) != 0};
  find->Reset();
  return row;
}

absl::StatusOr<Journey> SqliteJourneyStore::CreateJourney(
    absl::string_view tenant, const Journey& journey) {
  const int64_t now_us = absl::ToUnixMicros(clock().Now());
  const std::string body = SerializeContent(journey);
  absl::MutexLock lock(&mu_);
  sqlite::Transaction transaction(*db_);
  POLKU_RETURN_IF_ERROR(transaction.Begin());
  if (absl::StatusOr<JourneyRow> existing = FindJourney(tenant, journey.key());
      existing.ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("journey \"", journey.key(), "\" already exists"));
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * insert_journey,
      db_->Prepare("INSERT INTO journeys (tenant, journey_key, create_time_us) "
                   "VALUES (?1, ?2, ?3)"));
  POLKU_RETURN_IF_ERROR(insert_journey->Bind(1, tenant)
                            .Bind(2, journey.key())
                            .Bind(3, now_us)
                            .Run());
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * insert_draft,
      db_->Prepare(
          "INSERT INTO journey_versions "
          "(tenant, journey_key, version, state, body, update_time_us) "
          "VALUES (?1, ?2, 0, ?3, ?4, ?5)"));
  POLKU_RETURN_IF_ERROR(insert_draft->Bind(1, tenant)
                            .Bind(2, journey.key())
                            .Bind(3, int{polku::v1::DRAFT})
                            .BindBlob(4, body)
                            .Bind(5, now_us)
                            .Run());
  POLKU_RETURN_IF_ERROR(transaction.Commit());
  return DraftView(body, journey.key(), now_us);
}

absl::StatusOr<Journey> SqliteJourneyStore::UpdateDraft(
    absl::string_view tenant, const Journey& journey) {
  const int64_t now_us = absl::ToUnixMicros(clock().Now());
  const std::string body = SerializeContent(journey);
  absl::MutexLock lock(&mu_);
  sqlite::Transaction transaction(*db_);
  POLKU_RETURN_IF_ERROR(transaction.Begin());
  POLKU_ASSIGN_OR_RETURN(JourneyRow row, FindJourney(tenant, journey.key()));
  if (row.archived) {
    return absl::FailedPreconditionError(absl::StrCat(
        "journey \"", journey.key(), "\" is archived; its draft is frozen"));
  }
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * update,
      db_->Prepare("UPDATE journey_versions SET body = ?3, update_time_us = ?4 "
                   "WHERE tenant = ?1 AND journey_key = ?2 AND version = 0"));
  POLKU_RETURN_IF_ERROR(update->Bind(1, tenant)
                            .Bind(2, journey.key())
                            .BindBlob(3, body)
                            .Bind(4, now_us)
                            .Run());
  POLKU_RETURN_IF_ERROR(transaction.Commit());
  return DraftView(body, journey.key(), row.create_time_us);
}

absl::StatusOr<Journey> SqliteJourneyStore::GetJourney(absl::string_view tenant,
                                                       absl::string_view key,
                                                       int version) {
  POLKU_RETURN_IF_ERROR(CheckVersion(version, /*zero_is_latest=*/true));
  absl::MutexLock lock(&mu_);
  // Version 0 asks for the latest published version, which is the draft
  // (latest_version = 0) until the first publish.
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * get,
      db_->Prepare(absl::StrCat(
          "SELECT ", kJourneyColumns,
          " FROM journeys j JOIN journey_versions v"
          " ON v.tenant = j.tenant AND v.journey_key = j.journey_key"
          " AND v.version = CASE WHEN ?3 = 0 THEN j.latest_version ELSE ?3 END"
          " WHERE j.tenant = ?1 AND j.journey_key = ?2")));
  get->Bind(1, tenant).Bind(2, key).Bind(3, version);
  POLKU_ASSIGN_OR_RETURN(bool found, get->Step());
  if (found) {
    absl::StatusOr<Journey> journey = JourneyFromRow(*get, 0);
    get->Reset();
    return journey;
  }
  get->Reset();
  POLKU_ASSIGN_OR_RETURN(JourneyRow row, FindJourney(tenant, key));
  return NoSuchVersion(key, version, row.latest_version,
                       /*say_never_published=*/true);
}

absl::StatusOr<std::vector<Journey>> SqliteJourneyStore::ReadJourneys(
    sqlite::Statement& query, int first) {
  std::vector<Journey> journeys;
  POLKU_RETURN_IF_ERROR(
      query.ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
        POLKU_ASSIGN_OR_RETURN(Journey journey, JourneyFromRow(row, first));
        journeys.push_back(std::move(journey));
        return absl::OkStatus();
      }));
  return journeys;
}

absl::StatusOr<std::string> SqliteJourneyStore::ReadBody(
    absl::string_view tenant, absl::string_view key, int version) {
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * get_body,
      db_->Prepare("SELECT body FROM journey_versions "
                   "WHERE tenant = ?1 AND journey_key = ?2 AND version = ?3"));
  get_body->Bind(1, tenant).Bind(2, key).Bind(3, version);
  POLKU_ASSIGN_OR_RETURN(bool found, get_body->Step());
  if (!found) {
    get_body->Reset();
    return absl::DataLossError(absl::StrCat("journey \"", key, "\": version ",
                                            version, " is missing"));
  }
  std::string body = get_body->ColumnBlob(0);
  get_body->Reset();
  return body;
}

absl::StatusOr<Journey> SqliteJourneyStore::GetVersion(absl::string_view tenant,
                                                       absl::string_view key,
                                                       int version) {
  POLKU_RETURN_IF_ERROR(CheckVersion(version, /*zero_is_latest=*/false));
  absl::MutexLock lock(&mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * get,
      db_->Prepare(absl::StrCat(
          "SELECT ", kJourneyColumns,
          " FROM journeys j JOIN journey_versions v"
          " ON v.tenant = j.tenant AND v.journey_key = j.journey_key"
          " WHERE j.tenant = ?1 AND j.journey_key = ?2 AND v.version = ?3")));
  get->Bind(1, tenant).Bind(2, key).Bind(3, version);
  POLKU_ASSIGN_OR_RETURN(std::vector<Journey> found, ReadJourneys(*get, 0));
  if (!found.empty()) return std::move(found.front());
  POLKU_ASSIGN_OR_RETURN(JourneyRow row, FindJourney(tenant, key));
  return NoSuchVersion(key, version, row.latest_version,
                       /*say_never_published=*/false);
}

absl::StatusOr<JourneyPage> SqliteJourneyStore::ListVersions(
    absl::string_view tenant, absl::string_view key, int page_size,
    absl::string_view page_token) {
  POLKU_ASSIGN_OR_RETURN(page_size, PageSize(page_size));
  POLKU_ASSIGN_OR_RETURN(const int after, DecodeVersionToken(page_token));
  absl::MutexLock lock(&mu_);
  POLKU_RETURN_IF_ERROR(FindJourney(tenant, key).status());
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * list,
      db_->Prepare(absl::StrCat(
          "SELECT ", kJourneyColumns,
          " FROM journeys j JOIN journey_versions v"
          " ON v.tenant = j.tenant AND v.journey_key = j.journey_key"
          " WHERE j.tenant = ?1 AND j.journey_key = ?2 AND v.version > ?3"
          " ORDER BY v.version LIMIT ?4")));
  list->Bind(1, tenant).Bind(2, key).Bind(3, after).Bind(4, page_size + 1);
  JourneyPage page;
  POLKU_ASSIGN_OR_RETURN(page.journeys, ReadJourneys(*list, 0));
  EndPage(page_size, /*by_version=*/true, page);
  return page;
}

absl::StatusOr<Journey> SqliteJourneyStore::Archive(absl::string_view tenant,
                                                    absl::string_view key) {
  const int64_t now_us = absl::ToUnixMicros(clock().Now());
  {
    absl::MutexLock lock(&mu_);
    sqlite::Transaction transaction(*db_);
    POLKU_RETURN_IF_ERROR(transaction.Begin());
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * archive,
        db_->Prepare("UPDATE journeys SET archive_time_us = ?3 "
                     "WHERE tenant = ?1 AND journey_key = ?2 "
                     "AND archive_time_us IS NULL"));
    POLKU_RETURN_IF_ERROR(
        archive->Bind(1, tenant).Bind(2, key).Bind(3, now_us).Run());
    POLKU_RETURN_IF_ERROR(BumpPublishedGeneration());
    POLKU_RETURN_IF_ERROR(transaction.Commit());
  }
  return GetJourney(tenant, key, 0);
}

absl::StatusOr<polku::v1::Channel> SqliteJourneyStore::CreateChannel(
    absl::string_view tenant, const polku::v1::Channel& channel) {
  const int64_t now_us = absl::ToUnixMicros(clock().Now());
  absl::MutexLock lock(&mu_);
  sqlite::Transaction transaction(*db_);
  POLKU_RETURN_IF_ERROR(transaction.Begin());
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * find,
      db_->Prepare(
          "SELECT 1 FROM channels WHERE tenant = ?1 AND channel_key = ?2"));
  find->Bind(1, tenant).Bind(2, channel.key());
  POLKU_ASSIGN_OR_RETURN(bool exists, find->Step());
  find->Reset();
  if (exists) {
    return absl::AlreadyExistsError(
        absl::StrCat("channel \"", channel.key(), "\" already exists"));
  }
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * insert,
      db_->Prepare("INSERT INTO channels (tenant, channel_key, display_name, "
                   "create_time_us) VALUES (?1, ?2, ?3, ?4)"));
  POLKU_RETURN_IF_ERROR(insert->Bind(1, tenant)
                            .Bind(2, channel.key())
                            .Bind(3, channel.display_name())
                            .Bind(4, now_us)
                            .Run());
  POLKU_RETURN_IF_ERROR(transaction.Commit());
  return channel;
}

absl::StatusOr<std::vector<polku::v1::Channel>>
SqliteJourneyStore::ListChannels(absl::string_view tenant) {
  absl::MutexLock lock(&mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * list,
      db_->Prepare("SELECT channel_key, display_name FROM channels "
                   "WHERE tenant = ?1 ORDER BY channel_key"));
  list->Bind(1, tenant);
  std::vector<polku::v1::Channel> channels;
  POLKU_RETURN_IF_ERROR(list->ForEachRow([&](const sqlite::Statement& row) {
    polku::v1::Channel& channel = channels.emplace_back();
    channel.set_key(row.ColumnText(0));
    channel.set_display_name(row.ColumnText(1));
    return absl::OkStatus();
  }));
  return channels;
}

absl::StatusOr<JourneyPage> SqliteJourneyStore::ListJourneys(
    absl::string_view tenant, int page_size, absl::string_view page_token,
    bool include_archived) {
  POLKU_ASSIGN_OR_RETURN(page_size, PageSize(page_size));
  POLKU_ASSIGN_OR_RETURN(const std::string after, KeyAfter(page_token));

  absl::MutexLock lock(&mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * list,
      db_->Prepare(absl::StrCat(
          "SELECT ", kJourneyColumns,
          " FROM journeys j JOIN journey_versions v"
          " ON v.tenant = j.tenant AND v.journey_key = j.journey_key"
          " AND v.version = j.latest_version"
          " WHERE j.tenant = ?1 AND j.journey_key > ?2"
          " AND (?4 OR j.archive_time_us IS NULL)"
          " ORDER BY j.journey_key LIMIT ?3")));
  // One row more than the page tells whether another page follows.
  list->Bind(1, tenant)
      .Bind(2, after)
      .Bind(3, page_size + 1)
      .Bind(4, include_archived ? 1 : 0);
  JourneyPage page;
  POLKU_ASSIGN_OR_RETURN(page.journeys, ReadJourneys(*list, 0));
  EndPage(page_size, /*by_version=*/false, page);
  return page;
}

absl::StatusOr<std::vector<PublishedJourney>>
SqliteJourneyStore::ListPublishedLatest() {
  return ListPublished(/*every_version=*/false);
}

absl::StatusOr<std::vector<PublishedJourney>>
SqliteJourneyStore::ListPublishedVersions() {
  return ListPublished(/*every_version=*/true);
}

absl::StatusOr<std::vector<PublishedJourney>> SqliteJourneyStore::ListPublished(
    bool every_version) {
  absl::MutexLock lock(&mu_);
  // Version 0 is the draft.
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * list,
      db_->Prepare(absl::StrCat(
          "SELECT j.tenant, ", kJourneyColumns,
          " FROM journeys j JOIN journey_versions v"
          " ON v.tenant = j.tenant AND v.journey_key = j.journey_key",
          every_version ? " AND v.version BETWEEN 1 AND j.latest_version"
                        : " AND v.version = j.latest_version",
          " WHERE j.latest_version > 0 AND j.archive_time_us IS NULL"
          " ORDER BY j.tenant, j.journey_key, v.version")));
  std::vector<PublishedJourney> published;
  POLKU_RETURN_IF_ERROR(
      list->ForEachRow([&](const sqlite::Statement& row) -> absl::Status {
        POLKU_ASSIGN_OR_RETURN(Journey journey, JourneyFromRow(row, 1));
        PublishedJourney& entry = published.emplace_back();
        entry.set_tenant(row.ColumnText(0));
        *entry.mutable_journey() = std::move(journey);
        return absl::OkStatus();
      }));
  return published;
}

absl::Status SqliteJourneyStore::BumpPublishedGeneration() {
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * bump,
      db_->Prepare("UPDATE published_changes SET generation = generation + 1"));
  return bump->Run();
}

absl::StatusOr<int64_t> SqliteJourneyStore::PublishedGeneration() {
  absl::MutexLock lock(&mu_);
  POLKU_ASSIGN_OR_RETURN(
      sqlite::Statement * get,
      db_->Prepare("SELECT generation FROM published_changes"));
  POLKU_ASSIGN_OR_RETURN(bool found, get->Step());
  const int64_t generation = found ? get->ColumnInt(0) : 0;
  get->Reset();
  return generation;
}

// The version algorithms' statements (versioned_journey_store.h), on the
// one connection, under mu_ (held by InTransaction).
class SqliteJourneyStore::Versions final : public VersionTransaction {
 public:
  explicit Versions(SqliteJourneyStore& store) : store_(store) {}

  // One connection, one writer at a time: mu_ is the lock.
  absl::StatusOr<JourneyRow> LockJourney(absl::string_view tenant,
                                         absl::string_view key) override
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return store_.FindJourney(tenant, key);
  }
  absl::StatusOr<std::string> ReadBody(absl::string_view tenant,
                                       absl::string_view key,
                                       int version) override
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return store_.ReadBody(tenant, key, version);
  }
  absl::Status WriteDraft(absl::string_view tenant, absl::string_view key,
                          const std::string& body, int64_t now_us) override
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * update,
        store_.db_->Prepare(
            "UPDATE journey_versions SET body = ?3, update_time_us = ?4 "
            "WHERE tenant = ?1 AND journey_key = ?2 AND version = 0"));
    return update->Bind(1, tenant)
        .Bind(2, key)
        .BindBlob(3, body)
        .Bind(4, now_us)
        .Run();
  }
  absl::Status InsertPublished(absl::string_view tenant, absl::string_view key,
                               int version, const std::string& body,
                               int64_t now_us) override
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * insert_version,
        store_.db_->Prepare(
            "INSERT INTO journey_versions (tenant, journey_key, version, "
            "state, body, update_time_us, publish_time_us) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"));
    POLKU_RETURN_IF_ERROR(insert_version->Bind(1, tenant)
                              .Bind(2, key)
                              .Bind(3, version)
                              .Bind(4, int{polku::v1::PUBLISHED})
                              .BindBlob(5, body)
                              .Bind(6, now_us)
                              .Run());
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * set_latest,
        store_.db_->Prepare("UPDATE journeys SET latest_version = ?3 "
                            "WHERE tenant = ?1 AND journey_key = ?2"));
    POLKU_RETURN_IF_ERROR(
        set_latest->Bind(1, tenant).Bind(2, key).Bind(3, version).Run());
    return store_.BumpPublishedGeneration();
  }

 private:
  SqliteJourneyStore& store_;
};

absl::Status SqliteJourneyStore::InTransaction(
    absl::FunctionRef<absl::Status(VersionTransaction&)> work) {
  absl::MutexLock lock(&mu_);
  sqlite::Transaction transaction(*db_);
  POLKU_RETURN_IF_ERROR(transaction.Begin());
  Versions versions(*this);
  POLKU_RETURN_IF_ERROR(work(versions));
  return transaction.Commit();
}

}  // namespace polku::journey
