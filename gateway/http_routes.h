// The HTTP/JSON API as data: one line per route, mapping an HTTP method and
// a path template under /v1/ to a gRPC method. The HTTP gateway serves
// exactly these routes and /v1/openapi.json documents exactly these.
//
//   {"GET", "/v1/journeys/{key}", "/polku.v1.JourneyService/GetJourney", ""}
//
// Path variables `{x}` match one segment (no `/` or `:`) and fill the
// request field `x`, or, with a binding "field=tenants/{tenant}", the field
// (possibly nested: "journey.key={key}") is built from the variables. `body`
// says where the JSON body goes: "*" the whole request message, "journey"
// one field of it, "" no body. Unless the body is "*", query parameters fill
// the other scalar fields (also Timestamp in RFC 3339 and FieldMask), by
// snake_case or lowerCamel name, `a.b` for nested ones, and the entries of
// map<string, string> fields as `attributes.store_id=hki-01`; see
// BuildRequest. `event_rows` marks the export route: its answers (pages of
// StoredEvent) are written one event per line in the export format
// (lib/export/event_rows.h), JSON Lines, or CSV with the query parameter
// `format=csv`.
#ifndef POLKU_GATEWAY_HTTP_ROUTES_H_
#define POLKU_GATEWAY_HTTP_ROUTES_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/export/event_rows.h"

namespace polku::gateway {

struct HttpRoute {
  const char* http_method;   // GET, POST, PATCH or DELETE
  const char* path;          // e.g. /v1/journeys/{key}:publish
  const char* rpc;           // e.g. /polku.v1.JourneyService/PublishJourney
  const char* body;          // "*", a field name, or "" (query parameters)
  const char* binding = "";  // "field=text/{var}" or ""
  bool event_rows = false;
};

// The query parameter of an `event_rows` route that picks the format.
inline constexpr char kFormatParameter[] = "format";

// Every route, in the order they are matched.
const std::vector<HttpRoute>& HttpRoutes();

// The method descriptor of a route's rpc; null if no linked proto has it.
const google::protobuf::MethodDescriptor* MethodOf(const HttpRoute& route);

// The path variables of a template, in order ("key" for /v1/journeys/{key}).
std::vector<std::string> PathVariables(absl::string_view path_template);

// An ECMAScript regex matching the template, one group per variable.
std::string PathRegex(absl::string_view path_template);

// A request path as the access log may hold it: whatever follows
// "/customers/" (in any case; the customer's reference, served or not) is
// "{customer}", keeping only a trailing ":verb" of letters, so
// "/v1/customers/C-123:erase" is logged as "/v1/customers/{customer}:erase".
// The reference is neither stored nor logged (docs/cases.md).
std::string LoggedPath(absl::string_view path);

// The request message for a call: path variables (in template order), the
// JSON body and the query parameters applied as the route says.
// INVALID_ARGUMENT naming the offending field or parameter.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildRequest(
    const HttpRoute& route, const std::vector<std::string>& path_values,
    absl::string_view body,
    const std::multimap<std::string, std::string>& query);

// One HTTP call decoded: the request messages it sends (serialized; one per
// non-empty NDJSON line of the body for a client-streaming rpc, else one),
// and for an `event_rows` route the format its answer is written in.
struct DecodedCall {
  std::vector<std::string> requests;
  event_rows::Format format = event_rows::Format::kJsonLines;
};

// Everything the HTTP gateway takes from the caller besides the headers:
// the path values (the route's regex groups), the query of `target` (after
// `?`, percent-decoded) and the body. A pure function, so that it can be
// fuzzed (tests/fuzz/http_request_fuzzer.cc). INVALID_ARGUMENT naming the
// field, parameter or body line at fault.
absl::StatusOr<DecodedCall> DecodeCall(
    const HttpRoute& route, const std::vector<std::string>& path_values,
    absl::string_view target, absl::string_view body);

// The request fields a query parameter may set, as (parameter name, field),
// for GET routes; used for documentation.
std::vector<std::pair<std::string, const google::protobuf::FieldDescriptor*>>
QueryParameters(const HttpRoute& route);

// The field a status message names, e.g. "events[1].csat" for
// "events[1].csat: must be 1-5"; "" if the message names none.
std::string FieldOf(absl::string_view message);

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_HTTP_ROUTES_H_
