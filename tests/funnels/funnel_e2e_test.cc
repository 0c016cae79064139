// Funnels end to end (issue 19): the real suite on SQLite and PostgreSQL;
// polku-sim plants a bottleneck and a time between stages and submits
// through the gateway; GET /v1/funnel (HTTP/JSON, an insights:read key)
// must show them, equal to FunnelsService.GetFunnel over the gateway's
// gRPC; an erased customer leaves the funnel; another tenant's key gets
// nothing of it.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <stdio.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "polku/v1/admin.grpc.pb.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/funnels.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;

constexpr char kJourney[] = "shop";
constexpr absl::Duration kBound = absl::Seconds(60);
constexpr char kRange[] =
    "range.start=2025-02-01T00:00:00Z&range.end=2025-06-01T00:00:00Z";

struct Output {
  int exit_code = -1;
  std::string text;
};
Output RunCommand(const std::vector<std::string>& args) {
  std::string command;
  for (const std::string& arg : args) absl::StrAppend(&command, "'", arg, "' ");
  command += "2>&1";
  Output output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) output.text += buffer;
  const int status = pclose(pipe);
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

class FunnelSuiteTest : public ::testing::TestWithParam<Suite::Database> {
 protected:
  void SetUp() override {
    Suite::Options options;
    options.database = GetParam();
    auto suite = Suite::Start(options);
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);

    v1::Journey journey = testing::MakeJourney(
        kJourney, "Buying a phone", {"visit", "compare", "buy", "use", "support"},
        {{"web_home", "visit", "web"},
         {"shop_window", "visit", "shop"},
         {"web_compare", "compare", "web"},
         {"sales_call", "compare", "phone"},
         {"web_checkout", "buy", "web"},
         {"shop_counter", "buy", "shop"},
         {"welcome_email", "use", "email"},
         {"help_line", "support", "phone"}},
        "sales");
    journey.mutable_stages(4)->set_optional(true);
    auto journeys = v1::JourneyService::NewStub(suite_->GatewayChannel());
    v1::CreateJourneyRequest create;
    *create.mutable_journey() = journey;
    v1::Journey created;
    grpc::ClientContext create_context;
    Suite::Authorize(create_context, suite_->credentials().admin_key);
    grpc::Status status =
        journeys->CreateJourney(&create_context, create, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::PublishJourneyRequest publish;
    publish.set_key(kJourney);
    v1::Journey published;
    grpc::ClientContext publish_context;
    Suite::Authorize(publish_context, suite_->credentials().admin_key);
    status = journeys->PublishJourney(&publish_context, publish, &published);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_TRUE(published.stages(4).optional());
  }

  void TearDown() override {
    if (suite_ != nullptr) {
      EXPECT_EQ(suite_->Stop(), absl::OkStatus());
    }
  }

  int64_t Simulate() {
    const Output sim = RunCommand(
        {testing::BinaryPath("polku-sim"),
         "--gateway=" + suite_->gateway_grpc_address(),
         "--credentials=" + suite_->data_dir() + "/credentials.json",
         "--seed=3", "--customers=500", "--days=14", "--end_date=2025-03-14",
         "--plant_drop_off=shop/buy:0.35", "--plant_stage_time=shop/compare:20"});
    EXPECT_EQ(sim.exit_code, 0) << sim.text;
    int64_t accepted = 0;
    std::smatch match;
    const std::regex accepted_re("accepted +([0-9]+)");
    for (std::string rest = sim.text;
         std::regex_search(rest, match, accepted_re); rest = match.suffix()) {
      accepted += std::stoll(match[1]);
    }
    EXPECT_GT(accepted, 0) << sim.text;
    return accepted;
  }

