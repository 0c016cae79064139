#include "gateway/backends.h"

#include <future>

#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace polku::gateway {

Backends Backends::Connect(const BackendAddresses& addresses) {
  // Plaintext channels need no files, so this cannot fail.
  return *Connect(addresses, rpc::TlsFiles());
}

absl::StatusOr<Backends> Backends::Connect(const BackendAddresses& addresses,
                                           const rpc::TlsFiles& tls) {
  Backends backends;
  // Every address a backend name resolves to is a replica: round_robin
  // keeps a connection to each and spreads calls across them, where gRPC's
  // default (pick_first) would send everything to the first. So
  // "ipv4:127.0.0.1:7101,127.0.0.1:7111" or "dns:///polku-feedback:7101"
  // (a headless Kubernetes Service) balances.
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  // round_robin reconnects a lost replica at once and then backs off; calls
  // meanwhile go to the other replicas, or fail fast when there is none.
  // gRPC's default backoff grows to two minutes, so a backend restarted
  // after a long outage would stay out of rotation that long: cap it. (Not
  // GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: that is also the time one connection
  // attempt, TLS handshake included, may take.)
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  for (auto [address, channel] :
       {std::pair{&addresses.feedback, &backends.feedback_},
        std::pair{&addresses.journey, &backends.journey_},
        std::pair{&addresses.insight, &backends.insight_}}) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> made =
        rpc::MakeChannel(*address, tls, args);
    if (!made.ok()) return made.status();
    *channel = *std::move(made);
  }
  if (!addresses.cases.empty()) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> made =
        rpc::MakeChannel(addresses.cases, tls, args);
    if (!made.ok()) return made.status();
    backends.cases_ = *std::move(made);
  }
  return backends;
}

const std::shared_ptr<grpc::Channel>& Backends::channel(Backend backend) const {
  switch (backend) {
    case Backend::kFeedback:
      return feedback_;
    case Backend::kJourney:
      return journey_;
    case Backend::kInsight:
      return insight_;
    case Backend::kCases:
      return cases_;  // Null when not configured.
    case Backend::kGateway:
      break;  // The gateway has no channel to itself.
  }
  return none_;
}

absl::Status CasesUnavailable() {
  return absl::UnavailableError(
      "CaseService is not available: the gateway was started without "
      "--cases_address (polku-cases)");
}

std::map<std::string, bool> Backends::CheckHealth(
    absl::Duration timeout) const {
  struct Check {
    std::unique_ptr<grpc::health::v1::Health::Stub> stub;
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    std::promise<grpc::Status> done;
  };
  const Backend backends[] = {Backend::kFeedback, Backend::kJourney,
                              Backend::kInsight, Backend::kCases};
  // polku-cases only when configured: readiness does not wait for it then.
  const int count = has(Backend::kCases) ? 4 : 3;
  Check checks[4];
  for (int i = 0; i < count; ++i) {
    Check& check = checks[i];
    check.stub = grpc::health::v1::Health::NewStub(channel(backends[i]));
    check.context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    check.stub->async()->Check(
        &check.context, &check.request, &check.response,
        [&check](grpc::Status status) { check.done.set_value(status); });
  }
  std::map<std::string, bool> health;
  for (int i = 0; i < count; ++i) {
    grpc::Status status = checks[i].done.get_future().get();
    health[kNames[i]] =
        status.ok() && checks[i].response.status() ==
                           grpc::health::v1::HealthCheckResponse::SERVING;
  }
  return health;
}

}  // namespace polku::gateway
