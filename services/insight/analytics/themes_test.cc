#include "services/insight/analytics/themes.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight {
namespace {

using testing::FakeRollupStore;
using testing::MakeEvent;

const text::Analyzer& SharedAnalyzer() {
  static const text::Analyzer* analyzer = [] {
    absl::StatusOr<std::unique_ptr<text::Analyzer>> made =
        text::Analyzer::Create({});
    EXPECT_TRUE(made.ok()) << made.status();
    return made->release();
  }();
  return *analyzer;
}

// The term the build's analyser gives one Finnish word: Voikko's lemma, or
// with POLKU_VOIKKO=OFF the Snowball stem (the fallback), so a test runs on
// either build.
std::string FinnishTerm(const std::string& word) {
  absl::StatusOr<text::CommentAnalysis> a =
      SharedAnalyzer().Analyze(word, text::Language::kFinnish);
  EXPECT_TRUE(a.ok() && !a->terms.empty()) << word;
  return a.ok() && !a->terms.empty() ? a->terms.front().lemma : "";
}

// ---- The formula against the independent reference (themes_reference.py).

TEST(WeightedLogOddsTest, EqualsTheIndependentReference) {
  struct Table {
    double alpha0;
    int64_t n_low = 0, n_rest = 0;  // comments per group
    std::vector<std::pair<int64_t, int64_t>> counts;  // mentioning a term
  };
  std::mt19937_64 random(20);
  std::vector<Table> tables;
  for (int t = 0; t < 24; ++t) {
    Table table;
    table.alpha0 = t % 3 == 0 ? 1000 : (t % 3 == 1 ? 10 : 1e5);
    const int terms = 2 + static_cast<int>(random() % 300);
    const int64_t scale = t % 4 == 0 ? 3 : (t % 4 == 1 ? 50 : 5000);
    for (int w = 0; w < terms; ++w) {
      // Many small counts and zeros, as term tables are.
      const int64_t a = random() % 3 == 0 ? 0 : random() % scale;
      const int64_t b = random() % 4 == 0 ? 0 : random() % (2 * scale);
      table.counts.push_back({a, b});
    }
    if (t == 0) table.counts.push_back({0, 0});  // a term seen in neither
    // Each group has at least as many comments as its most mentioned term
    // (every third table has no other comments, so its most mentioned terms
    // are in every comment of a group).
    for (const auto& [a, b] : table.counts) {
      table.n_low = std::max(table.n_low, a);
      table.n_rest = std::max(table.n_rest, b);
    }
    if (t % 3 != 2) {
      table.n_low += 1 + static_cast<int64_t>(random() % (4 * scale));
      table.n_rest += 1 + static_cast<int64_t>(random() % (8 * scale));
    }
    tables.push_back(table);
  }
  std::string input;
  for (size_t t = 0; t < tables.size(); ++t) {
    absl::StrAppend(&input, "table t", t, " ", tables[t].alpha0, " ",
                    tables[t].n_low, " ", tables[t].n_rest, "\n");
    for (const auto& [a, b] : tables[t].counts) {
      absl::StrAppend(&input, a, " ", b, "\n");
    }
    absl::StrAppend(&input, "end\n");
  }
  const std::string stem =
      absl::StrCat(::testing::TempDir(), "/themes_", getpid(), "_");
  {
    std::ofstream out(stem + "in.txt");
    out << input;
  }
  const std::string command =
      absl::StrCat("/usr/bin/python3 ", POLKU_THEMES_REFERENCE, " < ", stem,
                   "in.txt > ", stem, "out.txt");
  ASSERT_EQ(system(command.c_str()), 0) << command;
  std::ifstream in(stem + "out.txt");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  size_t at = 0;
  int compared = 0;
  for (size_t t = 0; t < tables.size(); ++t) {
    ASSERT_LT(at, lines.size());
    ASSERT_EQ(lines[at++], absl::StrCat("table t", t));
    const int64_t n_i = tables[t].n_low, n_j = tables[t].n_rest;
    for (const auto& [a, b] : tables[t].counts) {
      const std::vector<std::string> expected =
          absl::StrSplit(lines[at++], ' ');
      ASSERT_EQ(expected.size(), 3u);
      const LogOdds got = WeightedLogOdds(a, b, n_i, n_j, tables[t].alpha0);
      const double want[3] = {std::strtod(expected[0].c_str(), nullptr),
                              std::strtod(expected[1].c_str(), nullptr),
                              std::strtod(expected[2].c_str(), nullptr)};
      const double have[3] = {got.delta, got.variance, got.z};
      if (!std::isfinite(want[0])) {
        // A term in no comment (α_w = 0; never ranked, min_count ≥ 1) or in
        // every comment: undefined; WeightedLogOdds gives zeros.
        EXPECT_TRUE(a + b == 0 || (a == n_i && b == n_j)) << a << "," << b;
        EXPECT_EQ(got.z, 0);
        continue;
      }
      for (int k = 0; k < 3; ++k) {
        EXPECT_NEAR(have[k], want[k], 1e-9 * std::max(1.0, std::abs(want[k])))
            << "table " << t << " counts " << a << "," << b << " value " << k;
        ++compared;
      }
    }
    ASSERT_EQ(lines[at++], "end");
  }
  EXPECT_GT(compared, 3000);
}

TEST(ThemesTest, IdsAndWeeks) {
  // FNV-1a 64 of "" and "a", published test vectors.
  EXPECT_EQ(ThemeId(""), "th_cbf29ce484222325");
  EXPECT_EQ(ThemeId("a"), "th_af63dc4c8601ec8c");
  EXPECT_EQ(IsoWeek(testing::kMarch1), "2024-W09");  // a Friday
  EXPECT_EQ(IsoWeek(18628), "2020-W53");             // 2021-01-01
  EXPECT_EQ(IsoWeek(18631), "2021-W01");             // 2021-01-04, Monday
  EXPECT_EQ(WeekStart(0), -3);
  EXPECT_TRUE(IsLowScore(std::nullopt, 6, std::nullopt));
  EXPECT_FALSE(IsLowScore(std::nullopt, 7, std::nullopt));
  EXPECT_TRUE(IsLowScore(2, std::nullopt, std::nullopt));
  EXPECT_FALSE(IsLowScore(3, std::nullopt, std::nullopt));
  // CES: 7 = very easy (common.proto), so the hard side is low.
  EXPECT_TRUE(IsLowScore(std::nullopt, std::nullopt, 3));
  EXPECT_FALSE(IsLowScore(std::nullopt, std::nullopt, 4));
  EXPECT_FALSE(IsLowScore(std::nullopt, std::nullopt, 7));
}

// ---- Over the index.

struct Comment {
  std::string text;
  std::string language;
  std::optional<int> nps;
  std::string touchpoint = "delivery";
  std::string customer;
  int64_t offset_days = 0;
  std::string tenant = "acme";
};

void Add(FakeRollupStore& store, int64_t& sequence, const Comment& c) {
  ++sequence;
  v1::StoredEvent event = MakeEvent(
      {.sequence = sequence,
       .tenant = c.tenant,
       .touchpoint = c.touchpoint,
       .offset_seconds = c.offset_days * 86400 + sequence,
       .nps = c.nps,
       .customer_hash = c.customer.empty() ? absl::StrCat("c", sequence)
                                           : c.customer});
  event.mutable_event()->set_comment(c.text);
  event.mutable_event()->set_language(c.language);
  store.Add(event);
}

v1::GetThemesRequest Request(const std::string& touchpoint = "") {
  v1::GetThemesRequest request;
  request.mutable_scope()->set_journey("switching");
  request.mutable_scope()->set_touchpoint(touchpoint);
  request.set_min_count(3);
  return request;
}

const v1::Theme* Find(const v1::Themes& themes, const std::string& term) {
  for (const v1::Theme& t : themes.themes()) {
    if (t.term() == term) return &t;
  }
  return nullptr;
}

int RankOf(const v1::Themes& themes, const std::string& term) {
  for (int k = 0; k < themes.themes_size(); ++k) {
    if (themes.themes(k).term() == term) return k;
  }
  return -1;
}

// Delivery complaints in Finnish and Swedish, in several inflected forms and
// compounds, among neutral comments; half of every group also says it
// ordered in the app.
void AddComplaints(FakeRollupStore& store, int64_t& sequence) {
  const std::vector<std::string> fi_complaints = {
      "Toimitus oli myöhässä.", "Toimituksen myöhästyminen harmitti.",
      "Toimitus myöhästyi kaksi päivää.", "Toimituksessa kesti liian kauan."};
  const std::vector<std::string> fi_neutral = {
      "Kengät olivat sopivat.", "Hinta oli kohtuullinen.",
      "Paketin avaaminen oli helppoa.", "Värit vastasivat kuvia."};
  const std::vector<std::string> sv_complaints = {
      "Leveransen var försenad.", "Leveransförseningen var irriterande.",
      "Leveransen kom två dagar sent.", "Leveranserna är alltid försenade."};
  const std::vector<std::string> sv_neutral = {
      "Skorna passade bra.", "Priset var rimligt.",
      "Paketet var lätt att öppna.", "Färgerna motsvarade bilderna."};
  for (int k = 0; k < 60; ++k) {
    const std::string app = k % 2 == 0 ? " Tilasin sovelluksella." : "";
    const std::string app_sv = k % 2 == 0 ? " Jag beställde i appen." : "";
    Add(store, sequence,
        {fi_complaints[k % 4] + app, "fi", k % 7, "delivery_fi"});
    Add(store, sequence,
        {sv_complaints[k % 4] + app_sv, "sv", k % 7, "delivery_sv"});
  }
  for (int k = 0; k < 120; ++k) {
    const std::string app = k % 2 == 0 ? " Tilasin sovelluksella." : "";
    const std::string app_sv = k % 2 == 0 ? " Jag beställde i appen." : "";
    Add(store, sequence,
        {fi_neutral[k % 4] + app, "fi", 9 + k % 2, "delivery_fi"});
    Add(store, sequence,
        {sv_neutral[k % 4] + app_sv, "sv", 9 + k % 2, "delivery_sv"});
  }
}

TEST(ThemesTest, FinnishAndSwedishComplaintsRankTop) {
  FakeRollupStore store;
  int64_t sequence = 0;
  AddComplaints(store, sequence);
  ThemeIndex index(store, store, SharedAnalyzer());
  for (const auto& [touchpoint, complaint, neutral] :
       {std::tuple<std::string, std::string, std::string>{
            "delivery_fi", "toimitus", FinnishTerm("sovelluksella")},
        {"delivery_sv", "leverans", "app"}}) {
    absl::StatusOr<v1::Themes> themes =
        ComputeThemes(index, "acme", Request(touchpoint));
    ASSERT_TRUE(themes.ok()) << themes.status();
    std::string listing;
    for (const v1::Theme& t : themes->themes()) {
      absl::StrAppend(&listing, t.term(), " z=", t.z(), " n=", t.count(), "\n");
    }
    EXPECT_EQ(themes->comments(), 180) << touchpoint;
    EXPECT_EQ(themes->low_comments(), 60) << touchpoint;
    const int rank = RankOf(*themes, complaint);
    EXPECT_GE(rank, 0) << listing;
    EXPECT_LT(rank, 3) << listing;
    const v1::Theme* top = Find(*themes, complaint);
    ASSERT_NE(top, nullptr) << listing;
    EXPECT_GT(top->z(), 3) << listing;
    // With POLKU_VOIKKO=OFF Finnish is stemmed by Snowball: only the two
    // nominative complaints ("Toimitus oli myöhässä", "Toimitus myöhästyi")
    // give "toimitus"; the genitive and inessive forms get stems of their
    // own — the fallback's known limit (docs/themes.md).
    const int64_t expected =
        touchpoint == "delivery_fi" && !text::VoikkoBuilt() ? 30 : 60;
    EXPECT_EQ(top->count(), expected) << listing;
    EXPECT_EQ(top->low_count(), expected) << listing;
    // The neutral phrase, in half of every group, is not a theme of either.
    v1::GetThemesRequest all = Request(touchpoint);
    all.set_max_themes(200);
    absl::StatusOr<v1::Themes> every = ComputeThemes(index, "acme", all);
    ASSERT_TRUE(every.ok());
    const v1::Theme* phrase = Find(*every, neutral);
    ASSERT_NE(phrase, nullptr) << listing;
    // It is in exactly half of each group's comments: counted per comment
    // (whatever the comments' lengths), its log-odds are 0.
    EXPECT_EQ(phrase->count(), 90) << phrase->DebugString();
    EXPECT_NEAR(phrase->log_odds(), 0, 1e-12) << phrase->DebugString();
    EXPECT_NEAR(phrase->z(), 0, 1e-12) << phrase->DebugString();
    // The complaint's z from its comment counts, written out here: the
    // groups are the 60 low-score comments and the 120 others.
    const double a0 = kThemePriorWeight;
    const double y_low = static_cast<double>(top->low_count());
    const double y_rest = static_cast<double>(top->count() - top->low_count());
    const double prior = a0 * (y_low + y_rest) / 180;
    const double m_low = y_low + prior, s_low = 60 + a0 - m_low;
    const double m_rest = y_rest + prior, s_rest = 120 + a0 - m_rest;
    const double delta = std::log(m_low / s_low) - std::log(m_rest / s_rest);
    const double z =
        delta / std::sqrt(1 / m_low + 1 / s_low + 1 / m_rest + 1 / s_rest);
    EXPECT_NEAR(top->z(), z, 1e-9 * z) << listing;
    EXPECT_EQ(top->id(), ThemeId(complaint));
  }
}

TEST(ThemesTest, SameInputSameBytes) {
  std::string first;
  for (int run = 0; run < 2; ++run) {
    FakeRollupStore store;
    int64_t sequence = 0;
    AddComplaints(store, sequence);
    ThemeIndex index(store, store, SharedAnalyzer());
    v1::GetThemesRequest request = Request();
    request.set_max_themes(200);
    absl::StatusOr<v1::Themes> themes = ComputeThemes(index, "acme", request);
    ASSERT_TRUE(themes.ok());
    std::string bytes;
    ASSERT_TRUE(themes->SerializeToString(&bytes));
    // And once more from the same index.
    absl::StatusOr<v1::Themes> again = ComputeThemes(index, "acme", request);
    std::string again_bytes;
    ASSERT_TRUE(again->SerializeToString(&again_bytes));
    EXPECT_EQ(bytes, again_bytes);
    if (run == 0) {
      first = bytes;
    } else {
      EXPECT_EQ(bytes, first);
    }
  }
}

TEST(ThemesTest, WeeklyTrendAndEmergingTheme) {
  FakeRollupStore store;
  int64_t sequence = 0;
  // Four weeks of the same comments; in the last, a login complaint.
  for (int week = 0; week < 4; ++week) {
    for (int k = 0; k < 40; ++k) {
      Add(store, sequence, {"Hinta oli kohtuullinen.", "fi", 9, "app", "",
                            3 + week * 7 + k % 7});
      if (week == 3 && k % 2 == 0) {
        Add(store, sequence, {"Kirjautuminen ei onnistunut.", "fi", 3, "app",
                              "", 3 + week * 7 + k % 7});
      }
    }
  }
  ThemeIndex index(store, store, SharedAnalyzer());
  absl::StatusOr<v1::Themes> themes = ComputeThemes(index, "acme", Request());
  ASSERT_TRUE(themes.ok()) << themes.status();
  std::string listing;
  for (const v1::Theme& t : themes->themes()) {
    absl::StrAppend(&listing, t.term(), " z=", t.z(), " n=", t.count(), "\n");
  }
  // "kirjautua" with Voikko; the Snowball stem of "Kirjautuminen" without.
  const v1::Theme* login = Find(*themes, FinnishTerm("Kirjautuminen"));
  ASSERT_NE(login, nullptr) << listing;
  ASSERT_EQ(login->trend_size(), 4);
  EXPECT_EQ(login->trend(0).week(), "2024-W10");
  EXPECT_EQ(login->trend(3).week(), "2024-W13");
  EXPECT_EQ(login->trend(3).count(), 20);
  EXPECT_EQ(login->trend(3).comments(), 60);
  EXPECT_EQ(login->trend(0).count(), 0);
  EXPECT_TRUE(login->emerging()) << login->DebugString();
  EXPECT_LT(login->emerging_p_adjusted(), 0.01);
  const v1::Theme* price = Find(*themes, FinnishTerm("Hinta"));
  ASSERT_NE(price, nullptr);
  EXPECT_FALSE(price->emerging());  // its share fell
}

TEST(ThemesTest, ExamplesArePagedWithSpans) {
  // The four inflected forms of "toimitus" are one term only with Voikko
  // (FinnishAndSwedishComplaintsRankTop checks what the fallback does).
  if (!text::VoikkoBuilt()) GTEST_SKIP() << "built with POLKU_VOIKKO=OFF";
  FakeRollupStore store;
  int64_t sequence = 0;
  AddComplaints(store, sequence);
  ThemeIndex index(store, store, SharedAnalyzer());
  v1::ListThemeExamplesRequest request;
  request.mutable_scope()->set_journey("switching");
  request.mutable_scope()->set_touchpoint("delivery_fi");
  request.set_theme_id(ThemeId("toimitus"));
  request.set_page_size(25);
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    absl::StatusOr<v1::ListThemeExamplesResponse> examples =
        ListThemeExamples(index, "acme", request);
    ASSERT_TRUE(examples.ok()) << examples.status();
    EXPECT_EQ(examples->term(), "toimitus");
    for (const v1::ThemeExample& e : examples->examples()) {
      ASSERT_GE(e.spans_size(), 1) << e.comment();
      const std::string word = e.comment().substr(
          e.spans(0).begin(), e.spans(0).end() - e.spans(0).begin());
      EXPECT_EQ(word.substr(0, 7), "Toimitu") << e.comment();
      EXPECT_TRUE(e.low());
      EXPECT_EQ(e.touchpoint(), "delivery_fi");
      seen.push_back(absl::StrCat(e.occurred_at().seconds(), e.comment()));
    }
    if (examples->next_page_token().empty()) break;
    request.set_page_token(examples->next_page_token());
  }
  EXPECT_EQ(seen.size(), 60u);
  // Newest first.
  for (size_t k = 1; k < seen.size(); ++k) EXPECT_GE(seen[k - 1], seen[k]);
  // A bigram's span runs over both words.
  request.set_page_token("");
  request.set_theme_id(ThemeId("toimitus myöhä"));
  absl::StatusOr<v1::ListThemeExamplesResponse> bigram =
      ListThemeExamples(index, "acme", request);
  ASSERT_TRUE(bigram.ok());
  // Voikko reads "myöhässä" as the inessive of "myöhä".
  ASSERT_EQ(bigram->examples_size(), 15);
  const v1::ThemeExample& e = bigram->examples(0);
  EXPECT_EQ(e.comment().substr(e.spans(0).begin(),
                               e.spans(0).end() - e.spans(0).begin()),
            "Toimitus oli myöhässä");
}

