#include "services/insight/analytics/key_drivers.h"

#include <stdio.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <thread>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/insight/analytics/relative_importance.h"
#include "services/insight/analytics/touch_index.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight {
namespace {

using testing::FakeRollupStore;
using testing::MakeEvent;
using ::testing::HasSubstr;

// A journey of three stages with `touchpoints` interaction touchpoints
// tp0, tp1, … (round-robin over the stages) and an NPS outcome touchpoint.
v1::Journey Journey(int touchpoints) {
  v1::Journey journey;
  journey.set_key("switching");
  for (const char* stage : {"research", "purchase", "use"}) {
    v1::Stage* s = journey.add_stages();
    s->set_key(stage);
    s->set_name(stage);
  }
  const char* stages[] = {"research", "purchase", "use"};
  for (int i = 0; i < touchpoints; ++i) {
    v1::Touchpoint* t = journey.add_touchpoints();
    t->set_key(absl::StrCat("tp", i));
    t->set_name(absl::StrCat("Touchpoint ", i));
    t->set_stage(stages[i % 3]);
    t->set_channel(i % 2 == 0 ? "web" : "phone");
    t->set_kind(v1::INTERACTION);
  }
  v1::Touchpoint* outcome = journey.add_touchpoints();
  outcome->set_key("relationship");
  outcome->set_stage("use");
  outcome->set_channel("email");
  outcome->set_kind(v1::OUTCOME);
  journey.mutable_outcomes()->set_relationship_nps_touchpoint("relationship");
  return journey;
}

// One event as both the store and the Python reference see it.
struct Row {
  std::string customer;
  std::string touchpoint;
  bool outcome = false;
  int64_t at = 0;  // seconds after 2024-03-01
  int value = 0;
};

class Data {
 public:
  void Rating(const std::string& customer, int touchpoint, int64_t at, int csat) {
    rows_.push_back({customer, absl::StrCat("tp", touchpoint), false, at, csat});
  }
  void Outcome(const std::string& customer, int64_t at, int nps) {
    rows_.push_back({customer, "relationship", true, at, nps});
  }

  // The same rows without one customer's.
  Data Without(const std::string& customer) const {
    Data out;
    for (const Row& row : rows_) {
      if (row.customer != customer) out.rows_.push_back(row);
    }
    return out;
  }

  // Every row into the store as sequences 1, 2, …, in pages of 5000 (one
  // event a page would cost the in-memory store a copy per event).
  void Load(FakeRollupStore& store, const std::string& tenant = "acme") const {
    int64_t sequence = 0;
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    for (const Row& row : rows_) {
      testing::EventSpec spec{.sequence = ++sequence, .tenant = tenant,
                              .touchpoint = row.touchpoint,
                              .offset_seconds = row.at,
                              .customer_hash = row.customer};
      if (row.outcome) {
        spec.nps = row.value;
        spec.stage = "use";
        spec.channel = "email";
      } else {
        // Stage and channel as Journey() defines them.
        const int index = std::stoi(row.touchpoint.substr(2));
        const char* stages[] = {"research", "purchase", "use"};
        spec.stage = stages[index % 3];
        spec.channel = index % 2 == 0 ? "web" : "phone";
        spec.csat = row.value;
      }
      *page.Add() = MakeEvent(spec);
      if (page.size() == 5000) {
        ASSERT_TRUE(store.Apply(page).ok());
        page.Clear();
      }
    }
    if (!page.empty()) {
      ASSERT_TRUE(store.Apply(page).ok());
    }
  }

  // The reference's output: "kind key" → value.
  std::map<std::string, double> Reference(int touchpoints) const {
    // One file per test and path (ctest runs them as parallel processes).
    std::string name =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');
    const std::string path =
        absl::StrCat(::testing::TempDir(), "/drivers-", name, ".csv");
    {
      std::ofstream csv(path);
      csv << "customer,touchpoint,kind,at,value\n";
      for (const Row& row : rows_) {
        csv << row.customer << "," << row.touchpoint << ","
            << (row.outcome ? "outcome" : "rating") << "," << row.at << ","
            << row.value << "\n";
      }
    }
    std::vector<std::string> keys;
    for (int i = 0; i < touchpoints; ++i) keys.push_back(absl::StrCat("tp", i));
    const std::string command =
        absl::StrCat("/usr/bin/python3 ", POLKU_SOURCE_DIR,
                     "/tests/drivers/lmg_reference.py ", path, " ",
                     absl::StrJoin(keys, " "));
    FILE* pipe = popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr);
    std::map<std::string, double> out;
    if (pipe == nullptr) return out;
    char line[512];
    while (fgets(line, sizeof(line), pipe) != nullptr) {
      std::istringstream in(line);
      std::string kind, key;
      in >> kind;
      if (kind == "customers" || kind == "r2") {
        double v;
        in >> v;
        out[kind] = v;
      } else {
        double v;
        in >> key >> v;
        out[absl::StrCat(kind, " ", key)] = v;
      }
    }
    EXPECT_EQ(pclose(pipe), 0) << command;
    return out;
  }

