// The OpenAPI 3 description of the HTTP API, generated from the route table
// (http_routes.h) and the proto descriptors, so it cannot drift from what is
// served. Served at GET /v1/openapi.json.
//
//   std::string json = OpenApiDocument();
#ifndef POLKU_GATEWAY_OPENAPI_H_
#define POLKU_GATEWAY_OPENAPI_H_

#include <string>

namespace polku::gateway {

// The document as JSON text (built once).
const std::string& OpenApiDocument();

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_OPENAPI_H_
