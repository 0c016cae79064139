#include "gateway/http_gateway.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "gateway/authz.h"
#include "gateway/caller_auth.h"
#include "gateway/dashboard.h"
#include "gateway/health_cache.h"
#include "gateway/http_routes.h"
#include "gateway/openapi.h"
#include "gateway/request_view.h"
#include "lib/base/log.h"
#include "lib/export/event_rows.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"
#include "polku/v1/feedback.pb.h"

namespace polku::gateway {
namespace {

constexpr char kJsonType[] = "application/json";
constexpr char kNdjsonType[] = "application/x-ndjson";
constexpr char kCsvType[] = "text/csv; charset=utf-8";
// How long a stream waits for its first message before answering 200: an
// error that quick still gets its own HTTP status.
constexpr absl::Duration kFirstMessageWait = absl::Milliseconds(500);
// How often an idle stream checks that its client is still there.
constexpr absl::Duration kIdlePoll = absl::Seconds(1);

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

// The backend's answer bytes as JSON of `type`. An answer that does not
// parse is the backend's fault, and is not passed on as an empty message.
absl::StatusOr<std::string> BytesToJson(
    const google::protobuf::Descriptor* type, const std::string& bytes) {
  std::unique_ptr<google::protobuf::Message> message(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(type)
          ->New());
  if (!message->ParseFromString(bytes)) {
    const absl::Status error = absl::InternalError(absl::StrCat(
        "the backend's answer does not parse as ", type->full_name()));
    log::Error("backend answer refused", {{"error", error.ToString()}});
    return error;
  }
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string json;
  const auto printed =
      google::protobuf::util::MessageToJsonString(*message, &json, options);
  if (!printed.ok()) {
    return absl::InternalError(
        absl::StrCat("the backend's answer cannot be shown as JSON: ",
                     std::string(printed.message())));
  }
  return json;
}

// How a stream's answers become the lines of the HTTP answer: proto3 JSON,
// one message per line, or (the export route) one event per line in the
// export format.
struct StreamRendering {
  const char* content_type = kNdjsonType;
  // Written before the first line (the CSV header).
  std::string prologue;
  std::function<absl::StatusOr<std::string>(const std::string&)> render;
};

StreamRendering JsonMessages(const google::protobuf::Descriptor* type) {
  return {kNdjsonType, "", [type](const std::string& bytes) {
            absl::StatusOr<std::string> json = BytesToJson(type, bytes);
            if (json.ok()) *json += "\n";
            return json;
          }};
}

StreamRendering EventRows(event_rows::Format format) {
  return {format == event_rows::Format::kCsv ? kCsvType : kNdjsonType,
          event_rows::Prologue(format),
          [format](const std::string& bytes) -> absl::StatusOr<std::string> {
            polku::v1::ExportEventsResponse page;
            if (!page.ParseFromString(bytes)) {
              return absl::InternalError(
                  "the backend's answer does not parse as "
                  "polku.v1.ExportEventsResponse");
            }
            std::string rows;
            for (const polku::v1::StoredEvent& event : page.events()) {
              rows += event_rows::Row(format, event);
            }
            return rows;
          }};
}

void LogRequest(const httplib::Request& req, int http_status,
                const Outcome& outcome, absl::Time start) {
  log::Info("http request",
            {{"request_id", outcome.request_id},
             {"tenant", outcome.tenant},
             {"key_id", outcome.key_id},
             {"method", req.method},
             {"path", LoggedPath(req.path)},
             {"rpc", outcome.rpc},
             {"status", http_status},
             {"code", absl::StatusCodeToString(outcome.code)},
             {"latency_ms", absl::ToDoubleMilliseconds(absl::Now() - start)}});
}

// The caller's deadline: X-Request-Timeout seconds if shorter than the
// default. INVALID_ARGUMENT for an unusable header value.
absl::StatusOr<absl::Duration> Timeout(const httplib::Request& req) {
  absl::Duration timeout = absl::Seconds(kDefaultDeadlineSeconds);
  absl::optional<absl::string_view> header = Header(req, kRequestTimeoutHeader);
  if (!header.has_value()) return timeout;
  double seconds = 0;
  if (!absl::SimpleAtod(*header, &seconds) || !(seconds > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kRequestTimeoutHeader, ": \"", *header,
                     "\" is not a positive number of seconds"));
  }
  return std::min(timeout, absl::Seconds(seconds));
}

// One call to a backend with raw messages, driven synchronously on a
// private completion queue: unary, server-, client- and bidi-streaming
// calls alike. At most one operation is in flight at a time.
class RawCall {
 public:
  RawCall(const std::shared_ptr<grpc::Channel>& channel, std::string method)
      : stub_(channel), method_(std::move(method)) {}

