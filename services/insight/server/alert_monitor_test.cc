#include "services/insight/server/alert_monitor.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/insight/store/memory_rollup_store.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight {
namespace {

using testing::FakeRollupStore;
using testing::kMarch1Seconds;
using testing::MakeEvent;

constexpr int64_t kDay = 24 * 3600;

class AlertMonitorTest : public ::testing::Test {
 protected:
  // `top2` of `n` CSAT answers (the rest 2) at web_site (research, web) on
  // each of days [first, first + days) after 2024-03-01, and as many steady
  // answers (80 % top-2) at shop_visit (purchase, shop).
  void Csat(int first, int days, int top2, int n) {
    for (int day = first; day < first + days; ++day) {
      for (int i = 0; i < n; ++i) {
        store_.Add(MakeEvent({.sequence = ++sequence_,
                              .offset_seconds = day * kDay + 3600,
                              .csat = i < top2 ? 5 : 2}));
        store_.Add(MakeEvent({.sequence = ++sequence_,
                              .touchpoint = "shop_visit",
                              .stage = "purchase",
                              .channel = "shop",
                              .offset_seconds = day * kDay + 3600,
                              .csat = i < 4 * n / 5 ? 5 : 2}));
      }
    }
  }

  std::vector<v1::Alert> Open() {
    return *store_.LoadAlerts("acme", "switching", /*include_cleared=*/false);
  }

  const v1::Alert* Find(const std::vector<v1::Alert>& alerts,
                        const std::string& id) {
    for (const v1::Alert& alert : alerts) {
      if (alert.id() == id) return &alert;
    }
    return nullptr;
  }

