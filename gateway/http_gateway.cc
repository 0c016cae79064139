#include "gateway/http_gateway.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "gateway/authz.h"
#include "gateway/caller_auth.h"
#include "lib/base/log.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"

namespace polku::gateway {
namespace {

constexpr char kJsonType[] = "application/json";

// What one request did, for its log line.
struct Outcome {
  std::string request_id;
  std::string tenant;
  std::string key_id;
  std::string rpc;
  absl::StatusCode code = absl::StatusCode::kOk;
};

void WriteError(httplib::Response& res, const absl::Status& status) {
  res.status = HttpStatusFor(status.code());
  if (status.code() == absl::StatusCode::kUnauthenticated) {
    res.set_header("WWW-Authenticate", "Bearer");
  }
  res.set_content(ErrorBody(status), kJsonType);
}

absl::optional<absl::string_view> Header(const httplib::Request& req,
                                         const char* name) {
  if (!req.has_header(name)) return absl::nullopt;
  auto it = req.headers.find(name);  // Case-insensitive map.
  return absl::string_view(it->second);
}

// A query parameter; "" when absent. `alias` is its lowerCamelCase JSON
// spelling, accepted too.
std::string Param(const httplib::Request& req, const char* name,
                  const char* alias = nullptr) {
  if (req.has_param(name)) return req.get_param_value(name);
  if (alias != nullptr && req.has_param(alias)) {
    return req.get_param_value(alias);
  }
  return "";
}

absl::StatusOr<int32_t> IntParam(const httplib::Request& req, const char* name,
                                 const char* alias = nullptr) {
  std::string text = Param(req, name, alias);
  int32_t value = 0;
  if (text.empty()) return value;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": \"", text, "\" is not an integer"));
  }
  return value;
}

// An RFC 3339 time parameter into `out`; false if absent.
absl::StatusOr<bool> TimeParam(const httplib::Request& req, const char* name,
                               google::protobuf::Timestamp& out) {
  std::string text = Param(req, name);
  if (text.empty()) return false;
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    // An unencoded "+02:00" arrives as " 02:00" after query decoding.
    std::string repaired = absl::StrReplaceAll(text, {{" ", "+"}});
    if (!absl::ParseTime(absl::RFC3339_full, repaired, &time, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": \"", text,
                       "\" is not an RFC 3339 time such as "
                       "2024-05-01T00:00:00Z (",
                       error, ")"));
    }
  }
  int64_t seconds = absl::ToUnixSeconds(time);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>((time - absl::FromUnixSeconds(seconds)) /
                                     absl::Nanoseconds(1)));
  return true;
}

absl::StatusOr<v1::GroupBy> GroupByParam(const httplib::Request& req) {
  std::string text = Param(req, "group_by", "groupBy");
  std::string lower = absl::AsciiStrToLower(text);
  if (lower.empty()) return v1::GROUP_BY_UNSPECIFIED;
  if (lower == "touchpoint") return v1::GROUP_BY_TOUCHPOINT;
  if (lower == "stage") return v1::GROUP_BY_STAGE;
  if (lower == "channel") return v1::GROUP_BY_CHANNEL;
  v1::GroupBy value;
  if (v1::GroupBy_Parse(text, &value)) return value;
  return absl::InvalidArgumentError(absl::StrCat(
      "group_by: \"", text, "\" must be touchpoint, stage or channel"));
}

absl::Status ParseBody(const httplib::Request& req,
                       google::protobuf::Message& message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed =
      google::protobuf::util::JsonStringToMessage(req.body, &message, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request body is not a valid ", message.GetDescriptor()->full_name(),
        " in JSON: ", std::string(parsed.message())));
  }
  return absl::OkStatus();
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

void LogRequest(const httplib::Request& req, const httplib::Response& res,
                const Outcome& outcome, absl::Time start) {
  log::Info("http request",
            {{"request_id", outcome.request_id},
             {"tenant", outcome.tenant},
             {"key_id", outcome.key_id},
             {"method", req.method},
             {"path", req.path},
             {"rpc", outcome.rpc},
             {"status", res.status},
             {"code", absl::StatusCodeToString(outcome.code)},
             {"latency_ms", absl::ToDoubleMilliseconds(absl::Now() - start)}});
}

}  // namespace

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string ErrorBody(const absl::Status& status) {
  std::string body = "{\"error\":{\"code\":";
  log::AppendJsonString(absl::StatusCodeToString(status.code()), body);
  absl::StrAppend(&body, ",\"status\":", HttpStatusFor(status.code()),
                  ",\"message\":");
  log::AppendJsonString(status.message(), body);
  body += "}}";
  return body;
}