 private:
  std::vector<Row> rows_;
};

int Clamp(double v, int low, int high) {
  return std::max(low, std::min(high, static_cast<int>(std::lround(v))));
}

// Customers whose ratings share a latent mood (so the ratings correlate)
// and whose NPS depends on them with the weights given; each customer rates
// `rated(rng)` touchpoints chosen at random (all of them when it returns
// `touchpoints`), before answering.
template <typename Rated>
Data Simulate(uint64_t seed, int customers, const std::vector<double>& weight,
              Rated rated) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  const int touchpoints = static_cast<int>(weight.size());
  Data data;
  for (int c = 0; c < customers; ++c) {
    const std::string customer = absl::StrCat("c", c);
    const double mood = normal(rng);
    std::vector<int> order(touchpoints);
    for (int i = 0; i < touchpoints; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    const int count = rated(rng);
    double nps = 6 + 0.8 * normal(rng);
    int64_t at = c * 60;
    for (int k = 0; k < count; ++k) {
      const int t = order[k];
      const int csat = Clamp(3.2 + 0.6 * mood + 0.9 * normal(rng), 1, 5);
      data.Rating(customer, t, at++, csat);
      nps += weight[t] * (csat - 3);
    }
    data.Outcome(customer, at + 1, Clamp(nps, 0, 10));
  }
  return data;
}

v1::GetKeyDriversRequest Request(int min_raters = 0) {
  v1::GetKeyDriversRequest request;
  request.mutable_scope()->set_journey("switching");
  request.set_min_raters(min_raters);
  request.set_bootstrap_replicates(50);
  return request;
}

std::map<std::string, const v1::Driver*> ByKey(const v1::KeyDrivers& answer) {
  std::map<std::string, const v1::Driver*> out;
  for (const v1::Driver& d : answer.drivers()) out[d.key()] = &d;
  return out;
}

// No NaN or infinity anywhere in the answer.
void ExpectFinite(const v1::KeyDrivers& answer) {
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(answer, &json).ok());
  EXPECT_THAT(json, ::testing::Not(HasSubstr("NaN")));
  EXPECT_THAT(json, ::testing::Not(HasSubstr("Infinity")));
}

void ExpectMatchesReference(const v1::KeyDrivers& answer,
                            const std::map<std::string, double>& reference,
                            bool effects) {
  ASSERT_FALSE(reference.empty());
  EXPECT_EQ(answer.model().customers(), reference.at("customers"));
  EXPECT_NEAR(answer.model().r_squared(), reference.at("r2"), 1e-9);
  double sum = 0;
  for (const v1::Driver& d : answer.drivers()) {
    ASSERT_EQ(d.status(), v1::DRIVER_OK) << d.key();
    EXPECT_EQ(d.raters(), reference.at("raters " + d.key())) << d.key();
    EXPECT_NEAR(d.importance(), reference.at("lmg " + d.key()), 1e-9) << d.key();
    EXPECT_NEAR(d.relative_weight(), reference.at("rw " + d.key()), 1e-9) << d.key();
    if (effects) {
      ASSERT_TRUE(d.has_effect()) << d.key();
      EXPECT_NEAR(d.effect(), reference.at("effect " + d.key()), 1e-9) << d.key();
    }
    sum += d.importance();
  }
  EXPECT_NEAR(sum, answer.model().r_squared(), 1e-12);
}

