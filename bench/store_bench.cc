// polku-store-bench: what the two write paths cost their stores, on SQLite
// and on PostgreSQL (a throwaway server started like the tests' own,
// lib/postgres/testing), both durable: SQLite with synchronous=FULL,
// PostgreSQL with fsync on and synchronous_commit on.
//   * EventStore: one batch through polku-feedback's GroupCommitStore,
//     every event new, one batch at a time: 1000 events, as a channel's
//     backlog arrives, and 40, as live feedback does at a few hundred calls
//     a second (each then commits alone: what a commit costs shows).
//     cpu_us_per_event is this process's CPU per stored event, every
//     thread's (the writer's and, while a batch is stored, the SQLite
//     checkpointer's), but not a PostgreSQL server's, which runs apart.
//   * RollupStore: one 1000-event feed page through polku-insight's
//     RollupStore::Apply, in feed order as the tailer applies it: events a
//     few seconds apart over 12 touchpoints, most with a score, half with a
//     measure, all with an attribute.
// Customers repeat as polku-bench's do (customer-<i % 10007>, hashed as
// polku-feedback stores them). Reports
// events/s (items_per_second). Not a test; run it by hand on a quiet machine:
//
//   polku-store-bench --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "lib/base/process.h"
#include "lib/postgres/testing/test_server.h"
#include "polku/v1/feedback.pb.h"
#include "services/feedback/customer_hasher.h"
#include "services/feedback/event_store.h"
#include "services/feedback/group_commit_store.h"
#include "services/feedback/pg_event_store.h"
#include "services/feedback/sqlite_event_store.h"
#include "services/insight/postgres/pg_rollup_store.h"
#include "services/insight/store/rollup_store.h"
#include "services/insight/sqlite/sqlite_rollup_store.h"

namespace polku {
namespace {

constexpr int kEventsPerPage = 1000;
constexpr int kCustomers = 10007;
constexpr int kTouchpoints = 12;
// 2024-05-01T10:00:00Z.
constexpr int64_t kFirstOccurredAt = 1'714'557'600;

// Where the stores live: a scratch directory for the SQLite files and one
// PostgreSQL server, each made on first use; main closes them at the end,
// after the stores.
struct Backends {
  std::string directory;
  std::unique_ptr<postgres::TestServer> server;

  void Close() {
    server.reset();
    if (!directory.empty()) std::filesystem::remove_all(directory);
    directory.clear();
  }

  // The path of `file` in the scratch directory; empty if it cannot be made.
  std::string SqlitePath(const std::string& file) {
    if (directory.empty()) {
      char made[] = "/tmp/polku-store-bench-XXXXXX";
      if (::mkdtemp(made) == nullptr) return "";
      directory = made;
    }
    return absl::StrCat(directory, "/", file);
  }

  // The URL of a new database `name` on the server; empty if unavailable.
  std::string PostgresUrl(const std::string& name) {
    if (server == nullptr) {
      auto started = postgres::TestServer::Start({.durable = true});
      if (!Report(started.status())) return "";
      server = *std::move(started);
    }
    if (!Report(server->CreateDatabase(name))) return "";
    return server->Url(name);
  }