  ~RawCall() {
    if (call_ != nullptr && !finished_) {
      context_.TryCancel();
      if (read_pending_) Wait(absl::InfiniteFuture());
      grpc::Status ignored;
      call_->Finish(&ignored, Tag());
      Wait(absl::InfiniteFuture());
    }
    queue_.Shutdown();
    void* tag;
    bool ok;
    while (queue_.Next(&tag, &ok)) {
    }
  }

  grpc::ClientContext& context() { return context_; }

  // Starts the call and sends every request, then half-closes.
  absl::Status Send(const std::vector<std::string>& requests) {
    call_ = stub_.PrepareCall(&context_, method_, &queue_);
    call_->StartCall(Tag());
    if (!Wait(absl::InfiniteFuture()).value_or(false)) return FinishNow();
    for (const std::string& request : requests) {
      grpc::Slice slice(request);
      grpc::ByteBuffer buffer(&slice, 1);
      call_->Write(buffer, Tag());
      if (!Wait(absl::InfiniteFuture()).value_or(false)) return FinishNow();
    }
    call_->WritesDone(Tag());
    if (!Wait(absl::InfiniteFuture()).value_or(false)) return FinishNow();
    return absl::OkStatus();
  }

  enum class Next { kMessage, kEnd, kTimeout };

  // The next response into `message`, or kEnd (see status()), or kTimeout
  // if none arrived by `deadline` (call Read again to keep waiting).
  Next Read(std::string& message, absl::Time deadline) {
    if (finished_) return Next::kEnd;
    if (!read_pending_) {
      call_->Read(&buffer_, Tag());
      read_pending_ = true;
    }
    absl::optional<bool> ok = Wait(deadline);
    if (!ok.has_value()) return Next::kTimeout;
    read_pending_ = false;
    if (!*ok) {
      status_ = FinishNow();
      return Next::kEnd;
    }
    std::vector<grpc::Slice> slices;
    message.clear();
    if (buffer_.Dump(&slices).ok()) {
      for (const grpc::Slice& slice : slices) {
        message.append(reinterpret_cast<const char*>(slice.begin()),
                       slice.size());
      }
    }
    return Next::kMessage;
  }

  // The call's final status, once Read returned kEnd.
  const absl::Status& status() const { return status_; }

  // The final status; a backend's retry hint (its writer queue is full)
  // becomes Retry-After, so HTTP clients need not retry blind.
  // A CANCELLED the gateway did not cause (see kBackendCancelledMessage)
  // becomes UNAVAILABLE.
  absl::Status StatusWithRetryHint(httplib::Response& res) const {
    for (const auto& [key, value] : context_.GetServerTrailingMetadata()) {
      int64_t retry_ms = 0;
      if (key == kRetryAfterMsTrailer &&
          absl::SimpleAtoi(absl::string_view(value.data(), value.size()), &retry_ms)) {
        res.set_header("Retry-After", absl::StrCat((retry_ms + 999) / 1000));
      }
    }
    // Serve adds a Retry-After to an UNAVAILABLE that has none.
    if (absl::IsCancelled(status_)) return absl::UnavailableError(kBackendCancelledMessage);
    return status_;
  }

 private:
  void* Tag() { return this; }

  // The next completion's ok, or nullopt on timeout.
  absl::optional<bool> Wait(absl::Time deadline) {
    void* tag;
    bool ok = false;
    auto result = queue_.AsyncNext(&tag, &ok, absl::ToChronoTime(deadline));
    if (result == grpc::CompletionQueue::TIMEOUT) return absl::nullopt;
    if (result == grpc::CompletionQueue::SHUTDOWN) return false;
    return ok;
  }

  absl::Status FinishNow() {
    grpc::Status status;
    call_->Finish(&status, Tag());
    Wait(absl::InfiniteFuture());
    finished_ = true;
    status_ = rpc::FromGrpcStatus(status);
    if (status_.ok()) status_ = absl::OkStatus();
    return status_;
  }