// The store's ledger, but one sequence gone from LedgerEvents' answers: a
// customer erased between the index's read and the read of its texts.
class LedgerForgettingOne final : public LedgerReader {
 public:
  LedgerForgettingOne(LedgerReader& ledger, int64_t forgotten)
      : ledger_(ledger), forgotten_(forgotten) {}
  absl::StatusOr<int64_t> ScanLedger(
      const ScorecardQuery& query,
      absl::FunctionRef<absl::Status(const CountedEvent&)> visit) override {
    return ledger_.ScanLedger(query, visit);
  }
  absl::StatusOr<std::vector<CountedEvent>> LedgerEvents(
      const std::string& tenant, std::vector<int64_t> sequences) override {
    sequences.erase(
        std::remove(sequences.begin(), sequences.end(), forgotten_),
        sequences.end());
    return ledger_.LedgerEvents(tenant, std::move(sequences));
  }

 private:
  LedgerReader& ledger_;
  const int64_t forgotten_;
};

// An example's text comes from the ledger; one no longer there is left out
// of its page rather than shown without its text, and the page goes on.
TEST(ThemesTest, AnExampleWhoseTextIsGoneIsLeftOut) {
  FakeRollupStore store;
  int64_t sequence = 0;
  for (int i = 0; i < 5; ++i) {
    Add(store, sequence,
        {.text = absl::StrCat("Slow refund number ", i),
         .language = "en",
         .nps = 2,
         .touchpoint = "support"});
  }
  LedgerForgettingOne ledger(store, 3);
  ThemeIndex index(store, ledger, SharedAnalyzer());
  v1::ListThemeExamplesRequest request;
  request.mutable_scope()->set_journey("switching");
  request.set_theme_id(ThemeId("refund"));
  request.set_page_size(4);
  absl::StatusOr<v1::ListThemeExamplesResponse> first =
      ListThemeExamples(index, "acme", request);
  ASSERT_TRUE(first.ok()) << first.status();
  std::vector<std::string> comments;
  for (const v1::ThemeExample& e : first->examples()) {
    comments.push_back(e.comment());
    EXPECT_THAT(e.spans(), ::testing::SizeIs(1)) << e.comment();
  }
  // Newest first: numbers 4, 3, (2, sequence 3, forgotten), 1; then 0 on
  // the next page.
  EXPECT_THAT(comments, ::testing::ElementsAre("Slow refund number 4",
                                               "Slow refund number 3",
                                               "Slow refund number 1"));
  ASSERT_EQ(first->next_page_token(), "o4");
  request.set_page_token(first->next_page_token());
  absl::StatusOr<v1::ListThemeExamplesResponse> second =
      ListThemeExamples(index, "acme", request);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->examples_size(), 1);
  EXPECT_EQ(second->examples(0).comment(), "Slow refund number 0");
}

