// Zero trust between Polku's services (docs/security.md).
//
// With mTLS a backend knows who calls it: the client certificate, verified
// against the CA, names exactly one Polku identity (its subject common name
// or a DNS name is polku-gateway, polku-feedback, polku-journey or
// polku-insight). What each identity may do is one table, in trust.cc:
//
//   * polku-gateway calls every method, always for a tenant: it is the one
//     identity that asserts the tenant and channel of an API key
//     (x-polku-tenant, x-polku-channel; lib/rpc/metadata.h).
//   * The other services make only the internal calls the architecture
//     needs, e.g. polku-insight reads polku-feedback's change feed for every
//     tenant.
//   * grpc.health.v1 and server reflection answer any certificate from the
//     CA: they tell nothing about any tenant.
//
// Everything else is refused with PERMISSION_DENIED before a handler runs:
// rpc::Server installs the enforcer on every backend started with mTLS.
// Without mTLS there are no identities: a backend then listens on loopback
// only, where every caller is on the same host (see ServerConfig).
#ifndef POLKU_LIB_RPC_TRUST_H_
#define POLKU_LIB_RPC_TRUST_H_

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/auth_metadata_processor.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polku::rpc {

inline constexpr char kGatewayIdentity[] = "polku-gateway";
inline constexpr char kFeedbackIdentity[] = "polku-feedback";
inline constexpr char kJourneyIdentity[] = "polku-journey";
inline constexpr char kInsightIdentity[] = "polku-insight";
inline constexpr char kCasesIdentity[] = "polku-cases";

// The Polku identity a verified peer certificate names (in its common name
// or DNS names); PERMISSION_DENIED if it names none, or more than one.
absl::StatusOr<std::string> PeerIdentity(const grpc::AuthContext& context);

// Whether `identity` may call `method` (a gRPC path such as
// "/polku.v1.FeedbackService/WatchEvents"), asserting a tenant (the call
// carries x-polku-tenant or x-polku-channel) or not. OK, or
// PERMISSION_DENIED naming the identity and the method.
absl::Status CheckCall(absl::string_view identity, absl::string_view method,
                       bool asserts_tenant);

// Runs PeerIdentity and CheckCall on every call of a server; non-blocking.
std::shared_ptr<grpc::AuthMetadataProcessor> NewTrustEnforcer();

}  // namespace polku::rpc

#endif  // POLKU_LIB_RPC_TRUST_H_
