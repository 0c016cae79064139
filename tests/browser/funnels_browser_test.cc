// The dashboard's "Funnel and paths" view in a real browser (issue 19): the
// whole suite runs, a journey with an optional stage is published, polku-sim
// sends two weeks of feedback ending now with a planted bottleneck, a
// planted stage time and a planted switch (customers of the last days are
// still in progress), a dashboard key (insights:read only) is created, and
// funnels_check.mjs drives Debian's headless Chromium through
// playwright-core: every table cell and chart label of the view against
// GET /v1/funnel and GET /v1/paths, and a screenshot.
//
// Without /usr/bin/chromium the test is skipped, unless CI is set: there it
// fails, so that the browser test can never silently stop running.
#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "polku/v1/admin.pb.h"
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

TEST(FunnelsBrowserTest, TheViewShowsTheFunnelAndPathsAsTheApiSaysThem) {
  POLKU_SKIP_WITHOUT_CHROMIUM();
  auto suite = Suite::Start();
  ASSERT_TRUE(suite.ok()) << suite.status();
  httplib::Client client((*suite)->gateway_http_host(),
                         (*suite)->gateway_http_port());
  client.set_read_timeout(30, 0);
  const std::string admin = (*suite)->credentials().admin_key;
  auto post = [&](const std::string& path, const std::string& body) {
    auto response = client.Post(path, {{"Authorization", "Bearer " + admin}},
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
  for (v1::Stage& stage : *journey.mutable_stages()) {
    stage.set_name(absl::StrCat("Stage ", stage.key()));
  }
  journey.mutable_stages(4)->set_optional(true);
  post("/v1/journeys", ToJson(journey));
  post("/v1/journeys/shop:publish", "{}");

  // Two weeks ending today: the last days' customers are in progress.
  const std::string today =
      absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  std::string sim_output;
  const int sim = RunCommand(
      absl::StrCat(Quote(testing::BinaryPath("polku-sim")),
                   " --gateway=", (*suite)->gateway_grpc_address(),
                   " --credentials=", Quote((*suite)->data_dir() + "/credentials.json"),
                   " --seed=5 --customers=400 --days=14 --end_date=", today,
                   " --plant_drop_off=shop/buy:0.35",
                   " --plant_stage_time=shop/compare:20",
                   " --plant_switch=web:phone:0.2:48"),
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

  v1::ApiKey key;
  key.set_display_name("dashboard (funnels browser test)");
  key.add_scopes("insights:read");
  auto issued = FromJson<v1::CreateApiKeyResponse>(post(
      absl::StrCat("/v1/tenants/", (*suite)->credentials().tenant, "/apiKeys"),
      ToJson(key)));
  ASSERT_FALSE(issued.key().empty());

  // polku-insight has counted every event.
  const absl::Time deadline = absl::Now() + kBound;
  int64_t counted = -1;
  while (absl::Now() < deadline) {
    auto response = client.Get("/v1/scorecard?journey=shop",
                               {{"Authorization", "Bearer " + issued.key()}});
    ASSERT_TRUE(response);
    ASSERT_EQ(response->status, 200) << response->body;
    counted = FromJson<v1::Scorecard>(response->body).total().events();
    if (counted == accepted) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(counted, accepted) << "polku-insight never counted the events";

  const std::filesystem::path screenshot =
      ScreenshotDir("funnels") / "funnel.png";
  std::string output;
  const int code = RunCommand(
      absl::StrCat("timeout --kill-after=5 150 node ",
                   Quote(absl::StrCat(POLKU_BROWSER_DIR, "/funnels_check.mjs")),
                   " --url http://", (*suite)->gateway_http_host(), ":",
                   (*suite)->gateway_http_port(), " --key ", Quote(issued.key()),
                   " --journey shop --expect_bottleneck compare:buy --chromium ",
                   kChromium, " --screenshot ", Quote(screenshot.string())),
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