// Every test runs on both paths: the ledger scan, and the touch index
// (one per store, kept across a test's calls, so it follows what the test
// changes in between). On the index path each answer is also computed from
// the ledger, and the two must be the same proto, to the bit.
class KeyDriversTest : public ::testing::TestWithParam<bool> {
 protected:
  absl::StatusOr<v1::KeyDrivers> Drivers(FakeRollupStore& store,
                                         absl::string_view tenant,
                                         const v1::GetKeyDriversRequest& request,
                                         const v1::Journey& journey) {
    if (!GetParam()) return ComputeKeyDrivers(store, tenant, request, journey);
    std::unique_ptr<TouchIndex>& index = indexes_[&store];
    if (index == nullptr) index = std::make_unique<TouchIndex>(store, store);
    absl::StatusOr<v1::KeyDrivers> from_index =
        ComputeKeyDrivers(store, tenant, request, journey, {}, index.get());
    const absl::StatusOr<v1::KeyDrivers> from_ledger =
        ComputeKeyDrivers(store, tenant, request, journey);
    EXPECT_EQ(from_index.status(), from_ledger.status());
    if (from_index.ok() && from_ledger.ok()) ExpectSame(*from_index, *from_ledger);
    return from_index;
  }

  static void ExpectSame(const v1::KeyDrivers& a, const v1::KeyDrivers& b) {
    google::protobuf::util::MessageDifferencer differencer;
    std::string differences;
    differencer.ReportDifferencesToString(&differences);
    EXPECT_TRUE(differencer.Compare(a, b)) << differences;
  }

 private:
  std::map<const FakeRollupStore*, std::unique_ptr<TouchIndex>> indexes_;
};

INSTANTIATE_TEST_SUITE_P(Paths, KeyDriversTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "TouchIndex" : "Ledger";
                         });

TEST_P(KeyDriversTest, CompleteDataMatchesAnIndependentAllSubsetsComputation) {
  const std::vector<double> weight = {0.9, 0.5, 0.3, 0.2, 0.1, 0.0};
  const Data data = Simulate(7, 600, weight, [](auto&) { return 6; });
  FakeRollupStore store;
  data.Load(store);
  absl::StatusOr<v1::KeyDrivers> answer =
      Drivers(store, "acme", Request(), Journey(6));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->model().complete_cases(), 600);
  EXPECT_EQ(answer->drivers(0).key(), "tp0");
  ExpectMatchesReference(*answer, data.Reference(6), /*effects=*/true);
  ExpectFinite(*answer);
}

TEST_P(KeyDriversTest, MissingByDesignMatchesTheReference) {
  // Each customer rates two to four of nine touchpoints.
  const std::vector<double> weight = {0.2, 1.0, 0.1, 0.4, 0.0, 0.3, 0.6, 0.1, 0.2};
  const Data data = Simulate(11, 1500, weight, [](std::mt19937_64& rng) {
    return 2 + static_cast<int>(rng() % 3);
  });
  FakeRollupStore store;
  data.Load(store);
  absl::StatusOr<v1::KeyDrivers> answer =
      Drivers(store, "acme", Request(), Journey(9));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->model().complete_cases(), 0);
  EXPECT_GT(answer->model().min_pair_raters(), 0);
  EXPECT_EQ(answer->drivers(0).key(), "tp1");
  ExpectMatchesReference(*answer, data.Reference(9), /*effects=*/true);
  for (const v1::Driver& d : answer->drivers()) {
    EXPECT_LE(d.importance_ci95().low(), d.importance()) << d.key();
    EXPECT_GE(d.importance_ci95().high(), d.importance()) << d.key();
    EXPECT_LE(d.rank_low(), d.rank()) << d.key();
    EXPECT_GE(d.rank_high(), d.rank()) << d.key();
  }
  ExpectFinite(*answer);
}

