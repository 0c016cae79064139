// Planted truths, end to end: polku-sim plants a change (one touchpoint's
// quality drops on a given day) and an inconsistency (one channel worse than
// the others in one stage) into a small journey, submits through the
// gateway, and polku-insight — asked directly over gRPC as the tenant — must
// find exactly those: an open change alert pointing at the planted
// touchpoint once data runs a bounded number of days past the change, and
// the planted channel flagged in the planted stage. The same simulation
// without plants must raise no alert. Each seed runs in a fresh suite.
#include <grpcpp/grpcpp.h>
#include <stdio.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/rpc/metadata.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;

constexpr char kJourney[] = "planted";
constexpr char kChangedTouchpoint[] = "web_order";
constexpr char kInconsistentStage[] = "visit";
constexpr char kInconsistentChannel[] = "phone";
// Customers start on the 14 days ending 2025-03-14; the change starts on
// 2025-03-08, so the data runs at most 7 days (plus the last customers'
// second stage) past it — one default alert window.
constexpr char kEndDate[] = "2025-03-14";
constexpr char kChangeDay[] = "2025-03-08";
constexpr int kDays = 14;
constexpr int kCustomers = 900;
constexpr absl::Duration kBound = absl::Seconds(60);

// visit: web_order (web), shop_pickup (shop), call_center (phone) · buy:
// web_page (web), shop_counter (shop). Two short stages keep the journey's
// last day with data close to the simulated end date. The keys are chosen
// for the simulator's quality levels they imply (DefaultQuality): the
// planted touchpoints start high (≈ 0.8), so a shift of −1 is not lost to
// clamping at −1.
v1::Journey PlantedJourney() {
  return testing::MakeJourney(kJourney, "Planted truths", {"visit", "buy"},
                              {{"web_order", "visit", "web"},
                               {"shop_pickup", "visit", "shop"},
                               {"call_center", "visit", "phone"},
                               {"web_page", "buy", "web"},
                               {"shop_counter", "buy", "shop"}},
                              "monitoring");
}

// Runs a command line; its exit code and what it printed.
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

class MonitoringSuiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The planted history is from 2025: monitored as if it were live.
    auto suite =
        Suite::Start({.insight_flags = {"--alert_max_data_age_days=0"}});
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
    insight_ = v1::InsightService::NewStub(
        suite_->Dial(suite_->backend_address("insight")));

    auto journeys = v1::JourneyService::NewStub(suite_->GatewayChannel());
    v1::CreateJourneyRequest create;
    *create.mutable_journey() = JourneyUnderTest();
    journey_ = create.journey().key();
    v1::Journey created;
    grpc::ClientContext create_context;
    Suite::Authorize(create_context, suite_->credentials().admin_key);
    grpc::Status status =
        journeys->CreateJourney(&create_context, create, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::PublishJourneyRequest publish;
    publish.set_key(journey_);
    v1::Journey published;
    grpc::ClientContext publish_context;
    Suite::Authorize(publish_context, suite_->credentials().admin_key);
    status = journeys->PublishJourney(&publish_context, publish, &published);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  virtual v1::Journey JourneyUnderTest() const { return PlantedJourney(); }

  void TearDown() override {
    if (suite_ != nullptr) {
      EXPECT_EQ(suite_->Stop(), absl::OkStatus());
    }
  }

  // As the tenant, straight to polku-insight (trusted metadata).
  std::unique_ptr<grpc::ClientContext> AsTenant() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    context->AddMetadata(rpc::kTenantHeader, suite_->credentials().tenant);
    return context;
  }

  // Runs polku-sim with `seed` and `plants`; the number of events it had
  // accepted.
  int64_t Simulate(int seed, const std::vector<std::string>& plants,
                   int customers = kCustomers, int days = kDays,
                   const std::string& end_date = kEndDate) {
    std::vector<std::string> args = {
        testing::BinaryPath("polku-sim"),
        "--gateway=" + suite_->gateway_grpc_address(),
        "--credentials=" + suite_->data_dir() + "/credentials.json",
        absl::StrCat("--seed=", seed),
        absl::StrCat("--customers=", customers),
        absl::StrCat("--days=", days),
        absl::StrCat("--end_date=", end_date),
        "--truths_file=" + suite_->data_dir() + "/truths.json"};
    args.insert(args.end(), plants.begin(), plants.end());
    const Output sim = RunCommand(args);
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

  // Waits until polku-insight has counted `events` events of the journey
  // and the change monitor has evaluated the journey at that point (its log
  // says so); returns the feed sequence reached.
  void AwaitEvaluated(int64_t events) {
    const absl::Time deadline = absl::Now() + kBound;
    int64_t sequence = -1;
    while (absl::Now() < deadline) {
      v1::GetScorecardRequest request;
      request.set_journey(journey_);
      v1::Scorecard card;
      grpc::Status status =
          insight_->GetScorecard(AsTenant().get(), request, &card);
      if (status.ok() && card.total().events() == events) {
        sequence = card.as_of_sequence();
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    ASSERT_GE(sequence, 0) << "polku-insight did not count " << events
                           << " events in time";
    const std::regex evaluated_re(absl::StrCat(
        "\"msg\":\"change alerts evaluated\".*\"journey\":\"", journey_,
        "\",\"as_of_sequence\":([0-9]+)"));
    while (absl::Now() < deadline) {
      std::istringstream logs(suite_->Logs());
      std::smatch match;
      for (std::string line; std::getline(logs, line);) {
        if (std::regex_search(line, match, evaluated_re) &&
            std::stoll(match[1]) >= sequence) {
          return;
        }
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    FAIL() << "the change monitor did not evaluate sequence " << sequence;
  }

  std::vector<v1::Alert> OpenAlerts() {
    v1::ListAlertsRequest request;
    request.set_journey(journey_);
    request.set_page_size(1000);
    v1::ListAlertsResponse response;
    grpc::Status status =
        insight_->ListAlerts(AsTenant().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.alerts().begin(), response.alerts().end()};
  }

  static std::string Describe(const std::vector<v1::Alert>& alerts) {
    std::vector<std::string> lines;
    for (const v1::Alert& alert : alerts) {
      lines.push_back(absl::StrCat(
          v1::GroupBy_Name(alert.scope()), " ", alert.key(), " ",
          v1::Metric_Name(alert.metric()), alert.measure(), " ", alert.before(),
          " → ", alert.after(), " p_adj=", alert.adjusted_p_value()));
    }
    return absl::StrJoin(lines, "\n");
  }

  std::unique_ptr<Suite> suite_;
  std::unique_ptr<v1::InsightService::Stub> insight_;
  std::string journey_;
};

class PlantedTruthsTest : public MonitoringSuiteTest,
                          public ::testing::WithParamInterface<int> {};

TEST_P(PlantedTruthsTest, ThePlantedChangeAndInconsistencyAreFound) {
  const int64_t events = Simulate(
      GetParam(),
      {absl::StrCat("--plant_change=", kChangedTouchpoint, ":", kChangeDay,
                    ":-1.0"),
       absl::StrCat("--plant_inconsistency=", kJourney, "/", kInconsistentStage,
                    "/", kInconsistentChannel, ":-1.0")});
  std::ifstream truths_file(suite_->data_dir() + "/truths.json");
  std::stringstream truths;
  truths << truths_file.rdbuf();
  EXPECT_THAT(truths.str(), ::testing::HasSubstr(kChangedTouchpoint));
  AwaitEvaluated(events);

  // The alert points at the planted touchpoint (its stage and channel may
  // alert too: they contain it); no other touchpoint alerts.
  const std::vector<v1::Alert> open = OpenAlerts();
  bool found = false;
  for (const v1::Alert& alert : open) {
    // Metric truth: a theme of the touchpoint's complaints may emerge with
    // the drop too (its own end-to-end test is ThemeAlertsSuiteTest).
    if (alert.scope() != v1::GROUP_BY_TOUCHPOINT ||
        alert.kind() == v1::EMERGING_THEME) {
      continue;
    }
    EXPECT_EQ(alert.key(), kChangedTouchpoint) << Describe(open);
    if (alert.key() == kChangedTouchpoint && alert.worse()) {
      found = true;
      EXPECT_LT(alert.adjusted_p_value(), 0.01);
      EXPECT_EQ(alert.state(), v1::OPEN);
    }
  }
  EXPECT_TRUE(found) << "no alert for the planted touchpoint:\n"
                     << Describe(open);

  // The planted channel is flagged in the planted stage, for the worse.
  v1::GetConsistencyRequest request;
  request.set_journey(kJourney);
  v1::Consistency consistency;
  grpc::Status status =
      insight_->GetConsistency(AsTenant().get(), request, &consistency);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(consistency.stages_size(), 2);
  EXPECT_EQ(consistency.stages(0).stage(), kInconsistentStage);
  bool flagged = false;
  for (const v1::MetricConsistency& metric : consistency.stages(0).metrics()) {
    if (metric.metric() != v1::CSAT_TOP2_BOX) continue;
    EXPECT_TRUE(metric.inconsistent());
    for (const v1::ChannelValue& channel : metric.channels()) {
      if (channel.channel() == kInconsistentChannel) {
        flagged = channel.significant() && channel.effect() < 0;
      }
    }
  }
  EXPECT_TRUE(flagged) << consistency.stages(0).DebugString();
}

TEST_P(PlantedTruthsTest, AnUnchangedSimulationRaisesNoAlert) {
  AwaitEvaluated(Simulate(GetParam(), {}));
  const std::vector<v1::Alert> open = OpenAlerts();
  EXPECT_TRUE(open.empty()) << Describe(open);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PlantedTruthsTest, ::testing::Values(1, 2, 3));

// An emerging comment theme raised as an alert, end to end: polku-sim writes
// four weeks of Finnish comments at a one-stage journey, then a second run
// (another seed: other customers) the days 2025-03-10 (Monday) to 03-13 of
// ISO week 2025-W11 with the complaint "toimitus" planted, in its inflected
// forms, into the low-score comments of web_order. ListAlerts through the
// gateway, as the tenant's admin key, must show it — and no theme alert at
// the touchpoints where nothing was planted.
class ThemeAlertsSuiteTest : public MonitoringSuiteTest {
 protected:
  v1::Journey JourneyUnderTest() const override {
    return testing::MakeJourney("themes", "Theme alerts", {"visit"},
                                {{"web_order", "visit", "web"},
                                 {"shop_pickup", "visit", "shop"},
                                 {"call_center", "visit", "phone"}},
                                "monitoring");
  }
};

TEST_F(ThemeAlertsSuiteTest, AThemeRisingInTheLastWeekIsAnAlertOnce) {
  const std::vector<std::string> finnish = {"--comment_share=1",
                                            "--comment_languages=fi:1"};
  int64_t events = Simulate(21, finnish, 900, 28, "2025-03-07");
  std::vector<std::string> planted = finnish;
  planted.push_back("--plant_theme=web_order:fi:toimitus:0.6");
  // More low-score comments at web_order, for the theme to be in.
  planted.push_back("--plant_change=web_order:2025-03-10:-1.0");
  events += Simulate(22, planted, 300, 4, "2025-03-13");
  AwaitEvaluated(events);

  auto insight = v1::InsightService::NewStub(suite_->GatewayChannel());
  v1::ListAlertsRequest request;
  request.set_journey("themes");
  request.set_include_cleared(true);
  request.set_page_size(1000);
  v1::ListAlertsResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  Suite::Authorize(context, suite_->credentials().admin_key);
  grpc::Status status = insight->ListAlerts(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  std::vector<std::string> listing;
  const v1::Alert* toimitus = nullptr;
  int toimitus_alerts = 0;
  for (const v1::Alert& alert : response.alerts()) {
    if (alert.kind() != v1::EMERGING_THEME) continue;
    listing.push_back(absl::StrCat(alert.id(), " ", alert.theme().term(), " ",
                                   alert.before(), " → ", alert.after(),
                                   " z=", alert.theme().z()));
  }
  for (const v1::Alert& alert : response.alerts()) {
    if (alert.kind() != v1::EMERGING_THEME) continue;
    // Nothing was planted elsewhere.
    EXPECT_EQ(alert.key(), "web_order") << absl::StrJoin(listing, "\n");
    if (alert.theme().term() != "toimitus") continue;
    ++toimitus_alerts;
    toimitus = &alert;
  }
  ASSERT_NE(toimitus, nullptr) << absl::StrJoin(listing, "\n");
  EXPECT_EQ(toimitus_alerts, 1);  // one week, one touchpoint: once
  EXPECT_EQ(toimitus->state(), v1::OPEN);
  EXPECT_EQ(toimitus->theme().week(), "2025-W11");
  EXPECT_EQ(toimitus->scope(), v1::GROUP_BY_TOUCHPOINT);
  EXPECT_EQ(toimitus->theme().baseline_count(), 0);
  EXPECT_GT(toimitus->theme().current_count(), 10);
  EXPECT_EQ(toimitus->before(), 0);
  EXPECT_GT(toimitus->after(), 0.05);
  EXPECT_GT(toimitus->theme().z(), 3);
  EXPECT_LT(toimitus->adjusted_p_value(), 0.01);
  EXPECT_TRUE(toimitus->worse());
  EXPECT_EQ(toimitus->id(), absl::StrCat("themes/touchpoint/web_order/theme/",
                                         toimitus->theme().theme_id(),
                                         "/2025-W11"));
}

// Freshness: an event the gateway acknowledged is on a WatchScorecard stream
// within one second, at the default settings of every process.
TEST_F(MonitoringSuiteTest, AnAcknowledgedEventIsLiveWithinASecond) {
  auto stream_context = AsTenant();
  stream_context->set_deadline(absl::ToChronoTime(absl::Now() + kBound));
  v1::GetScorecardRequest request;
  request.set_journey(kJourney);
  auto live = insight_->WatchScorecard(stream_context.get(), request);
  v1::Scorecard card;
  ASSERT_TRUE(live->Read(&card));
  EXPECT_EQ(card.total().events(), 0);

  auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
  for (int i = 0; i < 3; ++i) {
    v1::SubmitEventsRequest submit;
    v1::TouchpointEvent* event = submit.add_events();
    event->set_event_id(absl::StrCat("live-", i));
    event->set_touchpoint("web_page");
    event->set_customer("live-customer");
    event->mutable_occurred_at()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
    event->set_csat(5);
    v1::SubmitEventsResponse response;
    grpc::ClientContext context;
    Suite::Authorize(context, suite_->credentials().channel_keys.at("web"));
    ASSERT_TRUE(feedback->SubmitEvents(&context, submit, &response).ok());
    ASSERT_EQ(response.results_size(), 1);
    ASSERT_EQ(response.results(0).outcome(), v1::EventResult::ACCEPTED);
    const absl::Time acknowledged = absl::Now();
    while (card.total().events() < i + 1) ASSERT_TRUE(live->Read(&card));
    EXPECT_LT(absl::Now() - acknowledged, absl::Seconds(1)) << "event " << i;
    EXPECT_EQ(card.total().events(), i + 1);
  }
  stream_context->TryCancel();
}

}  // namespace
}  // namespace polku
