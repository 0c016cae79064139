// polku-journeys: journey map files ↔ the gateway.
//
//   polku-journeys import --gateway=127.0.0.1:7070
//       --credentials=.polku/credentials.json examples/journeys/*.json
//   polku-journeys export --credentials=.polku/credentials.json
//       switching-mobile-operator > switching.json
#include <cstdio>
#include <fstream>
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
ABSL_FLAG(bool, publish, true,
          "import: publish each journey's draft after writing the file into it");
ABSL_FLAG(bool, allow_removals, false,
          "import: publish even if the file drops touchpoints of the latest "
          "version without a successor (`replaces`)");
ABSL_FLAG(int32_t, version, 0,
          "export: the published version (0 = the latest)");
ABSL_FLAG(bool, draft, false, "export: the draft instead of a published version");
ABSL_FLAG(std::string, output, "",
          "export: write to this file instead of standard output");

namespace {

constexpr char kUsage[] =
    "usage: polku-journeys import [--gateway=127.0.0.1:7070] "
    "[--credentials=.polku/credentials.json] [--publish=false] "
    "[--allow_removals] FILE.json…\n"
    "       polku-journeys export [--gateway=…] [--credentials=…] "
    "[--version=N | --draft] [--output=FILE] JOURNEY_KEY\n";

int Import(const std::vector<std::string>& files,
           const polku::tools::Credentials& credentials) {
  // Parse every file first, so that a typo stops the import before anything
  // reaches the server.
  std::vector<std::pair<std::string, polku::v1::Journey>> journeys;
  bool bad_file = false;
  for (const std::string& file : files) {
    auto journey = polku::tools::ReadJourneyFile(file);
    if (!journey.ok()) {
      std::cerr << "polku-journeys: " << journey.status().message() << "\n";
      bad_file = true;
      continue;
    }
    journeys.emplace_back(file, *std::move(journey));
  }
  if (bad_file) return 1;

  auto channel = polku::tools::DialGateway(absl::GetFlag(FLAGS_gateway));
  if (!channel.ok()) {
    std::cerr << "polku-journeys: " << channel.status().message() << "\n";
    return 1;
  }
  auto stub = polku::v1::JourneyService::NewStub(*channel);
  const polku::tools::ImportOptions options{
      .publish = absl::GetFlag(FLAGS_publish),
      .allow_removals = absl::GetFlag(FLAGS_allow_removals)};
  int failures = 0;
  for (const auto& [path, journey] : journeys) {
    auto outcome = polku::tools::ImportJourney(*stub, credentials.admin_key,
                                               journey, options);
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

int Export(const std::string& key, const polku::tools::Credentials& credentials) {
  auto channel = polku::tools::DialGateway(absl::GetFlag(FLAGS_gateway));
  if (!channel.ok()) {
    std::cerr << "polku-journeys: " << channel.status().message() << "\n";
    return 1;
  }
  auto stub = polku::v1::JourneyService::NewStub(*channel);
  auto journey = polku::tools::FetchJourney(*stub, credentials.admin_key, key,
                                            absl::GetFlag(FLAGS_version),
                                            absl::GetFlag(FLAGS_draft));
  if (!journey.ok()) {
    std::cerr << "polku-journeys: " << journey.status().message() << "\n";
    return 1;
  }
  const std::string json = polku::tools::FormatJourneyJson(*journey);
  const std::string output = absl::GetFlag(FLAGS_output);
  if (output.empty()) {
    std::cout << json;
    return std::cout.good() ? 0 : 1;
  }
  std::ofstream out(output, std::ios::trunc);
  out << json;
  out.close();
  if (!out) {
    std::cerr << "polku-journeys: cannot write " << output << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = polku::rpc::ParseFlags(
      argc, argv,
      "polku-journeys import|export: journey map files (proto3 JSON of "
      "polku.v1.Journey) in and out through the gateway.");
  const bool import = args.size() >= 2 && args[0] == "import";
  const bool export_one = args.size() == 2 && args[0] == "export";
  if (!import && !export_one) {
    std::cerr << kUsage;
    return 2;
  }
  auto credentials = polku::tools::ReadCredentials(absl::GetFlag(FLAGS_credentials));
  if (!credentials.ok()) {
    std::cerr << "polku-journeys: " << credentials.status().message() << "\n";
    return 1;
  }
  if (export_one) return Export(args[1], *credentials);
  return Import(std::vector<std::string>(args.begin() + 1, args.end()),
                *credentials);
}