TEST(RelativeImportanceTest, SubsetsAndLmgAgreeWithABruteForceOverOrderings) {
  // Four groups: LMG as the plain average over all 24 orderings.
  CrossProducts cp;
  cp.columns = 4;
  const double x[4][4] = {{4, 1, 0.5, 0.2}, {1, 3, 0.3, 0.1}, {0.5, 0.3, 2, 0.4},
                          {0.2, 0.1, 0.4, 1}};
  for (auto& row : x) cp.xx.insert(cp.xx.end(), row, row + 4);
  cp.xy = {1.5, 0.8, 0.6, 0.3};
  cp.yy = 5;
  cp.raw_squares = {4, 3, 2, 1};
  ImportanceOptions options{.group_of_column = {0, 1, 2, 3}, .groups = 4};
  const std::vector<double> r2 = SubsetRSquared(cp, options);
  std::vector<int> order = {0, 1, 2, 3};
  std::vector<double> lmg(4, 0);
  int orderings = 0;
  do {
    uint32_t mask = 0;
    for (int g : order) {
      lmg[g] += r2[mask | (1u << g)] - r2[mask];
      mask |= 1u << g;
    }
    ++orderings;
  } while (std::next_permutation(order.begin(), order.end()));
  const Importance imp = ComputeImportance(cp, options);
  for (int g = 0; g < 4; ++g) EXPECT_NEAR(imp.lmg[g], lmg[g] / orderings, 1e-12);
  // Beyond the exact limit the sampled estimate stays within its bound.
  CrossProducts big;
  const int groups = kMaxExactGroups + 2;
  big.columns = groups;
  big.xx.assign(groups * groups, 0);
  for (int i = 0; i < groups; ++i) {
    for (int j = 0; j < groups; ++j) big.xx[i * groups + j] = i == j ? 1 : 0.1;
    big.xy.push_back(0.05 * (i + 1));
    big.raw_squares.push_back(1);
  }
  big.yy = 10;
  ImportanceOptions many{.groups = groups, .permutations = 3000};
  for (int g = 0; g < groups; ++g) many.group_of_column.push_back(g);
  const Importance sampled = ComputeImportance(big, many);
  EXPECT_GT(sampled.lmg_error_bound, 0);
  double sum = 0;
  for (double v : sampled.lmg) sum += v;
  EXPECT_NEAR(sum, sampled.r_squared, 1e-12);
  // Larger correlation with y, larger share.
  EXPECT_GT(sampled.lmg[groups - 1], sampled.lmg[0]);
}

TEST_P(KeyDriversTest, ARatingGivenAfterTheOutcomeCountsForNothing) {
  // tp0 drives the outcome; tp1 is given after the answer and equals it
  // (on a 1–5 scale), which would make it look like the strongest driver.
  std::mt19937_64 rng(3);
  Data data;
  Data without;
  for (int c = 0; c < 400; ++c) {
    const std::string customer = absl::StrCat("c", c);
    const int tp0 = 1 + static_cast<int>(rng() % 5);
    const int tp2 = 1 + static_cast<int>(rng() % 5);
    const int nps = Clamp(2 * tp0 - 1 + static_cast<double>(rng() % 3) - 1, 0, 10);
    for (Data* d : {&data, &without}) {
      d->Rating(customer, 0, c * 10, tp0);
      d->Rating(customer, 2, c * 10 + 1, tp2);
      d->Outcome(customer, c * 10 + 2, nps);
    }
    data.Rating(customer, 1, c * 10 + 3, Clamp(nps / 2.0, 1, 5));
  }
  FakeRollupStore store, store_without;
  data.Load(store);
  without.Load(store_without);
  absl::StatusOr<v1::KeyDrivers> answer =
      Drivers(store, "acme", Request(), Journey(3));
  absl::StatusOr<v1::KeyDrivers> expected =
      Drivers(store_without, "acme", Request(), Journey(3));
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_TRUE(expected.ok()) << expected.status();
  const auto drivers = ByKey(*answer);
  EXPECT_EQ(drivers.at("tp1")->raters(), 0);
  EXPECT_EQ(drivers.at("tp1")->status(), v1::INSUFFICIENT);
  EXPECT_FALSE(drivers.at("tp1")->has_importance());
  EXPECT_EQ(answer->drivers(0).key(), "tp0");
  EXPECT_EQ(answer->model().r_squared(), expected->model().r_squared());
  EXPECT_EQ(drivers.at("tp0")->importance(), ByKey(*expected).at("tp0")->importance());
}

TEST_P(KeyDriversTest, ADriverBelowTheMinimumIsInsufficientNotZero) {
  const std::vector<double> weight = {0.8, 0.4, 0.2};
  Data data = Simulate(5, 300, weight, [](auto&) { return 3; });
  // tp3: 40 raters.
  for (int c = 0; c < 40; ++c) data.Rating(absl::StrCat("c", c), 3, -100, 4);
  FakeRollupStore store;
  data.Load(store);
  absl::StatusOr<v1::KeyDrivers> answer =
      Drivers(store, "acme", Request(), Journey(4));
  ASSERT_TRUE(answer.ok()) << answer.status();
  const v1::Driver& tp3 = *ByKey(*answer).at("tp3");
  EXPECT_EQ(tp3.status(), v1::INSUFFICIENT);
  EXPECT_EQ(tp3.raters(), 40);
  EXPECT_FALSE(tp3.has_importance());
  EXPECT_FALSE(tp3.has_effect());
  EXPECT_EQ(tp3.rank(), 0);
  EXPECT_THAT(tp3.note(), HasSubstr("40 raters, at least 100"));
  EXPECT_EQ(answer->drivers(answer->drivers_size() - 1).key(), "tp3");
  EXPECT_EQ(answer->model().groups(), 3);
  // With a minimum of 30 it is in the model.
  answer = Drivers(store, "acme", Request(30), Journey(4));
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(ByKey(*answer).at("tp3")->status(), v1::DRIVER_OK);
}