  grpc::GenericStub stub_;
  const std::string method_;
  grpc::CompletionQueue queue_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::ByteBuffer buffer_;
  bool read_pending_ = false;
  bool finished_ = false;
  absl::Status status_;
};

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
  if (std::string field = FieldOf(status.message()); !field.empty()) {
    body += ",\"field\":";
    log::AppendJsonString(field, body);
  }
  body += "}}";
  return body;
}

// The route handlers and what they share.
class HttpGateway::Routes {
 public:
  Routes(const keys::KeyStore& key_store, const Backends& backends,
         AdminApi& admin)
      : key_store_(key_store), backends_(backends), admin_(admin) {}

  RateLimiter* rate_limiter = nullptr;
  Metrics* metrics = nullptr;

  void Install(httplib::Server& server) {
    for (const HttpRoute& route : HttpRoutes()) {
      auto handler = [this, &route](const httplib::Request& req,
                                    httplib::Response& res) {
        Serve(route, req, res);
      };
      std::string pattern = PathRegex(route.path);
      absl::string_view method(route.http_method);
      if (method == "GET") {
        server.Get(pattern, handler);
      } else if (method == "POST") {
        server.Post(pattern, handler);
      } else if (method == "DELETE") {
        server.Delete(pattern, handler);
      } else if (method == "PATCH") {
        server.Patch(pattern, handler);
      } else if (method == "PUT") {
        server.Put(pattern, handler);
      }
    }
    // The dashboard page and its files (no key: the page asks for one).
    for (const DashboardFile& file : DashboardFiles()) {
      server.Get(
          absl::StrReplaceAll(file.path, {{".", "\\."}}),
          [&file](const httplib::Request& req, httplib::Response& res) {
            absl::Time start = absl::Now();
            res.status = 200;
            for (const auto& [name, value] : DashboardHeaders()) {
              res.set_header(std::string(name), std::string(value));
            }
            res.set_content(std::string(file.body), std::string(file.type));
            Outcome outcome;
            outcome.request_id =
                RequestIdOrNew(Header(req, rpc::kRequestIdHeader).value_or(""));
            res.set_header("X-Request-Id", outcome.request_id);
            LogRequest(req, res.status, outcome, start);
          });
    }
    server.Get("/v1/openapi.json",
               [](const httplib::Request&, httplib::Response& res) {
                 res.status = 200;
                 res.set_content(OpenApiDocument(), kJsonType);
               });
    server.Get("/readyz",
               [this](const httplib::Request&, httplib::Response& res) {
                 std::map<std::string, bool> health = CheckBackends();
                 // Draining (SIGTERM): load balancers stop sending calls.
                 bool ready = !draining();
                 std::string body = "{\"backends\":{";
                 for (const auto& [name, up] : health) {
                   ready = ready && up;
                   if (body.back() != '{') body += ",";
                   absl::StrAppend(&body, "\"", name, "\":\"",
                                   up ? "SERVING" : "NOT_SERVING", "\"");
                 }
                 absl::StrAppend(&body, "},\"status\":\"",
                                 draining() ? "draining"
                                 : ready    ? "ready"
                                            : "unavailable",
                                 "\"}");
                 res.status = ready ? 200 : 503;
                 res.set_content(body, kJsonType);
               });
    server.Get("/metrics",
               [this](const httplib::Request&, httplib::Response& res) {
                 CheckBackends();
                 res.status = 200;
                 res.set_content(metrics != nullptr ? metrics->Render() : "",
                                 "text/plain; version=0.0.4");
               });
    server.Get(
        "/healthz", [](const httplib::Request& req, httplib::Response& res) {
          absl::Time start = absl::Now();
          res.status = 200;
          res.set_content("{\"status\":\"ok\"}", kJsonType);
          Outcome outcome;
          outcome.request_id =
              RequestIdOrNew(Header(req, rpc::kRequestIdHeader).value_or(""));
          res.set_header("X-Request-Id", outcome.request_id);
          LogRequest(req, res.status, outcome, start);
        });
    // Anything no route answered, e.g. an unknown path: a JSON error body.
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty() || res.content_length_ > 0 ||
              res.is_chunked_content_provider_) {
            return httplib::Server::HandlerResponse::Unhandled;
          }
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
          res.set_header("X-Request-Id", outcome.request_id);
          LogRequest(req, res.status, outcome, start);
          return httplib::Server::HandlerResponse::Handled;
        }));
  }

  // Ends the open streams (see HttpGateway::EndStreams).
  void EndStreams() {
    std::vector<std::shared_ptr<RawCall>> calls;
    {
      absl::MutexLock lock(&streams_mu_);
      draining_ = true;
      calls.assign(streams_.begin(), streams_.end());
    }
    // Each stream's pending read ends at once; its loop then sees draining.
    for (const std::shared_ptr<RawCall>& call : calls) {
      call->context().TryCancel();
    }
  }

 private:
  // Keeps a stream's backend call known to EndStreams while it is open.
  class StreamRegistration {
   public:
    StreamRegistration(Routes& routes, std::shared_ptr<RawCall> call)
        : routes_(routes), call_(std::move(call)) {}
    ~StreamRegistration() {
      absl::MutexLock lock(&routes_.streams_mu_);
      routes_.streams_.erase(call_);
    }

   private:
    Routes& routes_;
    const std::shared_ptr<RawCall> call_;
  };

  // Registers a stream's call; nullptr once EndStreams ran (the stream
  // must not start).
  std::shared_ptr<StreamRegistration> RegisterStream(
      const std::shared_ptr<RawCall>& call) {
    absl::MutexLock lock(&streams_mu_);
    if (draining_) return nullptr;
    streams_.insert(call);
    return std::make_shared<StreamRegistration>(*this, call);
  }

  bool draining() const {
    absl::MutexLock lock(&streams_mu_);
    return draining_;
  }

  static absl::Status ShuttingDown() {
    return absl::UnavailableError(
        "polku-gateway is shutting down; reconnect (to another replica)");
  }

  // A stream's final status: the gateway's reason when it cancelled the
  // call itself for a shutdown.
  absl::Status StreamStatus(const RawCall& call) const {
    if (absl::IsCancelled(call.status()) && draining()) return ShuttingDown();
    return call.status();
  }

  // Health of every backend, also recorded in the metrics; asked of the
  // backends at most once a second however often this runs.
  std::map<std::string, bool> CheckBackends() {
    std::map<std::string, bool> health = health_.Get();
    if (metrics != nullptr) {
      for (const auto& [name, up] : health) metrics->SetBackendUp(name, up);
    }
    return health;
  }

  void Finished(const Outcome& outcome, absl::Time start) {
    if (metrics != nullptr) {
      metrics->Finish("http", outcome.rpc, outcome.code, absl::Now() - start);
    }
  }

  void Serve(const HttpRoute& route, const httplib::Request& req,
             httplib::Response& res) {
    absl::Time start = absl::Now();
    auto in_flight = std::make_shared<Metrics::InFlight>(
        metrics != nullptr ? metrics->Start("http")
                           : Metrics::InFlight(nullptr));
    auto outcome = std::make_shared<Outcome>();
    outcome->rpc = route.rpc;
    outcome->request_id =
        RequestIdOrNew(Header(req, rpc::kRequestIdHeader).value_or(""));
    res.set_header("X-Request-Id", outcome->request_id);
    absl::Status status = Call(route, req, res, outcome, start, in_flight);
    if (res.is_chunked_content_provider_) return;  // Logs when it ends.
    // Every 503 says when to retry (the backend's hint if it gave one), so
    // that callers neither hammer a backend that is down nor wait blind.
    if (absl::IsUnavailable(status) && !res.has_header("Retry-After")) {
      res.set_header("Retry-After", absl::StrCat((kUnavailableRetryAfterMs + 999) / 1000));
    }
    outcome->code = status.code();
    if (!status.ok()) WriteError(res, status);
    Finished(*outcome, start);
    LogRequest(req, res.status, *outcome, start);
  }

  absl::Status Call(const HttpRoute& route, const httplib::Request& req,
                    httplib::Response& res,
                    const std::shared_ptr<Outcome>& outcome, absl::Time start,
                    const std::shared_ptr<Metrics::InFlight>& in_flight) {
    absl::StatusOr<keys::Principal> principal =
        AuthenticateBearer(key_store_, Header(req, "Authorization"));
    if (!principal.ok()) return principal.status();
    outcome->tenant = principal->tenant;
    outcome->key_id = principal->key_id;
    if (rate_limiter != nullptr) {
      RateLimiter::Decision admitted =
          rate_limiter->Admit(principal->key_id, principal->tenant);
      if (!admitted.allowed) {
        int64_t retry_ms = absl::ToInt64Milliseconds(
            absl::Ceil(admitted.retry_after, absl::Milliseconds(1)));
        res.set_header("Retry-After", absl::StrCat((retry_ms + 999) / 1000));
        if (metrics != nullptr) metrics->RateLimited(admitted.limit);
        return absl::ResourceExhaustedError(
            absl::StrCat("rate limit of the ", admitted.limit,
                         " exceeded; retry in ", retry_ms, " ms"));
      }
    }
    absl::StatusOr<Route> authorized = Authorize(*principal, route.rpc);
    if (!authorized.ok()) return authorized.status();
    absl::StatusOr<std::string> actor =
        ActorOf(*principal, Header(req, kActorHeader));
    if (!actor.ok()) return actor.status();
    absl::StatusOr<absl::Duration> timeout = Timeout(req);
    if (!timeout.ok()) return timeout.status();

    const google::protobuf::MethodDescriptor* method = MethodOf(route);
    if (method == nullptr) {
      return absl::UnimplementedError(
          absl::StrCat(route.rpc, " is not served over HTTP"));
    }
    std::vector<std::string> path_values(req.matches.begin() + 1,
                                         req.matches.end());
    absl::StatusOr<DecodedCall> decoded =
        DecodeCall(route, path_values, req.target, req.body);
    if (!decoded.ok()) return decoded.status();
    const event_rows::Format format = decoded->format;
    std::vector<std::string> requests = std::move(decoded->requests);
    if (!method->client_streaming()) {
      // A caller limited to a narrower answer gets it, whatever it asked.
      absl::StatusOr<std::string> narrowed =
          NarrowRequest(NarrowingFor(*principal, *authorized), requests[0]);
      if (!narrowed.ok()) return narrowed.status();
      requests[0] = *std::move(narrowed);
    }

    if (authorized->backend == Backend::kGateway) {
      absl::StatusOr<std::string> response =
          admin_.Invoke(*principal, route.rpc, requests.front());
      if (!response.ok()) return response.status();
      absl::StatusOr<std::string> json =
          BytesToJson(method->output_type(), *response);
      if (!json.ok()) return json.status();
      res.status = 200;
      res.set_content(*std::move(json), kJsonType);
      return absl::OkStatus();
    }

    if (!backends_.has(authorized->backend)) return CasesUnavailable();
    auto call = std::make_shared<RawCall>(
        backends_.channel(authorized->backend), route.rpc);
    // An HTTP body is sent whole before any answer is read, so a stream the
    // backend stops reading (its unacknowledged-event bound) must still end:
    // only server streams (watches) may run without a deadline.
    if (!authorized->unbounded || method->client_streaming() ||
        req.has_header(kRequestTimeoutHeader)) {
      call->context().set_deadline(absl::ToChronoTime(absl::Now() + *timeout));
    }
    AttachTrustedMetadata(*principal, outcome->request_id, *actor,
                          call->context());
    // Known to EndStreams from before the call starts until the response
    // has ended.
    std::shared_ptr<StreamRegistration> registration;
    if (method->server_streaming()) {
      registration = RegisterStream(call);
      if (registration == nullptr) return ShuttingDown();
    }
    if (absl::Status sent = call->Send(requests); !sent.ok()) {
      return absl::IsCancelled(sent) && draining() ? ShuttingDown() : sent;
    }

    std::string message;
    if (!method->server_streaming()) {
      // Exactly one response, then the status.
      RawCall::Next next = call->Read(message, absl::InfiniteFuture());
      if (next != RawCall::Next::kMessage) {
        return call->status().ok()
                   ? absl::InternalError("the backend sent no response")
                   : call->StatusWithRetryHint(res);
      }
      std::string ignored;
      call->Read(ignored, absl::InfiniteFuture());
      if (!call->status().ok()) return call->StatusWithRetryHint(res);
      absl::StatusOr<std::string> json =
          BytesToJson(method->output_type(), message);
      if (!json.ok()) return json.status();
      res.status = 200;
      res.set_content(*std::move(json), kJsonType);
      return absl::OkStatus();
    }

    // A stream: an early failure gets its HTTP status; after that, NDJSON.
    auto first = std::make_shared<std::string>();
    RawCall::Next next = call->Read(*first, absl::Now() + kFirstMessageWait);
    if (next == RawCall::Next::kEnd && !call->status().ok()) {
      if (absl::IsCancelled(call->status()) && draining()) {
        return ShuttingDown();
      }
      return call->StatusWithRetryHint(res);
    }
    auto rendering = std::make_shared<StreamRendering>(
        route.event_rows ? EventRows(format)
                         : JsonMessages(method->output_type()));
    if (next == RawCall::Next::kMessage) {
      // Checked (and converted again below) while the status can still say
      // so: one message per stream.
      if (absl::Status parsed = rendering->render(*first).status();
          !parsed.ok()) {
        return parsed;
      }
    }
    auto pending = std::make_shared<RawCall::Next>(next);
    res.status = 200;
    std::string http_method = req.method;
    std::string path = req.path;
    res.set_chunked_content_provider(
        rendering->content_type,
        [this, call, rendering, first, pending, outcome](
            size_t, httplib::DataSink& sink) {
          if (!rendering->prologue.empty()) {
            std::string prologue = std::move(rendering->prologue);
            rendering->prologue.clear();
            if (!sink.write(prologue.data(), prologue.size())) return false;
          }
          while (true) {
            switch (*pending) {
              case RawCall::Next::kMessage: {
                absl::StatusOr<std::string> lines = rendering->render(*first);
                if (!lines.ok()) {
                  // The stream ends here, with the error as its last line;
                  // the backend's call is cancelled with the response.
                  outcome->code = lines.status().code();
                  std::string line = ErrorBody(lines.status()) + "\n";
                  sink.write(line.data(), line.size());
                  sink.done();
                  return true;
                }
                if (!lines->empty() &&
                    !sink.write(lines->data(), lines->size())) {
                  return false;
                }
                break;
              }
              case RawCall::Next::kEnd: {
                if (absl::Status ended = StreamStatus(*call); !ended.ok()) {
                  outcome->code = ended.code();
                  std::string line = ErrorBody(ended) + "\n";
                  sink.write(line.data(), line.size());
                }
                sink.done();
                return true;
              }
              case RawCall::Next::kTimeout:
                if (!sink.is_writable()) return false;
                break;
            }
            *pending = call->Read(*first, absl::Now() + kIdlePoll);
          }
        },
        [this, call, outcome, start, http_method, path, in_flight,
         registration](bool) {
          // Unless the gateway itself ended the stream.
          if (outcome->code == absl::StatusCode::kOk) {
            outcome->code = call->status().code();
          }
          Finished(*outcome, start);
          httplib::Request logged;
          logged.method = http_method;
          logged.path = path;
          LogRequest(logged, 200, *outcome, start);
        });
    return absl::OkStatus();
  }

  const keys::KeyStore& key_store_;
  const Backends backends_;  // A copy: it only holds channels.
  AdminApi& admin_;
  HealthCache health_{
      [this] { return backends_.CheckHealth(absl::Seconds(1)); },
      absl::Seconds(1)};

  mutable absl::Mutex streams_mu_;
  // The backend calls of open streams.
  absl::flat_hash_set<std::shared_ptr<RawCall>> streams_
      ABSL_GUARDED_BY(streams_mu_);
  bool draining_ ABSL_GUARDED_BY(streams_mu_) = false;
};

