// Journey map files (proto3 JSON of polku.v1.Journey, as in
// examples/journeys/) in and out through the gateway.
//
// Import creates the journey, or replaces the draft of an existing one with
// the file, then publishes the draft. Every step is safe to repeat, so
// `polku-journeys import` can run on every start of the suite. Export writes
// a version back as such a file, without what the server sets (version,
// state, times, rename chains), so export(import(file)) says what the file
// said.
//
//   POLKU_ASSIGN_OR_RETURN(v1::Journey journey, ReadJourneyFile(path));
//   POLKU_ASSIGN_OR_RETURN(ImportOutcome outcome,
//                          ImportJourney(*stub, creds.admin_key, journey));
//   std::cout << DescribeImport(path, outcome) << "\n";
#ifndef POLKU_TOOLS_JOURNEYS_JOURNEY_IMPORT_H_
#define POLKU_TOOLS_JOURNEYS_JOURNEY_IMPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "polku/v1/journey.grpc.pb.h"

namespace polku::tools {

// Parses a journey from proto3 JSON. INVALID_ARGUMENT naming `source` (the
// file name) when the text is not a Journey or has no key.
absl::StatusOr<v1::Journey> ParseJourneyJson(absl::string_view json,
                                             absl::string_view source);

// Reads and parses one journey file; every error names the file.
absl::StatusOr<v1::Journey> ReadJourneyFile(const std::string& path);

// The file form of `journey`: indented proto3 JSON, lowerCamelCase names,
// output-only fields left out.
std::string FormatJourneyJson(const v1::Journey& journey);

struct ImportOptions {
  // Publish the draft after creating or updating it.
  bool publish = true;
  // PublishJourneyRequest.allow_removals: the file drops touchpoints of the
  // latest version without naming a successor (`replaces`).
  bool allow_removals = false;
  absl::Duration timeout = absl::Seconds(10);
};

// What happened to one journey.
struct ImportOutcome {
  std::string key;
  // False: a journey with this key already existed.
  bool created = false;
  // The existing journey's draft was replaced by the file.
  bool updated = false;
  // False: the draft equals the latest published version, nothing to do.
  bool published = false;
  // The latest published version after the import (0 if unknown).
  int32_t version = 0;
};

// CreateJourney, or on ALREADY_EXISTS UpdateDraft with the whole map (when
// it differs from the draft); then, if `options.publish`, PublishJourney
// (FAILED_PRECONDITION "unchanged" is fine when a published version exists).
// Each call carries `admin_key` and the timeout, and is retried while
// UNAVAILABLE.
absl::StatusOr<ImportOutcome> ImportJourney(
    v1::JourneyService::StubInterface& stub, absl::string_view admin_key,
    const v1::Journey& journey, const ImportOptions& options = {});

// Version `version` of journey `key` (0 = the latest published one, or the
// draft if never published); with `draft`, the draft instead.
absl::StatusOr<v1::Journey> FetchJourney(v1::JourneyService::StubInterface& stub,
                                         absl::string_view admin_key,
                                         absl::string_view key, int version,
                                         bool draft,
                                         absl::Duration timeout = absl::Seconds(10));

// One line for people, e.g. "examples/a.json: journey "x" created, published
// as version 1".
std::string DescribeImport(absl::string_view path, const ImportOutcome& outcome);

}  // namespace polku::tools

#endif  // POLKU_TOOLS_JOURNEYS_JOURNEY_IMPORT_H_
