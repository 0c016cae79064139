// What the gRPC proxy and the HTTP gateway do alike for every call: find the
// key in the authorization header, resolve it, pick a request id, and stamp
// the outgoing backend call with the trusted metadata.
//
//   absl::StatusOr<keys::Principal> who =
//       AuthenticateBearer(key_store, authorization_header_or_nullopt);
//   std::string request_id = RequestIdOrNew(caller_supplied_id);
//   AttachTrustedMetadata(*who, request_id, client_context);
#ifndef POLKU_GATEWAY_CALLER_AUTH_H_
#define POLKU_GATEWAY_CALLER_AUTH_H_

#include <grpcpp/client_context.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "gateway/keys/keys.h"
#include "lib/rpc/metadata.h"

namespace polku::gateway {

inline constexpr char kAuthorizationHeader[] = "authorization";
// Who acts, as a caller with the act_as scope names them (a person signed
// in to the caller's own tool); passed on to the backends as who acted.
using rpc::kActorHeader;
// The longest name kActorHeader may carry.
inline constexpr size_t kMaxActorLength = 128;
// The longest key display name the actor carries (PrintableKeyName).
inline constexpr size_t kMaxKeyNameLength = 64;
// Trailing metadata of a rate-limited gRPC call: milliseconds to wait.
inline constexpr char kRetryAfterMsTrailer[] = "retry-after-ms";
// The retry hint for an UNAVAILABLE the backend gave none for (it is down,
// unreachable or shutting down): long enough for a restart or for the
// channel to reach another replica, short enough not to stall a caller.
inline constexpr int64_t kUnavailableRetryAfterMs = 1000;
// A backend's CANCELLED that the gateway did not cause: gRPC C++ cancels,
// unhandled, a call that reaches a server just as it begins to shut down.
// The caller hears UNAVAILABLE (retry), not CANCELLED (which clients take
// as their own doing and do not retry).
inline constexpr char kBackendCancelledMessage[] =
    "the backend ended the call before handling it (it is shutting down); "
    "retry";

// The principal behind an `authorization: Bearer <key>` header value;
// UNAUTHENTICATED when the header is missing, is not a bearer token, or
// names no known key.
absl::StatusOr<keys::Principal> AuthenticateBearer(
    const keys::KeyStore& key_store,
    absl::optional<absl::string_view> authorization);

// The caller's request id if it is usable in logs (1–128 printable ASCII
// characters), else a fresh random one.
std::string RequestIdOrNew(absl::string_view given);

// A key's display name as it may go into plain gRPC metadata: trimmed,
// each byte outside printable ASCII replaced by '?' (a whole UTF-8
// character by one '?': "Hämeenlinna – yö" becomes "H?meenlinna ? y?"),
// and at most kMaxKeyNameLength characters (a longer one ends in "...").
std::string PrintableKeyName(absl::string_view display_name);

// Who acted, for the backends' audit trails (polku-cases):
// "<display name> (key <key_id>)" for the key itself (the name as
// PrintableKeyName gives it; "key <key_id>" if that is empty); with a
// `person` named in kActorHeader, "<person> via <display name> (key
// <key_id>)" — allowed only to keys with the act_as scope
// (PERMISSION_DENIED otherwise), 1–128 printable ASCII characters
// (INVALID_ARGUMENT naming the header).
absl::StatusOr<std::string> ActorOf(const keys::Principal& principal,
                                    absl::optional<absl::string_view> person);

// Sets x-polku-tenant, x-polku-channel (channel keys only), x-polku-actor
// (ActorOf) and x-request-id on an outgoing backend call. Nothing else the
// client sent is forwarded, so a client-sent x-polku-* header never reaches
// a backend as it was sent.
void AttachTrustedMetadata(const keys::Principal& principal,
                           const std::string& request_id,
                           const std::string& actor,
                           grpc::ClientContext& context);

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_CALLER_AUTH_H_
