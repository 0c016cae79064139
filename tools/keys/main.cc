// polku-keys: tenants and API keys.
//
// Offline: they open the key store themselves, <data_dir>/gateway.db or
// the PostgreSQL of --database_url (POLKU_DATABASE_URL), as the gateway
// does; a running gateway picks their changes up at its next refresh:
//   polku-keys init --data_dir=.polku --tenant=demo --channels=shop,phone
//       creates the tenant and writes <data_dir>/credentials.json (0600):
//       an admin key, an insights:read key and one events:write key per
//       channel. Running it again keeps the existing file and keys.
//   polku-keys bootstrap --data_dir=.polku
//       issues the super-admin key into <data_dir>/superadmin.key (0600)
//       unless one exists (the gateway also does this at first start).
//
// Online, through the gateway's AdminService (--gateway, default
// 127.0.0.1:7070; the key from --key, else the file --key_file, default
// <data_dir>/superadmin.key):
//   polku-keys create-tenant ID [--display_name=…]
//   polku-keys list-tenants
//   polku-keys create-key --tenant=T --scopes=journeys:read,insights:read
//   polku-keys create-key --tenant=T --scopes=events:write --channel=shop
//   polku-keys list-keys --tenant=T [--show_revoked]
//   polku-keys revoke-key --tenant=T KEY_ID
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/keys/demo_credentials.h"
#include "gateway/keys/files.h"
#include "gateway/keys/key_store.h"
#include "lib/rpc/flags.h"
#include "polku/v1/admin.grpc.pb.h"
#include "tools/journeys/gateway_client.h"

ABSL_FLAG(std::string, data_dir, ".polku", "directory of Polku's files");
ABSL_FLAG(std::string, database_url, "",
          "init, bootstrap: the gateways' PostgreSQL key store (postgres://… "
          "or postgresql://…); empty: gateway.db in --data_dir");
ABSL_FLAG(std::string, tenant, "demo", "the tenant");
ABSL_FLAG(std::string, channels, "shop,phone,web,email",
          "init: comma-separated channels, one events:write key each");
ABSL_FLAG(std::string, gateway, "127.0.0.1:7070",
          "host:port of polku-gateway's gRPC listener");
ABSL_FLAG(std::string, key, "",
          "the API key to call the AdminService with (default: the key in "
          "--key_file)");
ABSL_FLAG(std::string, key_file, "",
          "file holding the API key; default <data_dir>/superadmin.key");
ABSL_FLAG(std::string, display_name, "", "create-*: a human-readable name");
ABSL_FLAG(std::string, scopes, "",
          "create-key: comma-separated scopes (events:write, events:read, "
          "journeys:read, journeys:write, insights:read, cases:read, "
          "cases:write, admin)");
ABSL_FLAG(std::string, channel, "",
          "create-key: the channel of an events:write key");
ABSL_FLAG(bool, show_revoked, false, "list-keys: include revoked keys");

