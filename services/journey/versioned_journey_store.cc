#include "services/journey/versioned_journey_store.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lib/base/status_macros.h"
#include "services/journey/journey_store_common.h"

namespace polku::journey {

using ::polku::v1::Journey;
using store_internal::DraftView;
using store_internal::SerializeContent;
using store_internal::SetTimestamp;

absl::StatusOr<Journey> VersionedJourneyStore::ResetDraft(
    absl::string_view tenant, absl::string_view key, bool discard_changes) {
  const int64_t now_us = absl::ToUnixMicros(clock_.Now());
  JourneyRow row;
  std::string body;
  POLKU_RETURN_IF_ERROR(
      InTransaction([&](VersionTransaction& txn) -> absl::Status {
        POLKU_ASSIGN_OR_RETURN(row, txn.LockJourney(tenant, key));
        if (row.archived) {
          return absl::FailedPreconditionError(
              absl::StrCat("journey \"", key, "\" is archived"));
        }
        if (row.latest_version == 0) {
          return absl::FailedPreconditionError(absl::StrCat(
              "journey \"", key,
              "\" was never published: its draft is the only version"));
        }
        POLKU_ASSIGN_OR_RETURN(const std::string draft_body,
                               txn.ReadBody(tenant, key, 0));
        POLKU_ASSIGN_OR_RETURN(const std::string latest_body,
                               txn.ReadBody(tenant, key, row.latest_version));
        Journey latest;
        if (!latest.ParseFromString(latest_body)) {
          return absl::DataLossError(
              absl::StrCat("journey \"", key, "\" version ", row.latest_version,
                           ": stored body does not parse"));
        }
        body = SerializeContent(latest);
        if (body != draft_body && !discard_changes) {
          return absl::FailedPreconditionError(absl::StrCat(
              "journey \"", key,
              "\": the draft has edits not published since version ",
              row.latest_version, "; set discard_changes to replace them"));
        }
        return txn.WriteDraft(tenant, key, body, now_us);
      }));
  return DraftView(body, key, row.create_time_us);
}

absl::StatusOr<Journey> VersionedJourneyStore::PublishDraft(
    absl::string_view tenant, absl::string_view key, PrepareVersionFn prepare) {
  const int64_t now_us = absl::ToUnixMicros(clock_.Now());
  JourneyRow row;
  Journey journey;
  int version = 0;
  POLKU_RETURN_IF_ERROR(
      InTransaction([&](VersionTransaction& txn) -> absl::Status {
        // The row lock queues concurrent publishes of this journey, from any
        // replica: the second reads the first's latest_version once it commits.
        POLKU_ASSIGN_OR_RETURN(row, txn.LockJourney(tenant, key));
        if (row.archived) {
          return absl::FailedPreconditionError(absl::StrCat(
              "journey \"", key, "\" is archived; it takes no new versions"));
        }
        POLKU_ASSIGN_OR_RETURN(const std::string draft_body,
                               txn.ReadBody(tenant, key, 0));
        std::optional<Journey> latest;
        if (row.latest_version > 0) {
          POLKU_ASSIGN_OR_RETURN(const std::string latest_body,
                                 txn.ReadBody(tenant, key, row.latest_version));
          latest.emplace();
          if (!latest->ParseFromString(latest_body)) {
            return absl::DataLossError(absl::StrCat(
                "journey \"", key, "\" version ", row.latest_version,
                ": stored body does not parse"));
          }
          if (SerializeContent(*latest) == draft_body) {
            return absl::FailedPreconditionError(absl::StrCat(
                "journey \"", key, "\": draft unchanged since version ",
                row.latest_version));
          }
          latest->set_key(std::string(key));
          latest->set_version(row.latest_version);
          latest->set_state(polku::v1::PUBLISHED);
        }
        Journey draft;
        if (!draft.ParseFromString(draft_body)) {
          return absl::DataLossError(absl::StrCat(
              "journey \"", key, "\": stored draft does not parse"));
        }
        draft.set_key(std::string(key));
        draft.set_version(0);
        draft.set_state(polku::v1::DRAFT);
        SetTimestamp(row.create_time_us, *draft.mutable_create_time());
        // Its refusal rolls the transaction back and is the caller's answer.
        POLKU_ASSIGN_OR_RETURN(journey,
                               prepare(draft, latest ? &*latest : nullptr));
        version = row.latest_version + 1;
        return txn.InsertPublished(
            tenant, key, version,
            SerializeContent(journey, /*keep_history=*/true), now_us);
      }));
  journey.set_key(std::string(key));
  journey.set_version(version);
  journey.set_state(polku::v1::PUBLISHED);
  SetTimestamp(row.create_time_us, *journey.mutable_create_time());
  SetTimestamp(now_us, *journey.mutable_publish_time());
  return journey;
}

}  // namespace polku::journey
