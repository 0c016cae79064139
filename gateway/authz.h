// Which backend serves a method and which scope a caller needs for it.
//
//   absl::StatusOr<Route> route = Authorize(principal, context->method());
//   if (!route.ok()) return Finish(ToGrpcStatus(route.status()));
//   stub_for(route->backend) …
//
// Methods are gRPC paths ("/polku.v1.FeedbackService/SubmitEvents"). A method
// not in the table is UNIMPLEMENTED: the gateway forwards nothing it does not
// know, so a new backend RPC is unreachable until it is given a scope here.
#ifndef POLKU_GATEWAY_AUTHZ_H_
#define POLKU_GATEWAY_AUTHZ_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/keys/keys.h"

namespace polku::gateway {

enum class Backend {
  // polku-feedback.
  kFeedback,
  // polku-journey.
  kJourney,
  // polku-insight.
  kInsight,
  // polku-cases (optional: without --cases_address its calls are
  // UNAVAILABLE and readiness does not wait for it).
  kCases,
  // The gateway itself (AdminService).
  kGateway,
};

// What a caller allowed on a route only through its also_scope gets: a
// narrower answer, forced by rewriting the request (see request_view.h).
enum class Narrowing {
  // The same as any caller.
  kNone,
  // ListJourneys as JOURNEY_VIEW_BASIC, whatever the request asks for:
  // published journeys' names, none of their maps, nothing of drafts.
  kJourneyBasicView,
};

struct Route {
  Backend backend;
  // The scope a caller must hold.
  const char* scope;
  // The call streams its answer without end (Watch*): no default deadline.
  bool unbounded = false;
  // A second scope that also allows the call, or null.
  const char* also_scope = nullptr;
  // What a caller with also_scope but without scope is limited to.
  Narrowing also_scope_narrowing = Narrowing::kNone;
};

// The route for `method`; NOT_FOUND for a method the gateway does not serve.
absl::StatusOr<Route> FindRoute(absl::string_view method);

// The route if `principal` may call `method`: PERMISSION_DENIED naming the
// missing scope, UNIMPLEMENTED for an unknown method. The super-admin may
// call every AdminService method (which checks tenants itself).
absl::StatusOr<Route> Authorize(const keys::Principal& principal,
                                absl::string_view method);

// The narrowing that applies to `principal` on `route`: the route's
// also_scope_narrowing if the principal lacks route.scope, else kNone.
Narrowing NarrowingFor(const keys::Principal& principal, const Route& route);

// Every method the gateway serves, for tests and documentation.
std::vector<std::string> RoutedMethods();

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_AUTHZ_H_