TEST(ThemesTest, ErasureRemovesTheCustomersComments) {
  FakeRollupStore store;
  int64_t sequence = 0;
  AddComplaints(store, sequence);
  // One customer's own complaints, on a word no one else uses.
  for (int k = 0; k < 10; ++k) {
    Add(store, sequence, {"Kuriiri heitti paketin aidan yli.", "fi", 1,
                          "delivery_fi", "erased-customer"});
  }
  ThemeIndex index(store, store, SharedAnalyzer());
  v1::GetThemesRequest request = Request("delivery_fi");
  request.set_max_themes(200);
  absl::StatusOr<v1::Themes> before = ComputeThemes(index, "acme", request);
  ASSERT_TRUE(before.ok());
  const std::string kuriiri = FinnishTerm("Kuriiri");
  ASSERT_NE(Find(*before, kuriiri), nullptr);
  EXPECT_EQ(before->comments(), 190);
  v1::Erasure erasure;
  erasure.set_sequence(++sequence);
  erasure.set_tenant("acme");
  erasure.set_customer_hash("erased-customer");
  ASSERT_TRUE(store.ApplyErasure(erasure).ok());
  absl::StatusOr<v1::Themes> after = ComputeThemes(index, "acme", request);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->comments(), 180);
  EXPECT_EQ(Find(*after, kuriiri), nullptr);
  EXPECT_EQ(after->as_of_sequence(), sequence);
  v1::ListThemeExamplesRequest examples;
  examples.mutable_scope()->set_journey("switching");
  examples.set_theme_id(ThemeId(kuriiri));
  absl::StatusOr<v1::ListThemeExamplesResponse> gone =
      ListThemeExamples(index, "acme", examples);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->examples_size(), 0);
  EXPECT_EQ(gone->term(), "");
  // And the answer is the one of an index that never saw them.
  FakeRollupStore clean;
  int64_t clean_sequence = 0;
  AddComplaints(clean, clean_sequence);
  ThemeIndex clean_index(clean, clean, SharedAnalyzer());
  absl::StatusOr<v1::Themes> expected =
      ComputeThemes(clean_index, "acme", request);
  ASSERT_TRUE(expected.ok());
  after->clear_as_of_sequence();
  expected->clear_as_of_sequence();
  EXPECT_EQ(after->SerializeAsString(), expected->SerializeAsString());
  // The weekly tallies (an alert's scope of whole weeks) forgot them too.
  v1::GetThemesRequest weeks = request;
  const int64_t monday = WeekStart(testing::kMarch1Seconds / 86400);
  SetMidnight(monday - 7,
              *weeks.mutable_scope()->mutable_range()->mutable_start());
  SetMidnight(monday + 7,
              *weeks.mutable_scope()->mutable_range()->mutable_end());
  absl::StatusOr<std::vector<v1::Themes>> tallied =
      ComputeThemesEach(index, "acme", {weeks});
  absl::StatusOr<std::vector<v1::Themes>> clean_tallied =
      ComputeThemesEach(clean_index, "acme", {weeks});
  ASSERT_TRUE(tallied.ok() && clean_tallied.ok());
  EXPECT_EQ((*tallied)[0].comments(), 180);
  EXPECT_EQ(Find((*tallied)[0], kuriiri), nullptr);
  (*tallied)[0].clear_as_of_sequence();
  (*clean_tallied)[0].clear_as_of_sequence();
  EXPECT_EQ((*tallied)[0].SerializeAsString(),
            (*clean_tallied)[0].SerializeAsString());
}

