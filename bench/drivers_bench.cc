// polku-drivers-bench: GetKeyDrivers' computation at scale. Counts
// simulated feedback into polku-insight's SQLite rollup store (the ledger a
// GetKeyDrivers call scans), then times ComputeKeyDrivers with bootstrap
// intervals, from the ledger and from the touch index (its one-time load,
// then calls on the warm index; the two answers must be the same), and writes the same data as CSV for the analyst's way
// (bench/drivers_statsmodels.py: numpy + statsmodels).
//
//   build/release/bin/polku-drivers-bench --customers=1000000
//       --db=/tmp/drivers-bench.db --export_csv=/tmp/drivers-bench.csv
//
// The data: --touchpoints interaction touchpoints in four stages; each
// customer rates 3–7 of them (5 on average) with CSAT ratings correlated
// through the customer's mood, then answers NPS, which depends on four of
// the touchpoints with planted weights. A database left by an earlier run
// with the same flags is reused (--reuse) so that the load is paid once.
// Not a test: bench/README.md has the recorded results.
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/insight/analytics/key_drivers.h"
#include "services/insight/analytics/touch_index.h"
#include "services/insight/sqlite/sqlite_rollup_store.h"

ABSL_FLAG(int, customers, 1000000, "customers, each with an outcome answer");
ABSL_FLAG(int, touchpoints, 12, "interaction touchpoints (drivers)");
ABSL_FLAG(int, replicates, 200, "bootstrap replicates per call");
ABSL_FLAG(int, repeat, 3, "timed calls");
ABSL_FLAG(std::string, db, "/tmp/polku-drivers-bench.db", "the SQLite rollup store");
ABSL_FLAG(bool, reuse, true, "reuse --db if it exists (loaded by an earlier run)");
ABSL_FLAG(std::string, export_csv, "", "also write the events as CSV here");
ABSL_FLAG(bool, ledger, true, "also time the calls that scan the ledger");

