// SIGTERM of polku-gateway while watch streams are open, against the real
// binaries: two NDJSON streams over HTTP (alerts:watch, journeys:watch) and
// two gRPC streams through the proxy (WatchAlerts, WatchJourneys). The
// gateway must end every one of them, so that their clients reconnect
// elsewhere, and exit 0 well within its drain timeout (10 s); the streams
// otherwise never end by themselves.
#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/keys/demo_credentials.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;
using ::testing::HasSubstr;

// Within this of the SIGTERM: the process has exited and every client has
// seen its stream end. Well under the 10 s drain timeout, after which gRPC
// would cancel the streams itself.
constexpr absl::Duration kBound = absl::Seconds(5);

// The gateway's graceful shutdown waits until every client connection has
// answered its GOAWAY, and a gRPC client reads a connection that no call of
// its own is waiting on only when its backup poller runs: every 5 s by
// default. This process's channels are idle once the streams ended, so the
// gateway's exit would come up to 5 s after the SIGTERM (found by gdb: the
// gateway waited in grpc::Server::Shutdown for "Disconnected client").
// Polling often here leaves the bound to what the gateway itself does. Set
// before gRPC starts; the suite's processes inherit it.
const bool kClientsAnswerGoawaySoon = [] {
  return ::setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", 1) == 0;
}();

// How one stream ended, as its client saw it.
struct Ending {
  absl::Notification open;   // The stream is established.
  absl::Notification ended;  // The client's read returned for good.
  absl::Mutex mu;
  absl::Time at;
  std::string outcome;  // gRPC: code and message; HTTP: the body.
};

void Ended(Ending& ending, std::string outcome) {
  {
    absl::MutexLock lock(&ending.mu);
    ending.at = absl::Now();
    ending.outcome = std::move(outcome);
  }
  ending.ended.Notify();
}

// An NDJSON stream over HTTP; open once the gateway answered its headers.
std::thread WatchOverHttp(const Suite& suite, const std::string& path,
                          const std::string& key, Ending& ending) {
  return std::thread([&suite, path, key, &ending] {
    httplib::Client client(suite.gateway_http_host(),
                           suite.gateway_http_port());
    client.set_read_timeout(60, 0);
    std::string body;
    httplib::Result result = client.Get(
        path.c_str(), {{"Authorization", "Bearer " + key}},
        [&](const httplib::Response&) {
          ending.open.Notify();
          return true;
        },
        [&](const char* data, size_t length) {
          body.append(data, length);
          return true;
        });
    if (!ending.open.HasBeenNotified()) ending.open.Notify();
    Ended(ending,
          result ? body : "no response: " + httplib::to_string(result.error()));
  });
}

// A gRPC server stream through the proxy, read to its end. `first_message`:
// the stream counts as open once one arrived (else at once).
template <typename Response, typename Start>
std::thread WatchOverGrpc(Start start, bool first_message, Ending& ending) {
  return std::thread([start, first_message, &ending] {
    grpc::ClientContext context;
    // A generous deadline only so that a broken gateway cannot hang the
    // test for ever; the gateway must end the stream long before.
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    auto reader = start(context);
    Response response;
    if (!first_message) ending.open.Notify();
    while (reader->Read(&response)) ending.open.Notify();
    if (!ending.open.HasBeenNotified()) ending.open.Notify();
    grpc::Status status = reader->Finish();
    Ended(ending,
          absl::StrCat(absl::StatusCodeToString(
                           static_cast<absl::StatusCode>(status.error_code())),
                       ": ", status.error_message()));
  });
}

TEST(GatewayShutdownTest, SigtermEndsOpenWatchStreamsAndExitsZero) {
  ASSERT_TRUE(kClientsAnswerGoawaySoon);
  auto started = Suite::Start();
  ASSERT_TRUE(started.ok()) << started.status();
  Suite& suite = **started;
  const std::string& admin = suite.credentials().admin_key;
  // The dashboard's key (insights:read), from polku-keys init's file.
  auto credentials =
      gateway::keys::ReadCredentials(suite.data_dir() + "/credentials.json");
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  const std::string insights = credentials->insights_key;
  auto channel = suite.GatewayChannel();
  auto insight = v1::InsightService::NewStub(channel);
  auto journeys = v1::JourneyService::NewStub(channel);

  Ending grpc_alerts, grpc_journeys, http_alerts, http_journeys;
  std::vector<std::thread> clients;
  clients.push_back(WatchOverGrpc<v1::AlertUpdate>(
      [&](grpc::ClientContext& context) {
        context.AddMetadata("authorization", "Bearer " + insights);
        return insight->WatchAlerts(&context, v1::WatchAlertsRequest());
      },
      /*first_message=*/false, grpc_alerts));
  clients.push_back(WatchOverGrpc<v1::WatchJourneysResponse>(
      [&](grpc::ClientContext& context) {
        context.AddMetadata("authorization", "Bearer " + admin);
        return journeys->WatchJourneys(&context, v1::WatchJourneysRequest());
      },
      /*first_message=*/true, grpc_journeys));
  clients.push_back(
      WatchOverHttp(suite, "/v1/alerts:watch", insights, http_alerts));
  clients.push_back(
      WatchOverHttp(suite, "/v1/journeys:watch", admin, http_journeys));
  for (Ending* ending : {&grpc_journeys, &http_alerts, &http_journeys}) {
    ASSERT_TRUE(ending->open.WaitForNotificationWithTimeout(absl::Seconds(30)));
  }
  // None of them ends by itself.
  for (Ending* ending :
       {&grpc_alerts, &grpc_journeys, &http_alerts, &http_journeys}) {
    EXPECT_FALSE(ending->ended.HasBeenNotified()) << ending->outcome;
  }

  const absl::Time sigterm = absl::Now();
  absl::Status stopped = suite.Terminate("polku-gateway", kBound);
  EXPECT_TRUE(stopped.ok()) << stopped;
  for (std::thread& client : clients) client.join();

  // Each client saw its stream end, soon, and was told to reconnect.
  for (auto [name, ending] : {std::pair{"gRPC WatchAlerts", &grpc_alerts},
                              {"gRPC WatchJourneys", &grpc_journeys}}) {
    absl::MutexLock lock(&ending->mu);
    EXPECT_LT(ending->at - sigterm, kBound) << name;
    EXPECT_THAT(ending->outcome, HasSubstr("UNAVAILABLE")) << name;
    EXPECT_THAT(ending->outcome, HasSubstr("shutting down")) << name;
  }
  for (auto [name, ending] : {std::pair{"HTTP alerts:watch", &http_alerts},
                              {"HTTP journeys:watch", &http_journeys}}) {
    absl::MutexLock lock(&ending->mu);
    EXPECT_LT(ending->at - sigterm, kBound) << name;
    std::vector<std::string> lines =
        absl::StrSplit(ending->outcome, '\n', absl::SkipEmpty());
    ASSERT_FALSE(lines.empty()) << name << ": " << ending->outcome;
    EXPECT_THAT(lines.back(), HasSubstr("\"UNAVAILABLE\"")) << name;
    EXPECT_THAT(lines.back(), HasSubstr("shutting down")) << name;
  }
  EXPECT_EQ(suite.Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace polku