TEST(ThemesTest, TenantsAreIsolated) {
  FakeRollupStore store;
  int64_t sequence = 0;
  AddComplaints(store, sequence);
  for (int k = 0; k < 10; ++k) {
    Add(store, sequence, {"Kuriiri heitti paketin aidan yli.", "fi", 1,
                          "delivery_fi", "", 0, "globex"});
  }
  ThemeIndex index(store, store, SharedAnalyzer());
  v1::GetThemesRequest request = Request();
  request.set_max_themes(200);
  absl::StatusOr<v1::Themes> acme = ComputeThemes(index, "acme", request);
  absl::StatusOr<v1::Themes> globex = ComputeThemes(index, "globex", request);
  ASSERT_TRUE(acme.ok() && globex.ok());
  EXPECT_EQ(acme->comments(), 360);
  EXPECT_EQ(Find(*acme, "kuriiri"), nullptr);
  EXPECT_EQ(globex->comments(), 10);
  EXPECT_EQ(Find(*globex, "toimitus"), nullptr);
  v1::ListThemeExamplesRequest examples;
  examples.mutable_scope()->set_journey("switching");
  examples.set_theme_id(ThemeId("kuriiri"));
  absl::StatusOr<v1::ListThemeExamplesResponse> none =
      ListThemeExamples(index, "acme", examples);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->examples_size(), 0);
}