// The route handlers and what they share.
class HttpGateway::Routes {
 public:
  Routes(const keys::KeyStore& key_store, const Backends& backends)
      : key_store_(key_store),
        feedback_(
            v1::FeedbackService::NewStub(backends.channel(Backend::kFeedback))),
        journey_(
            v1::JourneyService::NewStub(backends.channel(Backend::kJourney))),
        insight_(
            v1::InsightService::NewStub(backends.channel(Backend::kInsight))) {}

  void Install(httplib::Server& server) {
    server.Post("/v1/events",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Serve<v1::SubmitEventsRequest, v1::SubmitEventsResponse>(
                      req, res, "/polku.v1.FeedbackService/SubmitEvents",
                      [&req](v1::SubmitEventsRequest& request) {
                        return ParseBody(req, request);
                      },
                      *feedback_, &v1::FeedbackService::Stub::SubmitEvents);
                });
    server.Get("/v1/journeys", [this](const httplib::Request& req,
                                      httplib::Response& res) {
      Serve<v1::ListJourneysRequest, v1::ListJourneysResponse>(
          req, res, "/polku.v1.JourneyService/ListJourneys",
          [&req](v1::ListJourneysRequest& request) {
            absl::StatusOr<int32_t> page_size =
                IntParam(req, "page_size", "pageSize");
            if (!page_size.ok()) return page_size.status();
            request.set_page_size(*page_size);
            request.set_page_token(Param(req, "page_token", "pageToken"));
            return absl::OkStatus();
          },
          *journey_, &v1::JourneyService::Stub::ListJourneys);
    });
    server.Post("/v1/journeys",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Serve<v1::CreateJourneyRequest, v1::Journey>(
                      req, res, "/polku.v1.JourneyService/CreateJourney",
                      [&req](v1::CreateJourneyRequest& request) {
                        return ParseBody(req, *request.mutable_journey());
                      },
                      *journey_, &v1::JourneyService::Stub::CreateJourney);
                });
    server.Get(R"(/v1/journeys/([^/:]+))", [this](const httplib::Request& req,
                                                  httplib::Response& res) {
      Serve<v1::GetJourneyRequest, v1::Journey>(
          req, res, "/polku.v1.JourneyService/GetJourney",
          [&req](v1::GetJourneyRequest& request) {
            request.set_key(req.matches[1]);
            absl::StatusOr<int32_t> version = IntParam(req, "version");
            if (!version.ok()) return version.status();
            request.set_version(*version);
            return absl::OkStatus();
          },
          *journey_, &v1::JourneyService::Stub::GetJourney);
    });
    server.Post(R"(/v1/journeys/([^/:]+):publish)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Serve<v1::PublishJourneyRequest, v1::Journey>(
                      req, res, "/polku.v1.JourneyService/PublishJourney",
                      [&req](v1::PublishJourneyRequest& request) {
                        request.set_key(req.matches[1]);
                        return absl::OkStatus();
                      },
                      *journey_, &v1::JourneyService::Stub::PublishJourney);
                });
    server.Get("/v1/channels",
               [this](const httplib::Request& req, httplib::Response& res) {
                 Serve<v1::ListChannelsRequest, v1::ListChannelsResponse>(
                     req, res, "/polku.v1.JourneyService/ListChannels",
                     [](v1::ListChannelsRequest&) { return absl::OkStatus(); },
                     *journey_, &v1::JourneyService::Stub::ListChannels);
               });
    server.Get("/v1/scorecard",
               [this](const httplib::Request& req, httplib::Response& res) {
                 Serve<v1::GetScorecardRequest, v1::Scorecard>(
                     req, res, "/polku.v1.InsightService/GetScorecard",
                     [&req](v1::GetScorecardRequest& request) {
                       return ScorecardRequest(req, request);
                     },
                     *insight_, &v1::InsightService::Stub::GetScorecard);
               });
    server.Get(
        "/healthz", [](const httplib::Request& req, httplib::Response& res) {
          absl::Time start = absl::Now();
          res.status = 200;
          res.set_content("{\"status\":\"ok\"}", kJsonType);
          Outcome outcome;
          outcome.request_id =
              RequestIdOrNew(Header(req, rpc::kRequestIdHeader).value_or(""));
          LogRequest(req, res, outcome, start);
        });
    // Anything no route answered, e.g. an unknown path: a JSON error body.
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty())
            return httplib::Server::HandlerResponse::Unhandled;
          absl::Time start = absl::Now();
          absl::Status status =
              res.status == 404
                  ? absl::NotFoundError(absl::StrCat("no route for ",
                                                     req.method, " ", req.path))
                  : absl::InvalidArgumentError(
                        absl::StrCat("bad request: HTTP ", res.status));
          int http_status = res.status;
          res.set_content(ErrorBody(status), kJsonType);
          res.status = http_status;
          Outcome outcome;
          outcome.request_id =
              RequestIdOrNew(Header(req, rpc::kRequestIdHeader).value_or(""));
          outcome.code = status.code();
          LogRequest(req, res, outcome, start);
          return httplib::Server::HandlerResponse::Handled;
        }));
  }

 private:
  static absl::Status ScorecardRequest(const httplib::Request& req,
                                       v1::GetScorecardRequest& request) {
    request.set_journey(Param(req, "journey"));
    absl::StatusOr<v1::GroupBy> group_by = GroupByParam(req);
    if (!group_by.ok()) return group_by.status();
    request.set_group_by(*group_by);
    google::protobuf::Timestamp start;
    absl::StatusOr<bool> has_start = TimeParam(req, "start", start);
    if (!has_start.ok()) return has_start.status();
    if (*has_start) *request.mutable_range()->mutable_start() = start;
    google::protobuf::Timestamp end;
    absl::StatusOr<bool> has_end = TimeParam(req, "end", end);
    if (!has_end.ok()) return has_end.status();
    if (*has_end) *request.mutable_range()->mutable_end() = end;
    absl::StatusOr<int32_t> version =
        IntParam(req, "journey_version", "journeyVersion");
    if (!version.ok()) return version.status();
    request.set_journey_version(*version);
    return absl::OkStatus();
  }

  // Authenticates, authorizes, builds the request, calls the backend with a
  // deadline and the trusted metadata, and writes JSON or an error.
  template <typename Request, typename Response, typename Stub>
  void Serve(const httplib::Request& req, httplib::Response& res,
             absl::string_view rpc_method,
             const std::function<absl::Status(Request&)>& build, Stub& stub,
             grpc::Status (Stub::*call)(grpc::ClientContext*, const Request&,
                                        Response*)) {
    absl::Time start = absl::Now();
    Outcome outcome;
    outcome.rpc = std::string(rpc_method);
    outcome.request_id =
        RequestIdOrNew(Header(req, rpc::kRequestIdHeader).value_or(""));
    res.set_header("X-Request-Id", outcome.request_id);
    absl::Status status =
        Call(req, res, rpc_method, build, stub, call, outcome);
    outcome.code = status.code();
    if (!status.ok()) WriteError(res, status);
    LogRequest(req, res, outcome, start);
  }

  template <typename Request, typename Response, typename Stub>
  absl::Status Call(const httplib::Request& req, httplib::Response& res,
                    absl::string_view rpc_method,
                    const std::function<absl::Status(Request&)>& build,
                    Stub& stub,
                    grpc::Status (Stub::*call)(grpc::ClientContext*,
                                               const Request&, Response*),
                    Outcome& outcome) {
    absl::StatusOr<keys::Principal> principal =
        AuthenticateBearer(key_store_, Header(req, "Authorization"));
    if (!principal.ok()) return principal.status();
    outcome.tenant = principal->tenant;
    outcome.key_id = principal->key_id;
    absl::StatusOr<Route> route = Authorize(*principal, rpc_method);
    if (!route.ok()) return route.status();

    Request request;
    if (absl::Status built = build(request); !built.ok()) return built;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(kDefaultDeadlineSeconds));
    AttachTrustedMetadata(*principal, outcome.request_id, context);
    Response response;
    grpc::Status called = (stub.*call)(&context, request, &response);
    if (!called.ok()) return rpc::FromGrpcStatus(called);
    res.status = 200;
    res.set_content(ToJson(response), kJsonType);
    return absl::OkStatus();
  }

  const keys::KeyStore& key_store_;
  std::unique_ptr<v1::FeedbackService::Stub> feedback_;
  std::unique_ptr<v1::JourneyService::Stub> journey_;
  std::unique_ptr<v1::InsightService::Stub> insight_;
};

HttpGateway::HttpGateway(const keys::KeyStore& key_store,
                         const Backends& backends)
    : routes_(std::make_unique<Routes>(key_store, backends)),
      server_(std::make_unique<httplib::Server>()) {
  server_->set_payload_max_length(kMaxMessageBytes);
  // httplib's default sets SO_REUSEPORT, which would let a second gateway
  // (or anything else) silently share the port. SO_REUSEADDR alone still
  // allows a quick restart.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  routes_->Install(*server_);
}

HttpGateway::~HttpGateway() { Stop(); }

absl::Status HttpGateway::Start(const std::string& listen_address) {
  size_t colon = listen_address.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen_address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "http listen address \"", listen_address, "\" is not host:port"));
  }
  std::string host = listen_address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port == 0) {
    port = server_->bind_to_any_port(host);
    if (port < 0) port = -1;
  } else if (!server_->bind_to_port(host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen_address));
  }
  port_ = port;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // stop() only works once the accept loop runs; wait for it (bounded).
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return absl::OkStatus();
}

void HttpGateway::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace polku::gateway
