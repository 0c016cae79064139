#include "lib/rpc/server.h"

#include <fcntl.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/security/server_credentials.h>
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

  grpc::ServerBuilder builder;
  int port = 0;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentials(config.tls);
  if (!credentials.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.name, ": ", credentials.status().message()));
  }
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
  server->GetHealthCheckService()->SetServingStatus("", true);
  log::Info("listening", {{"address", config.listen_address},
                          {"port", port},
                          {"tls", config.tls.ca_file.empty()
                                      ? (config.tls.enabled() ? "tls" : "off")
                                      : "mtls"}});
  if (!config.public_endpoint && config.tls.ca_file.empty() &&
      !IsLoopbackAddress(config.listen_address)) {
    log::Warning(
        "a backend listens beyond loopback without mTLS: anyone who reaches "
        "this address can claim any tenant; listen on 127.0.0.1 behind the "
        "gateway",
        {{"address", config.listen_address}});
  }
  return std::unique_ptr<Server>(new Server(std::move(config), std::move(server), port));
}

Server::Server(ServerConfig config, std::unique_ptr<grpc::Server> server, int port)
    : config_(std::move(config)), server_(std::move(server)), port_(port) {}

Server::~Server() { Shutdown(); }

void Server::SetServing(const std::string& service, bool serving) {
  server_->GetHealthCheckService()->SetServingStatus(service, serving);
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
  if (config_.on_drain) config_.on_drain();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + config_.drain_timeout));
  server_->Wait();
  log::Info("stopped");
}

}  // namespace polku::rpc