  // True if ok; else says why on stderr.
  static bool Report(const absl::Status& status) {
    if (!status.ok()) std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return status.ok();
  }
};
Backends& TheBackends() {
  static auto* backends = new Backends;
  return *backends;
}

// Opens a store on first use and keeps it until main ends: the benchmark's
// repetitions only add rows. Null (reported) if it cannot be opened.
template <typename Store>
Store* Keep(std::unique_ptr<Store>& kept,
            absl::StatusOr<std::unique_ptr<Store>> (*open)()) {
  if (kept == nullptr) {
    absl::StatusOr<std::unique_ptr<Store>> opened = open();
    if (!Backends::Report(opened.status())) return nullptr;
    kept = *std::move(opened);
  }
  return kept.get();
}

namespace event_store {

using feedback::EventBatch;
using feedback::GroupCommitStore;
using v1::EventResult;

feedback::CustomerHasher Hasher() {
  return feedback::CustomerHasher(std::string(32, 'k'));
}

// `size` events never sent before: `next` numbers them.
EventBatch NewBatch(int size, int64_t& next) {
  EventBatch batch{"demo", "shop", {}};
  batch.events.reserve(size);
  for (int i = 0; i < size; ++i, ++next) {
    feedback::ValidEvent& valid = batch.events.emplace_back();
    valid.event.set_event_id(absl::StrCat("e-", next));
    valid.event.set_touchpoint("shop_in_shop_sales");
    valid.event.set_customer(absl::StrCat("customer-", next % kCustomers));
    valid.event.mutable_occurred_at()->set_seconds(kFirstOccurredAt + next);
    valid.event.set_csat(1 + next % 5);
    (*valid.event.mutable_attributes())["store_id"] = "helsinki-1";
    valid.touchpoint = {.journey = "switching",
                        .journey_version = 2,
                        .stage = "purchase",
                        .channel = "shop"};
  }
  return batch;
}

absl::StatusOr<std::vector<EventResult>> SubmitAndWait(GroupCommitStore& store,
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

// CPU time of the whole process (every thread), in microseconds.
double ProcessCpuMicros() {
  timespec now;
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1e6 + now.tv_nsec / 1e3;
}

// One new batch of state.range(0) events per iteration, each its own
// transaction.
void StoreBatches(benchmark::State& state, GroupCommitStore* store) {
  if (store == nullptr) return state.SkipWithError("no store (see stderr)");
  const int size = static_cast<int>(state.range(0));
  static int64_t next = 1;
  double cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    EventBatch batch = NewBatch(size, next);
    const double cpu_before = ProcessCpuMicros();
    state.ResumeTiming();
    absl::StatusOr<std::vector<EventResult>> results =
        SubmitAndWait(*store, std::move(batch));
    cpu += ProcessCpuMicros() - cpu_before;
    if (!results.ok() || results->size() != static_cast<size_t>(size) ||
        !std::all_of(results->begin(), results->end(), [](const auto& r) {
          return r.outcome() == EventResult::ACCEPTED;
        })) {
      state.SkipWithError(results.ok() ? "an event was not accepted"
                                       : results.status().ToString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * size);
  state.counters["cpu_us_per_event"] =
      cpu / static_cast<double>(state.iterations() * size);
}

std::unique_ptr<GroupCommitStore> sqlite_store, postgres_store;

absl::StatusOr<std::unique_ptr<GroupCommitStore>> OpenSqlite() {
  const std::string path = TheBackends().SqlitePath("feedback.db");
  if (path.empty()) return absl::InternalError("no scratch directory");
  return feedback::SqliteEventStore::Open(path, Hasher(), {});
}

absl::StatusOr<std::unique_ptr<GroupCommitStore>> OpenPostgres() {
  const std::string url = TheBackends().PostgresUrl("feedback");
  if (url.empty()) return absl::UnavailableError("no PostgreSQL server");
  return feedback::PgEventStore::Open(url, Hasher(), {});
}

void BM_SQLite(benchmark::State& state) {
  StoreBatches(state, Keep(sqlite_store, &OpenSqlite));
}
void BM_PostgreSQL(benchmark::State& state) {
  StoreBatches(state, Keep(postgres_store, &OpenPostgres));
}

}  // namespace event_store

namespace rollup_store {

using insight::RollupStore;

// Customer i's hash as polku-feedback stores it: 64 hex digits that spread
// over the ledger's customer index as real customers' do.
const std::string& CustomerHash(int64_t i) {
  static const auto* hashes = [] {
    auto* hashes = new std::vector<std::string>();
    const feedback::CustomerHasher hasher = event_store::Hasher();
    for (int64_t c = 0; c < kCustomers; ++c) {
      hashes->push_back(hasher.Hash("demo", absl::StrCat("customer-", c)));
    }
    return hashes;
  }();
  return (*hashes)[i % kCustomers];
}

// The feed's next page: `next` is the next sequence.
google::protobuf::RepeatedPtrField<v1::StoredEvent> NewPage(int64_t& next) {
  static const char* const kChannels[] = {"shop", "phone", "web", "email"};
  static const char* const kStages[] = {"research", "purchase", "use"};
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  page.Reserve(kEventsPerPage);
  for (int i = 0; i < kEventsPerPage; ++i, ++next) {
    v1::StoredEvent& stored = *page.Add();
    const int touchpoint = next % kTouchpoints;
    stored.set_sequence(next);
    stored.set_tenant("demo");
    stored.set_channel(kChannels[touchpoint % 4]);
    stored.set_journey("switching");
    stored.set_journey_version(2);
    stored.set_stage(kStages[touchpoint % 3]);
    stored.set_customer_hash(CustomerHash(next));
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

// One new page per iteration; `next` is the store's next feed sequence.
void ApplyPages(benchmark::State& state, RollupStore* store, int64_t& next) {
  if (store == nullptr) return state.SkipWithError("no store (see stderr)");
  for (auto _ : state) {
    state.PauseTiming();
    const google::protobuf::RepeatedPtrField<v1::StoredEvent> page =
        NewPage(next);
    state.ResumeTiming();
    if (absl::Status applied = store->Apply(page); !applied.ok()) {
      state.SkipWithError(applied.ToString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kEventsPerPage);
}

std::unique_ptr<RollupStore> sqlite_store, postgres_store;

absl::StatusOr<std::unique_ptr<RollupStore>> OpenSqlite() {
  const std::string path = TheBackends().SqlitePath("insight.db");
  if (path.empty()) return absl::InternalError("no scratch directory");
  return insight::SqliteRollupStore::Open(path, /*durable=*/true);
}

absl::StatusOr<std::unique_ptr<RollupStore>> OpenPostgres() {
  const std::string url = TheBackends().PostgresUrl("insight");
  if (url.empty()) return absl::UnavailableError("no PostgreSQL server");
  return insight::PgRollupStore::Open(url);
}

void BM_SQLite(benchmark::State& state) {
  static int64_t next = 1;
  ApplyPages(state, Keep(sqlite_store, &OpenSqlite), next);
}
void BM_PostgreSQL(benchmark::State& state) {
  static int64_t next = 1;
  ApplyPages(state, Keep(postgres_store, &OpenPostgres), next);
}

}  // namespace rollup_store

BENCHMARK(event_store::BM_SQLite)
    ->Name("EventStore/StoreBatch/SQLite")
    ->ArgName("events")
    ->Arg(1000)
    ->Arg(40)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(event_store::BM_PostgreSQL)
    ->Name("EventStore/StoreBatch/PostgreSQL")
    ->ArgName("events")
    ->Arg(1000)
    ->Arg(40)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(rollup_store::BM_SQLite)
    ->Name("RollupStore/ApplyPageOf1000/SQLite")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(rollup_store::BM_PostgreSQL)
    ->Name("RollupStore/ApplyPageOf1000/PostgreSQL")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace polku

int main(int argc, char** argv) {
  polku::SetUpProcess();  // as the services do
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // The stores close before their server and files go.
  polku::event_store::sqlite_store.reset();
  polku::event_store::postgres_store.reset();
  polku::rollup_store::sqlite_store.reset();
  polku::rollup_store::postgres_store.reset();
  polku::TheBackends().Close();
  return 0;
}
