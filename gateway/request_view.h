// Forces the narrower answer a caller is limited to (authz.h, Narrowing) by
// rewriting its request before it is forwarded, on the gRPC proxy and the
// HTTP routes alike.
//
//   absl::StatusOr<std::string> forwarded =
//       NarrowRequest(NarrowingFor(principal, route), std::move(request));
//
// The request is parsed first, so that only a complete, well-formed message
// is forwarded: bytes appended to a message that ends inside a field would
// become that field's content, and the override would be lost. The field is
// then set and the message serialized again (fields the gateway does not
// know are kept); the messages concerned are a few bytes long.
#ifndef POLKU_GATEWAY_REQUEST_VIEW_H_
#define POLKU_GATEWAY_REQUEST_VIEW_H_

#include <string>

#include "absl/status/statusor.h"
#include "gateway/authz.h"

namespace polku::gateway {

// `request` (a serialized request message) as `narrowing` requires it;
// unchanged for Narrowing::kNone. INVALID_ARGUMENT if it does not parse.
absl::StatusOr<std::string> NarrowRequest(Narrowing narrowing,
                                          std::string request);

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_REQUEST_VIEW_H_
