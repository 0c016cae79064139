// polku-journeys: journey map files → the gateway.
//
//   polku-journeys import --gateway=127.0.0.1:7070
//       --credentials=.polku/credentials.json examples/journeys/*.json
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "lib/rpc/flags.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tools/journeys/gateway_client.h"
#include "tools/journeys/journey_import.h"

ABSL_FLAG(std::string, gateway, "127.0.0.1:7070", "polku-gateway gRPC address");
ABSL_FLAG(std::string, credentials, ".polku/credentials.json",
          "credentials.json written by polku-keys init (the admin key is used)");

int main(int argc, char** argv) {
  std::vector<std::string> args = polku::rpc::ParseFlags(
      argc, argv,
      "polku-journeys import --gateway=HOST:PORT --credentials=FILE JOURNEY.json…\n"
      "Creates and publishes each journey (proto3 JSON of polku.v1.Journey).");
  if (args.empty() || args[0] != "import" || args.size() < 2) {
    std::cerr << "usage: polku-journeys import [--gateway=127.0.0.1:7070] "
                 "[--credentials=.polku/credentials.json] FILE.json…\n";
    return 2;
  }
  auto credentials = polku::tools::ReadCredentials(absl::GetFlag(FLAGS_credentials));
  if (!credentials.ok()) {
    std::cerr << "polku-journeys: " << credentials.status().message() << "\n";
    return 1;
  }
  // Parse every file first, so that a typo stops the import before anything
  // reaches the server.
  std::vector<std::pair<std::string, polku::v1::Journey>> journeys;
  bool bad_file = false;
  for (size_t i = 1; i < args.size(); ++i) {
    auto journey = polku::tools::ReadJourneyFile(args[i]);
    if (!journey.ok()) {
      std::cerr << "polku-journeys: " << journey.status().message() << "\n";
      bad_file = true;
      continue;
    }
    journeys.emplace_back(args[i], *std::move(journey));
  }
  if (bad_file) return 1;

  auto stub = polku::v1::JourneyService::NewStub(
      polku::tools::DialGateway(absl::GetFlag(FLAGS_gateway)));
  int failures = 0;
  for (const auto& [path, journey] : journeys) {
    auto outcome = polku::tools::ImportJourney(*stub, credentials->admin_key, journey);
    if (!outcome.ok()) {
      std::cerr << "polku-journeys: " << path << ": " << outcome.status().message()
                << "\n";
      ++failures;
      continue;
    }
    std::cout << polku::tools::DescribeImport(path, *outcome) << std::endl;
  }
  return failures == 0 ? 0 : 1;
}
