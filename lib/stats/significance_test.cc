#include "lib/stats/significance.h"

#include <cmath>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace polku::stats {
namespace {

constexpr double kTolerance = 1e-9;

TEST(DistributionTest, NormalCdfMatchesTables) {
  EXPECT_NEAR(NormalCdf(0), 0.5, kTolerance);
  EXPECT_NEAR(NormalCdf(1.96), 0.9750021048517795, kTolerance);
  EXPECT_NEAR(NormalCdf(-2.5758293035489), 0.005, 1e-12);
}

TEST(DistributionTest, LogGammaMatchesFactorialsAndHalfIntegers) {
  EXPECT_NEAR(LogGamma(1), 0, 1e-15);
  EXPECT_NEAR(LogGamma(5), std::log(24.0), 1e-13);          // Γ(5) = 4!
  EXPECT_NEAR(LogGamma(0.5), 0.5 * std::log(M_PI), 1e-14);  // Γ(½) = √π
  EXPECT_NEAR(LogGamma(171), 706.5730622457874, 1e-9);      // ln 170!
  // |Γ(−0.5)| = 2√π: the sign, negative here, is not what it returns.
  EXPECT_NEAR(LogGamma(-0.5), std::log(2 * std::sqrt(M_PI)), 1e-14);
}

// Many threads at once (the funnels' intervals on the executor): the same
// answers; ThreadSanitizer, in the tsan preset, says whether they race.
TEST(DistributionTest, LogGammaFromManyThreadsAtOnce) {
  std::vector<double> results(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &results] {
      double sum = 0;
      const double sign = t % 2 == 0 ? 1 : -1;  // Γ < 0 on some negative x
      for (int i = 1; i <= 20000; ++i) sum += LogGamma(sign * i * 0.01 + 0.005);
      results[t] = sum;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(results[0], results[2]);
  EXPECT_EQ(results[1], results[3]);
}

TEST(DistributionTest, IncompleteBetaMatchesClosedForms) {
  // I_x(a, 1) = x^a and I_x(1, b) = 1 − (1 − x)^b.
  EXPECT_NEAR(RegularizedIncompleteBeta(0.3, 2.5, 1), std::pow(0.3, 2.5), kTolerance);
  EXPECT_NEAR(RegularizedIncompleteBeta(0.3, 1, 4), 1 - std::pow(0.7, 4), kTolerance);
  // Symmetry: I_x(a, b) = 1 − I_{1−x}(b, a), on both sides of the switch point.
  EXPECT_NEAR(RegularizedIncompleteBeta(0.8, 3, 5),
              1 - RegularizedIncompleteBeta(0.2, 5, 3), kTolerance);
  EXPECT_EQ(RegularizedIncompleteBeta(0, 2, 3), 0);
  EXPECT_EQ(RegularizedIncompleteBeta(1, 2, 3), 1);
}

TEST(DistributionTest, StudentTMatchesClosedFormsAndTables) {
  // ν = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/π.
  EXPECT_NEAR(StudentTCdf(1, 1), 0.75, kTolerance);
  EXPECT_NEAR(StudentTCdf(-3, 1), 0.5 + std::atan(-3.0) / M_PI, kTolerance);
  // ν = 2: F(t) = 1/2 + t / (2√(2 + t²)); t = 2 → 1/2 + 2/(2√6) = 0.9082482905.
  EXPECT_NEAR(StudentTCdf(2, 2), 0.9082482904638631, kTolerance);
  // Table value: t(0.975; ν = 10) = 2.228138852.
  EXPECT_NEAR(StudentTCdf(2.228138852, 10), 0.975, 1e-8);
  // Large ν approaches the normal distribution.
  EXPECT_NEAR(StudentTCdf(1.96, 1e7), NormalCdf(1.96), 1e-6);
}

TEST(TwoProportionZTest, DetectsADropInSatisfaction) {
  // 160/200 → 120/200: pooled p̂ = 280/400 = 0.7,
  // SE = √(0.7·0.3·(1/200 + 1/200)) = 0.0458258, z = −0.2/0.0458258 = −4.364358,
  // p = 2Φ(−4.364358) = 1.27497e-5.
  TestResult r = TwoProportionZTest({160, 200}, {120, 200});
  ASSERT_TRUE(r.valid);
  EXPECT_NEAR(r.effect, -0.2, kTolerance);
  EXPECT_NEAR(r.statistic, -4.364357804719848, 1e-9);
  EXPECT_NEAR(r.p_value, 1.27497e-5, 1e-9);
}

TEST(TwoProportionZTest, NoiseIsNotSignificant) {
  // 50/100 → 52/100: p̂ = 0.51, SE = √(0.51·0.49·0.02) = 0.070697, z = 0.282899,
  // p = 2Φ(−0.282899) = 0.777254.
  TestResult r = TwoProportionZTest({50, 100}, {52, 100});
  ASSERT_TRUE(r.valid);
  EXPECT_NEAR(r.statistic, 0.2828993, 1e-6);
  EXPECT_NEAR(r.p_value, 0.7772540, 1e-6);
}

TEST(TwoProportionZTest, DegenerateSamplesAreInvalidNotNaN) {
  EXPECT_FALSE(TwoProportionZTest({0, 0}, {5, 10}).valid);
  TestResult all_satisfied = TwoProportionZTest({10, 10}, {20, 20});
  EXPECT_FALSE(all_satisfied.valid);
  EXPECT_EQ(all_satisfied.p_value, 1);
}

TEST(WelchTTest, MatchesAClosedFormCase) {
  // n = 2 each, variances 2 and 2: SE = √(2/2 + 2/2) = √2, t = (3 − 1)/√2 = 1.414214,
  // ν = (1 + 1)² / (1²/1 + 1²/1) = 2, p = 2(1 − F₂(1.414214))
  //   = 2(1/2 − 1.414214/(2√(2 + 2))) = 1 − 0.707107 = 0.292893.
  TestResult r = WelchTTest({2, 1.0, 2.0}, {2, 3.0, 2.0});
  ASSERT_TRUE(r.valid);
  EXPECT_NEAR(r.statistic, std::sqrt(2.0), kTolerance);
  EXPECT_NEAR(r.degrees_of_freedom, 2, kTolerance);
  EXPECT_NEAR(r.p_value, 1 - std::sqrt(0.5), 1e-9);
  EXPECT_NEAR(r.effect, 2, kTolerance);
}

TEST(WelchTTest, UnequalVariancesUseWelchSatterthwaite) {
  // s₀²/n₀ = 900/50 = 18, s₁²/n₁ = 1600/45 = 35.5556, SE² = 53.5556,
  // t = 30/7.318166 = 4.099388, ν = 53.5556² / (18²/49 + 35.5556²/44) = 81.1509.
  TestResult r = WelchTTest({50, 120.0, 900.0}, {45, 150.0, 1600.0});
  ASSERT_TRUE(r.valid);
  EXPECT_NEAR(r.statistic, 4.099388, 1e-6);
  EXPECT_NEAR(r.degrees_of_freedom, 81.1509, 1e-4);
  // 2·∫_t^∞ of the t density with ν = 81.1509, by Simpson's rule: 9.76910e-5 —
  // larger than the normal's 2Φ(−4.099388) = 4.14e-5, as the tails are heavier.
  EXPECT_NEAR(r.p_value, 9.76910e-5, 1e-9);
}

TEST(WelchTTest, TooFewOrConstantObservationsAreInvalid) {
  EXPECT_FALSE(WelchTTest({1, 3.0, 0.0}, {10, 4.0, 1.0}).valid);
  EXPECT_FALSE(WelchTTest({5, 3.0, 0.0}, {5, 3.0, 0.0}).valid);
}

TEST(MomentsTest, FromAHistogram) {
  // CES answers: 2×3, 1×5, 1×7 → mean (6 + 5 + 7)/4 = 4.5,
  // variance ((3−4.5)²·2 + 0.5² + 2.5²)/3 = (4.5 + 0.25 + 6.25)/3 = 3.6667.
  const int64_t ces[7] = {0, 0, 2, 0, 1, 0, 1};
  Moments m = MomentsOfHistogram(ces, 7, 1);
  EXPECT_EQ(m.n, 4);
  EXPECT_NEAR(m.mean, 4.5, kTolerance);
  EXPECT_NEAR(m.variance, 11.0 / 3.0, kTolerance);
}

TEST(HolmAdjustTest, StepDownAdjustedValues) {
  // Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.06, 0.04·1) = 0.06.
  std::vector<double> adjusted = HolmAdjust({0.01, 0.04, 0.03, 0.005});
  ASSERT_EQ(adjusted.size(), 4u);
  EXPECT_NEAR(adjusted[0], 0.03, kTolerance);
  EXPECT_NEAR(adjusted[1], 0.06, kTolerance);
  EXPECT_NEAR(adjusted[2], 0.06, kTolerance);
  EXPECT_NEAR(adjusted[3], 0.02, kTolerance);
  EXPECT_EQ(HolmAdjust({0.6, 0.9}), (std::vector<double>{1.0, 1.0}));
  EXPECT_TRUE(HolmAdjust({}).empty());
}

}  // namespace
}  // namespace polku::stats
