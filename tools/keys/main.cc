// polku-keys: issues API keys. In this issue only the demo tenant's keys:
//
//   polku-keys init --data_dir=.polku --tenant=demo
//                   --channels=shop,phone,web,email
//
// (one command line) writes <data_dir>/credentials.json (the keys, mode
// 0600) and <data_dir>/gateway-keys.json (their hashes, for polku-gateway).
// Running it again keeps the existing keys.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "gateway/keys/demo_credentials.h"
#include "lib/rpc/flags.h"

ABSL_FLAG(std::string, data_dir, ".polku", "directory of Polku's files");
ABSL_FLAG(std::string, tenant, "demo", "the tenant the keys belong to");
ABSL_FLAG(std::string, channels, "shop,phone,web,email",
          "comma-separated channels, one channel key each");

int main(int argc, char** argv) {
  std::vector<std::string> args = polku::rpc::ParseFlags(
      argc, argv,
      "polku-keys init --data_dir=D --tenant=T --channels=a,b,…: issues an "
      "admin key and one key per channel");
  if (args.size() != 1 || args[0] != "init") {
    std::cerr << "usage: polku-keys init --data_dir=.polku --tenant=demo "
                 "--channels=shop,phone,web,email\n";
    return EXIT_FAILURE;
  }
  std::vector<std::string> channels =
      absl::StrSplit(absl::GetFlag(FLAGS_channels), ',', absl::SkipEmpty());
  auto result = polku::gateway::keys::InitDemoCredentials(
      absl::GetFlag(FLAGS_data_dir), absl::GetFlag(FLAGS_tenant), channels);
  if (!result.ok()) {
    std::cerr << "polku-keys: " << result.status().message() << "\n";
    return EXIT_FAILURE;
  }
  if (result->created) {
    std::cout << "wrote " << result->credentials_path << " and "
              << result->key_file_path << "\n";
  } else {
    std::cout << result->credentials_path
              << " exists; keeping the existing keys\n";
  }
  return EXIT_SUCCESS;
}
