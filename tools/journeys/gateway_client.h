// What a command-line tool needs to talk to polku-gateway: the credentials
// file `polku-keys init` writes, one channel, a bearer key and a deadline on
// every call, and a retry of UNAVAILABLE (a suite that is still starting).
//
//   POLKU_ASSIGN_OR_RETURN(Credentials creds, ReadCredentials(".polku/credentials.json"));
//   auto stub = v1::JourneyService::NewStub(*DialGateway("127.0.0.1:7070"));
//   v1::ListJourneysResponse response;
//   grpc::Status status = CallWithRetry([&] {
//     grpc::ClientContext context;
//     PrepareCall(context, creds.admin_key, absl::Seconds(10));
//     return stub->ListJourneys(&context, {}, &response);
//   });
#ifndef POLKU_TOOLS_JOURNEYS_GATEWAY_CLIENT_H_
#define POLKU_TOOLS_JOURNEYS_GATEWAY_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace polku::tools {

// The contents of credentials.json.
struct Credentials {
  std::string tenant;
  std::string admin_key;
  // Channel key → the key bound to that channel.
  std::map<std::string, std::string> channel_keys;
};

// Parses {"tenant": …, "admin_key": …, "channel_keys": {"shop": …}}.
// INVALID_ARGUMENT naming the missing or mistyped field.
absl::StatusOr<Credentials> ParseCredentials(absl::string_view json);

// Reads and parses a credentials file; errors name the file.
absl::StatusOr<Credentials> ReadCredentials(const std::string& path);

// The whole file, or NOT_FOUND / an error naming it.
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

// A channel to the gateway's gRPC listener: plaintext (loopback), or TLS
// when --gateway_ca names the CA that signed the gateway's certificate, with
// --gateway_cert and --gateway_key as the client certificate when the
// gateway requires one. INVALID_ARGUMENT naming an unreadable file.
absl::StatusOr<std::shared_ptr<grpc::Channel>> DialGateway(const std::string& address);
// The same with channel arguments of the caller's (e.g. flow control).
absl::StatusOr<std::shared_ptr<grpc::Channel>> DialGateway(
    const std::string& address, const grpc::ChannelArguments& args);

// Sets `authorization: Bearer <key>` and a deadline `timeout` from now.
void PrepareCall(grpc::ClientContext& context, absl::string_view key,
                 absl::Duration timeout);

struct RetryPolicy {
  int max_attempts = 10;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(3);
};

// Runs `attempt` until it answers something other than UNAVAILABLE or the
// attempts run out, backing off exponentially in between. `attempt` must
// build a fresh ClientContext each time (a context serves one call), and
// must be safe to repeat (every Polku write is idempotent or answers
// ALREADY_EXISTS).
grpc::Status CallWithRetry(const std::function<grpc::Status()>& attempt,
                           const RetryPolicy& policy = {});

// "UNAVAILABLE: connection refused" for messages.
std::string DescribeStatus(const grpc::Status& status);

}  // namespace polku::tools

#endif  // POLKU_TOOLS_JOURNEYS_GATEWAY_CLIENT_H_
