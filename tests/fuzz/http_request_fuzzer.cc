// An HTTP call as polku-gateway receives it, after the key: the method and
// target matched against the route table the way the server matches them
// (the routes' regexes, in order), then the path values, the query and the
// JSON or NDJSON body decoded into request messages (DecodeCall,
// gateway/http_routes.h). No input crashes them; a path variable never holds
// `/` or `:`; an error is INVALID_ARGUMENT with a message; what is accepted
// is a well-formed message of the rpc's request type, and decoding is
// deterministic.
//
// Input: "<METHOD> <target>" 0xFF <body>.
#include <google/protobuf/message.h>
#include <google/protobuf/util/message_differencer.h>
#include <httplib.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "gateway/http_routes.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using polku::gateway::HttpRoute;

// httplib refuses longer request lines (CPPHTTPLIB_REQUEST_URI_MAX_LENGTH).
constexpr size_t kMaxTarget = 8192;

struct CompiledRoute {
  const HttpRoute* route;
  std::regex pattern;
};

const std::vector<CompiledRoute>& Routes() {
  static const auto* routes = [] {
    auto* compiled = new std::vector<CompiledRoute>();
    for (const HttpRoute& route : polku::gateway::HttpRoutes()) {
      compiled->push_back(
          {&route, std::regex(polku::gateway::PathRegex(route.path))});
    }
    return compiled;
  }();
  return *routes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  polku::fuzz::FuzzInput input(data, size);
  const absl::string_view line = input.Next();
  const absl::string_view body = input.Next();
  const size_t space = line.find(' ');
  if (space == absl::string_view::npos) return 0;
  const std::string method(line.substr(0, space));
  const std::string target(line.substr(space + 1));
  if (target.size() > kMaxTarget) return 0;
  // httplib matches the decoded path, without the query.
  const std::string path = httplib::detail::decode_url(
      target.substr(0, target.find('?')), /*convert_plus_to_space=*/false);

  for (const CompiledRoute& compiled : Routes()) {
    if (method != compiled.route->http_method) continue;
    std::smatch match;
    if (!std::regex_match(path, match, compiled.pattern)) continue;
    std::vector<std::string> values;
    for (size_t i = 1; i < match.size(); ++i) {
      values.push_back(match[i].str());
      if (absl::StrContains(values.back(), "/") ||
          absl::StrContains(values.back(), ":")) {
        std::abort();  // a variable is one segment
      }
    }
    auto decoded =
        polku::gateway::DecodeCall(*compiled.route, values, target, body);
    auto again =
        polku::gateway::DecodeCall(*compiled.route, values, target, body);
    if (decoded.ok() != again.ok()) std::abort();
    if (!decoded.ok()) {
      if (decoded.status().code() != absl::StatusCode::kInvalidArgument ||
          decoded.status().message().empty() ||
          decoded.status() != again.status()) {
        std::abort();
      }
      return 0;
    }
    if (decoded->requests.size() != again->requests.size() ||
        decoded->format != again->format) {
      std::abort();
    }
    const google::protobuf::MethodDescriptor* rpc =
        polku::gateway::MethodOf(*compiled.route);
    if (!rpc->client_streaming() && decoded->requests.size() != 1) {
      std::abort();
    }
    const google::protobuf::Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(
            rpc->input_type());
    std::unique_ptr<google::protobuf::Message> request(prototype->New());
    std::unique_ptr<google::protobuf::Message> same(prototype->New());
    for (size_t i = 0; i < decoded->requests.size(); ++i) {
      // Equal messages (a map's serialized order may differ between two).
      if (!request->ParseFromString(decoded->requests[i]) ||
          !same->ParseFromString(again->requests[i]) ||
          !google::protobuf::util::MessageDifferencer::Equals(*request,
                                                              *same)) {
        std::abort();
      }
    }
    return 0;  // the first route that matches serves the call
  }
  return 0;
}
