// polku-funnels-bench: GetFunnel and GetPaths over a large ledger, against
// the same funnel as one SQL query (window functions) on PostgreSQL over the
// same events. Not a test; run by hand (bench/README.md, "Funnels").
//
//   polku-funnels-bench --customers=1000000 --events_per_customer=10
//
// The events: a four-stage journey (visit, compare, buy, use) with two
// touchpoints per stage in four channels; each customer enters on a
// uniformly random moment of 60 days and makes `events_per_customer`
// touches, going on to the next stage after each touch with probability
// 0.35 (at most the last stage), 1–72 hours apart; a third are rated. They
// are counted into polku-insight's SQLite store (SqliteRollupStore, as the
// service keeps it) in pages of 5000, and copied into a PostgreSQL table
// events(customer, at, stage, channel) on a throwaway server.
//
// Timed (median of --runs after one warm-up): ComputeFunnel (journey order,
// 7-day window, the whole 60 days) and ComputePaths (7-day switch limit),
// exactly what FunnelsService runs per call, and the SQL query. The SQL's
// per-stage counts (reached, dropped, in progress) are checked against
// GetFunnel's: the two compute the same definitions.
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/postgres/postgres.h"
#include "lib/postgres/testing/test_server.h"
#include "services/insight/analytics/funnel.h"
#include "services/insight/analytics/touch_index.h"
#include "services/insight/sqlite/sqlite_rollup_store.h"

ABSL_FLAG(int, customers, 100000, "customers");
ABSL_FLAG(int, events_per_customer, 10, "touches per customer");
ABSL_FLAG(int, runs, 3, "timed runs of each call (after one warm-up)");
ABSL_FLAG(uint64_t, seed, 1, "random seed");
ABSL_FLAG(bool, ledger_too, false,
          "also time both calls reading the ledger instead of the index");

