// polku-rollup-store-bench: what one 1000-event feed page costs
// polku-insight's RollupStore::Apply, on SQLite and on PostgreSQL (a
// throwaway server started like the tests' own, lib/postgres/testing). Both
// durable: SQLite with synchronous=FULL, PostgreSQL with fsync on. Every page
// is new, in feed order, as the tailer applies it: events a few seconds
// apart over 12 touchpoints, most with a score, half with a measure, all with
// an attribute; customers repeat (customer-<i % 10007>). Reports events/s
// (items_per_second). Not a test; run it by hand on a quiet machine:
//
//   polku-rollup-store-bench --benchmark_min_time=3
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/postgres/testing/test_server.h"
#include "polku/v1/feedback.pb.h"
#include "services/insight/pg_rollup_store.h"
#include "services/insight/rollup_store.h"
#include "services/insight/sqlite_rollup_store.h"

namespace polku::insight {
namespace {

constexpr int kPageSize = 1000;
constexpr int kCustomers = 10007;
constexpr int kTouchpoints = 12;
// 2024-05-01T10:00:00Z.
constexpr int64_t kFirstOccurredAt = 1'714'557'600;

// The feed's next page: `next` is the next sequence.
google::protobuf::RepeatedPtrField<v1::StoredEvent> NewPage(int64_t& next) {
  static const char* const kChannels[] = {"shop", "phone", "web", "email"};
  static const char* const kStages[] = {"research", "purchase", "use"};
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  page.Reserve(kPageSize);
  for (int i = 0; i < kPageSize; ++i, ++next) {
    v1::StoredEvent& stored = *page.Add();
    const int touchpoint = next % kTouchpoints;
    stored.set_sequence(next);
    stored.set_tenant("demo");
    stored.set_channel(kChannels[touchpoint % 4]);
    stored.set_journey("switching");
    stored.set_journey_version(2);
    stored.set_stage(kStages[touchpoint % 3]);
    stored.set_customer_hash(absl::StrCat("customer-", next % kCustomers));
    v1::TouchpointEvent& event = *stored.mutable_event();
    event.set_event_id(absl::StrCat("e-", next));
    event.set_touchpoint(absl::StrCat("touchpoint_", touchpoint));
    event.mutable_occurred_at()->set_seconds(kFirstOccurredAt + 5 * next);
    if (next % 4 != 0) event.set_csat(1 + next % 5);
    if (next % 3 == 0) event.set_nps(next % 11);
    if (next % 2 == 0) {
      (*event.mutable_measures())["wait_seconds"] = 0.5 * (next % 600);
    }
    (*event.mutable_attributes())["store_id"] =
        absl::StrCat("store-", next % 40);
  }
  return page;
}

// Applies one new page per iteration. The store lives across the
// benchmark's repetitions (they only add rows).
void ApplyPages(benchmark::State& state, RollupStore& store, int64_t& next) {
  for (auto _ : state) {
    state.PauseTiming();
    const google::protobuf::RepeatedPtrField<v1::StoredEvent> page =
        NewPage(next);
    state.ResumeTiming();
    if (absl::Status applied = store.Apply(page); !applied.ok()) {
      state.SkipWithError(applied.ToString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kPageSize);
}

// Opened on first use, closed by main after the last benchmark.
struct Stores {
  std::string sqlite_directory;
  std::unique_ptr<RollupStore> sqlite;
  int64_t sqlite_next = 1;
  std::unique_ptr<postgres::TestServer> server;
  std::unique_ptr<RollupStore> postgres;
  int64_t postgres_next = 1;
};
Stores& Opened() {
  static auto* stores = new Stores;
  return *stores;
}

RollupStore* SqliteStore() {
  Stores& stores = Opened();
  if (stores.sqlite != nullptr) return stores.sqlite.get();
  char directory[] = "/tmp/polku-rollup-store-bench-XXXXXX";
  if (::mkdtemp(directory) == nullptr) return nullptr;
  stores.sqlite_directory = directory;
  auto opened = SqliteRollupStore::Open(absl::StrCat(directory, "/insight.db"),
                                        /*durable=*/true);
  if (!opened.ok()) {
    std::fprintf(stderr, "SQLite: %s\n", opened.status().ToString().c_str());
    return nullptr;
  }
  stores.sqlite = *std::move(opened);
  return stores.sqlite.get();
}

RollupStore* PgStore() {
  Stores& stores = Opened();
  if (stores.postgres != nullptr) return stores.postgres.get();
  auto server = postgres::TestServer::Start({.durable = true});
  if (!server.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n",
                 server.status().ToString().c_str());
    return nullptr;
  }
  stores.server = *std::move(server);
  if (absl::Status created = stores.server->CreateDatabase("insight");
      !created.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", created.ToString().c_str());
    return nullptr;
  }
  auto opened = PgRollupStore::Open(stores.server->Url("insight"));
  if (!opened.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n",
                 opened.status().ToString().c_str());
    return nullptr;
  }
  stores.postgres = *std::move(opened);
  return stores.postgres.get();
}

void BM_SQLite(benchmark::State& state) {
  RollupStore* store = SqliteStore();
  if (store == nullptr) return state.SkipWithError("no SQLite store");
  ApplyPages(state, *store, Opened().sqlite_next);
}

void BM_PostgreSQL(benchmark::State& state) {
  RollupStore* store = PgStore();
  if (store == nullptr) return state.SkipWithError("no PostgreSQL server");
  ApplyPages(state, *store, Opened().postgres_next);
}

BENCHMARK(BM_SQLite)
    ->Name("ApplyPageOf1000/SQLite")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PostgreSQL)
    ->Name("ApplyPageOf1000/PostgreSQL")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace polku::insight

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  polku::insight::Stores& stores = polku::insight::Opened();
  stores.postgres.reset();
  stores.server.reset();
  stores.sqlite.reset();
  if (!stores.sqlite_directory.empty()) {
    std::filesystem::remove_all(stores.sqlite_directory);
  }
  return 0;
}
