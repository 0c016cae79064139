// polku-gateway: the public endpoint. Wiring only; see grpc_proxy.h and
// http_gateway.h.
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "gateway/backends.h"
#include "gateway/grpc_proxy.h"
#include "gateway/http_gateway.h"
#include "gateway/keys/demo_credentials.h"
#include "gateway/keys/file_key_store.h"
#include "lib/base/log.h"
#include "lib/rpc/flags.h"
#include "lib/rpc/server.h"

ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:7070",
          "host:port of the public gRPC listener");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:8080",
          "host:port of the public HTTP/JSON listener");
ABSL_FLAG(std::string, data_dir, ".polku", "directory of Polku's files");
ABSL_FLAG(std::string, keys_file, "",
          "the key file (hashes of API keys); default <data_dir>/"
          "gateway-keys.json");
ABSL_FLAG(std::string, feedback_address, "127.0.0.1:7101",
          "host:port of polku-feedback");
ABSL_FLAG(std::string, journey_address, "127.0.0.1:7102",
          "host:port of polku-journey");
ABSL_FLAG(std::string, insight_address, "127.0.0.1:7103",
          "host:port of polku-insight");

int main(int argc, char** argv) {
  polku::rpc::ParseFlags(
      argc, argv,
      "polku-gateway: authenticates API keys and forwards gRPC and "
      "HTTP/JSON calls to the Polku services");
  polku::log::SetServiceName("polku-gateway");

  std::string keys_file = absl::GetFlag(FLAGS_keys_file);
  if (keys_file.empty()) {
    keys_file = absl::GetFlag(FLAGS_data_dir) + "/" +
                polku::gateway::keys::kKeyFileName;
  }
  auto key_store = polku::gateway::keys::FileKeyStore::Load(keys_file);
  if (!key_store.ok()) {
    std::cerr << "polku-gateway: cannot load API keys: "
              << key_store.status().message()
              << "\n(create them with: polku-keys init --data_dir=<dir>)\n";
    return EXIT_FAILURE;
  }

  polku::gateway::Backends backends = polku::gateway::Backends::Connect(
      {.feedback = absl::GetFlag(FLAGS_feedback_address),
       .journey = absl::GetFlag(FLAGS_journey_address),
       .insight = absl::GetFlag(FLAGS_insight_address)});
  polku::gateway::GrpcProxy proxy(**key_store, backends);
  polku::gateway::HttpGateway http(**key_store, backends);

  auto server = polku::rpc::Server::Start(
      {.name = "polku-gateway",
       .listen_address = absl::GetFlag(FLAGS_grpc_listen),
       .generic_service = &proxy,
       .log_requests = false});
  if (!server.ok()) {
    std::cerr << "polku-gateway: " << server.status().message() << "\n";
    return EXIT_FAILURE;
  }
  if (absl::Status started = http.Start(absl::GetFlag(FLAGS_http_listen));
      !started.ok()) {
    std::cerr << "polku-gateway: " << started.message() << "\n";
    (*server)->Shutdown();
    return EXIT_FAILURE;
  }
  polku::log::Info("serving",
                   {{"grpc", absl::GetFlag(FLAGS_grpc_listen)},
                    {"grpc_port", (*server)->port()},
                    {"http", absl::GetFlag(FLAGS_http_listen)},
                    {"http_port", http.port()},
                    {"keys", static_cast<int64_t>((*key_store)->size())}});
  (*server)->WaitForShutdownSignal();
  http.Stop();
  polku::log::Info("http stopped");
  return EXIT_SUCCESS;
}