TEST_P(KeyDriversTest, ARankDeficientDesignGivesAnAnswerAndAWarningNeverNaN) {
  // Stage alternatives: every customer uses exactly one of tp0 and tp1
  // (rated indicators sum to 1), and tp2 is rated 4 by everyone.
  std::mt19937_64 rng(9);
  Data data;
  for (int c = 0; c < 500; ++c) {
    const std::string customer = absl::StrCat("c", c);
    const int alternative = static_cast<int>(rng() % 2);
    const int rating = 1 + static_cast<int>(rng() % 5);
    data.Rating(customer, alternative, c * 10, rating);
    data.Rating(customer, 2, c * 10 + 1, 4);
    // 2 outcome points per rating point at tp0, 1 at tp1 (never clamped).
    const double noise = static_cast<double>(rng() % 2);
    data.Outcome(customer, c * 10 + 2,
                 Clamp(alternative == 0 ? 2.0 * (rating - 1) + noise : rating + 2 + noise, 0, 10));
  }
  FakeRollupStore store;
  data.Load(store);
  absl::StatusOr<v1::KeyDrivers> answer =
      Drivers(store, "acme", Request(), Journey(3));
  ASSERT_TRUE(answer.ok()) << answer.status();
  ExpectFinite(*answer);
  EXPECT_THAT(absl::StrJoin(answer->model().warnings(), "\n"),
              HasSubstr("rank-deficient"));
  EXPECT_GT(answer->model().r_squared(), 0.5);
  double sum = 0;
  for (const v1::Driver& d : answer->drivers()) {
    EXPECT_EQ(d.status(), v1::DRIVER_OK);
    sum += d.importance();
  }
  EXPECT_NEAR(sum, answer->model().r_squared(), 1e-12);
  const auto drivers = ByKey(*answer);
  // tp2 tells nothing (everyone rated it 4): no importance, no effect.
  EXPECT_NEAR(drivers.at("tp2")->importance(), 0, 1e-12);
  EXPECT_FALSE(drivers.at("tp2")->has_effect());
  // The alternatives' effects are still identified: 2 and 1 per point.
  EXPECT_NEAR(drivers.at("tp0")->effect(), 2, 0.05);
  EXPECT_NEAR(drivers.at("tp1")->effect(), 1, 0.05);
  // And the reference agrees on R² and the shares.
  const std::map<std::string, double> reference = data.Reference(3);
  EXPECT_NEAR(answer->model().r_squared(), reference.at("r2"), 1e-9);
  for (const char* key : {"tp0", "tp1", "tp2"}) {
    EXPECT_NEAR(drivers.at(key)->importance(), reference.at(absl::StrCat("lmg ", key)), 1e-9);
  }
}

TEST_P(KeyDriversTest, ErasingACustomerIsAsIfTheirEventsWereNeverSent) {
  const std::vector<double> weight = {0.6, 0.3, 0.1, 0.5};
  Data all = Simulate(21, 400, weight, [](std::mt19937_64& rng) {
    return 2 + static_cast<int>(rng() % 3);
  });
  // c7 answers again, far above everyone else.
  all.Outcome("c7", 1'000'000, 10);
  FakeRollupStore store;
  all.Load(store);
  v1::Erasure erasure;
  erasure.set_tenant("acme");
  erasure.set_customer_hash("c7");
  erasure.set_sequence(100'000);
  ASSERT_TRUE(store.ApplyErasure(erasure).ok());

  FakeRollupStore never;
  all.Without("c7").Load(never);
  absl::StatusOr<v1::KeyDrivers> erased =
      Drivers(store, "acme", Request(30), Journey(4));
  absl::StatusOr<v1::KeyDrivers> expected =
      Drivers(never, "acme", Request(30), Journey(4));
  ASSERT_TRUE(erased.ok()) << erased.status();
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(erased->model().customers(), 399);
  erased->clear_as_of_sequence();
  expected->clear_as_of_sequence();
  EXPECT_EQ(erased->DebugString(), expected->DebugString());
}

TEST_P(KeyDriversTest, AnotherTenantSeesNothing) {
  const Data data = Simulate(4, 200, {0.5, 0.2}, [](auto&) { return 2; });
  FakeRollupStore store;
  data.Load(store, "acme");
  absl::StatusOr<v1::KeyDrivers> other =
      Drivers(store, "globex", Request(), Journey(2));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->model().customers(), 0);
  for (const v1::Driver& d : other->drivers()) {
    EXPECT_EQ(d.raters(), 0);
    EXPECT_EQ(d.status(), v1::INSUFFICIENT);
  }
  ExpectFinite(*other);
}

