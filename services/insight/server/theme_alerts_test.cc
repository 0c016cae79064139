// Emerging themes raised through the alert monitor: a theme planted to rise
// in the last week is raised once, with the numbers an independent scipy
// computation gives (theme_alerts_reference.py); a stable theme is not.
#include "services/insight/server/theme_alerts.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/base/clock.h"
#include "services/insight/analytics/themes.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight {
namespace {

using testing::FakeRollupStore;
using testing::kMarch1;
using testing::MakeEvent;

constexpr int64_t kDay = 24 * 3600;
// 2024-03-04, a Monday, as days after 2024-03-01: week k starts at
// kMonday + 7k; weeks 0–3 are the baseline, week 4 (2024-W14) the current.
constexpr int kMonday = 3;

const text::Analyzer& SharedAnalyzer() {
  static const text::Analyzer* analyzer = [] {
    absl::StatusOr<std::unique_ptr<text::Analyzer>> made =
        text::Analyzer::Create({});
    EXPECT_TRUE(made.ok()) << made.status();
    return made->release();
  }();
  return *analyzer;
}

class ThemeAlertsTest : public ::testing::Test {
 protected:
  void Comment(int day, const std::string& text, int nps,
               const std::string& touchpoint = "web_site") {
    ++sequence_;
    v1::StoredEvent event = MakeEvent({.sequence = sequence_,
                                       .touchpoint = touchpoint,
                                       .offset_seconds = day * kDay + 3600,
                                       .nps = nps,
                                       .customer_hash = absl::StrCat("c", sequence_)});
    event.mutable_event()->set_comment(text);
    event.mutable_event()->set_language("fi");
    store_.Add(event);
  }

  // Per day `first`…`first + days − 1` at `touchpoint`: `queue` low-score
  // comments about queueing (a stable complaint), `invoice` about a wrong
  // invoice (the one planted to rise), and `neutral` others.
  void Week(int first, int days, int queue, int invoice, int neutral,
            const std::string& touchpoint = "web_site") {
    const std::vector<std::string> neutral_texts = {
        "Hinta oli kohtuullinen.", "Kengät olivat sopivat.",
        "Värit vastasivat kuvia.", "Paketin avaaminen oli helppoa."};
    for (int day = first; day < first + days; ++day) {
      for (int k = 0; k < queue; ++k) {
        Comment(day, "Jonotus kesti liian kauan.", k % 5, touchpoint);
      }
      for (int k = 0; k < invoice; ++k) {
        Comment(day, "Lasku oli virheellinen.", k % 5, touchpoint);
      }
      for (int k = 0; k < neutral; ++k) {
        Comment(day, neutral_texts[k % 4], 9 + k % 2, touchpoint);
      }
    }
  }

  // Four steady weeks: per week 14 queue complaints, 1 invoice complaint
  // (on the week's first day), 28 neutral comments.
  void Baseline(const std::string& touchpoint = "web_site") {
    for (int week = 0; week < 4; ++week) {
      const int monday = kMonday + 7 * week;
      Week(monday, 7, 2, 0, 4, touchpoint);
      Week(monday, 1, 0, 1, 0, touchpoint);
    }
  }

  std::vector<v1::Alert> ThemeAlerts(bool include_cleared = true) {
    absl::StatusOr<std::vector<v1::Alert>> all =
        store_.LoadAlerts("acme", "switching", include_cleared);
    EXPECT_TRUE(all.ok()) << all.status();
    std::vector<v1::Alert> out;
    if (!all.ok()) return out;
    for (v1::Alert& alert : *all) {
      if (alert.kind() == v1::EMERGING_THEME) out.push_back(std::move(alert));
    }
    return out;
  }

  static const v1::Alert* Find(const std::vector<v1::Alert>& alerts,
                               const std::string& term) {
    for (const v1::Alert& alert : alerts) {
      if (alert.theme().term() == term) return &alert;
    }
    return nullptr;
  }

