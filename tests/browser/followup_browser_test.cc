// The dashboard's "Follow-up" view in a real browser (issue 21, item 10):
// the whole suite runs with polku-cases (its SLA timer every second), a
// journey with three touchpoints owned by three teams is published, and
// three case rules are created through the gateway, their business hours
// every hour of every day so that SLA time is wall time:
//
//  * web_checkout: first contact within 3 s — its cases breach;
//  * help_line: first contact within 10 h, reminder at 0.02 % (7 s) — its
//    cases pass the reminder;
//  * shop_counter: first contact within 100 h — on time.
//
// Detractors answer at each (their references must never reach the page;
// one comment carries markup), and cases are worked through the API: in the
// shop one assigned, contacted, commented and resolved (its customer answers
// again later), one waiting for the customer (paused), one no-contact (the
// event's contact_consent attribute), one assigned, one left new, one
// contacted, resolved and closed; on the help line one resolved without
// contact and one resolved without contact then reopened (first contact met
// by the resolution); on the web one no-contact case whose first-contact due
// passes before the SLA timer runs again. A web customer who was never
// contacted answers again too, so recovery has n = 1 on each side: too few
// for an interval. followup_check.mjs then drives Debian's headless Chromium
// through playwright-core and checks the view against what was done to each
// case (--cases label=id: SLA state, next due, order, detail written out by
// hand there) and against the API (history, measures), page by page and
// under each filter, the live queue, and that no reference is in the page.
//
// Without /usr/bin/chromium the test is skipped, unless CI is set: there it
// fails, so that the browser test can never silently stop running.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <tuple>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "polku/v1/admin.pb.h"
#include "polku/v1/cases.pb.h"
#include "polku/v1/feedback.pb.h"
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

// Every wait of the setup together, and the check script's run, stay within
// the ctest TIMEOUT (300 s; the suite's start takes a few seconds).
constexpr absl::Duration kSetupBound = absl::Seconds(75);
constexpr int kCheckSeconds = 190;
// Unlike anything else in the page, so that finding it means a leak.
constexpr char kRefPrefix[] = "CUSTREF-9d41e7-";

v1::CaseRule Rule(const std::string& name, const std::string& touchpoint,
                  v1::CasePriority priority, int64_t first_contact,
                  int64_t resolution, double reminder_share) {
  v1::CaseRule rule;
  rule.set_journey("care");
  rule.set_name(name);
  rule.mutable_conditions()->add_touchpoints(touchpoint);
  rule.mutable_conditions()->set_max_nps(6);
  rule.mutable_conditions()->set_max_csat(2);
  rule.set_priority(priority);
  rule.set_fallback_queue("followup");
  v1::CaseSla& sla = *rule.mutable_sla();
  sla.set_first_contact_seconds(first_contact);
  sla.set_resolution_seconds(resolution);
  sla.set_reminder_share(reminder_share);
  // Every hour of every day: business time is wall time.
  sla.mutable_business_hours()->set_time_zone("UTC");
  for (int day = 1; day <= 7; ++day) {
    auto* interval = sla.mutable_business_hours()->add_weekly();
    interval->set_weekday(day);
    interval->set_open_minute(0);
    interval->set_close_minute(24 * 60);
  }
  return rule;
}