TEST_P(KeyDriversTest, BadInputNamesTheField) {
  FakeRollupStore store;
  v1::GetKeyDriversRequest request = Request();
  request.set_min_raters(1);
  EXPECT_THAT(Drivers(store, "acme", request, Journey(2)).status().message(),
              HasSubstr("min_raters"));
  request = Request();
  request.set_bootstrap_replicates(5000);
  EXPECT_THAT(Drivers(store, "acme", request, Journey(2)).status().message(),
              HasSubstr("bootstrap_replicates"));
  request = Request();
  request.mutable_scope()->clear_journey();
  EXPECT_THAT(Drivers(store, "acme", request, Journey(2)).status().message(),
              HasSubstr("scope.journey"));
  request = Request();
  request.set_outcome(v1::OVERALL_SATISFACTION);
  const absl::Status none = Drivers(store, "acme", request, Journey(2)).status();
  EXPECT_EQ(none.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.message(), HasSubstr("overall_satisfaction_touchpoint"));
  // A journey without any outcome, asked for none in particular: an answer
  // that says so.
  v1::Journey bare = Journey(2);
  bare.clear_outcomes();
  bare.mutable_touchpoints()->RemoveLast();
  absl::StatusOr<v1::KeyDrivers> nothing = Drivers(store, "acme", Request(), bare);
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_EQ(nothing->drivers_size(), 0);
  EXPECT_THAT(nothing->model().warnings(0), HasSubstr("no outcome"));
}