// With journey_version 0, a touchpoint filter also takes in the comments
// made under the touchpoint's former key.
TEST(ThemesTest, ATouchpointFilterFollowsRenames) {
  FakeRollupStore store;
  int64_t sequence = 0;
  for (int k = 0; k < 6; ++k) {
    Add(store, sequence, {"Toimitus oli myöhässä.", "fi", 2, "delivery_old"});
    Add(store, sequence, {"Toimitus oli myöhässä.", "fi", 2, "delivery"});
    Add(store, sequence, {"Hinta oli hyvä.", "fi", 9, "delivery"});
  }
  ThemeIndex index(store, store, SharedAnalyzer());
  const TouchpointSuccessors renamed = {{"delivery_old", "delivery"}};
  absl::StatusOr<v1::Themes> with =
      ComputeThemes(index, "acme", Request("delivery"), renamed);
  absl::StatusOr<v1::Themes> without =
      ComputeThemes(index, "acme", Request("delivery"));
  ASSERT_TRUE(with.ok() && without.ok());
  EXPECT_EQ(with->comments(), 18);
  EXPECT_EQ(without->comments(), 12);
  v1::GetThemesRequest one_version = Request("delivery");
  one_version.mutable_scope()->set_journey_version(1);
  absl::StatusOr<v1::Themes> versioned =
      ComputeThemes(index, "acme", one_version, renamed);
  ASSERT_TRUE(versioned.ok());
  EXPECT_EQ(versioned->comments(), 12);
}

