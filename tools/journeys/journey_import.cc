#include "tools/journeys/journey_import.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "lib/rpc/status.h"
#include "tools/journeys/gateway_client.h"

namespace polku::tools {

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

absl::StatusOr<ImportOutcome> ImportJourney(v1::JourneyService::StubInterface& stub,
                                            absl::string_view admin_key,
                                            const v1::Journey& journey,
                                            absl::Duration timeout) {
  ImportOutcome outcome;
  outcome.key = journey.key();

  v1::CreateJourneyRequest create;
  *create.mutable_journey() = journey;
  // Output-only fields are the server's to set.
  create.mutable_journey()->clear_version();
  create.mutable_journey()->clear_state();
  create.mutable_journey()->clear_create_time();
  create.mutable_journey()->clear_publish_time();
  v1::Journey created;
  grpc::Status status = CallWithRetry([&] {
    grpc::ClientContext context;
    PrepareCall(context, admin_key, timeout);
    return stub.CreateJourney(&context, create, &created);
  });
  if (status.ok()) {
    outcome.created = true;
  } else if (status.error_code() != grpc::ALREADY_EXISTS) {
    return absl::Status(rpc::FromGrpcStatus(status).code(),
                        absl::StrCat("CreateJourney \"", journey.key(),
                                     "\": ", DescribeStatus(status)));
  }

  v1::PublishJourneyRequest publish;
  publish.set_key(journey.key());
  v1::Journey published;
  status = CallWithRetry([&] {
    grpc::ClientContext context;
    PrepareCall(context, admin_key, timeout);
    return stub.PublishJourney(&context, publish, &published);
  });
  if (status.ok()) {
    outcome.published = true;
    outcome.version = published.version();
    return outcome;
  }
  if (status.error_code() != grpc::FAILED_PRECONDITION) {
    return absl::Status(rpc::FromGrpcStatus(status).code(),
                        absl::StrCat("PublishJourney \"", journey.key(),
                                     "\": ", DescribeStatus(status)));
  }
  // FAILED_PRECONDITION is "nothing new to publish" only if a published
  // version exists; otherwise the draft itself is unpublishable.
  v1::GetJourneyRequest get;
  get.set_key(journey.key());
  v1::Journey latest;
  grpc::Status get_status = CallWithRetry([&] {
    grpc::ClientContext context;
    PrepareCall(context, admin_key, timeout);
    return stub.GetJourney(&context, get, &latest);
  });
  if (!get_status.ok() || latest.state() != v1::PUBLISHED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "PublishJourney \"", journey.key(), "\": ", DescribeStatus(status)));
  }
  outcome.version = latest.version();
  return outcome;
}

std::string DescribeImport(absl::string_view path, const ImportOutcome& outcome) {
  std::string line = absl::StrCat(path, ": journey \"", outcome.key, "\" ",
                                  outcome.created ? "created" : "already exists");
  if (outcome.published) {
    absl::StrAppend(&line, ", published as version ", outcome.version);
  } else {
    absl::StrAppend(&line, ", already published");
    if (outcome.version > 0) absl::StrAppend(&line, " (version ", outcome.version, ")");
  }
  return line;
}

}  // namespace polku::tools
