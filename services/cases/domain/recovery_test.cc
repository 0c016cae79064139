// Recovery against an independent computation (recovery_reference.py, numpy
// and scipy in /usr/bin/python3) on random data, and the rules that pick a
// customer's group and later answer, by hand.
#include "services/cases/domain/recovery.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace polku::cases {
namespace {

absl::Time T(int64_t seconds) { return absl::FromUnixSeconds(seconds); }

TEST(RecoveryTest, EachCustomerOnceWithTheFirstAnswerInTheWindow) {
  const absl::Duration window = absl::Seconds(100);
  std::vector<RecoverySubject> subjects = {
      {"a", true, T(1000)},   // resolved
      {"a", false, T(500)},   // the same customer's uncontacted case: ignored
      {"b", false, T(1000)},  // not contacted
      {"c", false, T(1000)},  // answers only outside the window
      {"d", true, T(2000)},
  };
  std::vector<LaterAnswer> answers = {
      {"a", T(1000), 0},  // at the anchor: not later
      {"a", T(1050), 9},  // a's
      {"a", T(1020), 8},  // earlier: this is a's
      {"b", T(1100), 3},  // at the window's end: counts
      {"c", T(1101), 10},
      {"c", T(999), 10},
      {"d", T(2010), 10},
      {"z", T(2010), 0},  // no case
  };
  RecoveryEstimate r = EstimateRecovery(subjects, answers, window);
  EXPECT_EQ(r.n_resolved, 2);
  EXPECT_EQ(r.n_not_contacted, 1);
  EXPECT_DOUBLE_EQ(r.mean_resolved, 9.0);
  EXPECT_DOUBLE_EQ(r.mean_not_contacted, 3.0);
  EXPECT_DOUBLE_EQ(r.difference, 6.0);
  EXPECT_FALSE(r.has_interval);  // one uncontacted answer
}

TEST(RecoveryTest, SubjectsComeFromRuleCasesContactedAndResolvedOrNeverContacted) {
  v1::Case c;
  c.mutable_create_time()->set_seconds(100);
  EXPECT_FALSE(SubjectOf(c, "h").has_value());  // by hand
  c.set_rule_id("r1");
  EXPECT_FALSE(SubjectOf(c, "").has_value());
  ASSERT_TRUE(SubjectOf(c, "h").has_value());
  EXPECT_FALSE(SubjectOf(c, "h")->resolved);
  EXPECT_EQ(SubjectOf(c, "h")->anchor, T(100));
  c.mutable_sla()->mutable_first_contact_time()->set_seconds(200);
  EXPECT_FALSE(SubjectOf(c, "h").has_value());  // contacted, not resolved
  c.mutable_sla()->mutable_resolution_time()->set_seconds(300);
  EXPECT_TRUE(SubjectOf(c, "h")->resolved);
  EXPECT_EQ(SubjectOf(c, "h")->anchor, T(300));
}

TEST(RecoveryTest, AnswersCountOnlyInTheCasesJourney) {
  const absl::Duration window = absl::Seconds(100);
  // "a" was resolved in journey A; in journey B they have an uncontacted
  // case. Pooled by customer, a's B answer (2, the earlier) would stand for
  // the resolved A case and a would count once: resolved mean 2, nobody
  // uncontacted. Per journey: resolved 9 (A), not contacted 2 (B).
  std::vector<RecoverySubject> subjects = {
      {"a", true, T(1000), "A"},
      {"a", false, T(1000), "B"},
  };
  std::vector<LaterAnswer> answers = {
      {"a", T(1010), 2, "B"},
      {"a", T(1020), 9, "A"},
  };
  RecoveryEstimate r = EstimateRecovery(subjects, answers, window);
  EXPECT_EQ(r.n_resolved, 1);
  EXPECT_EQ(r.n_not_contacted, 1);
  EXPECT_DOUBLE_EQ(r.mean_resolved, 9.0);
  EXPECT_DOUBLE_EQ(r.mean_not_contacted, 2.0);
  EXPECT_DOUBLE_EQ(r.difference, 7.0);

  v1::Case c;
  c.set_rule_id("r1");
  c.mutable_event()->set_journey("A");
  EXPECT_EQ(SubjectOf(c, "h")->journey, "A");
}

TEST(RecoveryTest, TQuantileMatchesKnownValues) {
  EXPECT_NEAR(StudentTQuantile(0.975, 1), 12.706204736, 1e-6);
  EXPECT_NEAR(StudentTQuantile(0.975, 10), 2.228138852, 1e-6);
  EXPECT_NEAR(StudentTQuantile(0.975, 1e6), 1.959966, 1e-4);
}

struct Generated {
  std::vector<RecoverySubject> subjects;
  std::vector<LaterAnswer> answers;
  int64_t window = 0;
  std::string json;
};

Generated Generate(int seed, int customers, int score_max, double lift) {
  std::mt19937_64 rng(seed);
  Generated g;
  g.window = 90 * 86400;
  std::string subjects, answers;
  for (int i = 0; i < customers; ++i) {
    const std::string customer = absl::StrCat("h", seed, "-", i);
    const int cases = 1 + static_cast<int>(rng() % 2);
    bool any_resolved = false;
    for (int k = 0; k < cases; ++k) {
      const bool resolved = rng() % 2 == 0;
      any_resolved |= resolved;
      const int64_t anchor = 1'780'000'000 + static_cast<int64_t>(rng() % 5'000'000);
      g.subjects.push_back({customer, resolved, T(anchor)});
      absl::StrAppend(&subjects, subjects.empty() ? "" : ",", "[\"", customer,
                      "\",", resolved ? 1 : 0, ",", anchor, "]");
    }
    const int count = static_cast<int>(rng() % 4);
    for (int k = 0; k < count; ++k) {
      const int64_t at = 1'780'000'000 + static_cast<int64_t>(rng() % 20'000'000);
      double base = static_cast<double>(rng() % (score_max + 1));
      if (any_resolved && rng() % 100 < lift * 100) {
        base = std::min<double>(score_max, base + 2);
      }
      g.answers.push_back({customer, T(at), base});
      absl::StrAppend(&answers, answers.empty() ? "" : ",", "[\"", customer,
                      "\",", at, ",", base, "]");
    }
  }
  g.json = absl::StrCat("{\"case\": \"seed-", seed, "\", \"window\": ",
                        g.window, ", \"subjects\": [", subjects,
                        "], \"answers\": [", answers, "]}");
  return g;
}

TEST(RecoveryTest, AgreesWithScipyOnRandomData) {
  std::vector<Generated> cases;
  std::string input;
  for (int seed = 1; seed <= 12; ++seed) {
    // NPS-like (0–10) and CSAT-like (1–5 shifted to 0–4) scales, small and
    // large samples.
    cases.push_back(Generate(seed, seed <= 3 ? 6 : 40 * seed,
                             seed % 2 ? 10 : 4, 0.3));
    absl::StrAppend(&input, cases.back().json, "\n");
  }
  const std::string stem =
      absl::StrCat(::testing::TempDir(), "/recovery_", getpid(), "_");
  const std::string in_path = stem + "in.jsonl";
  const std::string out_path = stem + "out.jsonl";
  {
    std::ofstream out(in_path);
    out << input;
  }
  const std::string command = absl::StrCat(
      "/usr/bin/python3 ", POLKU_RECOVERY_REFERENCE, " < ", in_path, " > ",
      out_path);
  ASSERT_EQ(system(command.c_str()), 0) << command;
  std::ifstream in(out_path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), cases.size());
  int with_interval = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(lines[i]);
    RecoveryEstimate r = EstimateRecovery(cases[i].subjects, cases[i].answers,
                                          absl::Seconds(cases[i].window));
    // A small hand-rolled reader: the reference prints flat numbers.
    auto number = [&](const std::string& key) -> std::optional<double> {
      const std::string tag = absl::StrCat("\"", key, "\": ");
      size_t at = lines[i].find(tag);
      if (at == std::string::npos) return std::nullopt;
      std::string rest = lines[i].substr(at + tag.size());
      if (rest.rfind("null", 0) == 0) return std::nullopt;
      return std::strtod(rest.c_str(), nullptr);
    };
    EXPECT_EQ(r.n_resolved, *number("n1"));
    EXPECT_EQ(r.n_not_contacted, *number("n0"));
    EXPECT_NEAR(r.mean_resolved, *number("m1"), 1e-9);
    EXPECT_NEAR(r.mean_not_contacted, *number("m0"), 1e-9);
    EXPECT_NEAR(r.difference, *number("diff"), 1e-9);
    ASSERT_EQ(r.has_interval, number("low").has_value());
    if (r.has_interval) {
      ++with_interval;
      EXPECT_NEAR(r.low, *number("low"), 1e-6);
      EXPECT_NEAR(r.high, *number("high"), 1e-6);
    }
  }
  EXPECT_GE(with_interval, 9);  // the comparison is not vacuous
}

}  // namespace
}  // namespace polku::cases