HttpGateway::HttpGateway(const keys::KeyStore& key_store,
                         const Backends& backends, AdminApi& admin)
    : routes_(std::make_unique<Routes>(key_store, backends, admin)) {}

HttpGateway::~HttpGateway() { Stop(); }

void HttpGateway::set_rate_limiter(RateLimiter* limiter) {
  routes_->rate_limiter = limiter;
}

void HttpGateway::set_metrics(Metrics* metrics) { routes_->metrics = metrics; }

void HttpGateway::EndStreams() { routes_->EndStreams(); }

absl::Status HttpGateway::Start(const std::string& listen_address,
                                const rpc::TlsFiles& tls) {
  if (tls.enabled()) {
    if (tls.cert_file.empty() || tls.key_file.empty()) {
      return absl::InvalidArgumentError(
          "HTTPS needs both tls_cert and tls_key");
    }
    auto server = std::make_unique<httplib::SSLServer>(
        tls.cert_file.c_str(), tls.key_file.c_str(),
        tls.ca_file.empty() ? nullptr : tls.ca_file.c_str());
    if (!server->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot use the TLS files ", tls.cert_file, ", ", tls.key_file,
          tls.ca_file.empty() ? "" : ", ", tls.ca_file));
    }
    server_ = std::move(server);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  server_->set_payload_max_length(kMaxMessageBytes);
  // httplib's default sets SO_REUSEPORT, which would let a second gateway
  // (or anything else) silently share the port. SO_REUSEADDR alone still
  // allows a quick restart.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  routes_->Install(*server_);

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
  if (server_ == nullptr || !thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace polku::gateway
