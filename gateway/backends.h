// The gateway's channels to the backends, created once at startup and
// shared by the gRPC proxy and the HTTP gateway. polku-cases is optional:
// without its address there is no channel, its calls are UNAVAILABLE
// (CasesUnavailable) and the health check does not ask it.
//
//   Backends backends = Backends::Connect({.feedback = "127.0.0.1:7101",
//                                          .journey = "127.0.0.1:7102",
//                                          .insight = "127.0.0.1:7103"});
//   grpc::GenericStub stub(backends.channel(Backend::kFeedback));
#ifndef POLKU_GATEWAY_BACKENDS_H_
#define POLKU_GATEWAY_BACKENDS_H_

#include <grpcpp/channel.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/authz.h"
#include "lib/rpc/tls.h"

namespace polku::gateway {

struct BackendAddresses {
  std::string feedback;
  std::string journey;
  std::string insight;
  // Empty: no polku-cases (see Backends::has(Backend::kCases)).
  std::string cases;
};

// Every outgoing call carries a deadline; this is the default.
inline constexpr int kDefaultDeadlineSeconds = 30;
// Largest message accepted from a backend (matches rpc::ServerConfig).
inline constexpr int kMaxMessageBytes = rpc::kMaxMessageBytes;

class Backends {
 public:
  // The backends' names, for health and metrics: feedback, journey,
  // insight, and cases when it is configured.
  static constexpr const char* kNames[] = {"feedback", "journey", "insight",
                                           "cases"};

  // Channels connect lazily, so a backend that starts later is fine. With
  // `tls`, every channel verifies its backend against tls.ca_file and
  // presents tls.cert_file (mTLS); INVALID_ARGUMENT for unreadable files.
  static Backends Connect(const BackendAddresses& addresses);
  static absl::StatusOr<Backends> Connect(const BackendAddresses& addresses,
                                          const rpc::TlsFiles& tls);

  // Null for kCases when no address was given (and for kGateway).
  const std::shared_ptr<grpc::Channel>& channel(Backend backend) const;
  // Whether the gateway has a channel to `backend`.
  bool has(Backend backend) const { return channel(backend) != nullptr; }

  // Asks every configured backend's grpc.health.v1 service (overall status) at once;
  // name → whether it answered SERVING within `timeout`.
  std::map<std::string, bool> CheckHealth(absl::Duration timeout) const;

 private:
  std::shared_ptr<grpc::Channel> feedback_;
  std::shared_ptr<grpc::Channel> journey_;
  std::shared_ptr<grpc::Channel> insight_;
  std::shared_ptr<grpc::Channel> cases_;
  std::shared_ptr<grpc::Channel> none_;
};

// What a CaseService call hears when the gateway has no polku-cases.
absl::Status CasesUnavailable();

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_BACKENDS_H_
