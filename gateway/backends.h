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

#include <memory>
#include <string>

#include "gateway/authz.h"

namespace polku::gateway {

struct BackendAddresses {
  std::string feedback;
  std::string journey;
  std::string insight;
};

// Every outgoing call carries a deadline; this is the default.
inline constexpr int kDefaultDeadlineSeconds = 30;
// Largest message accepted from a backend (matches rpc::ServerConfig).
inline constexpr int kMaxMessageBytes = 16 * 1024 * 1024;

class Backends {
 public:
  // Channels connect lazily, so a backend that starts later is fine.
  static Backends Connect(const BackendAddresses& addresses);

  const std::shared_ptr<grpc::Channel>& channel(Backend backend) const;

 private:
  std::shared_ptr<grpc::Channel> feedback_;
  std::shared_ptr<grpc::Channel> journey_;
  std::shared_ptr<grpc::Channel> insight_;
};

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_BACKENDS_H_