// The emerging-theme alerts ask for every touchpoint at once: each answer
// must be the one ComputeThemes gives alone, byte for byte, with renamed
// touchpoints, a request of every touchpoint and one of a version.
TEST(ThemesTest, EachAnswersAsOneCallPerRequest) {
  FakeRollupStore store;
  int64_t sequence = 0;
  AddComplaints(store, sequence);
  for (int k = 0; k < 6; ++k) {
    Add(store, sequence, {"Toimitus oli myöhässä.", "fi", 2, "delivery_old"});
    Add(store, sequence, {"Toimitus oli myöhässä.", "fi", 2, "delivery"});
    Add(store, sequence, {"Hinta oli hyvä.", "fi", 9, "delivery", "", 8});
  }
  ThemeIndex index(store, store, SharedAnalyzer());
  const TouchpointSuccessors renamed = {{"delivery_old", "delivery"}};
  // Five weeks of comments at delivery_fi, for scopes of whole weeks (the
  // alerts' scopes, summed from the index's weekly tallies).
  for (int k = 0; k < 70; ++k) {
    Add(store, sequence,
        {k % 3 == 0 ? "Toimitus oli myöhässä." : "Hinta oli hyvä.", "fi",
         k % 3 == 0 ? 2 : 9, "delivery_fi", "", k / 2});
  }
  std::vector<v1::GetThemesRequest> requests = {
      Request("delivery_fi"), Request("delivery"), Request(""),
      Request("delivery_sv"), Request("nowhere")};
  requests[2].set_max_themes(200);
  v1::GetThemesRequest versioned = Request("delivery");
  versioned.mutable_scope()->set_journey_version(1);
  requests.push_back(versioned);
  const int64_t first_day = testing::kMarch1Seconds / 86400;
  const int64_t monday = WeekStart(first_day + 34);
  for (const char* touchpoint :
       {"delivery_fi", "delivery", "", "delivery_sv", "nowhere"}) {
    for (const int64_t weeks : {5, 2, 1}) {
      v1::GetThemesRequest whole = Request(touchpoint);
      SetMidnight(monday - 7 * (weeks - 1),
                  *whole.mutable_scope()->mutable_range()->mutable_start());
      SetMidnight(monday + 7,
                  *whole.mutable_scope()->mutable_range()->mutable_end());
      requests.push_back(whole);
    }
  }
  // Whole weeks with a stage filter, and days not starting a week: walked.
  v1::GetThemesRequest staged = requests.back();
  staged.mutable_scope()->set_touchpoint("delivery_fi");
  staged.mutable_scope()->set_stage("purchase");
  requests.push_back(staged);
  v1::GetThemesRequest ragged = requests[6];
  SetMidnight(monday - 10,
              *ragged.mutable_scope()->mutable_range()->mutable_start());
  requests.push_back(ragged);
  absl::StatusOr<std::vector<v1::Themes>> each =
      ComputeThemesEach(index, "acme", requests, renamed);
  ASSERT_TRUE(each.ok()) << each.status();
  ASSERT_EQ(each->size(), requests.size());
  for (size_t r = 0; r < requests.size(); ++r) {
    absl::StatusOr<v1::Themes> alone =
        ComputeThemes(index, "acme", requests[r], renamed);
    ASSERT_TRUE(alone.ok()) << alone.status();
    EXPECT_EQ((*each)[r].SerializeAsString(), alone->SerializeAsString())
        << "request " << r;
  }
  EXPECT_EQ((*each)[0].comments(), 250);
  EXPECT_EQ((*each)[1].comments(), 18);
  EXPECT_EQ((*each)[2].comments(), 448);
  EXPECT_EQ((*each)[4].comments(), 0);
  // The five whole weeks at delivery_fi, Monday 2024-03-04 to Sunday
  // 04-07: the comments of days 3–34 (k = 6…69), a trend of five weeks.
  EXPECT_EQ((*each)[6].comments(), 64);
  ASSERT_GT((*each)[6].themes_size(), 0);
  EXPECT_EQ((*each)[6].themes(0).trend_size(), 5);

  // Different journeys in one call, or a bad request: INVALID_ARGUMENT.
  v1::GetThemesRequest other = Request("delivery");
  other.mutable_scope()->set_journey("other");
  EXPECT_EQ(ComputeThemesEach(index, "acme", {Request("delivery"), other})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  v1::GetThemesRequest bad = Request("delivery");
  bad.set_max_themes(-1);
  const absl::Status status =
      ComputeThemesEach(index, "acme", {Request("delivery"), bad}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("max_themes"), std::string::npos) << status;
  absl::StatusOr<std::vector<v1::Themes>> none =
      ComputeThemesEach(index, "acme", {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(ThemesTest, BadInputNamesTheField) {
  FakeRollupStore store;
  ThemeIndex index(store, store, SharedAnalyzer());
  const auto themes_error = [&](const v1::GetThemesRequest& r) {
    return ComputeThemes(index, "acme", r).status();
  };
  v1::GetThemesRequest request = Request();
  request.mutable_scope()->clear_journey();
  EXPECT_EQ(themes_error(request).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(themes_error(request).message().find("scope.journey"),
            std::string::npos);
  request = Request();
  request.set_max_themes(201);
  EXPECT_NE(themes_error(request).message().find("max_themes"),
            std::string::npos);
  request = Request();
  request.set_min_count(-1);
  EXPECT_NE(themes_error(request).message().find("min_count"),
            std::string::npos);
  request = Request();
  request.set_emerging_alpha(1.5);
  EXPECT_NE(themes_error(request).message().find("emerging_alpha"),
            std::string::npos);
  request = Request();
  (*request.mutable_scope()->mutable_attributes())["store"] = "x";
  EXPECT_NE(themes_error(request).message().find("scope.attributes"),
            std::string::npos);
  v1::ListThemeExamplesRequest examples;
  examples.mutable_scope()->set_journey("switching");
  for (const std::string id : {"", "toimitus", "th_XYZ", "th_0123456789ABCDEF"}) {
    examples.set_theme_id(id);
    const absl::Status status =
        ListThemeExamples(index, "acme", examples).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << id;
    EXPECT_NE(status.message().find("theme_id"), std::string::npos) << id;
  }
  examples.set_theme_id(ThemeId("x"));
  examples.set_page_token("garbage");
  EXPECT_NE(ListThemeExamples(index, "acme", examples)
                .status()
                .message()
                .find("page_token"),
            std::string::npos);
  examples.set_page_token("");
  examples.set_page_size(101);
  EXPECT_NE(ListThemeExamples(index, "acme", examples)
                .status()
                .message()
                .find("page_size"),
            std::string::npos);
}

}  // namespace
}  // namespace polku::insight