TEST_P(KeyDriversTest, StagesScalesFiltersAndOpportunity) {
  // tp0 (research, web) drives the outcome, tp1 (purchase, phone) a little,
  // tp2 (use, web) not at all; tp1 is also rated on NPS by a few.
  const Data data = Simulate(13, 800, {0.9, 0.3, 0.0}, [](auto&) { return 3; });
  FakeRollupStore store;
  data.Load(store);
  int64_t sequence = 1'000'000;
  for (int c = 0; c < 30; ++c) {
    store.Add(MakeEvent({.sequence = ++sequence, .touchpoint = "tp1", .offset_seconds = -50,
                         .nps = 8, .customer_hash = absl::StrCat("c", c)}));
  }
  v1::Journey journey = Journey(3);
  // A CSAT target for tp0 above its performance, one for tp2 below it.
  journey.mutable_touchpoints(0)->mutable_target()->set_csat_top2_box(0.9);
  journey.mutable_touchpoints(2)->mutable_target()->set_csat_top2_box(0.01);

  absl::StatusOr<v1::KeyDrivers> answer = Drivers(store, "acme", Request(), journey);
  ASSERT_TRUE(answer.ok()) << answer.status();
  const auto drivers = ByKey(*answer);
  // The scale with most answers; the NPS answers of tp1 are not mixed in.
  EXPECT_EQ(drivers.at("tp1")->scale(), "CSAT");
  EXPECT_EQ(drivers.at("tp1")->raters(), 800);

  // Opportunity, recomputed here from the ratings: moving (0.9 − p) of the
  // raters from the mean of ratings 1–3 to the mean of ratings 4–5.
  const v1::Driver& tp0 = *drivers.at("tp0");
  ASSERT_TRUE(tp0.has_opportunity());
  const v1::Opportunity& o = tp0.opportunity();
  EXPECT_EQ(o.metric(), "CSAT_TOP2_BOX");
  EXPECT_FALSE(o.target_met());
  EXPECT_DOUBLE_EQ(o.current(), tp0.top2_box());
  {
    std::map<int, int> counts;
    // Re-read the ratings from the store's ledger, independently of the
    // computation: every tp0 rating counts (all are before the outcome).
    ScorecardQuery query{.tenant = "acme", .journey = "switching", .touchpoints = {"tp0"}};
    ASSERT_TRUE(store.ScanLedger(query, [&](const CountedEvent& e) {
      if (e.csat) ++counts[*e.csat];
      return absl::OkStatus();
    }).ok());
    double top = 0, top_sum = 0, rest = 0, rest_sum = 0;
    for (const auto& [v, n] : counts) {
      (v >= 4 ? top : rest) += n;
      (v >= 4 ? top_sum : rest_sum) += static_cast<double>(v) * n;
    }
    const double p = top / (top + rest);
    const double change = (0.9 - p) * (top_sum / top - rest_sum / rest);
    EXPECT_NEAR(o.rating_change(), change, 1e-12);
    EXPECT_NEAR(o.outcome_change(), tp0.effect() * change * 1.0, 1e-12);  // every customer rated tp0
    EXPECT_LE(o.outcome_change_ci95().low(), o.outcome_change());
    EXPECT_GE(o.outcome_change_ci95().high(), o.outcome_change());
    EXPECT_GT(o.outcome_change(), 0);
  }
  EXPECT_TRUE(drivers.at("tp2")->opportunity().target_met());
  EXPECT_EQ(drivers.at("tp2")->opportunity().outcome_change(), 0);
  EXPECT_FALSE(drivers.at("tp1")->has_opportunity());

  // Quadrants: cross-hairs at the means.
  for (const v1::Driver& d : answer->drivers()) {
    const bool important = d.importance_percent() >= answer->model().importance_crosshair();
    const bool performing = d.top2_box() >= answer->model().performance_crosshair();
    EXPECT_EQ(d.critical(), important) << d.key();
    EXPECT_EQ(d.quadrant(), important ? (performing ? v1::KEEP_UP_THE_GOOD_WORK : v1::CONCENTRATE_HERE)
                                      : (performing ? v1::POSSIBLE_OVERKILL : v1::LOW_PRIORITY))
        << d.key();
  }

  // Stages: one driver per stage, the research stage first.
  v1::GetKeyDriversRequest stages = Request();
  stages.set_level(v1::DRIVER_LEVEL_STAGE);
  absl::StatusOr<v1::KeyDrivers> by_stage = Drivers(store, "acme", stages, journey);
  ASSERT_TRUE(by_stage.ok()) << by_stage.status();
  ASSERT_EQ(by_stage->drivers_size(), 3);
  EXPECT_EQ(by_stage->drivers(0).key(), "research");
  EXPECT_EQ(by_stage->drivers(0).scale(), "SCALED_0_100");
  EXPECT_FALSE(by_stage->drivers(0).has_opportunity());

  // A channel filter selects the ratings (web: tp0, tp2), never the outcome
  // answers (email).
  v1::GetKeyDriversRequest web = Request();
  web.mutable_scope()->set_channel("web");
  absl::StatusOr<v1::KeyDrivers> web_only = Drivers(store, "acme", web, journey);
  ASSERT_TRUE(web_only.ok()) << web_only.status();
  EXPECT_EQ(web_only->model().customers(), 800);
  ASSERT_EQ(web_only->drivers_size(), 2);
  EXPECT_EQ(web_only->drivers(0).key(), "tp0");
  EXPECT_EQ(web_only->drivers(1).key(), "tp2");
}