  // Until polku-insight counted `events` events of the journey.
  void AwaitCounted(int64_t events) {
    auto insight = v1::InsightService::NewStub(suite_->GatewayChannel());
    const absl::Time deadline = absl::Now() + kBound;
    while (absl::Now() < deadline) {
      v1::GetScorecardRequest request;
      request.set_journey(kJourney);
      v1::Scorecard card;
      grpc::ClientContext context;
      Suite::Authorize(context, suite_->credentials().admin_key);
      if (insight->GetScorecard(&context, request, &card).ok() &&
          card.total().events() == events) {
        return;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    FAIL() << "polku-insight did not count " << events << " events in time";
  }

  // GET /v1/funnel as `key`; the status and, on 200, the answer.
  int HttpFunnel(const std::string& key, const std::string& query,
                 v1::Funnel& funnel) {
    httplib::Client client(suite_->gateway_http_host(),
                           suite_->gateway_http_port());
    client.set_read_timeout(30, 0);
    auto response = client.Get(absl::StrCat("/v1/funnel?", query),
                               {{"Authorization", "Bearer " + key}});
    if (!response) return -1;
    if (response->status == 200) {
      EXPECT_TRUE(
          google::protobuf::util::JsonStringToMessage(response->body, &funnel)
              .ok())
          << response->body;
    }
    return response->status;
  }

  std::unique_ptr<Suite> suite_;
};

TEST_P(FunnelSuiteTest, ThePlantedBottleneckThroughTheGateway) {
  const int64_t accepted = Simulate();
  AwaitCounted(accepted);
  const std::string key = suite_->credentials().admin_key;
  const std::string query = absl::StrCat("scope.journey=shop&", kRange);

  v1::Funnel funnel;
  ASSERT_EQ(HttpFunnel(key, query, funnel), 200);
  ASSERT_EQ(funnel.stages_size(), 4);
  EXPECT_EQ(funnel.stages(0).stage(), "visit");
  ASSERT_EQ(funnel.optional_stages_size(), 1);
  EXPECT_EQ(funnel.optional_stages(0).stage(), "support");
  EXPECT_GT(funnel.customers(), 400);
  EXPECT_EQ(funnel.in_progress(), 0);
  EXPECT_EQ(funnel.bottleneck().from_stage(), "compare");
  EXPECT_EQ(funnel.bottleneck().to_stage(), "buy");
  EXPECT_TRUE(funnel.bottleneck().significant());
  EXPECT_NEAR(funnel.stages(2).from_previous().rate(), 0.35, 0.1);
  // The planted 20-hour mean: median 20·ln 2 hours inside its interval.
  const double median = 20 * 3600 * std::log(2.0);
  EXPECT_LE(funnel.stages(0).time_to_next().median_ci95_seconds().low(), median);
  EXPECT_GE(funnel.stages(0).time_to_next().median_ci95_seconds().high(), median);
  // Reaching is not rating: the response rate is its own number.
  EXPECT_GT(funnel.stages(0).response_rate(), 0.3);
  EXPECT_LT(funnel.stages(0).response_rate(), 1.0);

  // The same over the gateway's gRPC.
  auto funnels = v1::FunnelsService::NewStub(suite_->GatewayChannel());
  v1::GetFunnelRequest request;
  request.mutable_scope()->set_journey(kJourney);
  google::protobuf::util::JsonStringToMessage(
      R"({"start": "2025-02-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"})",
      request.mutable_range());
  v1::Funnel over_grpc;
  grpc::ClientContext context;
  Suite::Authorize(context, key);
  grpc::Status status = funnels->GetFunnel(&context, request, &over_grpc);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(over_grpc.SerializeAsString(), funnel.SerializeAsString());

  // Bad input: 400 naming the field.
  httplib::Client client(suite_->gateway_http_host(),
                         suite_->gateway_http_port());
  auto bad = client.Get(
      absl::StrCat("/v1/funnel?scope.journey=shop&", kRange,
                   "&conversion_window_seconds=-5"),
      {{"Authorization", "Bearer " + key}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("conversion_window_seconds"), std::string::npos)
      << bad->body;

  // Erasure: customer 0 of seed 3 leaves no trace.
  auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
  v1::EraseCustomerRequest erase;
  erase.set_customer("sim-3-000000");
  v1::EraseCustomerResponse erased;
  grpc::ClientContext erase_context;
  Suite::Authorize(erase_context, key);
  status = feedback->EraseCustomer(&erase_context, erase, &erased);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::Funnel after;
  const absl::Time deadline = absl::Now() + kBound;
  while (absl::Now() < deadline) {
    after.Clear();
    ASSERT_EQ(HttpFunnel(key, query, after), 200);
    if (after.as_of_sequence() >= erased.sequence()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GE(after.as_of_sequence(), erased.sequence());
  EXPECT_EQ(after.customers(), funnel.customers() - 1);

  // Another tenant's key: nothing of demo's.
  std::ifstream in(suite_->data_dir() + "/superadmin.key");
  const std::string super_admin(
      absl::StripAsciiWhitespace(std::string(std::istreambuf_iterator<char>(in),
                                              std::istreambuf_iterator<char>())));
  auto admin = v1::AdminService::NewStub(suite_->GatewayChannel());
  {
    grpc::ClientContext c;
    Suite::Authorize(c, super_admin);
    v1::CreateTenantRequest create;
    create.set_tenant_id("other");
    v1::Tenant tenant;
    ASSERT_TRUE(admin->CreateTenant(&c, create, &tenant).ok());
  }
  v1::CreateApiKeyResponse other;
  {
    grpc::ClientContext c;
    Suite::Authorize(c, super_admin);
    v1::CreateApiKeyRequest create;
    create.set_parent("tenants/other");
    create.mutable_api_key()->add_scopes("insights:read");
    ASSERT_TRUE(admin->CreateApiKey(&c, create, &other).ok());
  }
  v1::Funnel theirs;
  const int other_status = HttpFunnel(other.key(), query, theirs);
  // The other tenant has no such journey: 404, and nothing of demo's.
  EXPECT_EQ(other_status, 404);
  EXPECT_EQ(theirs.customers(), 0);
}

INSTANTIATE_TEST_SUITE_P(Databases, FunnelSuiteTest,
                         ::testing::Values(Suite::Database::kSqlite,
                                           Suite::Database::kPostgres),
                         [](const auto& info) {
                           return info.param == Suite::Database::kSqlite
                                      ? "Sqlite"
                                      : "Postgres";
                         });

}  // namespace
}  // namespace polku
