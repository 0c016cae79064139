#include "lib/stats/scores.h"

#include <cmath>

#include "gtest/gtest.h"

namespace polku::stats {
namespace {

// Expected values are worked out by hand (arithmetic in the comments) and
// written as literals, so a change to a formula cannot also change the answer.
constexpr double kTolerance = 1e-4;

TEST(WilsonTest, EightOfTen) {
  // p = 0.8, z² = 3.8416, z²/n = 0.38416, denominator = 1.38416
  // centre = (0.8 + 0.19208) / 1.38416 = 0.716738
  // half = 1.96 / 1.38416 · √(0.8·0.2/10 + 3.8416/400) = 1.416 · √0.025604 =
  // 0.226581 interval = [0.716738 − 0.226581, 0.716738 + 0.226581]
  Interval ci = Wilson(8, 10);
  EXPECT_NEAR(ci.low, 0.4902, kTolerance);
  EXPECT_NEAR(ci.high, 0.9433, kTolerance);
}

TEST(WilsonTest, ThreeOfFour) {
  // p = 0.75, z²/n = 0.9604, denominator = 1.9604
  // centre = (0.75 + 0.4802) / 1.9604 = 0.627525
  // half = 1.96 / 1.9604 · √(0.75·0.25/4 + 3.8416/64) = 0.999796 · √0.1069 =
  // 0.326889
  Interval ci = Wilson(3, 4);
  EXPECT_NEAR(ci.low, 0.3006, kTolerance);
  EXPECT_NEAR(ci.high, 0.9544, kTolerance);
}

TEST(WilsonTest, AllSuccessesStaysWithinZeroOne) {
  // p = 1: centre = (1 + 0.19208) / 1.38416 = 0.861230,
  // half = 1.416 · √(0 + 0.009604) = 1.416 · 0.098 = 0.138770 → high = 1
  // exactly.
  Interval ci = Wilson(10, 10);
  EXPECT_NEAR(ci.low, 0.7225, kTolerance);
  EXPECT_LE(ci.high, 1.0);
  EXPECT_NEAR(ci.high, 1.0, 1e-12);
}

TEST(WilsonTest, NoSuccessesStartsAtZero) {
  // p = 0, n = 1: centre = half = (3.8416/2) / 4.8416 = 0.396728 → [0,
  // 0.793457]; rounding would give −5.6e−17 without the clamp.
  Interval ci = Wilson(0, 1);
  EXPECT_EQ(ci.low, 0.0);
  EXPECT_NEAR(ci.high, 0.7935, kTolerance);
}

TEST(WilsonTest, NoAnswersIsZeroNotNan) {
  Interval ci = Wilson(0, 0);
  EXPECT_EQ(ci.low, 0.0);
  EXPECT_EQ(ci.high, 0.0);
}

TEST(NpsTest, MixedAnswers) {
  NpsHistogram h{};
  h[10] = 3;
  h[9] = 2;  // 5 promoters
  h[8] = 1;
  h[7] = 1;  // 2 passives
  h[6] = 1;
  h[3] = 1;
  h[0] = 1;  // 3 detractors
  // n = 10, p = 0.5, d = 0.3: score = 100 · (0.5 − 0.3) = 20
  // variance = 0.5 + 0.3 − 0.2² = 0.76; half = 1.96 · 100 · √(0.76/10)
  // = 54.033471
  NpsSummary s = SummarizeNps(h);
  EXPECT_EQ(s.responses, 10);
  EXPECT_EQ(s.promoters, 5);
  EXPECT_EQ(s.passives, 2);
  EXPECT_EQ(s.detractors, 3);
  EXPECT_NEAR(s.score, 20.0, kTolerance);
  EXPECT_NEAR(s.ci95.low, -34.0335, kTolerance);
  EXPECT_NEAR(s.ci95.high, 74.0335, kTolerance);
}

TEST(NpsTest, HeaderExample) {
  NpsHistogram h{};
  h[10] = 5;
  h[3] = 2;
  // score = 100 · (5 − 2) / 7 = 42.857143
  EXPECT_NEAR(SummarizeNps(h).score, 42.8571, kTolerance);
}

TEST(NpsTest, ScoreBoundariesSevenAndNine) {
  NpsHistogram h{};
  h[6] = 1;  // detractor
  h[7] = 1;  // passive
  h[8] = 1;  // passive
  h[9] = 1;  // promoter
  NpsSummary s = SummarizeNps(h);
  EXPECT_EQ(s.detractors, 1);
  EXPECT_EQ(s.passives, 2);
  EXPECT_EQ(s.promoters, 1);
  EXPECT_NEAR(s.score, 0.0, kTolerance);
}

TEST(NpsTest, IntervalIsClampedToPlusMinusHundred) {
  NpsHistogram h{};
  h[10] = 2;
  h[8] = 1;
  h[2] = 1;
  // n = 4, p = 0.5, d = 0.25: score = 25
  // variance = 0.75 − 0.0625 = 0.6875; half = 196 · √(0.6875/4) = 81.257307
  // → [25 − 81.257307, 25 + 81.257307 = 106.26, clamped to 100]
  NpsSummary s = SummarizeNps(h);
  EXPECT_NEAR(s.score, 25.0, kTolerance);
  EXPECT_NEAR(s.ci95.low, -56.2573, kTolerance);
  EXPECT_EQ(s.ci95.high, 100.0);

  NpsHistogram split{};
  split[10] = 1;
  split[0] = 1;
  // p = d = 0.5: score 0, half = 196 · √(1/2) = 138.59 → both ends clamped.
  NpsSummary t = SummarizeNps(split);
  EXPECT_NEAR(t.score, 0.0, kTolerance);
  EXPECT_EQ(t.ci95.low, -100.0);
  EXPECT_EQ(t.ci95.high, 100.0);
}

TEST(NpsTest, AllPromoters) {
  NpsHistogram h{};
  h[9] = 4;
  h[10] = 6;
  // p = 1, d = 0: variance = 1 − 1 = 0, so the interval is the point 100.
  NpsSummary s = SummarizeNps(h);
  EXPECT_EQ(s.score, 100.0);
  EXPECT_EQ(s.ci95.low, 100.0);
  EXPECT_EQ(s.ci95.high, 100.0);
}

TEST(NpsTest, SingleDetractor) {
  NpsHistogram h{};
  h[0] = 1;
  NpsSummary s = SummarizeNps(h);
  EXPECT_EQ(s.responses, 1);
  EXPECT_EQ(s.score, -100.0);
  EXPECT_EQ(s.ci95.low, -100.0);
  EXPECT_EQ(s.ci95.high, -100.0);
}

TEST(NpsTest, NoAnswersIsAllZero) {
  NpsSummary s = SummarizeNps(NpsHistogram{});
  EXPECT_EQ(s.responses, 0);
  EXPECT_EQ(s.promoters, 0);
  EXPECT_EQ(s.passives, 0);
  EXPECT_EQ(s.detractors, 0);
  EXPECT_EQ(s.score, 0.0);
  EXPECT_EQ(s.ci95.low, 0.0);
  EXPECT_EQ(s.ci95.high, 0.0);
}

TEST(CsatTest, TopTwoBoxMeanAndWilson) {
  // Scores 1×1, 3×1, 4×3, 5×5: n = 10, top-2-box = 8/10 = 0.8
  // mean = (1 + 3 + 12 + 25) / 10 = 4.1; interval = Wilson(8, 10) above.
  CsatHistogram h{1, 0, 1, 3, 5};
  CsatSummary s = SummarizeCsat(h);
  EXPECT_EQ(s.responses, 10);
  EXPECT_NEAR(s.top2_box, 0.8, kTolerance);
  EXPECT_NEAR(s.mean, 4.1, kTolerance);
  EXPECT_NEAR(s.ci95.low, 0.4902, kTolerance);
  EXPECT_NEAR(s.ci95.high, 0.9433, kTolerance);
}

TEST(CsatTest, SingleAnswer) {
  // One 5: top-2-box 1, mean 5, Wilson(1, 1): centre = (1 + 1.9208) / 4.8416 =
  // 0.603272, half = 1.96 / 4.8416 · √(3.8416/4) = 0.396728 → [0.206543, 1].
  CsatSummary s = SummarizeCsat(CsatHistogram{0, 0, 0, 0, 1});
  EXPECT_EQ(s.responses, 1);
  EXPECT_EQ(s.top2_box, 1.0);
  EXPECT_EQ(s.mean, 5.0);
  EXPECT_NEAR(s.ci95.low, 0.2065, kTolerance);
  EXPECT_LE(s.ci95.high, 1.0);
  EXPECT_NEAR(s.ci95.high, 1.0, 1e-12);
}

TEST(CsatTest, NoAnswersIsAllZero) {
  CsatSummary s = SummarizeCsat(CsatHistogram{});
  EXPECT_EQ(s.responses, 0);
  EXPECT_EQ(s.top2_box, 0.0);
  EXPECT_EQ(s.mean, 0.0);
  EXPECT_EQ(s.ci95.low, 0.0);
  EXPECT_EQ(s.ci95.high, 0.0);
  EXPECT_FALSE(std::isnan(s.mean));
}

TEST(CesTest, MeanAndShareFiveToSeven) {
  // Scores 1×2, 2×1, 4×1, 5×3, 6×2, 7×1: n = 10
  // mean = (2 + 2 + 4 + 15 + 12 + 7) / 10 = 4.2; share 5–7 = (3 + 2 + 1) / 10 =
  // 0.6
  CesSummary s = SummarizeCes(CesHistogram{2, 1, 0, 1, 3, 2, 1});
  EXPECT_EQ(s.responses, 10);
  EXPECT_NEAR(s.mean, 4.2, kTolerance);
  EXPECT_NEAR(s.share_5_to_7, 0.6, kTolerance);
}

TEST(CesTest, SingleAnswerAtFourIsNotCounted) {
  CesSummary s = SummarizeCes(CesHistogram{0, 0, 0, 1, 0, 0, 0});
  EXPECT_EQ(s.responses, 1);
  EXPECT_EQ(s.mean, 4.0);
  EXPECT_EQ(s.share_5_to_7, 0.0);
}

TEST(CesTest, NoAnswersIsAllZero) {
  CesSummary s = SummarizeCes(CesHistogram{});
  EXPECT_EQ(s.responses, 0);
  EXPECT_EQ(s.mean, 0.0);
  EXPECT_EQ(s.share_5_to_7, 0.0);
}

}  // namespace
}  // namespace polku::stats