namespace polku {
namespace {

constexpr int64_t kFirstSecond = 1'735'689'600;  // 2025-01-01T00:00:00Z
const char* kStages[] = {"explore", "choose", "buy", "use"};

v1::Journey Journey(int touchpoints) {
  v1::Journey journey;
  journey.set_key("drivers-bench");
  journey.set_version(1);
  for (const char* stage : kStages) {
    v1::Stage* s = journey.add_stages();
    s->set_key(stage);
    s->set_name(stage);
  }
  for (int i = 0; i < touchpoints; ++i) {
    v1::Touchpoint* t = journey.add_touchpoints();
    t->set_key(absl::StrCat("tp", i));
    t->set_name(absl::StrCat("tp", i));
    t->set_stage(kStages[i % 4]);
    t->set_channel("web");
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

int Clamp(double v, int low, int high) {
  return std::max(low, std::min(high, static_cast<int>(std::lround(v))));
}

double PeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

int Run() {
  const int customers = absl::GetFlag(FLAGS_customers);
  const int touchpoints = absl::GetFlag(FLAGS_touchpoints);
  const std::string db = absl::GetFlag(FLAGS_db);
  const bool loaded = absl::GetFlag(FLAGS_reuse) && std::filesystem::exists(db);
  auto store = insight::SqliteRollupStore::Open(db, /*durable=*/false);
  if (!store.ok()) {
    std::cerr << store.status() << "\n";
    return 1;
  }
  const v1::Journey journey = Journey(touchpoints);
  std::ofstream csv;
  if (!absl::GetFlag(FLAGS_export_csv).empty()) {
    csv.open(absl::GetFlag(FLAGS_export_csv));
    csv << "customer,touchpoint,kind,at,value\n";
  }
  if (!loaded || csv.is_open()) {
    std::mt19937_64 rng(2025);
    std::normal_distribution<double> normal;
    const std::vector<double> weight = {1.0, 0.6, 0.35, 0.2};
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    int64_t sequence = 0, events = 0;
    const absl::Time start = absl::Now();
    const auto add = [&](const std::string& customer, const std::string& touchpoint,
                         const char* stage, const char* channel, int64_t at,
                         std::optional<int> csat, std::optional<int> nps) {
      ++events;
      if (csv.is_open()) {
        csv << customer << "," << touchpoint << "," << (nps ? "outcome" : "rating") << ","
            << at << "," << (nps ? *nps : *csat) << "\n";
      }
      if (loaded) return;
      v1::StoredEvent* e = page.Add();
      e->set_sequence(++sequence);
      e->set_tenant("bench");
      e->set_channel(channel);
      e->set_journey(journey.key());
      e->set_journey_version(1);
      e->set_stage(stage);
      e->set_customer_hash(customer);
      v1::TouchpointEvent* event = e->mutable_event();
      event->set_event_id(absl::StrCat("e", sequence));
      event->set_touchpoint(touchpoint);
      event->mutable_occurred_at()->set_seconds(at);
      if (csat) event->set_csat(*csat);
      if (nps) event->set_nps(*nps);
      if (page.size() == 10000) {
        if (absl::Status s = (*store)->Apply(page); !s.ok()) std::cerr << s << "\n";
        page.Clear();
      }
    };
    std::vector<int> order(touchpoints);
    for (int c = 0; c < customers; ++c) {
      const std::string customer = absl::StrFormat("customer-%08d", c);
      const double mood = normal(rng);
      for (int i = 0; i < touchpoints; ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      const int count = 3 + static_cast<int>(rng() % 5);
      int64_t at = kFirstSecond + (c % (60 * 86400 / 10)) * 10;
      double nps = 6 + 0.8 * normal(rng);
      for (int k = 0; k < count; ++k) {
        const int t = order[k];
        const int csat = Clamp(3.4 + 0.6 * mood + 0.9 * normal(rng), 1, 5);
        add(customer, absl::StrCat("tp", t), kStages[t % 4], "web", at++, csat, std::nullopt);
        if (t < static_cast<int>(weight.size())) nps += weight[t] * (csat - 3);
      }
      add(customer, "relationship", "use", "email", at + 3600, std::nullopt, Clamp(nps, 0, 10));
    }
    if (!loaded && page.size() > 0) (void)(*store)->Apply(page);
    std::cout << absl::StrFormat("%s %d events of %d customers in %.1f s\n",
                                 loaded ? "exported" : "loaded", events, customers,
                                 absl::ToDoubleSeconds(absl::Now() - start));
  } else {
    std::cout << "reusing " << db << "\n";
  }
  v1::GetKeyDriversRequest request;
  request.mutable_scope()->set_journey(journey.key());
  request.set_bootstrap_replicates(absl::GetFlag(FLAGS_replicates));
  // Timed calls (min, median); the last answer.
  const auto timed = [&](const char* what, insight::TouchIndex* index,
                         v1::KeyDrivers& answer) -> bool {
    std::vector<double> seconds;
    for (int r = 0; r < absl::GetFlag(FLAGS_repeat); ++r) {
      const absl::Time start = absl::Now();
      absl::StatusOr<v1::KeyDrivers> got = insight::ComputeKeyDrivers(
          **store, "bench", request, journey, {}, index);
      seconds.push_back(absl::ToDoubleSeconds(absl::Now() - start));
      if (!got.ok()) {
        std::cerr << got.status() << "\n";
        return false;
      }
      answer = *got;
    }
    std::sort(seconds.begin(), seconds.end());
    std::cout << absl::StrFormat(
        "GetKeyDrivers %s: %d customers, %d drivers, %d replicates: min %.2f s, median %.2f s; "
        "R² %.4f; top %s (%.1f %%); peak RSS %.0f MB\n",
        what, answer.model().customers(), answer.model().groups(),
        answer.model().bootstrap_replicates(), seconds.front(), seconds[seconds.size() / 2],
        answer.model().r_squared(), answer.drivers(0).key(),
        answer.drivers(0).importance_percent(), PeakRssMb());
    return true;
  };
  v1::KeyDrivers from_ledger;
  if (absl::GetFlag(FLAGS_ledger) && !timed("(ledger scan)", nullptr, from_ledger)) {
    return 1;
  }
  insight::TouchIndex index(**store, **store);
  {
    const absl::Time start = absl::Now();
    if (absl::Status s = index.Load("bench", journey.key()); !s.ok()) {
      std::cerr << s << "\n";
      return 1;
    }
    std::cout << absl::StrFormat(
        "touch index: loaded %d events in %.2f s (once per journey, at start); "
        "peak RSS %.0f MB\n",
        index.events(), absl::ToDoubleSeconds(absl::Now() - start), PeakRssMb());
  }
  v1::KeyDrivers answer;
  if (!timed("(warm touch index)", &index, answer)) return 1;
  if (absl::GetFlag(FLAGS_ledger)) {
    std::cout << (answer.SerializeAsString() == from_ledger.SerializeAsString()
                      ? "the index's answer is the ledger's, byte for byte\n"
                      : "DIFFERENT answers from the index and the ledger\n");
  }
  for (const v1::Driver& d : answer.drivers()) {
    std::cout << absl::StrFormat("  %-6s lmg %.6f  rw %.6f  raters %d\n", d.key(),
                                 d.importance(), d.relative_weight(), d.raters());
  }
  return 0;
}

}  // namespace
}  // namespace polku

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return polku::Run();
}
