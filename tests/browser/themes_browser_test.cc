// The dashboard's "Pain points" view in a real browser (issue 20): the whole
// suite runs, a journey is published, polku-sim sends three weeks of
// feedback ending now with a planted Finnish theme (late deliveries at the
// shop counter) and a planted Swedish one (at the web checkout), thirty
// complaints of this week about parking at the shop window are sent directly
// (a theme that is new, so emerging; the comments carry HTML, which the page
// must show as text), and a second journey gets three comments only (too few for a
// theme). A dashboard key (insights:read only) is created, and
// themes_check.mjs drives Debian's headless Chromium through playwright-core:
// the view opened from the touchpoint on the journey map, every cell of the
// themes table and every example comment with its highlighted span against
// GET /v1/themes and GET /v1/themes/{id}/examples asked the same questions,
// the empty, too-few and error answers, and a screenshot.
//
// Without /usr/bin/chromium the test is skipped, unless CI is set: there it
// fails, so that the browser test can never silently stop running.
#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "polku/v1/admin.pb.h"
#include "polku/v1/feedback.pb.h"
#include "polku/v1/insight.pb.h"
#include "polku/v1/journey.pb.h"
#include "tests/browser/browser_util.h"
#include "tests/harness/journeys.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::FromJson;
using ::polku::testing::kChromium;
using ::polku::testing::Quote;
using ::polku::testing::RunCommand;
using ::polku::testing::ScreenshotDir;
using ::polku::testing::Suite;
using ::polku::testing::ToJson;

constexpr absl::Duration kBound = absl::Seconds(60);

