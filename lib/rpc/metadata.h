// Trusted call metadata. The gateway authenticates the caller's key and sets
// the tenant and channel headers; backends take tenant and channel only from
// here, never from a request body. The gateway strips these headers from
// anything a client sends, and a backend with mTLS accepts them from no one
// else (lib/rpc/trust.h).
//
//   absl::StatusOr<Caller> caller = CallerFrom(*context);
//   if (!caller.ok()) return reactor->Finish(ToGrpcStatus(caller.status()));
#ifndef POLKU_LIB_RPC_METADATA_H_
#define POLKU_LIB_RPC_METADATA_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/statusor.h"

namespace polku::rpc {

inline constexpr char kTenantHeader[] = "x-polku-tenant";
inline constexpr char kChannelHeader[] = "x-polku-channel";
inline constexpr char kRequestIdHeader[] = "x-request-id";
// Who acted, as the gateway names them for the backends' audit trails: the
// caller's key, or the person a delegating key names (docs/security.md).
inline constexpr char kActorHeader[] = "x-polku-actor";

// Who is calling, as vouched for by the gateway.
struct Caller {
  // Empty only for service-to-service calls, which see every tenant.
  std::string tenant;
  // Set when the caller holds a channel key (events:write).
  std::string channel;
  std::string request_id;
};

// The caller of a server call. UNAUTHENTICATED if there is no tenant and
// `allow_internal` is false.
absl::StatusOr<Caller> CallerFrom(const grpc::CallbackServerContext& context,
                                  bool allow_internal = false);

// Adds the caller's headers to an outgoing call.
void AttachCaller(const Caller& caller, grpc::ClientContext& context);

// The value of header `key` in the client metadata, or "" if absent.
std::string ClientMetadata(const grpc::CallbackServerContext& context,
                           std::string_view key);

}  // namespace polku::rpc

#endif  // POLKU_LIB_RPC_METADATA_H_