  FakeRollupStore store_;
  int64_t sequence_ = 0;
  // Well after the data: the monitor anchors at the data's last day.
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  ThemeIndex index_{store_, store_, SharedAnalyzer()};
  ThemeAlertSource source_{index_, {}};
};

TEST_F(ThemeAlertsTest, ARisingThemeIsRaisedOnceWithItsNumbers) {
  Baseline();
  // Week 4, three days so far: the queue complaints as before, the invoice
  // complaint now in a third of the comments.
  const int week4 = kMonday + 28;
  Week(week4, 3, 2, 3, 4);

  AlertMonitor monitor(store_, {}, clock_);
  monitor.SetThemeSource(&source_);
  std::vector<std::string> heard;
  monitor.SetListener([&](const std::string&, const v1::Alert& alert) {
    if (alert.kind() == v1::EMERGING_THEME) heard.push_back(alert.id());
  });
  ASSERT_TRUE(monitor.Evaluate("acme", "switching").ok());

  std::vector<v1::Alert> raised = ThemeAlerts();
  std::string listing;
  for (const v1::Alert& a : raised) absl::StrAppend(&listing, a.id(), "\n");
  const v1::Alert* lasku = Find(raised, "lasku");
  ASSERT_NE(lasku, nullptr) << listing;
  // Only the invoice complaint's terms rose; the stable queue complaint and
  // the neutral words are not raised.
  for (const v1::Alert& alert : raised) {
    // "virheellinen" with Voikko, its Snowball stem "virheellin" without.
    EXPECT_THAT(alert.theme().term(),
                ::testing::AnyOf("lasku", ::testing::StartsWith("virheellin"),
                                 ::testing::StartsWith("lasku virheellin")))
        << listing;
  }
  EXPECT_EQ(Find(raised, "jonotus"), nullptr) << listing;
  EXPECT_EQ(heard.size(), raised.size());

  const std::string week = IsoWeek(kMarch1 + week4);
  EXPECT_EQ(week, "2024-W14");
  EXPECT_EQ(lasku->id(),
            absl::StrCat("switching/touchpoint/web_site/theme/", ThemeId("lasku"),
                         "/2024-W14"));
  EXPECT_EQ(lasku->state(), v1::OPEN);
  EXPECT_EQ(lasku->journey(), "switching");
  EXPECT_EQ(lasku->scope(), v1::GROUP_BY_TOUCHPOINT);
  EXPECT_EQ(lasku->key(), "web_site");
  EXPECT_EQ(lasku->metric(), v1::METRIC_UNSPECIFIED);
  EXPECT_TRUE(lasku->worse());
  EXPECT_EQ(lasku->theme().theme_id(), ThemeId("lasku"));
  EXPECT_THAT(lasku->theme().terms(), ::testing::ElementsAre("lasku"));
  EXPECT_EQ(lasku->theme().week(), "2024-W14");
  // Counted by hand from the plant: 4 baseline weeks of 43 comments, one
  // with the invoice each; 3 days of 9 comments, 3 with it.
  EXPECT_EQ(lasku->baseline_n(), 4 * 43);
  EXPECT_EQ(lasku->theme().baseline_count(), 4);
  EXPECT_EQ(lasku->current_n(), 27);
  EXPECT_EQ(lasku->theme().current_count(), 9);
  EXPECT_DOUBLE_EQ(lasku->before(), 4.0 / 172);
  EXPECT_DOUBLE_EQ(lasku->after(), 9.0 / 27);
  EXPECT_DOUBLE_EQ(lasku->effect(), 9.0 / 27 - 4.0 / 172);
  EXPECT_GT(lasku->theme().log_odds_z(), 0);
  EXPECT_LT(lasku->adjusted_p_value(), 0.01);
  EXPECT_GE(lasku->adjusted_p_value(), lasku->p_value());
  EXPECT_EQ(lasku->baseline_window().start().seconds(),
            (kMarch1 + kMonday) * kDay);
  EXPECT_EQ(lasku->current_window().start().seconds(),
            (kMarch1 + week4) * kDay);
  EXPECT_EQ(lasku->current_window().end().seconds(),
            (kMarch1 + week4 + 7) * kDay);

  // z and p against scipy.
  const std::string stem =
      absl::StrCat(::testing::TempDir(), "/theme_alerts_", getpid(), "_");
  {
    std::ofstream out(stem + "in.txt");
    for (const v1::Alert& alert : raised) {
      out << alert.theme().baseline_count() << " " << alert.baseline_n() << " "
          << alert.theme().current_count() << " " << alert.current_n() << "\n";
    }
  }
  const std::string command =
      absl::StrCat("/usr/bin/python3 ", POLKU_THEME_ALERTS_REFERENCE, " < ",
                   stem, "in.txt > ", stem, "out.txt");
  ASSERT_EQ(system(command.c_str()), 0) << command;
  std::ifstream in(stem + "out.txt");
  for (const v1::Alert& alert : raised) {
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    const std::vector<std::string> want = absl::StrSplit(line, ' ');
    ASSERT_EQ(want.size(), 2u) << line;
    const double z = std::strtod(want[0].c_str(), nullptr);
    const double p = std::strtod(want[1].c_str(), nullptr);
    EXPECT_NEAR(alert.theme().z(), z, 1e-9 * std::max(1.0, std::abs(z)))
        << alert.id();
    EXPECT_NEAR(alert.p_value(), p, 1e-9 * std::max(1e-300, p) + 1e-15)
        << alert.id();
    EXPECT_GT(alert.theme().z(), 3) << alert.id();
  }

  // Evaluated again, and again with more of the same week: nothing new.
  const size_t raised_count = raised.size();
  heard.clear();
  absl::StatusOr<std::vector<v1::Alert>> again =
      monitor.Evaluate("acme", "switching");
  ASSERT_TRUE(again.ok());
  Week(week4 + 3, 1, 2, 3, 4);
  clock_.Advance(absl::Hours(1));
  again = monitor.Evaluate("acme", "switching");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(heard.empty()) << heard.front();
  std::vector<v1::Alert> after = ThemeAlerts();
  EXPECT_EQ(after.size(), raised_count);
  const v1::Alert* same = Find(after, "lasku");
  ASSERT_NE(same, nullptr);
  EXPECT_EQ(same->first_seen().seconds(), lasku->first_seen().seconds());
  EXPECT_EQ(same->current_n(), 27);  // the numbers it was raised with

  // A restarted monitor (same store) does not raise it again either.
  AlertMonitor restarted(store_, {}, clock_);
  restarted.SetThemeSource(&source_);
  absl::StatusOr<std::vector<v1::Alert>> fresh =
      restarted.Evaluate("acme", "switching");
  ASSERT_TRUE(fresh.ok());
  for (const v1::Alert& alert : *fresh) {
    EXPECT_NE(alert.kind(), v1::EMERGING_THEME) << alert.id();
  }

  // The next week, back to normal: the week's alerts clear, none is raised.
  Week(week4 + 7, 7, 2, 0, 4);
  Week(week4 + 7, 1, 0, 1, 0);
  heard.clear();
  ASSERT_TRUE(monitor.Evaluate("acme", "switching").ok());
  EXPECT_EQ(heard.size(), raised_count);
  for (const v1::Alert& alert : ThemeAlerts()) {
    EXPECT_EQ(alert.state(), v1::CLEARED) << alert.id();
    EXPECT_EQ(alert.theme().week(), "2024-W14") << alert.id();
  }
  EXPECT_TRUE(ThemeAlerts(/*include_cleared=*/false).empty());
}

TEST_F(ThemeAlertsTest, StableThemesAndOtherTouchpointsRaiseNothing) {
  Baseline();
  Baseline("shop_visit");
  const int week4 = kMonday + 28;
  // Steady at the web site; the invoice rises at the shop only.
  Week(week4, 3, 2, 0, 4);
  Week(week4, 1, 0, 1, 0);
  Week(week4, 3, 2, 3, 4, "shop_visit");
  AlertMonitor monitor(store_, {}, clock_);
  monitor.SetThemeSource(&source_);
  ASSERT_TRUE(monitor.Evaluate("acme", "switching").ok());
  std::vector<v1::Alert> raised = ThemeAlerts();
  ASSERT_NE(Find(raised, "lasku"), nullptr);
  for (const v1::Alert& alert : raised) {
    EXPECT_EQ(alert.key(), "shop_visit") << alert.id();
  }

  // Without a theme source, no theme alert at all.
  FakeRollupStore plain;
  int64_t sequence = 0;
  for (int day = kMonday; day < kMonday + 31; ++day) {
    v1::StoredEvent event = MakeEvent({.sequence = ++sequence,
                                       .offset_seconds = day * kDay,
                                       .nps = day < kMonday + 28 ? 9 : 2});
    event.mutable_event()->set_comment("Lasku oli virheellinen.");
    plain.Add(event);
  }
  AlertMonitor without(plain, {}, clock_);
  ASSERT_TRUE(without.Evaluate("acme", "switching").ok());
  absl::StatusOr<std::vector<v1::Alert>> plain_alerts =
      plain.LoadAlerts("acme", "switching", true);
  ASSERT_TRUE(plain_alerts.ok());
  for (const v1::Alert& alert : *plain_alerts) {
    EXPECT_NE(alert.kind(), v1::EMERGING_THEME);
  }
}

// A touchpoint without a comment in the current week has nothing emerging
// this week, even if its latest week with comments had.
TEST_F(ThemeAlertsTest, AnEarlierWeeksRiseIsNotThisWeeksNews) {
  Baseline();
  const int week4 = kMonday + 28;
  Week(week4, 3, 2, 3, 4);  // rose in week 4 …
  // … but the journey's data goes on into week 5 elsewhere.
  Comment(week4 + 8, "Hinta oli kohtuullinen.", 9, "shop_visit");
  AlertMonitor monitor(store_, {}, clock_);
  monitor.SetThemeSource(&source_);
  ASSERT_TRUE(monitor.Evaluate("acme", "switching").ok());
  EXPECT_TRUE(ThemeAlerts().empty());
}

}  // namespace
}  // namespace polku::insight
