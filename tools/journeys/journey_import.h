// Importing journey map files (proto3 JSON of polku.v1.Journey, as in
// examples/journeys/) through the gateway: create the journey, then publish
// its draft. Both steps are safe to repeat, so `polku-journeys import` can run
// on every start of the suite.
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

// What happened to one journey.
struct ImportOutcome {
  std::string key;
  // False: a journey with this key already existed (it is not updated; the
  // existing draft is what gets published).
  bool created = false;
  // False: the draft equals the latest published version, nothing to do.
  bool published = false;
  // The latest published version after the import (0 if unknown).
  int32_t version = 0;
};

// CreateJourney (ALREADY_EXISTS is fine), then PublishJourney
// (FAILED_PRECONDITION is fine when a published version exists). Each call
// carries `admin_key` and `timeout`, and is retried while UNAVAILABLE.
absl::StatusOr<ImportOutcome> ImportJourney(
    v1::JourneyService::StubInterface& stub, absl::string_view admin_key,
    const v1::Journey& journey, absl::Duration timeout = absl::Seconds(10));

// One line for people: "examples/a.json: journey "x" created, published as version 1".
std::string DescribeImport(absl::string_view path, const ImportOutcome& outcome);

}  // namespace polku::tools

#endif  // POLKU_TOOLS_JOURNEYS_JOURNEY_IMPORT_H_
