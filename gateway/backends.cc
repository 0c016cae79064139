#include "gateway/backends.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

namespace polku::gateway {
namespace {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Backends are on a private network in this issue; mTLS is a later option.
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

}  // namespace

Backends Backends::Connect(const BackendAddresses& addresses) {
  Backends backends;
  backends.feedback_ = MakeChannel(addresses.feedback);
  backends.journey_ = MakeChannel(addresses.journey);
  backends.insight_ = MakeChannel(addresses.insight);
  return backends;
}

const std::shared_ptr<grpc::Channel>& Backends::channel(Backend backend) const {
  switch (backend) {
    case Backend::kFeedback:
      return feedback_;
    case Backend::kJourney:
      return journey_;
    case Backend::kInsight:
      return insight_;
  }
  return feedback_;  // Unreachable: the switch covers every backend.
}

}  // namespace polku::gateway
