#include "services/insight/analytics/monitoring.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace polku::insight {
namespace {

// A group with `n` CSAT answers of which `top2` are 5 and the rest 2.
GroupRollup Csat(const std::string& key, int64_t top2, int64_t n) {
  GroupRollup group{.group = key, .events = n};
  group.csat[4] = top2;
  group.csat[1] = n - top2;
  return group;
}

TEST(DetectChanges, ASignificantDropAlertsWithItsNumbers) {
  // Web site 32/40 → 16/40: pooled 48/80 = 0.6, SE = √(0.6·0.4·(2/40)) = 0.109545,
  // z = −0.4/0.109545 = −3.651484, p = 2Φ(−3.651484) = 2.6073e-4. The shop is
  // unchanged (p = 1), so Holm's smallest adjusted value is 2 · 2.6073e-4.
  WindowComparison window{.scope = "touchpoint",
                          .baseline = {Csat("shop", 30, 40), Csat("website", 32, 40)},
                          .current = {Csat("shop", 30, 40), Csat("website", 16, 40)}};
  std::vector<ChangeAlert> alerts = DetectChanges({window}, {});
  ASSERT_EQ(alerts.size(), 1u);
  const ChangeAlert& alert = alerts[0];
  EXPECT_EQ(alert.scope, "touchpoint");
  EXPECT_EQ(alert.key, "website");
  EXPECT_STREQ(MetricName(alert.metric), "csat_top2_box");
  EXPECT_DOUBLE_EQ(alert.before, 0.8);
  EXPECT_DOUBLE_EQ(alert.after, 0.4);
  EXPECT_NEAR(alert.effect, -0.4, 1e-12);
  EXPECT_EQ(alert.baseline_n, 40);
  EXPECT_EQ(alert.current_n, 40);
  EXPECT_NEAR(alert.p_value, 2.6073e-4, 1e-8);
  EXPECT_NEAR(alert.adjusted_p_value, 2 * 2.6073e-4, 2e-8);
}

TEST(DetectChanges, SmallSamplesNeverAlert) {
  WindowComparison window{.scope = "touchpoint",
                          .baseline = {Csat("website", 29, 29)},
                          .current = {Csat("website", 0, 29)}};
  EXPECT_TRUE(DetectChanges({window}, {.min_sample = 30}).empty());
  EXPECT_EQ(DetectChanges({window}, {.min_sample = 29}).size(), 1u);
}

TEST(DetectChanges, TheCorrectionCountsEveryComparison) {
  // 80/100 → 62/100: z = −2.804977, p = 0.005032 < 0.01 on its own …
  WindowComparison alone{.scope = "touchpoint",
                         .baseline = {Csat("website", 80, 100)},
                         .current = {Csat("website", 62, 100)}};
  ASSERT_EQ(DetectChanges({alone}, {}).size(), 1u);
  EXPECT_NEAR(DetectChanges({alone}, {})[0].p_value, 0.005032, 1e-6);
  // … but among ten comparisons Holm multiplies it by 10: 0.0503, no alert.
  WindowComparison crowd = alone;
  for (int i = 0; i < 9; ++i) {
    std::string key = "steady_" + std::to_string(i);
    crowd.baseline.push_back(Csat(key, 70, 100));
    crowd.current.push_back(Csat(key, 70, 100));
  }
  EXPECT_TRUE(DetectChanges({crowd}, {}).empty());
}

TEST(DetectChanges, MeansUseWelchAndGroupsMatchByKeyAcrossScopes) {
  // CES 20×6 + 20×7 (mean 6.5) → 20×3 + 20×4 (mean 3.5): effect −3.
  GroupRollup easy{.group = "phone"}, hard{.group = "phone"};
  easy.ces[5] = 20;
  easy.ces[6] = 20;
  hard.ces[2] = 20;
  hard.ces[3] = 20;
  WindowComparison channels{.scope = "channel", .baseline = {easy}, .current = {hard}};
  // A group only in the current window has nothing to compare with.
  WindowComparison stages{.scope = "stage",
                          .baseline = {},
                          .current = {Csat("purchase", 0, 100)}};
  std::vector<ChangeAlert> alerts = DetectChanges({channels, stages}, {});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].scope, "channel");
  EXPECT_STREQ(MetricName(alerts[0].metric), "ces_mean");
  EXPECT_DOUBLE_EQ(alerts[0].before, 6.5);
  EXPECT_DOUBLE_EQ(alerts[0].after, 3.5);
  EXPECT_LT(alerts[0].p_value, 1e-10);
}

TEST(CompareChannels, FlagsTheChannelThatDiffersWithSpreadAndDirection) {
  // Purchase stage: shop 80/100, web 78/100, phone 40/100 top-2-box.
  // Phone vs the rest: 40/100 vs 158/200 → z = −6.722, p = 1.79e-11.
  // Web vs the rest:   78/100 vs 120/200 → z =  3.103, p = 0.00192.
  ConsistencyReport report = CompareChannels(
      {Csat("shop", 80, 100), Csat("web", 78, 100), Csat("phone", 40, 100)}, {});
  ASSERT_EQ(report.metrics.size(), 4u);
  const MetricConsistency& csat = report.metrics[0];
  EXPECT_STREQ(MetricName(csat.metric), "csat_top2_box");
  EXPECT_NEAR(csat.spread, 0.8 - 0.4, 1e-12);
  EXPECT_TRUE(csat.inconsistent);
  ASSERT_EQ(csat.channels.size(), 3u);
  const ChannelMetric& phone = csat.channels[2];
  EXPECT_EQ(phone.channel, "phone");
  EXPECT_TRUE(phone.significant);
  EXPECT_NEAR(phone.effect, 0.40 - 0.79, 1e-12);
  EXPECT_NEAR(phone.p_value, 1.7907e-11, 1e-14);
  EXPECT_NEAR(csat.channels[1].p_value, 0.0019188, 1e-7);
  EXPECT_GT(csat.channels[1].effect, 0);
  // No NPS or CES answers: nothing tested, nothing flagged.
  EXPECT_FALSE(report.metrics[1].inconsistent);
  EXPECT_FALSE(report.metrics[3].channels[0].tested);
}

TEST(CompareChannels, EqualChannelsAreConsistent) {
  ConsistencyReport report = CompareChannels(
      {Csat("shop", 80, 100), Csat("web", 79, 100), Csat("phone", 81, 100)}, {});
  EXPECT_FALSE(report.metrics[0].inconsistent);
  EXPECT_NEAR(report.metrics[0].spread, 0.02, 1e-12);
  for (const ChannelMetric& channel : report.metrics[0].channels) {
    EXPECT_TRUE(channel.tested);
    EXPECT_FALSE(channel.significant);
  }
}

}  // namespace
}  // namespace polku::insight