namespace polku {
namespace {

constexpr int64_t kStart = 1'735'689'600;  // 2025-01-01T00:00:00Z
constexpr int64_t kDays = 60;
constexpr int64_t kWindowSeconds = 7 * 86'400;
const char* kStages[] = {"visit", "compare", "buy", "use"};
const char* kChannels[] = {"web", "shop", "phone", "email"};

v1::Journey Journey() {
  v1::Journey journey;
  journey.set_key("bench");
  journey.set_version(1);
  for (const char* stage : kStages) journey.add_stages()->set_key(stage);
  return journey;
}

struct Touch {
  int32_t customer;
  int64_t at;  // Unix seconds
  int stage;
  int channel;
  bool rated;
};

std::vector<Touch> Generate(int customers, int per_customer, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> entry(0, kDays * 86'400 - 1);
  std::uniform_int_distribution<int64_t> gap(3600, 72 * 3600);
  std::uniform_int_distribution<int> channel(0, 3);
  std::bernoulli_distribution go_on(0.35), rated(1.0 / 3);
  std::vector<Touch> touches;
  touches.reserve(static_cast<size_t>(customers) * per_customer);
  for (int c = 0; c < customers; ++c) {
    int64_t at = kStart + entry(rng);
    int stage = 0;
    for (int i = 0; i < per_customer; ++i) {
      touches.push_back({c, at, stage, channel(rng), rated(rng)});
      if (stage < 3 && go_on(rng)) ++stage;
      at += gap(rng);
    }
  }
  return touches;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

template <typename Call>
double TimeMs(int runs, Call call) {
  call();  // warm-up
  std::vector<double> ms;
  for (int r = 0; r < runs; ++r) {
    const absl::Time begin = absl::Now();
    call();
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - begin));
  }
  return Median(ms);
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "polku-funnels-bench: %s\n", status.ToString().c_str());
  return 1;
}

std::string Customer(int32_t c) { return absl::StrFormat("c%08d", c); }

int Run() {
  const int customers = absl::GetFlag(FLAGS_customers);
  const int per_customer = absl::GetFlag(FLAGS_events_per_customer);
  const int runs = absl::GetFlag(FLAGS_runs);
  const std::vector<Touch> touches =
      Generate(customers, per_customer, absl::GetFlag(FLAGS_seed));
  std::printf("events=%zu customers=%d runs=%d\n", touches.size(), customers, runs);

  // polku-insight's store on SQLite.
  char made[] = "/tmp/polku-funnels-bench-XXXXXX";
  if (::mkdtemp(made) == nullptr) return Fail(absl::InternalError("mkdtemp"));
  const std::string dir = made;
  auto store = insight::SqliteRollupStore::Open(dir + "/insight.db", /*durable=*/false);
  if (!store.ok()) return Fail(store.status());
  absl::Time begin = absl::Now();
  int64_t sequence = 0;
  for (size_t at = 0; at < touches.size();) {
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    for (size_t n = 0; n < 5000 && at < touches.size(); ++n, ++at) {
      const Touch& t = touches[at];
      v1::StoredEvent* stored = page.Add();
      stored->set_sequence(++sequence);
      stored->set_tenant("acme");
      stored->set_journey("bench");
      stored->set_journey_version(1);
      stored->set_stage(kStages[t.stage]);
      stored->set_channel(kChannels[t.channel]);
      stored->set_customer_hash(Customer(t.customer));
      v1::TouchpointEvent* event = stored->mutable_event();
      event->set_event_id(absl::StrCat("e", sequence));
      event->set_touchpoint(absl::StrCat(kStages[t.stage], "_", kChannels[t.channel]));
      event->mutable_occurred_at()->set_seconds(t.at);
      if (t.rated) event->set_csat(1 + static_cast<int>(t.at % 5));
    }
    if (absl::Status applied = (*store)->Apply(page); !applied.ok()) return Fail(applied);
  }
  std::printf("counted into SQLite in %.1f s\n", absl::ToDoubleSeconds(absl::Now() - begin));

  const v1::Journey journey = Journey();
  v1::GetFunnelRequest funnel_request;
  funnel_request.mutable_scope()->set_journey("bench");
  funnel_request.mutable_range()->mutable_start()->set_seconds(kStart);
  funnel_request.mutable_range()->mutable_end()->set_seconds(kStart + kDays * 86'400);
  funnel_request.set_conversion_window_seconds(kWindowSeconds);
  v1::GetPathsRequest paths_request;
  *paths_request.mutable_scope() = funnel_request.scope();
  *paths_request.mutable_range() = funnel_request.range();
  // As FunnelsService answers: from the in-memory touch index, which the
  // first call (or polku-insight's warming) builds from the ledger and every
  // call brings up to date.
  insight::TouchIndex index(**store, **store);
  v1::Funnel funnel;
  begin = absl::Now();
  {
    auto built = insight::ComputeFunnel(**store, "acme", funnel_request, journey,
                                        absl::Now(), &index);
    if (!built.ok()) return Fail(built.status());
  }
  const double build_s = absl::ToDoubleSeconds(absl::Now() - begin);
  // Bringing the index up to date when nothing is new, alone.
  const double refresh_ms = TimeMs(runs, [&] {
    absl::Status used =
        index.Read("acme", journey.key(), [](const insight::TouchView&) {});
    if (!used.ok()) Fail(used);
  });
  const double funnel_ms = TimeMs(runs, [&] {
    auto answer = insight::ComputeFunnel(**store, "acme", funnel_request, journey,
                                         absl::Now(), &index);
    if (!answer.ok()) Fail(answer.status());
    funnel = *std::move(answer);
  });
  v1::Paths paths;
  const double paths_ms = TimeMs(runs, [&] {
    auto answer = insight::ComputePaths(**store, "acme", paths_request, journey,
                                        absl::Now(), &index);
    if (!answer.ok()) Fail(answer.status());
    paths = *std::move(answer);
  });
  double ledger_funnel_ms = 0, ledger_paths_ms = 0;
  if (absl::GetFlag(FLAGS_ledger_too)) {
    ledger_funnel_ms = TimeMs(1, [&] {
      auto answer = insight::ComputeFunnel(**store, "acme", funnel_request, journey,
                                           absl::Now());
      if (!answer.ok()) Fail(answer.status());
      if (answer->SerializeAsString() != funnel.SerializeAsString()) {
        Fail(absl::InternalError("the ledger's funnel differs from the index's"));
      }
    });
    ledger_paths_ms = TimeMs(1, [&] {
      auto answer = insight::ComputePaths(**store, "acme", paths_request, journey,
                                          absl::Now());
      if (!answer.ok()) Fail(answer.status());
    });
  }

  // The same events on PostgreSQL, and the funnel as one query.
  auto server = postgres::TestServer::Start({.durable = false});
  if (!server.ok()) return Fail(server.status());
  if (absl::Status s = (*server)->CreateDatabase("bench"); !s.ok()) return Fail(s);
  auto db = postgres::Connection::Open((*server)->Url("bench"), absl::Seconds(10));
  if (!db.ok()) return Fail(db.status());
  const std::string csv = dir + "/events.csv";
  {
    std::ofstream out(csv);
    for (const Touch& t : touches) {
      out << Customer(t.customer) << ',' << t.at << ',' << t.stage << ','
          << kChannels[t.channel] << '\n';
    }
  }
  // The server may run as another user: it reads the file itself.
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all |
                                        std::filesystem::perms::group_exec |
                                        std::filesystem::perms::others_exec);
  std::filesystem::permissions(csv, std::filesystem::perms::owner_read |
                                        std::filesystem::perms::owner_write |
                                        std::filesystem::perms::others_read);
  begin = absl::Now();
  for (const char* sql :
       {"CREATE UNLOGGED TABLE raw (customer text, at bigint, stage int, channel text)",
        "SET maintenance_work_mem = '256MB'"}) {
    if (absl::Status s = (*db)->Exec(sql); !s.ok()) return Fail(s);
  }
  if (absl::Status s = (*db)->Exec(absl::StrCat("COPY raw FROM '", csv, "' (FORMAT csv)"));
      !s.ok()) {
    return Fail(s);
  }
  for (const char* sql :
       {"CREATE TABLE events AS SELECT customer, to_timestamp(at) AS at, stage, channel FROM raw",
        "DROP TABLE raw", "ANALYZE events", "SET work_mem = '256MB'"}) {
    if (absl::Status s = (*db)->Exec(sql); !s.ok()) return Fail(s);
  }
  std::printf("copied into PostgreSQL in %.1f s\n", absl::ToDoubleSeconds(absl::Now() - begin));
  // Journey order, each stage within the window of the previous one, ties
  // allowed (at >= the previous stage's time), as GetFunnel.
  const std::string window = absl::StrCat("interval '", kWindowSeconds, " seconds'");
  const std::string range = absl::StrCat("at >= to_timestamp(", kStart, ") AND at < to_timestamp(",
                                         kStart + kDays * 86'400, ")");
  const std::string as_of = absl::StrCat("to_timestamp(", kStart + kDays * 86'400, ")");
  const std::string query = absl::StrCat(
      "WITH e AS (SELECT customer, stage, at FROM events WHERE ", range, "),\n"
      " l1 AS (SELECT *, min(at) FILTER (WHERE stage = 0) OVER (PARTITION BY customer) AS t1 FROM e),\n"
      " l2 AS (SELECT *, min(at) FILTER (WHERE stage = 1 AND at >= t1 AND at <= t1 + ", window,
      ") OVER (PARTITION BY customer) AS t2 FROM l1),\n"
      " l3 AS (SELECT *, min(at) FILTER (WHERE stage = 2 AND at >= t2 AND at <= t2 + ", window,
      ") OVER (PARTITION BY customer) AS t3 FROM l2),\n"
      " l4 AS (SELECT *, min(at) FILTER (WHERE stage = 3 AND at >= t3 AND at <= t3 + ", window,
      ") OVER (PARTITION BY customer) AS t4 FROM l3),\n"
      " c AS (SELECT DISTINCT ON (customer) t1, t2, t3, t4 FROM l4 WHERE t1 IS NOT NULL)\n"
      "SELECT count(*), count(t2), count(t3), count(t4),\n"
      "  count(*) FILTER (WHERE t2 IS NULL AND ", as_of, " - t1 >= ", window, "),\n"
      "  count(t2) FILTER (WHERE t3 IS NULL AND ", as_of, " - t2 >= ", window, "),\n"
      "  count(t3) FILTER (WHERE t4 IS NULL AND ", as_of, " - t3 >= ", window, ")\n"
      "FROM c");
  std::vector<int64_t> sql_counts;
  const double sql_ms = TimeMs(runs, [&] {
    auto result = (*db)->Execute(query);
    if (!result.ok()) {
      Fail(result.status());
      return;
    }
    sql_counts.clear();
    for (int c = 0; c < 7; ++c) sql_counts.push_back(result->Int(0, c));
  });

  std::vector<int64_t> polku_counts;
  for (const v1::FunnelStage& stage : funnel.stages()) polku_counts.push_back(stage.reached());
  for (int j = 0; j < 3; ++j) polku_counts.push_back(funnel.stages(j).dropped());
  const bool same = polku_counts == sql_counts;
  std::printf("\nthe index: built from the SQLite ledger in %.1f s, %lld events\n", build_s,
              static_cast<long long>(index.events()));
  std::printf("\n| call | ms (median of %d) |\n| --- | ---: |\n", runs);
  std::printf("| bringing the index up to date (nothing new) | %.0f |\n", refresh_ms);
  std::printf("| GetFunnel (from the index, brought up to date) | %.0f |\n", funnel_ms);
  std::printf("| GetPaths (from the index, brought up to date) | %.0f |\n", paths_ms);
  if (absl::GetFlag(FLAGS_ledger_too)) {
    std::printf("| GetFunnel reading the SQLite ledger (one run) | %.0f |\n", ledger_funnel_ms);
    std::printf("| GetPaths reading the SQLite ledger (one run) | %.0f |\n", ledger_paths_ms);
  }
  std::printf("| the funnel as one SQL query, PostgreSQL | %.0f |\n", sql_ms);
  std::printf("\nSQL / GetFunnel = %.2f\n", sql_ms / funnel_ms);
  std::printf("reached per stage: %s; dropped: %lld %lld %lld; in progress %lld; "
              "the SQL's counts %s\n",
              absl::StrJoin(polku_counts.begin(), polku_counts.begin() + 4, " ").c_str(),
              static_cast<long long>(polku_counts[4]), static_cast<long long>(polku_counts[5]),
              static_cast<long long>(polku_counts[6]),
              static_cast<long long>(funnel.in_progress()),
              same ? "are the same" : "DIFFER");
  std::printf("bottleneck %s -> %s (%s); paths: %lld customers, %lld switchers\n",
              funnel.bottleneck().from_stage().c_str(), funnel.bottleneck().to_stage().c_str(),
              funnel.bottleneck().significant() ? "significant" : "not significant",
              static_cast<long long>(paths.customers()),
              static_cast<long long>(paths.switchers()));
  db->reset();
  server->reset();
  std::filesystem::remove_all(dir);
  return same ? 0 : 1;
}

}  // namespace
}  // namespace polku

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return polku::Run();
}
