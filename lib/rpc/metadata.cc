#include "lib/rpc/metadata.h"

#include "absl/status/status.h"

namespace polku::rpc {

std::string ClientMetadata(const grpc::CallbackServerContext& context,
                           std::string_view key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

absl::StatusOr<Caller> CallerFrom(const grpc::CallbackServerContext& context,
                                  bool allow_internal) {
  Caller caller{.tenant = ClientMetadata(context, kTenantHeader),
                .channel = ClientMetadata(context, kChannelHeader),
                .request_id = ClientMetadata(context, kRequestIdHeader)};
  if (caller.tenant.empty() && !allow_internal) {
    return absl::UnauthenticatedError(
        "no tenant: call through polku-gateway with an API key");
  }
  return caller;
}

void AttachCaller(const Caller& caller, grpc::ClientContext& context) {
  if (!caller.tenant.empty()) context.AddMetadata(kTenantHeader, caller.tenant);
  if (!caller.channel.empty()) context.AddMetadata(kChannelHeader, caller.channel);
  if (!caller.request_id.empty()) context.AddMetadata(kRequestIdHeader, caller.request_id);
}

}  // namespace polku::rpc
