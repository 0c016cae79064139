#include "lib/rpc/server.h"

#include <fcntl.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/base/log.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/trust.h"

namespace polku::rpc {
namespace {

using grpc::experimental::InterceptionHookPoints;

// One structured line per request: method, code, latency, request id, tenant.
class RequestLogInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit RequestLogInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method()), start_(absl::Now()) {}

  ~RequestLogInterceptor() override {
    log::Info("request", {{"method", method_},
                          {"code", code_},
                          {"latency_ms", absl::ToDoubleMilliseconds(absl::Now() - start_)},
                          {"request_id", request_id_},
                          {"tenant", tenant_}});
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      for (const auto& [key, value] : *methods->GetRecvInitialMetadata()) {
        if (key == kRequestIdHeader) request_id_.assign(value.data(), value.size());
        if (key == kTenantHeader) tenant_.assign(value.data(), value.size());
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = CodeName(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  static std::string CodeName(grpc::StatusCode code) {
    static constexpr const char* kNames[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
        "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
        "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
    int index = static_cast<int>(code);
    return index >= 0 && index < 17 ? kNames[index] : absl::StrCat(index);
  }

  std::string method_;
  absl::Time start_;
  // A call that ends without a status sent was cancelled by the client.
  std::string code_ = "CANCELLED";
  std::string request_id_;
  std::string tenant_;
};

class RequestLogInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RequestLogInterceptor(info);
  }
};

// SIGTERM/SIGINT wake WaitForShutdownSignal through a self-pipe: writing to
// a pipe is async-signal-safe, and it works whichever thread gets the signal.
std::atomic<int> shutdown_pipe_write{-1};
int shutdown_pipe_read = -1;

void OnSignal(int) {
  int fd = shutdown_pipe_write.load();
  if (fd >= 0) {
    char byte = 1;
    [[maybe_unused]] ssize_t n = write(fd, &byte, 1);
  }
}

void InstallSignalHandlers() {
  static const bool installed = [] {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      log::Error("cannot create shutdown pipe", {{"errno", errno}});
      std::abort();
    }
    shutdown_pipe_read = fds[0];
    shutdown_pipe_write.store(fds[1]);
    struct sigaction action = {};
    action.sa_handler = OnSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    return true;
  }();
  (void)installed;
}

// Leaves out the plugins every builder gets (server reflection), for a
// listener that serves nothing but health.
class WithoutReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(
      std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    std::erase_if(*plugins, [](const auto& plugin) {
      return plugin->name() == "proto_server_reflection";
    });
  }
};

// Every method but health's: UNIMPLEMENTED. (gRPC also needs a service of
// its own on a server to poll its completion queue.)
class Unimplemented : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* /*context*/) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() { Finish({grpc::StatusCode::UNIMPLEMENTED, "only grpc.health.v1 here"}); }
      void OnDone() override { delete this; }
    };
    return new Reactor;
  }
};

}  // namespace

