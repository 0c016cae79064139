// The gateway's channels to the three backends, created once at startup and
// shared by the gRPC proxy and the HTTP gateway.
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
};

// Every outgoing call carries a deadline; this is the default.
inline constexpr int kDefaultDeadlineSeconds = 30;
// Largest message accepted from a backend (matches rpc::ServerConfig).
inline constexpr int kMaxMessageBytes = rpc::kMaxMessageBytes;

class Backends {
 public:
  // The backends' names, for health and metrics: feedback, journey, insight.
  static constexpr const char* kNames[] = {"feedback", "journey", "insight"};

  // Channels connect lazily, so a backend that starts later is fine. With
  // `tls`, every channel verifies its backend against tls.ca_file and
  // presents tls.cert_file (mTLS); INVALID_ARGUMENT for unreadable files.
  static Backends Connect(const BackendAddresses& addresses);
  static absl::StatusOr<Backends> Connect(const BackendAddresses& addresses,
                                          const rpc::TlsFiles& tls);

  const std::shared_ptr<grpc::Channel>& channel(Backend backend) const;

  // Asks every backend's grpc.health.v1 service (overall status) at once;
  // name → whether it answered SERVING within `timeout`.
  std::map<std::string, bool> CheckHealth(absl::Duration timeout) const;

 private:
  std::shared_ptr<grpc::Channel> feedback_;
  std::shared_ptr<grpc::Channel> journey_;
  std::shared_ptr<grpc::Channel> insight_;
};

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_BACKENDS_H_