// Random ledgers, changed between calls (new events, some earlier than what
// is held; an erasure), each call asked many ways: the touch index's answer
// is the ledger's, to the bit.
TEST(KeyDriversIndexTest, TheIndexAnswersAsTheLedgerWhileTheLedgerChanges) {
  v1::Journey journey = Journey(5);
  journey.mutable_touchpoints(1)->add_former_keys("tp1_old");
  journey.mutable_outcomes()->set_overall_satisfaction_touchpoint("relationship");
  std::vector<v1::GetKeyDriversRequest> requests;
  requests.push_back(Request(2));
  requests.back().set_bootstrap_replicates(20);
  requests.push_back(requests[0]);
  requests.back().set_level(v1::DRIVER_LEVEL_STAGE);
  requests.push_back(requests[0]);
  requests.back().mutable_range()->mutable_start()->set_seconds(
      testing::kMarch1Seconds + 86'400 + 10);
  requests.back().mutable_range()->mutable_end()->set_seconds(
      testing::kMarch1Seconds + 2 * 86'400 + 20);
  requests.push_back(requests[0]);
  requests.back().mutable_scope()->set_journey_version(1);
  requests.push_back(requests[0]);
  requests.back().mutable_scope()->set_channel("web");
  requests.push_back(requests[1]);
  requests.back().mutable_scope()->set_stage("purchase");
  requests.push_back(requests[0]);
  requests.back().set_outcome(v1::OVERALL_SATISFACTION);
  requests.push_back(requests[0]);
  requests.back().mutable_scope()->add_touchpoints("tp1");
  requests.back().mutable_scope()->add_touchpoints("tp3");

  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    FakeRollupStore store;
    TouchIndex index(store, store);
    int64_t sequence = 0;
    const auto add = [&](int events) {
      google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
      for (int e = 0; e < events; ++e) {
        testing::EventSpec spec{.sequence = ++sequence};
        spec.journey_version = 1 + static_cast<int32_t>(rng() % 2);
        // Few distinct times, so that many are equal.
        spec.offset_seconds = static_cast<int64_t>(rng() % 3) * 86'400 +
                              static_cast<int64_t>(rng() % 40);
        spec.customer_hash =
            rng() % 20 == 0 ? "" : absl::StrCat("c", rng() % 40);
        if (rng() % 4 == 0) {
          spec.touchpoint = "relationship";
          spec.stage = "use";
          spec.channel = "email";
          spec.nps = static_cast<int>(rng() % 11);
          if (rng() % 2 == 0) spec.csat = 1 + static_cast<int>(rng() % 5);
        } else {
          const int t = static_cast<int>(rng() % 6);  // 5: not in the map
          const char* stages[] = {"research", "purchase", "use"};
          spec.touchpoint = t == 1 && rng() % 2 == 0 ? "tp1_old"
                                                      : absl::StrCat("tp", t);
          spec.stage = stages[t % 3];
          spec.channel = rng() % 5 == 0 ? "shop" : (t % 2 == 0 ? "web" : "phone");
          if (rng() % 5 != 0) spec.csat = 1 + static_cast<int>(rng() % 5);
          if (rng() % 4 == 0) spec.nps = static_cast<int>(rng() % 11);
          if (rng() % 4 == 0) spec.ces = 1 + static_cast<int>(rng() % 7);
        }
        *page.Add() = MakeEvent(spec);
      }
      ASSERT_TRUE(store.Apply(page).ok());
    };
    const auto compare = [&] {
      for (const v1::GetKeyDriversRequest& request : requests) {
        const absl::StatusOr<v1::KeyDrivers> from_index =
            ComputeKeyDrivers(store, "acme", request, journey, {}, &index);
        const absl::StatusOr<v1::KeyDrivers> from_ledger =
            ComputeKeyDrivers(store, "acme", request, journey);
        ASSERT_TRUE(from_index.ok()) << from_index.status();
        ASSERT_TRUE(from_ledger.ok()) << from_ledger.status();
        EXPECT_EQ(from_index->as_of_sequence(), sequence);
        if (&request == &requests[0]) {
          EXPECT_GT(from_index->model().groups(), 2);  // a model to compare
        }
        google::protobuf::util::MessageDifferencer differencer;
        std::string differences;
        differencer.ReportDifferencesToString(&differences);
        EXPECT_TRUE(differencer.Compare(*from_index, *from_ledger))
            << request.ShortDebugString() << "\n" << differences;
      }
    };
    add(400);
    compare();
    add(150);  // new events, many earlier than the customer's last
    compare();
    v1::Erasure erasure;
    erasure.set_sequence(++sequence);
    erasure.set_tenant("acme");
    erasure.set_customer_hash(absl::StrCat("c", rng() % 40));
    ASSERT_TRUE(store.ApplyErasure(erasure).ok());
    compare();
    add(100);
    compare();
  }
}

// Calls on one journey at once: each reads the index while the others do,
// and every answer is the ledger's.
TEST(KeyDriversIndexTest, ConcurrentCallsOnOneJourneyGiveTheSameAnswer) {
  const Data data = Simulate(17, 500, {0.7, 0.3, 0.1}, [](auto&) { return 3; });
  FakeRollupStore store;
  data.Load(store);
  TouchIndex index(store, store);
  const absl::StatusOr<v1::KeyDrivers> expected =
      ComputeKeyDrivers(store, "acme", Request(), Journey(3));
  ASSERT_TRUE(expected.ok()) << expected.status();
  constexpr int kThreads = 4;
  std::vector<absl::StatusOr<v1::KeyDrivers>> answers(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      answers[i] = ComputeKeyDrivers(store, "acme", Request(), Journey(3), {},
                                     &index);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::StatusOr<v1::KeyDrivers>& answer : answers) {
    ASSERT_TRUE(answer.ok()) << answer.status();
    EXPECT_EQ(answer->DebugString(), expected->DebugString());
  }
}

}  // namespace
}  // namespace polku::insight