bool IsLoopbackAddress(absl::string_view listen_address) {
  size_t colon = listen_address.rfind(':');
  absl::string_view host = listen_address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return absl::StartsWith(host, "127.") || host == "::1" ||
         host == "localhost";
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerConfig config) {
  InstallSignalHandlers();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  const bool mtls = !config.tls.ca_file.empty();
  const bool beyond_loopback = !IsLoopbackAddress(config.listen_address);
  if (!config.public_endpoint && !mtls && beyond_loopback &&
      !config.plaintext_beyond_loopback) {
    return absl::FailedPreconditionError(absl::StrCat(
        config.name, ": refusing to listen on ", config.listen_address,
        " without mTLS: anyone who reaches it could claim any tenant. Listen "
        "on loopback behind the gateway, give --tls_cert, --tls_key and "
        "--tls_ca, or pass --plaintext_beyond_loopback on a network only the "
        "gateway reaches"));
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentials(config.tls);
  if (!credentials.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.name, ": ", credentials.status().message()));
  }
  // A backend's callers are services: each call is checked against what its
  // certificate's identity may do. The gateway's public clients hold API
  // keys instead.
  if (mtls && !config.public_endpoint) {
    (*credentials)->SetAuthMetadataProcessor(NewTrustEnforcer());
  }

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen_address, *credentials, &port);
  builder.SetMaxReceiveMessageSize(config.max_receive_message_bytes);
  // gRPC sets SO_REUSEPORT by default, which would let a second process
  // silently share the port; a busy port must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (grpc::Service* service : config.services) builder.RegisterService(service);
  if (config.generic_service != nullptr) {
    builder.RegisterCallbackGenericService(config.generic_service);
  }
  if (config.log_requests) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        factories;
    factories.push_back(std::make_unique<RequestLogInterceptorFactory>());
    builder.experimental().SetInterceptorCreators(std::move(factories));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat(config.name, ": cannot listen on ", config.listen_address,
                     " (address in use or invalid?)"));
  }

  // The health listener: a server of its own (a port of the main server
  // would serve every service), with only the default health service.
  std::unique_ptr<grpc::Server> health_server;
  int health_port = 0;
  if (!config.health_listen_address.empty()) {
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(config.health_listen_address,
                                    grpc::InsecureServerCredentials(),
                                    &health_port);
    health_builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    health_builder.SetOption(std::make_unique<WithoutReflection>());
    static Unimplemented* const unimplemented = new Unimplemented;
    health_builder.RegisterCallbackGenericService(unimplemented);
    health_server = health_builder.BuildAndStart();
    if (health_server == nullptr || health_port == 0) {
      server->Shutdown();
      return absl::UnavailableError(absl::StrCat(
          config.name, ": cannot listen on ", config.health_listen_address,
          " for health checks (address in use or invalid?)"));
    }
    health_server->GetHealthCheckService()->SetServingStatus("", true);
  }
  server->GetHealthCheckService()->SetServingStatus("", true);
  log::Info("listening",
            {{"address", config.listen_address},
             {"port", port},
             {"tls", mtls ? "mtls" : (config.tls.enabled() ? "tls" : "off")},
             {"health_port", health_port}});
  if (!config.public_endpoint && !mtls && beyond_loopback) {
    log::Warning(
        "INSECURE: this backend listens beyond loopback without mTLS "
        "(--plaintext_beyond_loopback): anyone who reaches this address can "
        "claim any tenant. Only a network that nobody but the gateway "
        "reaches makes this safe.",
        {{"address", config.listen_address}});
  }
  return std::unique_ptr<Server>(new Server(std::move(config),
                                            std::move(server), port,
                                            std::move(health_server),
                                            health_port));
}

Server::Server(ServerConfig config, std::unique_ptr<grpc::Server> server,
               int port, std::unique_ptr<grpc::Server> health_server,
               int health_port)
    : config_(std::move(config)),
      server_(std::move(server)),
      port_(port),
      health_server_(std::move(health_server)),
      health_port_(health_port) {}

Server::~Server() { Shutdown(); }

void Server::SetServing(const std::string& service, bool serving) {
  server_->GetHealthCheckService()->SetServingStatus(service, serving);
  if (health_server_ != nullptr) {
    health_server_->GetHealthCheckService()->SetServingStatus(service, serving);
  }
}

void Server::RequestShutdown() { OnSignal(SIGTERM); }

void Server::WaitForShutdownSignal() {
  char byte;
  while (read(shutdown_pipe_read, &byte, 1) < 0 && errno == EINTR) {
  }
  log::Info("shutting down", {{"drain_timeout_s", absl::ToDoubleSeconds(config_.drain_timeout)}});
  Shutdown();
}

void Server::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // Load balancers and probes see NOT_SERVING before anything stops.
  server_->GetHealthCheckService()->Shutdown();
  if (health_server_ != nullptr) {
    health_server_->GetHealthCheckService()->Shutdown();
  }
  if (config_.on_drain) config_.on_drain();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + config_.drain_timeout));
  server_->Wait();
  if (health_server_ != nullptr) {
    health_server_->Shutdown(absl::ToChronoTime(absl::Now()));
    health_server_->Wait();
  }
  log::Info("stopped");
}

}  // namespace polku::rpc
