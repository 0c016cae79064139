// Key drivers end to end: polku-sim plants drivers (the outcome depends on
// chosen touchpoints with known weights) into a journey of nine interaction
// touchpoints, submits through the gateway with each channel's key, and
// GetKeyDrivers — over gRPC through the gateway and over HTTP GET
// /v1/drivers — must rank the planted top driver first. Another tenant's key
// gets nothing of the journey, a channel key is refused. On SQLite and on
// PostgreSQL.
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "polku/v1/admin.grpc.pb.h"
#include "polku/v1/drivers.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/browser/browser_util.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::kChromium;
using ::polku::testing::Quote;
using ::polku::testing::ScreenshotDir;
using ::polku::testing::Suite;

constexpr char kJourney[] = "drivers";
constexpr absl::Duration kBound = absl::Seconds(90);

// Three stages, nine interaction touchpoints over the suite's four channels,
// an NPS outcome touchpoint.
v1::Journey DriversJourney() {
  v1::Journey journey = testing::MakeJourney(
      kJourney, "Planted drivers", {"explore", "buy", "use"},
      {{"web_browse", "explore", "web"},
       {"shop_advice", "explore", "shop"},
       {"phone_advice", "explore", "phone"},
       {"web_order", "buy", "web"},
       {"shop_order", "buy", "shop"},
       {"order_email", "buy", "email"},
       {"phone_support", "use", "phone"},
       {"web_help", "use", "web"},
       {"shop_service", "use", "shop"},
       {"relationship", "use", "email"}},
      "drivers");
  for (v1::Touchpoint& t : *journey.mutable_touchpoints()) {
    t.set_kind(t.key() == "relationship" ? v1::OUTCOME : v1::INTERACTION);
    if (t.key() == "shop_order") t.mutable_target()->set_csat_top2_box(0.95);
  }
  journey.mutable_outcomes()->set_relationship_nps_touchpoint("relationship");
  return journey;
}

struct Output {
  int exit_code = -1;
  std::string text;
};
// `args` run as one command (each an sh word), its output captured.
Output RunCommand(const std::vector<std::string>& args) {
  std::string command;
  for (const std::string& arg : args) absl::StrAppend(&command, Quote(arg), " ");
  Output output;
  output.exit_code = testing::RunCommand(command, output.text);
  return output;
}