namespace {

namespace keys = polku::gateway::keys;
namespace v1 = polku::v1;

constexpr char kUsage[] =
    "usage: polku-keys init|bootstrap|create-tenant ID|list-tenants|"
    "create-key|list-keys|revoke-key KEY_ID [flags]; see --help";

int Fail(absl::string_view message) {
  std::cerr << "polku-keys: " << message << "\n";
  return EXIT_FAILURE;
}

std::string Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

absl::StatusOr<std::unique_ptr<keys::CachingKeyStore>> OpenStore() {
  // A PostgreSQL that is not up yet gets half a minute (each attempt is
  // logged), then the command fails.
  return keys::OpenKeyStore(absl::GetFlag(FLAGS_database_url),
                            absl::GetFlag(FLAGS_data_dir),
                            {.deadline = absl::Now() + absl::Seconds(30)});
}

int Init() {
  auto store = OpenStore();
  if (!store.ok()) return Fail(store.status().ToString());
  std::vector<std::string> channels =
      absl::StrSplit(absl::GetFlag(FLAGS_channels), ',', absl::SkipEmpty());
  auto result =
      keys::InitDemoCredentials(**store, absl::GetFlag(FLAGS_data_dir),
                                absl::GetFlag(FLAGS_tenant), channels);
  if (!result.ok()) return Fail(result.status().message());
  if (result->created) {
    std::cout << "wrote " << result->credentials_path << "\n";
  } else {
    std::cout << result->credentials_path
              << " exists; keeping the existing keys\n";
  }
  return EXIT_SUCCESS;
}

int Bootstrap() {
  auto store = OpenStore();
  if (!store.ok()) return Fail(store.status().ToString());
  auto result =
      keys::EnsureSuperAdminKey(**store, absl::GetFlag(FLAGS_data_dir));
  if (!result.ok()) return Fail(result.status().message());
  std::cout << (result->second ? "wrote " : "a super-admin key exists; see ")
            << result->first << "\n";
  return EXIT_SUCCESS;
}

absl::StatusOr<std::string> CallerKey() {
  std::string key = absl::GetFlag(FLAGS_key);
  if (!key.empty()) return key;
  std::string path = absl::GetFlag(FLAGS_key_file);
  if (path.empty()) {
    path = keys::JoinPath(absl::GetFlag(FLAGS_data_dir),
                          keys::kSuperAdminKeyFileName);
  }
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("no --key given and cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(text.str()));
}

int Online(const std::string& command, const std::vector<std::string>& args) {
  absl::StatusOr<std::string> key = CallerKey();
  if (!key.ok()) return Fail(key.status().message());
  auto channel = polku::tools::DialGateway(absl::GetFlag(FLAGS_gateway));
  if (!channel.ok()) return Fail(channel.status().message());
  auto stub = v1::AdminService::NewStub(*channel);
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + *key);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  std::string parent = "tenants/" + absl::GetFlag(FLAGS_tenant);
  grpc::Status status;
  std::string output;
  if (command == "create-tenant" && args.size() == 1) {
    v1::CreateTenantRequest request;
    request.set_tenant_id(args[0]);
    request.mutable_tenant()->set_display_name(
        absl::GetFlag(FLAGS_display_name));
    v1::Tenant response;
    status = stub->CreateTenant(&context, request, &response);
    output = Json(response);
  } else if (command == "list-tenants" && args.empty()) {
    v1::ListTenantsRequest request;
    request.set_page_size(1000);
    v1::ListTenantsResponse response;
    status = stub->ListTenants(&context, request, &response);
    output = Json(response);
  } else if (command == "create-key" && args.empty()) {
    v1::CreateApiKeyRequest request;
    request.set_parent(parent);
    for (absl::string_view scope :
         absl::StrSplit(absl::GetFlag(FLAGS_scopes), ',', absl::SkipEmpty())) {
      request.mutable_api_key()->add_scopes(std::string(scope));
    }
    request.mutable_api_key()->set_channel(absl::GetFlag(FLAGS_channel));
    request.mutable_api_key()->set_display_name(
        absl::GetFlag(FLAGS_display_name));
    v1::CreateApiKeyResponse response;
    status = stub->CreateApiKey(&context, request, &response);
    output = Json(response) +
             "\n(the key is shown only now: store it in a secret manager)";
  } else if (command == "list-keys" && args.empty()) {
    v1::ListApiKeysRequest request;
    request.set_parent(parent);
    request.set_page_size(1000);
    request.set_show_revoked(absl::GetFlag(FLAGS_show_revoked));
    v1::ListApiKeysResponse response;
    status = stub->ListApiKeys(&context, request, &response);
    output = Json(response);
  } else if (command == "revoke-key" && args.size() == 1) {
    v1::RevokeApiKeyRequest request;
    request.set_name(absl::StrCat(parent, "/apiKeys/", args[0]));
    v1::ApiKey response;
    status = stub->RevokeApiKey(&context, request, &response);
    output = Json(response);
  } else {
    return Fail(kUsage);
  }
  if (!status.ok()) {
    return Fail(
        absl::StrCat(absl::StatusCodeToString(
                         static_cast<absl::StatusCode>(status.error_code())),
                     ": ", status.error_message()));
  }
  std::cout << output << "\n";
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = polku::rpc::ParseFlags(
      argc, argv,
      "polku-keys: tenants and API keys (init, bootstrap, create-tenant, "
      "list-tenants, create-key, list-keys, revoke-key)");
  if (args.empty()) return Fail(kUsage);
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "init" && args.empty()) return Init();
  if (command == "bootstrap" && args.empty()) return Bootstrap();
  return Online(command, args);
}