TEST(FollowupBrowserTest, TheFollowUpViewShowsQueuesHistoryAndMeasuresAsTheApiSaysThem) {
  POLKU_SKIP_WITHOUT_CHROMIUM();
  Suite::Options options;
  options.cases_replicas = 1;
  options.cases_flags = {"--sla_interval_seconds=1"};
  // One deadline for every wait of the setup.
  const absl::Time setup_by = absl::Now() + kSetupBound;
  auto suite = Suite::Start(options);
  ASSERT_TRUE(suite.ok()) << suite.status();
  httplib::Client client((*suite)->gateway_http_host(),
                         (*suite)->gateway_http_port());
  client.set_read_timeout(30, 0);
  const std::string admin = (*suite)->credentials().admin_key;
  auto call = [&](const std::string& method, const std::string& path,
                  const std::string& key, const std::string& body) {
    httplib::Headers headers = {{"Authorization", "Bearer " + key}};
    httplib::Result response =
        method == "GET"     ? client.Get(path, headers)
        : method == "PATCH" ? client.Patch(path, headers, body, "application/json")
                            : client.Post(path, headers, body, "application/json");
    EXPECT_TRUE(response) << method << " " << path;
    if (!response) return std::string();
    EXPECT_EQ(response->status, 200) << method << " " << path << ": " << response->body;
    return response->body;
  };
  auto post = [&](const std::string& path, const std::string& key,
                  const std::string& body) { return call("POST", path, key, body); };

  v1::Journey journey = testing::MakeJourney(
      "care", "Getting help", {"buy", "support"},
      {{"web_checkout", "buy", "web"},
       {"shop_counter", "buy", "shop"},
       {"help_line", "support", "phone"}},
      "sales");
  const std::map<std::string, std::string> teams = {
      {"web_checkout", "web-team"}, {"shop_counter", "shop-team"}, {"help_line", "care-team"}};
  for (v1::Touchpoint& touchpoint : *journey.mutable_touchpoints()) {
    touchpoint.set_name(absl::StrCat("Touchpoint ", touchpoint.key()));
    touchpoint.set_owner_team(teams.at(touchpoint.key()));
  }
  post("/v1/journeys", admin, ToJson(journey));
  post("/v1/journeys/care:publish", admin, "{}");

  auto key_with = [&](const std::string& name, std::vector<std::string> scopes) {
    v1::ApiKey key;
    key.set_display_name(name);
    for (const std::string& scope : scopes) key.add_scopes(scope);
    auto issued = FromJson<v1::CreateApiKeyResponse>(post(
        absl::StrCat("/v1/tenants/", (*suite)->credentials().tenant, "/apiKeys"),
        admin, ToJson(key)));
    EXPECT_FALSE(issued.key().empty());
    return issued.key();
  };
  const std::string worker = key_with("team lead", {"cases:read", "cases:write"});
  const std::string dashboard = key_with("dashboard (follow-up browser test)",
                                         {"insights:read", "cases:read"});
  const std::string insights_only = key_with("dashboard without cases", {"insights:read"});

  for (const v1::CaseRule& rule :
       {Rule("Web detractors, fast", "web_checkout", v1::URGENT, 3, 360000, 0.5),
        Rule("Help line, reminded", "help_line", v1::NORMAL, 36000, 72000, 0.0002),
        Rule("Shop detractors", "shop_counter", v1::HIGH, 360000, 720000, 0.75)}) {
    auto created = FromJson<v1::CaseRule>(post("/v1/caseRules", worker, ToJson(rule)));
    ASSERT_FALSE(created.rule_id().empty());
  }

  // label → (touchpoint, channel, customer, attributes)
  struct Answer {
    std::string label, touchpoint, channel;
    int nps;
    bool csat = false;
    bool no_contact = false;
  };
  const std::vector<Answer> answers = {
      {"w0", "web_checkout", "web", 2}, {"w1", "web_checkout", "web", 4},
      {"w2", "web_checkout", "web", 0}, {"h0", "help_line", "phone", 1, true},
      {"h1", "help_line", "phone", 2, true}, {"s0", "shop_counter", "shop", 3},
      {"s1", "shop_counter", "shop", 5}, {"s2", "shop_counter", "shop", 6, false, true},
      {"s3", "shop_counter", "shop", 1}, {"s4", "shop_counter", "shop", 4},
      {"w3", "web_checkout", "web", 3, false, true},  // no contact, due passes
      {"h2", "help_line", "phone", 2, true},  // resolved directly
      {"h3", "help_line", "phone", 1, true},  // resolved directly, reopened
      {"s5", "shop_counter", "shop", 2},  // contacted, resolved, closed
      {"p0", "shop_counter", "shop", 10}};  // a promoter: no case
  std::vector<std::string> refs;
  const absl::Time occurred = absl::Now() - absl::Minutes(10);
  auto submit = [&](const std::string& channel, const v1::TouchpointEvent& event) {
    v1::SubmitEventsRequest request;
    *request.add_events() = event;
    // polku-feedback learns of the journey from polku-journey's watch:
    // re-send until it knows the touchpoint.
    while (true) {
      auto response = FromJson<v1::SubmitEventsResponse>(
          post("/v1/events", (*suite)->credentials().channel_keys.at(channel),
               ToJson(request)));
      if (response.results_size() == 1 &&
          response.results(0).outcome() != v1::EventResult::REJECTED) {
        return;
      }
      ASSERT_LT(absl::Now(), setup_by) << "setup ran out of its " << kSetupBound
                                       << ": " << response.DebugString();
      absl::SleepFor(absl::Milliseconds(100));
    }
  };
  for (const Answer& a : answers) {
    v1::TouchpointEvent event;
    event.set_event_id("first-" + a.label);
    event.set_touchpoint(a.touchpoint);
    event.set_customer(kRefPrefix + a.label);
    refs.push_back(kRefPrefix + a.label);
    event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(occurred));
    if (a.csat) event.set_csat(a.nps); else event.set_nps(a.nps);
    event.set_language("en");
    event.set_comment(a.label == "s0"
                          ? "Nobody <img src=x onerror=\"window.__polkuXss=1\"> & nothing helped"
                          : "The wait was long and nobody called back");
    (*event.mutable_attributes())["label"] = a.label;
    if (a.no_contact) (*event.mutable_attributes())["contact_consent"] = "no";
    submit(a.channel, event);
  }

  // Every detractor's case, by the label attribute.
  std::map<std::string, v1::Case> cases;
  auto list = [&]() {
    cases.clear();
    auto page = FromJson<v1::ListCasesResponse>(
        call("GET", "/v1/cases?journey=care&page_size=500", worker, ""));
    for (const v1::Case& c : page.cases()) {
      auto label = c.event().attributes().find("label");
      EXPECT_NE(label, c.event().attributes().end()) << "case " << c.case_id() << " has no label";
      if (label != c.event().attributes().end()) cases[label->second] = c;
    }
  };
  for (list(); cases.size() < answers.size() - 1; list()) {
    ASSERT_LT(absl::Now(), setup_by) << "setup ran out of its " << kSetupBound << ": "
                                     << cases.size() << " cases opened";
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_EQ(cases.size(), answers.size() - 1);
  EXPECT_EQ(cases.count("p0"), 0u);
  EXPECT_EQ(cases.at("s0").owner_team(), "shop-team");
  EXPECT_TRUE(cases.at("s2").no_contact());

  auto update = [&](const std::string& label, const std::string& mask,
                    const std::string& body) {
    v1::Case updated = FromJson<v1::Case>(call(
        "PATCH", absl::StrCat("/v1/cases/", cases.at(label).case_id(), "?update_mask=", mask),
        worker, body));
    cases[label] = updated;
  };
  update("s0", "assignee", R"({"assignee": "agent-anna"})");
  update("s0", "state", R"({"state": "CONTACTED"})");
  post(absl::StrCat("/v1/cases/", cases.at("s0").case_id(), "/comments"), worker,
       R"({"text": "Called back: <b>refund</b> agreed"})");
  update("s0", "state", R"({"state": "RESOLVED"})");
  update("s1", "assignee", R"({"assignee": "agent-ben"})");
  update("s1", "state", R"({"state": "CONTACTED"})");
  update("s1", "state", R"({"state": "WAITING_FOR_CUSTOMER"})");
  update("s3", "assignee", R"({"assignee": "agent-anna"})");
  // First contact met by resolving without contacting; then reopened.
  update("h2", "assignee", R"({"assignee": "agent-cid"})");
  update("h2", "state", R"({"state": "RESOLVED"})");
  update("h3", "assignee", R"({"assignee": "agent-cid"})");
  update("h3", "state", R"({"state": "RESOLVED"})");
  update("h3", "state", R"({"state": "REOPENED"})");
  update("s5", "assignee", R"({"assignee": "agent-dan"})");
  update("s5", "state", R"({"state": "CONTACTED"})");
  update("s5", "state", R"({"state": "RESOLVED"})");
  update("s5", "state", R"({"state": "CLOSED"})");
  ASSERT_EQ(cases.at("s0").state(), v1::RESOLVED);
  ASSERT_EQ(cases.at("h3").state(), v1::REOPENED);
  ASSERT_EQ(cases.at("s5").state(), v1::CLOSED);
  ASSERT_EQ(cases.at("s1").state(), v1::WAITING_FOR_CUSTOMER);

  // Later answers for recovery: the resolved customer, and a web customer
  // never contacted (NPS 7: matches no rule).
  absl::SleepFor(absl::Seconds(1));
  for (const auto& [label, touchpoint, channel, nps] :
       std::vector<std::tuple<std::string, std::string, std::string, int>>{
           {"s0", "shop_counter", "shop", 9}, {"w0", "web_checkout", "web", 7}}) {
    v1::TouchpointEvent event;
    event.set_event_id("later-" + label);
    event.set_touchpoint(touchpoint);
    event.set_customer(kRefPrefix + label);
    event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    event.set_nps(nps);
    submit(channel, event);
  }

  // The SLA timer has raised the web breaches and the help line reminders,
  // and has run again after the no-contact web case's first-contact due.
  const absl::Time w3_due =
      absl::FromUnixSeconds(cases.at("w3").create_time().seconds()) + absl::Seconds(4);
  while (true) {
    list();
    bool raised = true;
    for (const char* w : {"w0", "w1", "w2"}) {
      raised = raised && cases.at(w).sla().first_contact_breached();
    }
    for (const char* h : {"h0", "h1"}) {
      raised = raised && cases.at(h).sla().first_contact_reminded();
    }
    if (raised && absl::Now() > w3_due + absl::Seconds(2)) break;
    ASSERT_LT(absl::Now(), setup_by) << "setup ran out of its " << kSetupBound
                                     << ": the SLA timer raised nothing";
    absl::SleepFor(absl::Milliseconds(500));
  }
  for (const char* h : {"h0", "h1"}) EXPECT_FALSE(cases.at(h).sla().first_contact_breached());
  // Recovery sees both later answers (read back from polku-feedback).
  const std::string today = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  while (true) {
    auto measures = FromJson<v1::CaseMeasures>(call(
        "GET", absl::StrCat("/v1/cases:measures?journey=care&range.start=2000-01-01T00:00:00Z",
                            "&range.end=2100-01-01T00:00:00Z"),
        worker, ""));
    if (measures.recovery_n_resolved() == 1 && measures.recovery_n_not_contacted() == 1) break;
    ASSERT_LT(absl::Now(), setup_by) << "setup ran out of its " << kSetupBound << ": "
                                     << measures.DebugString();
    absl::SleepFor(absl::Milliseconds(500));
  }

  // label=case id: the check script knows what was done to each label.
  std::vector<std::string> planted;
  for (const auto& [label, c] : cases) planted.push_back(label + "=" + c.case_id());

  const std::filesystem::path screenshot =
      ScreenshotDir("followup") / "follow-up.png";
  std::string output;
  const int code = RunCommand(
      absl::StrCat("timeout --kill-after=5 ", kCheckSeconds + 5, " node ",
                   Quote(absl::StrCat(POLKU_BROWSER_DIR, "/followup_check.mjs")),
                   " --url http://", (*suite)->gateway_http_host(), ":",
                   (*suite)->gateway_http_port(), " --key ", Quote(dashboard),
                   " --write_key ", Quote(worker),
                   " --insights_key ", Quote(insights_only),
                   " --journey care --team shop-team",
                   " --case ", cases.at("s0").case_id(),
                   " --live_case ", cases.at("s4").case_id(),
                   " --cases ", Quote(absl::StrJoin(planted, ",")),
                   " --deadline_s ", kCheckSeconds,
                   " --refs ", Quote(absl::StrJoin(refs, ",")),
                   " --chromium ", kChromium,
                   " --screenshot ", Quote(screenshot.string())),
      output);
  EXPECT_NE(code, 124) << "followup_check.mjs was killed after " << kCheckSeconds + 5
                       << " s (the ctest TIMEOUT is 300 s): " << output;
  EXPECT_EQ(code, 0) << output;
  std::cout << output;
  std::ifstream png(screenshot, std::ios::binary);
  ASSERT_TRUE(png.good()) << "no screenshot at " << screenshot;
  std::cout << "screenshot: " << screenshot << " (" << today << ")\n";
  EXPECT_EQ((*suite)->Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace polku
