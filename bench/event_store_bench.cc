// polku-store-bench: what one 1000-event batch costs the event store's
// writer, through GroupCommitStore, on SQLite and on PostgreSQL (a throwaway
// server started like the tests' own, lib/postgres/testing). Both durable:
// SQLite with synchronous=FULL, PostgreSQL with fsync on. Every event is new;
// customers repeat as polku-bench's do (customer-<i % 10007>). Reports
// events/s (items_per_second). Not a test; run it by hand on a quiet machine:
//
//   polku-store-bench --benchmark_min_time=3
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "lib/postgres/testing/test_server.h"
#include "services/feedback/customer_hasher.h"
#include "services/feedback/event_store.h"
#include "services/feedback/group_commit_store.h"
#include "services/feedback/pg_event_store.h"
#include "services/feedback/sqlite_event_store.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;

constexpr int kBatchSize = 1000;
constexpr int kCustomers = 10007;

CustomerHasher Hasher() { return CustomerHasher(std::string(32, 'k')); }

// A batch of events never sent before: `next` numbers them.
EventBatch NewBatch(int64_t& next) {
  EventBatch batch{"demo", "shop", {}};
  batch.events.reserve(kBatchSize);
  for (int i = 0; i < kBatchSize; ++i, ++next) {
    ValidEvent& valid = batch.events.emplace_back();
    valid.event.set_event_id(absl::StrCat("e-", next));
    valid.event.set_touchpoint("shop_in_shop_sales");
    valid.event.set_customer(absl::StrCat("customer-", next % kCustomers));
    valid.event.mutable_occurred_at()->set_seconds(1'714'557'600 + next);
    valid.event.set_csat(1 + next % 5);
    (*valid.event.mutable_attributes())["store_id"] = "helsinki-1";
    valid.touchpoint = {.journey = "switching",
                        .journey_version = 2,
                        .stage = "purchase",
                        .channel = "shop"};
  }
  return batch;
}

absl::StatusOr<std::vector<EventResult>> SubmitAndWait(EventStore& store,
                                                       EventBatch batch) {
  absl::Notification done;
  absl::StatusOr<std::vector<EventResult>> out;
  store.Submit(std::move(batch), [&](auto results) {
    out = std::move(results);
    done.Notify();
  });
  done.WaitForNotification();
  return out;
}

// Submits one new batch at a time and waits for its answer, so each
// iteration is one batch's transaction. The store lives across the
// benchmark's repetitions (they only add rows).
void StoreBatches(benchmark::State& state, GroupCommitStore& store) {
  static int64_t next = 1;
  for (auto _ : state) {
    state.PauseTiming();
    EventBatch batch = NewBatch(next);
    state.ResumeTiming();
    absl::StatusOr<std::vector<EventResult>> results =
        SubmitAndWait(store, std::move(batch));
    if (!results.ok() || results->size() != size_t{kBatchSize} ||
        !std::all_of(results->begin(), results->end(), [](const auto& r) {
          return r.outcome() == EventResult::ACCEPTED;
        })) {
      state.SkipWithError(results.ok() ? "an event was not accepted"
                                       : results.status().ToString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatchSize);
}

// Opened on first use, closed by main after the last benchmark.
struct Stores {
  std::string sqlite_directory;
  std::unique_ptr<GroupCommitStore> sqlite;
  std::unique_ptr<postgres::TestServer> server;
  std::unique_ptr<GroupCommitStore> postgres;
};
Stores& Opened() {
  static auto* stores = new Stores;
  return *stores;
}

GroupCommitStore* SqliteStore() {
  Stores& stores = Opened();
  if (stores.sqlite != nullptr) return stores.sqlite.get();
  char directory[] = "/tmp/polku-store-bench-XXXXXX";
  if (::mkdtemp(directory) == nullptr) return nullptr;
  stores.sqlite_directory = directory;
  auto opened = SqliteEventStore::Open(absl::StrCat(directory, "/feedback.db"),
                                       Hasher(), {});
  if (!opened.ok()) {
    std::fprintf(stderr, "SQLite: %s\n", opened.status().ToString().c_str());
    return nullptr;
  }
  stores.sqlite = *std::move(opened);
  return stores.sqlite.get();
}

GroupCommitStore* PgStore() {
  Stores& stores = Opened();
  if (stores.postgres != nullptr) return stores.postgres.get();
  auto server = postgres::TestServer::Start({.durable = true});
  if (!server.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n",
                 server.status().ToString().c_str());
    return nullptr;
  }
  stores.server = *std::move(server);
  if (absl::Status created = stores.server->CreateDatabase("feedback");
      !created.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", created.ToString().c_str());
    return nullptr;
  }
  auto opened =
      PgEventStore::Open(stores.server->Url("feedback"), Hasher(), {});
  if (!opened.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n",
                 opened.status().ToString().c_str());
    return nullptr;
  }
  stores.postgres = *std::move(opened);
  return stores.postgres.get();
}

void BM_SQLite(benchmark::State& state) {
  GroupCommitStore* store = SqliteStore();
  if (store == nullptr) return state.SkipWithError("no SQLite store");
  StoreBatches(state, *store);
}

void BM_PostgreSQL(benchmark::State& state) {
  GroupCommitStore* store = PgStore();
  if (store == nullptr) return state.SkipWithError("no PostgreSQL server");
  StoreBatches(state, *store);
}

BENCHMARK(BM_SQLite)
    ->Name("StoreBatchOf1000/SQLite")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PostgreSQL)
    ->Name("StoreBatchOf1000/PostgreSQL")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace polku::feedback

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  polku::feedback::Stores& stores = polku::feedback::Opened();
  stores.postgres.reset();
  stores.server.reset();
  stores.sqlite.reset();
  if (!stores.sqlite_directory.empty()) {
    std::filesystem::remove_all(stores.sqlite_directory);
  }
  return 0;
}