class DriversSuiteTest : public ::testing::TestWithParam<Suite::Database> {
 protected:
  void SetUp() override {
    Suite::Options options;
    options.database = GetParam();
    auto suite = Suite::Start(options);
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
    auto journeys = v1::JourneyService::NewStub(suite_->GatewayChannel());
    v1::CreateJourneyRequest create;
    *create.mutable_journey() = DriversJourney();
    v1::Journey created;
    grpc::ClientContext create_context;
    Suite::Authorize(create_context, suite_->credentials().admin_key);
    grpc::Status status = journeys->CreateJourney(&create_context, create, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::PublishJourneyRequest publish;
    publish.set_key(kJourney);
    v1::Journey published;
    grpc::ClientContext publish_context;
    Suite::Authorize(publish_context, suite_->credentials().admin_key);
    status = journeys->PublishJourney(&publish_context, publish, &published);
    ASSERT_TRUE(status.ok()) << status.error_message();
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
         "--seed=5", "--customers=2500", "--days=20",
         "--plant_driver=shop_order:1.2,web_help:0.5,phone_advice:0.3"});
    EXPECT_EQ(sim.exit_code, 0) << sim.text;
    int64_t accepted = 0;
    std::smatch match;
    const std::regex accepted_re("accepted +([0-9]+)");
    for (std::string rest = sim.text; std::regex_search(rest, match, accepted_re);
         rest = match.suffix()) {
      accepted += std::stoll(match[1]);
    }
    return accepted;
  }

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
      absl::SleepFor(absl::Milliseconds(100));
    }
    FAIL() << "polku-insight did not count " << events << " events in time";
  }

  grpc::Status GetKeyDrivers(const std::string& key, v1::KeyDrivers& answer) {
    auto drivers = v1::DriversService::NewStub(suite_->GatewayChannel());
    v1::GetKeyDriversRequest request;
    request.mutable_scope()->set_journey(kJourney);
    request.set_min_raters(50);
    request.set_bootstrap_replicates(100);
    grpc::ClientContext context;
    Suite::Authorize(context, key, absl::Seconds(30));
    return drivers->GetKeyDrivers(&context, request, &answer);
  }

  std::string OtherTenantKey() {
    std::ifstream in(suite_->data_dir() + "/superadmin.key");
    std::string super_admin((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    super_admin = std::string(absl::StripAsciiWhitespace(super_admin));
    auto admin = v1::AdminService::NewStub(suite_->GatewayChannel());
    {
      grpc::ClientContext context;
      Suite::Authorize(context, super_admin);
      v1::CreateTenantRequest request;
      request.set_tenant_id("other");
      v1::Tenant tenant;
      grpc::Status status = admin->CreateTenant(&context, request, &tenant);
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    grpc::ClientContext context;
    Suite::Authorize(context, super_admin);
    v1::CreateApiKeyRequest request;
    request.set_parent("tenants/other");
    request.mutable_api_key()->add_scopes("insights:read");
    request.mutable_api_key()->add_scopes("journeys:read");
    v1::CreateApiKeyResponse response;
    grpc::Status status = admin->CreateApiKey(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.key();
  }

  std::unique_ptr<Suite> suite_;
};

TEST_P(DriversSuiteTest, ThePlantedTopDriverRanksFirstAndOnlyItsTenantSeesIt) {
  const int64_t events = Simulate();
  ASSERT_GT(events, 0);
  AwaitCounted(events);

  v1::KeyDrivers answer;
  grpc::Status status = GetKeyDrivers(suite_->credentials().admin_key, answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GT(answer.drivers_size(), 0);
  EXPECT_EQ(answer.outcome_touchpoint(), "relationship");
  EXPECT_GT(answer.model().customers(), 500);
  EXPECT_EQ(answer.drivers(0).key(), "shop_order") << answer.DebugString();
  EXPECT_EQ(answer.drivers(0).rank_low(), 1);
  EXPECT_TRUE(answer.drivers(0).critical());
  EXPECT_TRUE(answer.drivers(0).has_opportunity());
  EXPECT_GT(answer.drivers(0).opportunity().outcome_change(), 0);
  double sum = 0;
  for (const v1::Driver& d : answer.drivers()) {
    if (d.status() == v1::DRIVER_OK) sum += d.importance();
  }
  EXPECT_NEAR(sum, answer.model().r_squared(), 1e-12);

  // The same over HTTP.
  httplib::Client http(suite_->gateway_http_host(), suite_->gateway_http_port());
  http.set_read_timeout(30, 0);
  httplib::Headers headers = {
      {"Authorization", "Bearer " + suite_->credentials().admin_key}};
  httplib::Result got = http.Get(
      absl::StrCat("/v1/drivers?journey=", kJourney,
                   "&min_raters=50&bootstrap_replicates=100")
          .c_str(),
      headers);
  ASSERT_TRUE(got) << httplib::to_string(got.error());
  ASSERT_EQ(got->status, 200) << got->body;
  v1::KeyDrivers over_http;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(got->body, &over_http).ok());
  over_http.clear_as_of_sequence();
  answer.clear_as_of_sequence();
  EXPECT_EQ(over_http.DebugString(), answer.DebugString());
  got = http.Get("/v1/drivers?journey=drivers&min_raters=1", headers);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 400);
  EXPECT_THAT(got->body, ::testing::HasSubstr("min_raters"));

  // Another tenant: nothing of this journey.
  v1::KeyDrivers other;
  status = GetKeyDrivers(OtherTenantKey(), other);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND) << other.DebugString();
  EXPECT_EQ(other.drivers_size(), 0);
  // A channel key may not read insights.
  status = GetKeyDrivers(suite_->credentials().channel_keys.at("shop"), other);
  EXPECT_EQ(status.error_code(), grpc::PERMISSION_DENIED);

  // The dashboard's view in headless Chromium, against the API (once).
  if (GetParam() != Suite::Database::kSqlite) return;
  POLKU_SKIP_WITHOUT_CHROMIUM();
  const std::string screenshot = (ScreenshotDir("drivers") / "drivers.png").string();
  const Output check = RunCommand(
      {"timeout", "--kill-after=5", "240", "node",
       absl::StrCat(POLKU_BROWSER_DIR, "/drivers_check.mjs"),
       "--url", absl::StrCat("http://", suite_->gateway_http_host(), ":",
                             suite_->gateway_http_port()),
       "--key", suite_->credentials().admin_key, "--journey", kJourney,
       "--chromium", kChromium, "--screenshot", screenshot,
       // Each wait's bound: GetKeyDrivers with its bootstrap is slow under
       // ASan on a busy machine (30 s ran out in CI).
       "--timeout_ms", "100000"});
  EXPECT_EQ(check.exit_code, 0) << check.text;
  std::cout << check.text << "screenshot: " << screenshot << "\n";
}

// The settings of scripts/up.sh's demo, read from the script itself so that
// this test follows it: `NAME=value` (the first word after the =) or
// `--flag=value`.
std::string UpSetting(const std::string& pattern) {
  std::ifstream in(absl::StrCat(POLKU_SOURCE_DIR, "/scripts/up.sh"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(pattern))) return "";
  return match[1];
}

// The demo as up.sh starts it: a key for every channel of the example
// journeys (nothing skipped), the example journeys, polku-sim with up.sh's
// customers and planted drivers; the generic journey's planted top driver
// ranks first in GetKeyDrivers, so the view shows something true on first
// start.
TEST(DriversDemoTest, TheDemoCoversEveryChannelAndShowsThePlantedDrivers) {
  const std::string channels = UpSetting("--channels=([a-z_,]+)");
  const std::string planted = UpSetting("PLANTED_DRIVERS=([a-z_:.0-9,]+)");
  const std::string customers = UpSetting("POLKU_SIM_CUSTOMERS:-([0-9]+)");
  ASSERT_FALSE(channels.empty());
  ASSERT_FALSE(planted.empty());
  ASSERT_FALSE(customers.empty());
  Suite::Options options;
  options.channels = channels;
  auto started = Suite::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<Suite> suite = *std::move(started);
  const std::string credentials = suite->data_dir() + "/credentials.json";
  std::vector<std::string> import = {testing::BinaryPath("polku-journeys"), "import",
                                     "--gateway=" + suite->gateway_grpc_address(),
                                     "--credentials=" + credentials};
  for (const auto& file : std::filesystem::directory_iterator(
           absl::StrCat(POLKU_SOURCE_DIR, "/examples/journeys"))) {
    if (file.path().extension() == ".json") import.push_back(file.path().string());
  }
  const Output imported = RunCommand(import);
  ASSERT_EQ(imported.exit_code, 0) << imported.text;
  const Output sim = RunCommand(
      {testing::BinaryPath("polku-sim"), "--gateway=" + suite->gateway_grpc_address(),
       "--credentials=" + credentials, "--seed=1", "--customers=" + customers, "--days=28",
       "--plant_driver=" + planted});
  ASSERT_EQ(sim.exit_code, 0) << sim.text;
  EXPECT_THAT(sim.text, ::testing::Not(::testing::HasSubstr("skipped"))) << sim.text;
  int64_t accepted = 0;
  std::smatch match;
  const std::regex accepted_re("accepted +([0-9]+)");
  for (std::string rest = sim.text; std::regex_search(rest, match, accepted_re);
       rest = match.suffix()) {
    accepted += std::stoll(match[1]);
  }
  // Every event counted (all journeys), then the generic journey's drivers.
  auto insight = v1::InsightService::NewStub(suite->GatewayChannel());
  const absl::Time deadline = absl::Now() + kBound;
  int64_t counted = -1;
  while (absl::Now() < deadline && counted != accepted) {
    counted = 0;
    for (const char* journey :
         {"generic-customer-journey", "switching-mobile-operator", "home-renovation"}) {
      v1::GetScorecardRequest request;
      request.set_journey(journey);
      v1::Scorecard card;
      grpc::ClientContext context;
      Suite::Authorize(context, suite->credentials().admin_key);
      if (insight->GetScorecard(&context, request, &card).ok()) counted += card.total().events();
    }
    if (counted != accepted) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(counted, accepted);
  auto drivers = v1::DriversService::NewStub(suite->GatewayChannel());
  v1::GetKeyDriversRequest request;
  request.mutable_scope()->set_journey("generic-customer-journey");
  v1::KeyDrivers answer;
  grpc::ClientContext context;
  Suite::Authorize(context, suite->credentials().admin_key, absl::Seconds(30));
  grpc::Status status = drivers->GetKeyDrivers(&context, request, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string top = planted.substr(0, planted.find(':'));
  ASSERT_GT(answer.drivers_size(), 0);
  EXPECT_EQ(answer.drivers(0).key(), top) << answer.DebugString();
  EXPECT_EQ(answer.drivers(0).status(), v1::DRIVER_OK);
  // A journey that declares no outcomes uses its OUTCOME touchpoint, and says so.
  request.mutable_scope()->set_journey("home-renovation");
  v1::KeyDrivers renovation;
  grpc::ClientContext renovation_context;
  Suite::Authorize(renovation_context, suite->credentials().admin_key, absl::Seconds(30));
  status = drivers->GetKeyDrivers(&renovation_context, request, &renovation);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(renovation.outcome_touchpoint(), "renovation_survey");
  EXPECT_GT(renovation.model().customers(), 0);
  EXPECT_THAT(absl::StrJoin(renovation.model().warnings(), "\n"),
              ::testing::HasSubstr("declares no outcomes"));
  EXPECT_EQ(suite->Stop(), absl::OkStatus());
}

INSTANTIATE_TEST_SUITE_P(Backends, DriversSuiteTest,
                         ::testing::Values(Suite::Database::kSqlite,
                                           Suite::Database::kPostgres),
                         [](const auto& info) {
                           return info.param == Suite::Database::kSqlite ? "Sqlite"
                                                                         : "Postgres";
                         });

}  // namespace
}  // namespace polku
