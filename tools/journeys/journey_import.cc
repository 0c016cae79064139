#include "tools/journeys/journey_import.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "lib/rpc/status.h"
#include "tools/journeys/gateway_client.h"

namespace polku::tools {
namespace {

// The content of a journey: what a file holds and the server keeps as is.
v1::Journey ContentOf(const v1::Journey& journey) {
  v1::Journey content = journey;
  content.clear_version();
  content.clear_state();
  content.clear_create_time();
  content.clear_publish_time();
  content.clear_archived();
  for (v1::Touchpoint& touchpoint : *content.mutable_touchpoints()) {
    touchpoint.clear_former_keys();
  }
  return content;
}

absl::Status CallError(absl::string_view method, absl::string_view key,
                       const grpc::Status& status) {
  return absl::Status(
      rpc::FromGrpcStatus(status).code(),
      absl::StrCat(method, " \"", key, "\": ", DescribeStatus(status)));
}

}  // namespace

absl::StatusOr<v1::Journey> ParseJourneyJson(absl::string_view json,
                                             absl::string_view source) {
  v1::Journey journey;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a typo in a field name is an error
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &journey, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": not a polku.v1.Journey in proto3 JSON: ", parsed.message().as_string()));
  }
  if (journey.key().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": field \"key\" is missing"));
  }
  return journey;
}

absl::StatusOr<v1::Journey> ReadJourneyFile(const std::string& path) {
  auto text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  return ParseJourneyJson(*text, path);
}

std::string FormatJourneyJson(const v1::Journey& journey) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string json;
  // Printing a valid message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(ContentOf(journey), &json,
                                                    options);
  return json;
}

absl::StatusOr<ImportOutcome> ImportJourney(v1::JourneyService::StubInterface& stub,
                                            absl::string_view admin_key,
                                            const v1::Journey& journey,
                                            const ImportOptions& options) {
  ImportOutcome outcome;
  outcome.key = journey.key();
  const v1::Journey content = ContentOf(journey);

  v1::CreateJourneyRequest create;
  *create.mutable_journey() = content;
  v1::Journey created;
  grpc::Status status = CallWithRetry([&] {
    grpc::ClientContext context;
    PrepareCall(context, admin_key, options.timeout);
    return stub.CreateJourney(&context, create, &created);
  });
  if (status.ok()) {
    outcome.created = true;
  } else if (status.error_code() != grpc::ALREADY_EXISTS) {
    return CallError("CreateJourney", journey.key(), status);
  } else {
    // An existing journey: the file becomes its draft, unless it already is.
    v1::GetJourneyVersionRequest get_draft;
    get_draft.set_key(journey.key());
    v1::Journey draft;
    status = CallWithRetry([&] {
      grpc::ClientContext context;
      PrepareCall(context, admin_key, options.timeout);
      return stub.GetJourneyVersion(&context, get_draft, &draft);
    });
    if (!status.ok()) return CallError("GetJourneyVersion", journey.key(), status);
    if (ContentOf(draft).SerializeAsString() != content.SerializeAsString()) {
      v1::UpdateDraftRequest update;
      *update.mutable_journey() = content;
      v1::Journey updated;
      status = CallWithRetry([&] {
        grpc::ClientContext context;
        PrepareCall(context, admin_key, options.timeout);
        return stub.UpdateDraft(&context, update, &updated);
      });
      if (!status.ok()) return CallError("UpdateDraft", journey.key(), status);
      outcome.updated = true;
    }
  }
  if (!options.publish) return outcome;

  v1::PublishJourneyRequest publish;
  publish.set_key(journey.key());
  publish.set_allow_removals(options.allow_removals);
  v1::Journey published;
  status = CallWithRetry([&] {
    grpc::ClientContext context;
    PrepareCall(context, admin_key, options.timeout);
    return stub.PublishJourney(&context, publish, &published);
  });
  if (status.ok()) {
    outcome.published = true;
    outcome.version = published.version();
    return outcome;
  }
  if (status.error_code() != grpc::FAILED_PRECONDITION || outcome.updated) {
    return CallError("PublishJourney", journey.key(), status);
  }
  // FAILED_PRECONDITION is "nothing new to publish" only if a published
  // version exists; otherwise the draft itself is unpublishable.
  absl::StatusOr<v1::Journey> latest = FetchJourney(
      stub, admin_key, journey.key(), 0, /*draft=*/false, options.timeout);
  if (!latest.ok() || latest->state() != v1::PUBLISHED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "PublishJourney \"", journey.key(), "\": ", DescribeStatus(status)));
  }
  outcome.version = latest->version();
  return outcome;
}

absl::StatusOr<v1::Journey> FetchJourney(v1::JourneyService::StubInterface& stub,
                                         absl::string_view admin_key,
                                         absl::string_view key, int version,
                                         bool draft, absl::Duration timeout) {
  v1::Journey journey;
  grpc::Status status;
  if (draft) {
    v1::GetJourneyVersionRequest request;
    request.set_key(std::string(key));
    status = CallWithRetry([&] {
      grpc::ClientContext context;
      PrepareCall(context, admin_key, timeout);
      return stub.GetJourneyVersion(&context, request, &journey);
    });
    if (!status.ok()) return CallError("GetJourneyVersion", key, status);
    return journey;
  }
  v1::GetJourneyRequest request;
  request.set_key(std::string(key));
  request.set_version(version);
  status = CallWithRetry([&] {
    grpc::ClientContext context;
    PrepareCall(context, admin_key, timeout);
    return stub.GetJourney(&context, request, &journey);
  });
  if (!status.ok()) return CallError("GetJourney", key, status);
  return journey;
}

std::string DescribeImport(absl::string_view path, const ImportOutcome& outcome) {
  std::string line = absl::StrCat(path, ": journey \"", outcome.key, "\" ",
                                  outcome.created ? "created" : "already exists");
  if (!outcome.created) {
    absl::StrAppend(&line, outcome.updated ? ", draft updated" : ", draft unchanged");
  }
  if (outcome.published) {
    absl::StrAppend(&line, ", published as version ", outcome.version);
  } else if (outcome.version > 0) {
    absl::StrAppend(&line, ", already published (version ", outcome.version, ")");
  } else {
    absl::StrAppend(&line, ", not published");
  }
  return line;
}

}  // namespace polku::tools