  FakeRollupStore store_;
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  int64_t sequence_ = 0;
};

TEST_F(AlertMonitorTest, ADropOpensAnAlertWithItsNumbers) {
  Csat(0, 7, 8, 10);  // baseline: 80 %
  Csat(7, 7, 4, 10);  // current: 40 % at the web site
  AlertMonitor monitor(store_, {}, clock_);
  std::vector<std::string> heard;
  monitor.SetListener([&](const std::string& tenant, const v1::Alert& alert) {
    heard.push_back(tenant + ":" + alert.id());
  });
  absl::StatusOr<std::vector<v1::Alert>> changed =
      monitor.Evaluate("acme", "switching");
  ASSERT_TRUE(changed.ok()) << changed.status();

  // The touchpoint, its stage and its channel; never the steady shop.
  std::vector<v1::Alert> open = Open();
  ASSERT_EQ(open.size(), 3u);
  const v1::Alert* alert =
      Find(open, "switching/touchpoint/web_site/csat_top2_box");
  ASSERT_NE(alert, nullptr);
  EXPECT_NE(Find(open, "switching/stage/research/csat_top2_box"), nullptr);
  EXPECT_NE(Find(open, "switching/channel/web/csat_top2_box"), nullptr);
  EXPECT_EQ(alert->journey(), "switching");
  EXPECT_EQ(alert->scope(), v1::GROUP_BY_TOUCHPOINT);
  EXPECT_EQ(alert->key(), "web_site");
  EXPECT_EQ(alert->metric(), v1::CSAT_TOP2_BOX);
  EXPECT_EQ(alert->state(), v1::OPEN);
  EXPECT_DOUBLE_EQ(alert->before(), 0.8);
  EXPECT_DOUBLE_EQ(alert->after(), 0.4);
  EXPECT_NEAR(alert->effect(), -0.4, 1e-12);
  EXPECT_EQ(alert->baseline_n(), 70);
  EXPECT_EQ(alert->current_n(), 70);
  EXPECT_LT(alert->adjusted_p_value(), 0.01);
  EXPECT_GE(alert->adjusted_p_value(), alert->p_value());
  EXPECT_TRUE(alert->worse());
  EXPECT_EQ(alert->first_seen().seconds(), 1'800'000'000);
  // Anchored at the latest day with data (2024-03-14), not the clock.
  EXPECT_EQ(alert->current_window().start().seconds(), kMarch1Seconds + 7 * kDay);
  EXPECT_EQ(alert->current_window().end().seconds(), kMarch1Seconds + 14 * kDay);
  EXPECT_EQ(alert->baseline_window().start().seconds(), kMarch1Seconds);
  EXPECT_EQ(alert->baseline_window().end().seconds(), kMarch1Seconds + 7 * kDay);
  EXPECT_EQ(changed->size(), 3u);
  EXPECT_EQ(heard.size(), 3u);
  EXPECT_EQ(heard[0].rfind("acme:switching/", 0), 0u);
}

TEST_F(AlertMonitorTest, UpdatesKeepFirstSeenAndRecoveryClears) {
  Csat(0, 7, 8, 10);
  Csat(7, 7, 4, 10);
  AlertMonitor monitor(store_, {}, clock_);
  ASSERT_TRUE(monitor.Evaluate("acme", "switching").ok());
  const std::string id = "switching/touchpoint/web_site/csat_top2_box";

  // Nothing new: nothing changes, nothing is saved.
  clock_.Advance(absl::Minutes(5));
  const int saves = store_.saves();
  absl::StatusOr<std::vector<v1::Alert>> changed =
      monitor.Evaluate("acme", "switching");
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(changed->empty());
  EXPECT_EQ(store_.saves(), saves);

  // Worse still: the numbers move, first_seen stays.
  Csat(13, 1, 0, 10);
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(monitor.Evaluate("acme", "switching").ok());
  std::vector<v1::Alert> open = Open();
  const v1::Alert* alert = Find(open, id);
  ASSERT_NE(alert, nullptr);
  EXPECT_EQ(alert->current_n(), 80);
  EXPECT_EQ(alert->first_seen().seconds(), 1'800'000'000);
  EXPECT_EQ(alert->last_evaluated().seconds(), 1'800'000'600);

  // Recovery: enough good answers in the current window that it no longer
  // differs significantly from the baseline.
  Csat(7, 7, 10, 10);
  clock_.Advance(absl::Minutes(5));
  changed = monitor.Evaluate("acme", "switching");
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(Open().empty());
  std::vector<v1::Alert> all =
      *store_.LoadAlerts("acme", "switching", /*include_cleared=*/true);
  alert = Find(all, id);
  ASSERT_NE(alert, nullptr);
  EXPECT_EQ(alert->state(), v1::CLEARED);
  EXPECT_EQ(alert->cleared_at().seconds(), 1'800'000'900);
  EXPECT_EQ(alert->first_seen().seconds(), 1'800'000'000);
  EXPECT_EQ(changed->size(), 3u);
}

TEST_F(AlertMonitorTest, AnAlertWhoseGroupLeftTheCurrentWindowClears) {
  Csat(0, 7, 8, 10);
  Csat(7, 7, 4, 10);
  AlertMonitor monitor(store_, {}, clock_);
  ASSERT_TRUE(monitor.Evaluate("acme", "switching").ok());
  ASSERT_EQ(Open().size(), 3u);

  // Two weeks later only the shop reports: the web site has no events in
  // the current window, so its drop can no longer be seen.
  for (int day = 21; day < 28; ++day) {
    for (int i = 0; i < 10; ++i) {
      store_.Add(MakeEvent({.sequence = ++sequence_,
                            .touchpoint = "shop_visit",
                            .stage = "purchase",
                            .channel = "shop",
                            .offset_seconds = day * kDay + 3600,
                            .csat = i < 8 ? 5 : 2}));
    }
  }
  clock_.Advance(absl::Minutes(5));
  absl::StatusOr<std::vector<v1::Alert>> changed =
      monitor.Evaluate("acme", "switching");
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(Open().empty());
  EXPECT_EQ(changed->size(), 3u);
  const std::vector<v1::Alert> all =
      *store_.LoadAlerts("acme", "switching", /*include_cleared=*/true);
  const v1::Alert* alert =
      Find(all, "switching/touchpoint/web_site/csat_top2_box");
  ASSERT_NE(alert, nullptr);
  EXPECT_EQ(alert->state(), v1::CLEARED);
  EXPECT_EQ(alert->cleared_at().seconds(), 1'800'000'300);
}

TEST_F(AlertMonitorTest, StateSurvivesARestartOfTheMonitor) {
  Csat(0, 7, 8, 10);
  Csat(7, 7, 4, 10);
  {
    AlertMonitor first(store_, {}, clock_);
    ASSERT_TRUE(first.Evaluate("acme", "switching").ok());
  }
  clock_.Advance(absl::Hours(1));
  AlertMonitor second(store_, {}, clock_);
  absl::StatusOr<std::vector<v1::Alert>> changed =
      second.Evaluate("acme", "switching");
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(changed->empty());  // the same alerts, still open
  const std::vector<v1::Alert> open = Open();
  const v1::Alert* alert =
      Find(open, "switching/touchpoint/web_site/csat_top2_box");
  ASSERT_NE(alert, nullptr);
  EXPECT_EQ(alert->first_seen().seconds(), 1'800'000'000);
}

TEST_F(AlertMonitorTest, SmallSamplesAndSteadyDataRaiseNothing) {
  Csat(0, 7, 8, 3);  // 21 answers per window < 30
  Csat(7, 7, 0, 3);
  AlertMonitor monitor(store_, {}, clock_);
  ASSERT_TRUE(monitor.Evaluate("acme", "switching").ok());
  EXPECT_TRUE(Open().empty());

  FakeRollupStore steady;
  AlertMonitor quiet(steady, {}, clock_);
  ASSERT_TRUE(quiet.Evaluate("acme", "switching").ok());  // no data at all
}

// History brought in long after it happened (polku-import) is not news:
// with a maximum age, a journey whose data ended longer ago is not compared,
// and its alerts stay as they are; the same data, recent, alerts.
TEST_F(AlertMonitorTest, HistoryOlderThanTheMaximumAgeRaisesNothing) {
  Csat(0, 7, 8, 10);
  Csat(7, 7, 4, 10);  // the drop of ADropOpensAnAlertWithItsNumbers
  const AlertMonitorOptions options{.max_data_age = absl::Hours(24 * 30)};
  // The data ends on 2024-03-14; the clock is in 2027.
  AlertMonitor late(store_, options, clock_);
  absl::StatusOr<std::vector<v1::Alert>> changed =
      late.Evaluate("acme", "switching");
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(changed->empty());
  EXPECT_TRUE(Open().empty());
  EXPECT_EQ(late.evaluations(), 1);

  // Thirty days after the data's last day it is still news.
  FakeClock recent{absl::FromUnixSeconds(kMarch1Seconds + (14 + 30) * kDay)};
  AlertMonitor monitor(store_, options, recent);
  changed = monitor.Evaluate("acme", "switching");
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->size(), 3u);
  ASSERT_EQ(Open().size(), 3u);

  // Once it is history, the open alerts are left as they are.
  store_.Add(MakeEvent({.sequence = ++sequence_,
                        .offset_seconds = 13 * kDay + 7200,
                        .csat = 5}));
  ASSERT_TRUE(late.Evaluate("acme", "switching").ok());
  EXPECT_EQ(Open().size(), 3u);
}

TEST_F(AlertMonitorTest, TrailingBaselineReachesFurtherBack) {
  Csat(0, 28, 4, 5);   // four weeks at 80 %
  Csat(28, 7, 4, 10);  // then 40 %
  AlertMonitor monitor(store_,
                       {.baseline = Baseline::kTrailing, .baseline_weeks = 4},
                       clock_);
  ASSERT_TRUE(monitor.Evaluate("acme", "switching").ok());
  const std::vector<v1::Alert> open = Open();
  const v1::Alert* alert =
      Find(open, "switching/touchpoint/web_site/csat_top2_box");
  ASSERT_NE(alert, nullptr);
  EXPECT_EQ(alert->baseline_n(), 140);
  EXPECT_EQ(alert->baseline_window().start().seconds(), kMarch1Seconds);
  EXPECT_EQ(alert->baseline_window().end().seconds(), kMarch1Seconds + 28 * kDay);
}

TEST_F(AlertMonitorTest, LongerWaitsAreAMeasureAlertForTheWorse) {
  for (int day = 0; day < 14; ++day) {
    for (int i = 0; i < 10; ++i) {
      v1::StoredEvent event = MakeEvent({.sequence = ++sequence_,
                                         .touchpoint = "call",
                                         .stage = "support",
                                         .channel = "phone",
                                         .offset_seconds = day * kDay});
      (*event.mutable_event()->mutable_measures())["wait_seconds"] =
          (day < 7 ? 60 : 180) + i;
      store_.Add(event);
    }
  }
  AlertMonitor monitor(store_, {}, clock_);
  ASSERT_TRUE(monitor.Evaluate("acme", "switching").ok());
  const std::vector<v1::Alert> open = Open();
  const v1::Alert* alert =
      Find(open, "switching/touchpoint/call/measure_mean/wait_seconds");
  ASSERT_NE(alert, nullptr);
  EXPECT_EQ(alert->metric(), v1::MEASURE_MEAN);
  EXPECT_EQ(alert->measure(), "wait_seconds");
  EXPECT_NEAR(alert->before(), 64.5, 1e-9);
  EXPECT_NEAR(alert->after(), 184.5, 1e-9);
  EXPECT_TRUE(alert->worse());
}

TEST_F(AlertMonitorTest, StartEvaluatesEveryJourneyAndChangesAreDebounced) {
  Csat(0, 7, 8, 10);
  Csat(7, 7, 4, 10);
  AlertMonitor monitor(store_, {.debounce = absl::Milliseconds(20)}, clock_);
  monitor.Start();
  ASSERT_TRUE(monitor.WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(Open().size(), 3u);
  const int64_t evaluations = monitor.evaluations();
  EXPECT_EQ(evaluations, 1);

  // Three pages of one burst: one evaluation.
  for (int i = 0; i < 3; ++i) monitor.JourneysChanged({{"acme", "switching"}});
  ASSERT_TRUE(monitor.WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(monitor.evaluations(), evaluations + 1);

  // An erasure names only the tenant: each of its journeys is evaluated.
  monitor.JourneysChanged({{"acme", ""}});
  ASSERT_TRUE(monitor.WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(monitor.evaluations(), evaluations + 2);
  monitor.Stop();
}

}  // namespace
}  // namespace polku::insight