TEST(ThemesBrowserTest, ThePainPointsViewShowsThemesAndExamplesAsTheApiSaysThem) {
  POLKU_SKIP_WITHOUT_CHROMIUM();
  auto suite = Suite::Start();
  ASSERT_TRUE(suite.ok()) << suite.status();
  httplib::Client client((*suite)->gateway_http_host(),
                         (*suite)->gateway_http_port());
  client.set_read_timeout(30, 0);
  const std::string admin = (*suite)->credentials().admin_key;
  auto post = [&](const std::string& path, const std::string& key,
                  const std::string& body) {
    auto response = client.Post(path, {{"Authorization", "Bearer " + key}},
                                body, "application/json");
    EXPECT_TRUE(response);
    if (!response) return std::string();
    EXPECT_EQ(response->status, 200) << path << ": " << response->body;
    return response->body;
  };

  v1::Journey journey = testing::MakeJourney(
      "shop", "Buying a phone", {"visit", "compare", "buy", "use", "support"},
      {{"web_home", "visit", "web"},
       {"shop_window", "visit", "shop"},
       {"web_compare", "compare", "web"},
       {"shop_advice", "compare", "shop"},
       {"web_checkout", "buy", "web"},
       {"shop_counter", "buy", "shop"},
       {"welcome_email", "use", "email"},
       {"help_line", "support", "phone"}},
      "sales");
  for (v1::Touchpoint& touchpoint : *journey.mutable_touchpoints()) {
    touchpoint.set_name(absl::StrCat("Touchpoint ", touchpoint.key()));
  }
  post("/v1/journeys", admin, ToJson(journey));
  post("/v1/journeys/shop:publish", admin, "{}");

  // Three weeks ending today, many comments in Finnish and Swedish.
  const std::string today =
      absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  std::string sim_output;
  const int sim = RunCommand(
      absl::StrCat(Quote(testing::BinaryPath("polku-sim")),
                   " --gateway=", (*suite)->gateway_grpc_address(),
                   " --credentials=", Quote((*suite)->data_dir() + "/credentials.json"),
                   " --seed=7 --customers=3000 --days=21 --end_date=", today,
                   " --comment_share=0.6 --comment_languages=fi:0.6,sv:0.3,en:0.1",
                   " --plant_theme=shop_counter:fi:toimitus:0.8,web_checkout:sv:leverans:0.6"),
      sim_output);
  ASSERT_EQ(sim, 0) << sim_output;
  int64_t accepted = 0;
  std::smatch match;
  const std::regex accepted_re("accepted +([0-9]+)");
  for (std::string rest = sim_output;
       std::regex_search(rest, match, accepted_re); rest = match.suffix()) {
    accepted += std::stoll(match[1]);
  }
  ASSERT_GT(accepted, 0) << sim_output;

  // This week's new complaint, with markup and Finnish letters in it: the
  // page must show the markup as text and highlight by UTF-8 byte spans.
  // Thirty, so that its words rank among the touchpoint's top 20 and rise
  // significantly in the latest week whatever the weekday.
  const std::string shop_key = (*suite)->credentials().channel_keys.at("shop");
  v1::SubmitEventsRequest complaints;
  for (int i = 0; i < 30; ++i) {
    v1::TouchpointEvent* event = complaints.add_events();
    event->set_event_id(absl::StrCat("parking-", i));
    event->set_touchpoint("shop_window");
    event->set_customer(absl::StrCat("parking-customer-", i));
    event->mutable_occurred_at()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Seconds(5 + i)));
    event->set_nps(i % 3);
    event->set_language("fi");
    event->set_comment(absl::StrCat(
        "Pysäköintialue oli täynnä <img src=x onerror=\"window.__polkuXss=", i,
        "\"> & kävelin kauas, äärimmäisen ärsyttävää."));
  }
  auto sent = FromJson<v1::SubmitEventsResponse>(
      post("/v1/events", shop_key, ToJson(complaints)));
  for (const auto& result : sent.results()) {
    ASSERT_EQ(result.outcome(), v1::EventResult::ACCEPTED) << result.DebugString();
  }
  accepted += complaints.events_size();

  // A second journey with three comments: too few for any theme.
  v1::Journey quiet = testing::MakeJourney(
      "quiet", "Quiet journey", {"visit"}, {{"quiet_desk", "visit", "shop"}},
      "sales");
  post("/v1/journeys", admin, ToJson(quiet));
  post("/v1/journeys/quiet:publish", admin, "{}");
  v1::SubmitEventsRequest few;
  for (int i = 0; i < 3; ++i) {
    v1::TouchpointEvent* event = few.add_events();
    event->set_event_id(absl::StrCat("quiet-", i));
    event->set_touchpoint("quiet_desk");
    event->set_customer(absl::StrCat("quiet-customer-", i));
    event->mutable_occurred_at()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Minutes(30 + i)));
    event->set_csat(4);
    event->set_comment("Kiitos, kaikki meni hyvin.");
  }
  // polku-feedback learns of the new journey from polku-journey's watch
  // stream: re-send until it knows the touchpoint.
  const absl::Time known_by = absl::Now() + kBound;
  while (true) {
    auto response = FromJson<v1::SubmitEventsResponse>(
        post("/v1/events", shop_key, ToJson(few)));
    bool all = response.results_size() == few.events_size();
    for (const auto& result : response.results()) {
      all = all && result.outcome() != v1::EventResult::REJECTED;
    }
    if (all) break;
    ASSERT_LT(absl::Now(), known_by) << response.DebugString();
    absl::SleepFor(absl::Milliseconds(100));
  }

  v1::ApiKey key;
  key.set_display_name("dashboard (themes browser test)");
  key.add_scopes("insights:read");
  auto issued = FromJson<v1::CreateApiKeyResponse>(post(
      absl::StrCat("/v1/tenants/", (*suite)->credentials().tenant, "/apiKeys"),
      admin, ToJson(key)));
  ASSERT_FALSE(issued.key().empty());

  // polku-insight has counted every event (the themes read the same ledger).
  const absl::Time deadline = absl::Now() + kBound;
  int64_t counted = -1;
  while (absl::Now() < deadline) {
    int64_t both = 0;
    for (const char* j : {"shop", "quiet"}) {
      auto response = client.Get(absl::StrCat("/v1/scorecard?journey=", j),
                                 {{"Authorization", "Bearer " + issued.key()}});
      ASSERT_TRUE(response);
      ASSERT_EQ(response->status, 200) << response->body;
      both += FromJson<v1::Scorecard>(response->body).total().events();
    }
    counted = both;
    if (counted == accepted + few.events_size()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(counted, accepted + few.events_size())
      << "polku-insight never counted the events";

  const std::filesystem::path screenshot =
      ScreenshotDir("themes") / "pain-points.png";
  std::string output;
  const int code = RunCommand(
      absl::StrCat("timeout --kill-after=5 170 node ",
                   Quote(absl::StrCat(POLKU_BROWSER_DIR, "/themes_check.mjs")),
                   " --url http://", (*suite)->gateway_http_host(), ":",
                   (*suite)->gateway_http_port(), " --key ", Quote(issued.key()),
                   " --journey shop --touchpoint shop_counter --planted toimitus",
                   " --emerging_touchpoint shop_window --quiet_journey quiet",
                   " --chromium ", kChromium,
                   " --screenshot ", Quote(screenshot.string())),
      output);
  EXPECT_EQ(code, 0) << output;
  std::cout << output;
  std::ifstream png(screenshot, std::ios::binary);
  ASSERT_TRUE(png.good()) << "no screenshot at " << screenshot;
  std::cout << "screenshot: " << screenshot << "\n";
  EXPECT_EQ((*suite)->Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace polku
