// polku-bench: how fast durable ingestion is on this machine, next to the
// ceilings it should be compared with, all measured in one run.
//
//   build/release/bin/polku-bench --clients=4 --duration_s=10
//   build/release/bin/polku-bench --soak_s=600      # the memory run only
//   build/release/bin/polku-bench --random_event_ids  # UUIDs as event ids
//
// It starts the real suite (tests/harness: keys, journey, feedback, insight,
// gateway on loopback, in a temporary data directory), publishes a journey,
// then runs each scenario for --duration_s with --clients concurrent
// channel clients, each with its own channel:
//   * unary SubmitEvents batches of --batch events, directly to
//     polku-feedback (trusted metadata) and through the gateway (Bearer key);
//   * the gateway batches again, paced at 90 % of the rate just measured,
//     for the acknowledgement latency below saturation;
//   * events as a channel system sends them: they arrive on a fixed
//     schedule and each client sends what has arrived every 5 ms, at 50, 70
//     and 90 % of that rate;
//   * StreamEvents with one event per message (at most --stream_window
//     unanswered per stream), directly and through the gateway.
// Ceilings, measured in the same run:
//   * raw SQLite: the same rows (same schema, column values and database
//     options as services/feedback's writer, --batch rows per transaction)
//     inserted by one thread;
//   * empty RPCs over the same loopback transport: an in-process echo
//     FeedbackService answering empty SubmitEvents calls, and a bidi stream
//     answering each empty message with one empty message.
// The table: events/s, acknowledgement latency percentiles, server
// CPU-seconds per million events (/proc/<pid>/stat), and each process's peak
// RSS (VmHWM) at the end.
//
// With --soak_s it runs only a soak instead: the 5 ms arrivals through the
// gateway at --soak_rate for that long, sampling every process's RSS every
// 10 s, to show whether memory stays flat.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_stats.h"
#include "lib/crypto/crypto.h"
#include "lib/rpc/flags.h"
#include "lib/sqlite/sqlite.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "services/feedback/group_commit_store.h"
#include "services/feedback/sqlite_event_store.h"
#include "tests/harness/journeys.h"
#include "tests/harness/programs.h"
#include "tests/harness/suite.h"
#include "tools/journeys/gateway_client.h"

ABSL_FLAG(int, clients, 4,
          "concurrent channel clients (1-4, one channel each)");
ABSL_FLAG(int, duration_s, 10,
          "seconds per scenario; with --soak_s, of the warm-up that sets the "
          "default --soak_rate");
ABSL_FLAG(int, batch, 1000,
          "events per SubmitEvents call (at most, when events arrive on a "
          "schedule) and rows per SQLite transaction");
ABSL_FLAG(int, stream_window, 1000, "unanswered events per stream at most");
ABSL_FLAG(bool, comments, true,
          "events carry a comment (false: what polku-insight spends on each "
          "event without the theme index's text analysis)");
ABSL_FLAG(int, soak_s, 0,
          "0: the scenarios and ceilings; N >= 120: only a soak of N seconds, "
          "events arriving at --soak_rate and sent through the gateway every "
          "5 ms, with every process's RSS sampled every 10 s");
ABSL_FLAG(bool, random_event_ids, false,
          "event ids as random-looking UUIDs (as many channel systems send) "
          "instead of <run>-<channel>-<n>, which reach the idempotency index "
          "in order");
ABSL_FLAG(int, import_rows, 0,
          "0: the scenarios and ceilings; N > 0: only StreamEvents 1/message "
          "through the gateway and polku-import of an N-row CSV file through "
          "the gateway (the clients' channels in turn), alternated "
          "--import_rounds times, and the import's rate against the stream's");
ABSL_FLAG(int, import_rounds, 2, "rounds of --import_rows");
ABSL_FLAG(double, soak_rate, 0,
          "events per second over all clients in the soak; 0: half the rate "
          "of an unpaced batched gateway warm-up of --duration_s, measured "
          "first");

namespace polku::bench {
namespace {

constexpr char kJourney[] = "bench-journey";
const char* const kChannels[] = {"shop", "phone", "web", "email"};

std::string Touchpoint(const std::string& channel) {
  return channel + "_touch";
}

// ---------------------------------------------------------------- metrics

double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // Fields after the parenthesised command name; utime and stime are 14, 15.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A "Vm…" line of /proc/<pid>/status ("VmRSS", "VmHWM") in kB, -1 if the
// process is gone.
int64_t MemoryKb(pid_t pid, absl::string_view field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  const std::string prefix = absl::StrCat(field, ":");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      return std::strtoll(line.c_str() + prefix.size(), nullptr, 10);
    }
  }
  return -1;
}

double SelfCpuSeconds() { return CpuSeconds(::getpid()); }

struct Result {
  std::string name;
  double events = 0;
  // Calls refused with RESOURCE_EXHAUSTED (the gateway's per-key rate limit,
  // or polku-feedback's full queue), and other failed calls.
  int64_t throttled_calls = 0;
  int64_t failed_calls = 0;
  // Paced scenarios: events that had arrived by the end, and of them those
  // still unanswered then (a system that falls behind shows here, not in
  // its rate). Events answered REJECTED (none are expected).
  int64_t offered = 0;
  int64_t backlog = 0;
  int64_t rejected = 0;
  double seconds = 0;
  // polku-import's own CPU seconds (the import rows).
  double import_cpu = 0;
  Latencies latency;
  // Server processes' CPU seconds during the scenario, by name.
  std::vector<std::pair<std::string, double>> cpu;
  double rate() const { return seconds > 0 ? events / seconds : 0; }
};

// ---------------------------------------------------------------- events

// How many customers the bench's events come from.
constexpr int64_t kCustomers = 10007;

v1::TouchpointEvent MakeEvent(const std::string& channel,
                              const std::string& run, int64_t i) {
  v1::TouchpointEvent event;
  if (absl::GetFlag(FLAGS_random_event_ids)) {
    // The same id for the same event within this run (absl's hash is
    // seeded per process), so a re-sent call is a duplicate.
    const uint64_t high = absl::HashOf(run, channel, i, 0);
    const uint64_t low = absl::HashOf(run, channel, i, 1);
    event.set_event_id(absl::StrFormat(
        "%08x-%04x-4%03x-%04x-%012x", high >> 32, (high >> 16) & 0xffff,
        high & 0xfff, 0x8000 | (low >> 48 & 0x3fff), low & 0xffffffffffff));
  } else {
    event.set_event_id(absl::StrCat(run, "-", channel, "-", i));
  }
  event.set_touchpoint(Touchpoint(channel));
  event.set_customer(absl::StrCat("customer-", i % kCustomers));
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()) -
                                           3600);
  event.set_csat(1 + i % 5);
  event.set_nps(i % 11);
  if (absl::GetFlag(FLAGS_comments)) {
    event.set_comment("Quick and friendly service");
    event.set_language("en");
  }
  (*event.mutable_measures())["wait_seconds"] = static_cast<double>(i % 300);
  (*event.mutable_attributes())["store_id"] = absl::StrCat("store-", i % 50);
  return event;
}

// How a client reaches the service: trusted metadata (direct) or a key.
struct Target {
  std::shared_ptr<grpc::Channel> channel;
  bool through_gateway = false;
  std::vector<std::string> keys;  // per client, when through the gateway
};

void Prepare(grpc::ClientContext& context, const Target& target, int client,
             absl::Duration timeout) {
  if (target.through_gateway) {
    context.AddMetadata("authorization", "Bearer " + target.keys[client]);
  } else {
    context.AddMetadata("x-polku-tenant", "demo");
    context.AddMetadata("x-polku-channel", kChannels[client]);
  }
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

// ---------------------------------------------------------------- drivers

// How often a channel system forwards what has arrived.
constexpr absl::Duration kSendEvery = absl::Milliseconds(5);

// How long a RESOURCE_EXHAUSTED answer asks the caller to wait (the
// gateway's "retry-after-ms" trailer), kSendEvery when it names no time.
absl::Duration RetryAfter(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("retry-after-ms");
  int64_t ms = 0;
  if (it == trailers.end() ||
      !absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()),
                        &ms)) {
    return kSendEvery;
  }
  return std::max(absl::Milliseconds(ms), absl::Milliseconds(1));
}

// K threads, each calling SubmitEvents with `batch` events (empty requests
// when `batch` is 0) until the time is up: back to back, or, with
// `paced_rate` (events/s over all threads), on a fixed schedule whose
// latency counts from the scheduled send time (a late call's wait counts).
// A refused call (RESOURCE_EXHAUSTED) is sent again after the retry hint,
// its wait counted; a batch still unanswered at the end is backlog.
Result RunUnary(const std::string& name, const Target& target, int clients,
                int batch, absl::Duration duration, const std::string& run,
                double paced_rate = 0) {
  Result result;
  result.name = name;
  std::vector<Latencies> latencies(clients);
  std::vector<int64_t> acked(clients, 0);
  std::vector<int64_t> answered(clients, 0);  // events with an answer
  std::vector<int64_t> offered(clients, 0);
  std::vector<int64_t> backlog(clients, 0);
  std::atomic<int64_t> throttled{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> rejected{0};
  const absl::Time end = absl::Now() + duration;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = v1::FeedbackService::NewStub(target.channel);
      int64_t next = 0;
      const absl::Duration interval =
          paced_rate > 0 ? absl::Seconds(batch * clients / paced_rate)
                         : absl::ZeroDuration();
      const absl::Time first = start + interval * c / clients;
      absl::Time scheduled = first;
      while (absl::Now() < end) {
        if (paced_rate > 0) {
          if (scheduled >= end) break;  // only batches scheduled in time
          absl::SleepFor(scheduled - absl::Now());
          scheduled += interval;
        }
        v1::SubmitEventsRequest request;
        for (int i = 0; i < batch; ++i) {
          *request.add_events() = MakeEvent(kChannels[c], run, next++);
        }
        const absl::Time sent =
            paced_rate > 0 ? scheduled - interval : absl::Now();
        v1::SubmitEventsResponse response;
        grpc::Status status;
        while (true) {
          grpc::ClientContext context;
          Prepare(context, target, c, absl::Seconds(30));
          status = stub->SubmitEvents(&context, request, &response);
          if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) {
            break;
          }
          throttled.fetch_add(1);
          const absl::Duration wait = RetryAfter(context);
          if (absl::Now() + wait >= end) break;
          absl::SleepFor(wait);
        }
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - sent);
        if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          continue;
        }
        if (!status.ok()) {
          if (errors.fetch_add(1) < 3) {
            std::cerr << name << ": " << tools::DescribeStatus(status) << "\n";
          }
          continue;
        }
        int ok = 0;
        for (const auto& r : response.results()) {
          if (r.outcome() == v1::EventResult::REJECTED) {
            rejected.fetch_add(1);
          } else {
            ++ok;
          }
        }
        acked[c] += batch == 0 ? 1 : ok;
        answered[c] += response.results_size();
        latencies[c].Add(ms);
      }
      if (paced_rate > 0 && end > first) {
        // Every batch scheduled before the end, sent or not.
        offered[c] = batch * static_cast<int64_t>(std::ceil(
                                 absl::FDivDuration(end - first, interval)));
        backlog[c] = offered[c] - answered[c];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.throttled_calls = throttled.load();
  result.failed_calls = errors.load();
  result.rejected = rejected.load();
  for (int c = 0; c < clients; ++c) {
    result.events += static_cast<double>(acked[c]);
    result.latency.Merge(latencies[c]);
    result.offered += offered[c];
    result.backlog += backlog[c];
  }
  return result;
}

// Events arrive on a fixed schedule, `rate` per second over all clients
// (see ArrivalSchedule), as they do at a channel system forwarding what its
// customers do. Every kSendEvery, or as soon as
// its previous call returned if that is later, each client sends everything
// that has arrived and not been sent (at most `max_batch`) as one
// SubmitEvents. An event's latency runs from its arrival to the answer of
// the call that stored it. A refused or failed call leaves its events to go
// again with the next one (re-sending is safe), so their wait counts; after
// a refusal the next call waits for the retry hint.
// `acked`, when given, counts accepted events as they are answered.
Result RunArrivals(const std::string& name, const Target& target, int clients,
                   int max_batch, double rate, absl::Duration duration,
                   const std::string& run,
                   std::atomic<int64_t>* acked = nullptr) {
  Result result;
  result.name = name;
  std::vector<Latencies> latencies(clients);
  std::vector<int64_t> accepted(clients, 0);
  std::vector<int64_t> offered(clients, 0);
  std::vector<int64_t> backlog(clients, 0);
  std::atomic<int64_t> throttled{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> rejected{0};
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = v1::FeedbackService::NewStub(target.channel);
      const ArrivalSchedule schedule(start, rate, c, clients);
      int64_t sent = 0;  // the next event to send; those before are stored
      // The clients' sends interleave as their arrivals do.
      absl::Time tick = start + kSendEvery * c / clients;
      while (true) {
        tick += kSendEvery;
        if (const absl::Time now = absl::Now(); tick > now) {
          absl::SleepFor(tick - now);
        } else {
          tick = now;
        }
        const absl::Time now = absl::Now();
        if (now >= end) break;
        const int64_t count =
            std::min<int64_t>(schedule.ArrivedBy(now) - sent, max_batch);
        if (count <= 0) continue;
        v1::SubmitEventsRequest request;
        for (int64_t j = sent; j < sent + count; ++j) {
          *request.add_events() = MakeEvent(kChannels[c], run, j);
        }
        grpc::ClientContext context;
        Prepare(context, target, c, absl::Seconds(30));
        v1::SubmitEventsResponse response;
        grpc::Status status = stub->SubmitEvents(&context, request, &response);
        const absl::Time answered = absl::Now();
        if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          throttled.fetch_add(1);
          // As a channel system should: the next call waits as long as the
          // answer asks.
          tick = answered + RetryAfter(context) - kSendEvery;
          continue;
        }
        if (!status.ok()) {
          if (failed.fetch_add(1) < 3) {
            std::cerr << name << ": " << tools::DescribeStatus(status) << "\n";
          }
          continue;
        }
        // DUPLICATE: stored by an earlier call whose answer was lost.
        int64_t ok = 0;
        for (int k = 0; k < response.results_size(); ++k) {
          if (response.results(k).outcome() == v1::EventResult::REJECTED) {
            rejected.fetch_add(1);
            continue;
          }
          latencies[c].Add(absl::ToDoubleMilliseconds(
              answered - schedule.Arrival(sent + k)));
          ++ok;
        }
        accepted[c] += ok;
        if (acked != nullptr) acked->fetch_add(ok);
        sent += count;
      }
      offered[c] = schedule.ArrivedBy(end);
      backlog[c] = offered[c] - sent;
    });
  }
  for (std::thread& t : threads) t.join();
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.throttled_calls = throttled.load();
  result.failed_calls = failed.load();
  result.rejected = rejected.load();
  for (int c = 0; c < clients; ++c) {
    result.events += static_cast<double>(accepted[c]);
    result.latency.Merge(latencies[c]);
    result.offered += offered[c];
    result.backlog += backlog[c];
  }
  return result;
}

// K streams; a writer per stream writes one event per message (an empty
// message when `empty`) with at most `window` unanswered, a reader takes the
// answers, in order, and records each event's acknowledgement latency.
Result RunStream(const std::string& name, const Target& target, int clients,
                 int window, bool empty, absl::Duration duration,
                 const std::string& run) {
  Result result;
  result.name = name;
  std::vector<Latencies> latencies(clients);
  std::vector<int64_t> acked(clients, 0);
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = v1::FeedbackService::NewStub(target.channel);
      grpc::ClientContext context;
      Prepare(context, target, c, duration + absl::Seconds(60));
      auto stream = stub->StreamEvents(&context);
      absl::Mutex mu;
      std::deque<absl::Time> sent;  // send times of unanswered events
      bool reader_done = false;
      std::thread reader([&] {
        v1::StreamEventsResponse response;
        while (stream->Read(&response)) {
          const absl::Time now = absl::Now();
          absl::MutexLock lock(&mu);
          const int answers = empty ? 1 : response.results_size();
          for (int i = 0; i < answers && !sent.empty(); ++i) {
            latencies[c].Add(absl::ToDoubleMilliseconds(now - sent.front()));
            sent.pop_front();
            ++acked[c];
          }
        }
        absl::MutexLock lock(&mu);
        reader_done = true;
      });
      int64_t next = 0;
      while (absl::Now() < end) {
        {
          absl::MutexLock lock(&mu);
          auto room = [&] {
            return reader_done || static_cast<int>(sent.size()) < window;
          };
          mu.AwaitWithTimeout(absl::Condition(&room), absl::Milliseconds(100));
          if (reader_done) break;
          if (static_cast<int>(sent.size()) >= window) continue;
          sent.push_back(absl::Now());
        }
        v1::StreamEventsRequest request;
        if (!empty)
          *request.add_events() = MakeEvent(kChannels[c], run, next++);
        if (!stream->Write(request)) break;
      }
      stream->WritesDone();
      reader.join();
      grpc::Status status = stream->Finish();
      if (!status.ok())
        std::cerr << name << ": " << tools::DescribeStatus(status) << "\n";
    });
  }
  for (std::thread& t : threads) t.join();
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (int c = 0; c < clients; ++c) {
    result.events += static_cast<double>(acked[c]);
    result.latency.Merge(latencies[c]);
  }
  return result;
}

// ---------------------------------------------------------------- ceilings

// Answers SubmitEvents with an empty response and every StreamEvents
// message with one empty message: the transport alone.
class EchoService final : public v1::FeedbackService::CallbackService {
 public:
  grpc::ServerUnaryReactor* SubmitEvents(grpc::CallbackServerContext* context,
                                         const v1::SubmitEventsRequest*,
                                         v1::SubmitEventsResponse*) override {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerBidiReactor<v1::StreamEventsRequest, v1::StreamEventsResponse>*
  StreamEvents(grpc::CallbackServerContext*) override {
    class Echo final
        : public grpc::ServerBidiReactor<v1::StreamEventsRequest,
                                         v1::StreamEventsResponse> {
     public:
      Echo() { StartRead(&request_); }
      void OnReadDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::OK);
        StartWrite(&response_);
      }
      void OnWriteDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::CANCELLED);
        StartRead(&request_);
      }
      void OnDone() override { delete this; }

     private:
      v1::StreamEventsRequest request_;
      v1::StreamEventsResponse response_;
    };
    return new Echo();
  }
};

// The same rows as polku-feedback writes for the bench's events, straight
// into SQLite, `batch` rows per transaction, the clients' channels taking
// turns as their batches do in the service.
Result RunSqlite(const std::string& dir, int clients, int batch,
                 absl::Duration duration, const std::string& run) {
  Result result;
  result.name = "ceiling: raw SQLite insert";
  // Exactly as polku-feedback opens its writer.
  auto db = sqlite::Database::Open(
      dir + "/ceiling.db",
      feedback::SqliteEventStore::WriterDatabaseOptions(/*durable=*/true));
  if (!db.ok()) {
    std::cerr << db.status() << "\n";
    return result;
  }
  // The store's own schema.
  absl::Status schema =
      (*db)->Migrate(feedback::SqliteEventStore::Migrations());
  if (!schema.ok()) {
    std::cerr << schema << "\n";
    return result;
  }
  // Hashed before the clock starts, as the ceiling times SQLite alone: per
  // customer 64 lowercase hex chars of HMAC-SHA-256 like the service's, and
  // its key, so the customer index takes them as the service's does. The fingerprint (not indexed) is 32 bytes like the service's;
  // its value costs SQLite nothing either way.
  const std::string key = crypto::Sha256("polku-bench ceiling");
  std::vector<std::string> customer_hashes;
  std::vector<int64_t> customer_keys;
  std::vector<std::string> fingerprints;
  customer_hashes.reserve(kCustomers);
  customer_keys.reserve(kCustomers);
  fingerprints.reserve(kCustomers);
  for (int64_t i = 0; i < kCustomers; ++i) {
    const std::string customer = absl::StrCat("customer-", i);
    customer_hashes.push_back(crypto::HmacSha256Hex(key, customer));
    customer_keys.push_back(
        feedback::CustomerKey(customer_hashes.back()).value());
    fingerprints.push_back(crypto::HmacSha256(customer, key));
  }
  std::vector<int64_t> next(clients, 0);  // per channel, as each client counts
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  for (int turn = 0; absl::Now() < end; ++turn) {
    const int c = turn % clients;
    const std::string channel = kChannels[c];
    const absl::Time began = absl::Now();
    sqlite::Transaction transaction(**db);
    if (!transaction.Begin().ok()) break;
    // The columns SqliteEventStore::WriteBatch binds.
    auto insert = (*db)->Prepare(
        "INSERT INTO events (tenant, channel, event_id, fingerprint,"
        " customer_hash, customer_key, occurred_at, received_at, journey,"
        " journey_version, stage, touchpoint, payload)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    if (!insert.ok()) break;
    for (int i = 0; i < batch; ++i, ++next[c]) {
      const int64_t customer = next[c] % kCustomers;
      const std::string& customer_hash = customer_hashes[customer];
      v1::StoredEvent stored;
      *stored.mutable_event() = MakeEvent(channel, run, next[c]);
      stored.mutable_event()->clear_customer();
      stored.set_tenant("demo");
      stored.set_channel(channel);
      stored.set_journey(kJourney);
      stored.set_journey_version(1);
      stored.set_stage("purchase");
      stored.set_customer_hash(customer_hash);
      const int64_t received_us = absl::ToUnixMicros(began);
      stored.mutable_received_at()->set_seconds(received_us / 1'000'000);
      stored.mutable_received_at()->set_nanos(received_us % 1'000'000 * 1000);
      const v1::TouchpointEvent& event = stored.event();
      (*insert)
          ->Bind(1, "demo")
          .Bind(2, channel)
          .Bind(3, event.event_id())
          .BindBlob(4, fingerprints[customer])
          .Bind(5, customer_hash)
          .Bind(6, customer_keys[customer])
          .Bind(7, event.occurred_at().seconds() * 1'000'000)
          .Bind(8, received_us)
          .Bind(9, kJourney)
          .Bind(10, 1)
          .Bind(11, "purchase")
          .Bind(12, event.touchpoint())
          .BindBlob(13, stored.SerializeAsString());
      if (absl::Status s = (*insert)->Run(); !s.ok()) {
        std::cerr << s << "\n";
        return result;
      }
    }
    if (!transaction.Commit().ok()) break;
    result.events += batch;
    result.latency.Add(absl::ToDoubleMilliseconds(absl::Now() - began));
  }
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

// ---------------------------------------------------------------- the run

v1::Journey BenchJourney() {
  std::vector<testing::TouchpointSpec> touchpoints;
  for (const char* channel : kChannels) {
    touchpoints.push_back({Touchpoint(channel), "purchase", channel});
  }
  return testing::MakeJourney(kJourney, "Benchmark journey", {"purchase"},
                              touchpoints, "bench");
}

absl::Status PublishJourney(testing::Suite& suite) {
  auto stub = v1::JourneyService::NewStub(suite.GatewayChannel());
  v1::CreateJourneyRequest create;
  *create.mutable_journey() = BenchJourney();
  v1::Journey journey;
  grpc::Status status = tools::CallWithRetry([&] {
    grpc::ClientContext context;
    testing::Suite::Authorize(context, suite.credentials().admin_key);
    return stub->CreateJourney(&context, create, &journey);
  });
  if (!status.ok()) return absl::InternalError(tools::DescribeStatus(status));
  v1::PublishJourneyRequest publish;
  publish.set_key(kJourney);
  status = tools::CallWithRetry([&] {
    grpc::ClientContext context;
    testing::Suite::Authorize(context, suite.credentials().admin_key);
    return stub->PublishJourney(&context, publish, &journey);
  });
  if (!status.ok()) return absl::InternalError(tools::DescribeStatus(status));
  return absl::OkStatus();
}

// The suite's processes the bench reports on.
struct Processes {
  pid_t feedback;
  pid_t gateway;
  pid_t journey;
  // polku-insight tails the feed while events arrive, as in production.
  pid_t insight;
};

// Waits (at most `bound`) until `pid` spends under 2 % of a CPU over a
// second.
void WaitUntilIdle(pid_t pid, absl::Duration bound) {
  const absl::Time end = absl::Now() + bound;
  double before = CpuSeconds(pid);
  while (absl::Now() < end) {
    absl::SleepFor(absl::Seconds(1));
    const double now = CpuSeconds(pid);
    if (now - before < 0.02) return;
    before = now;
  }
  std::cerr << "polku-insight still busy after " << bound << "\n";
}

// Runs `scenario`, adding the CPU time the processes spent meanwhile.
template <typename Scenario>
Result Measure(const Processes& processes, Scenario scenario) {
  const double feedback_before = CpuSeconds(processes.feedback);
  const double gateway_before = CpuSeconds(processes.gateway);
  const double insight_before = CpuSeconds(processes.insight);
  const double bench_before = SelfCpuSeconds();
  Result r = scenario();
  r.cpu = {{"feedback", CpuSeconds(processes.feedback) - feedback_before},
           {"gateway", CpuSeconds(processes.gateway) - gateway_before},
           {"insight", CpuSeconds(processes.insight) - insight_before},
           {"bench", SelfCpuSeconds() - bench_before}};
  std::cerr << r.name << ": " << static_cast<int64_t>(r.rate())
            << " events/s\n";
  return r;
}

void PrintTable(const std::vector<Result>& results) {
  size_t width = 0;
  for (const Result& r : results) width = std::max(width, r.name.size());
  std::cout << "| scenario | events/s | p50 ms | p99 ms | p99.9 ms | CPU-s per "
               "1M events (client: bench) |\n"
               "| --- | ---: | ---: | ---: | ---: | --- |\n";
  for (const Result& r : results) {
    std::string cpu;
    for (const auto& [process, seconds] : r.cpu) {
      absl::StrAppend(
          &cpu, cpu.empty() ? "" : ", ", process, " ",
          absl::StrFormat("%.2f", r.events > 0 ? seconds / r.events * 1e6 : 0));
    }
    std::cout << absl::StrFormat(
        "| %-*s | %10.0f | %7.2f | %7.2f | %7.2f | %s |\n",
        static_cast<int>(width), r.name, r.rate(), r.latency.Percentile(0.50),
        r.latency.Percentile(0.99), r.latency.Percentile(0.999),
        cpu.empty() ? "—" : cpu);
  }
  for (const Result& r : results) {
    if (r.offered > 0) {
      std::cout << absl::StrFormat(
          "  %s: %d events offered, %d answered, %d still unanswered at the "
          "end\n",
          r.name, r.offered, static_cast<int64_t>(r.events), r.backlog);
    }
    if (r.throttled_calls > 0 || r.failed_calls > 0 || r.rejected > 0) {
      std::cout << absl::StrFormat(
          "  %s: %d calls refused with RESOURCE_EXHAUSTED (rate limit or "
          "full queue; sent again after the retry hint), %d failed "
          "otherwise, %d events REJECTED\n",
          r.name, r.throttled_calls, r.failed_calls, r.rejected);
    }
  }
}

// The scenarios and the ceilings, one table.
int RunScenarios(testing::Suite& suite, const Target& direct,
                 const Target& gateway, const Processes& processes, int clients,
                 int batch, int window, absl::Duration duration,
                 const std::string& run) {
  std::vector<Result> results;
  // Where each row is, for the lines under the table.
  auto add = [&results](Result r) {
    results.push_back(std::move(r));
    return results.size() - 1;
  };
  const std::string batch_name = absl::StrCat("SubmitEvents ", batch, "/batch");
  const double insight_start = CpuSeconds(processes.insight);
  const size_t batched_direct = add(Measure(processes, [&] {
    return RunUnary(batch_name + ", direct", direct, clients, batch, duration,
                    run + "u");
  }));
  const size_t batched_gateway = add(Measure(processes, [&] {
    return RunUnary(batch_name + ", gateway", gateway, clients, batch, duration,
                    run + "g");
  }));
  const double max_rate = results[batched_gateway].rate();
  const double paced = 0.9 * max_rate;
  if (paced <= 0) {
    std::cerr << "the batched gateway run stored nothing: no rate to pace\n";
    return 1;
  }
  const size_t paced_batches = add(Measure(processes, [&] {
    return RunUnary(absl::StrFormat("%s, gateway, paced at 90 %%", batch_name),
                    gateway, clients, batch, duration, run + "p", paced);
  }));
  // Arrivals at rising loads: where the latency stays within the target,
  // not only whether it does at 90 %.
  std::vector<std::pair<int, size_t>> arrivals;  // (percent, row)
  for (const int percent : {50, 70, 90}) {
    arrivals.emplace_back(percent, add(Measure(processes, [&] {
      return RunArrivals(
          absl::StrFormat("SubmitEvents, gateway, paced at %d %%, arrivals "
                          "batched every 5 ms",
                          percent),
          gateway, clients, batch, max_rate * percent / 100, duration,
          absl::StrCat(run, "a", percent));
    })));
  }
  const size_t stream_direct = add(Measure(processes, [&] {
    return RunStream("StreamEvents 1/message, direct", direct, clients, window,
                     false, duration, run + "s");
  }));
  const size_t stream_gateway = add(Measure(processes, [&] {
    return RunStream("StreamEvents 1/message, gateway", gateway, clients,
                     window, false, duration, run + "t");
  }));

  // Ceilings, once polku-insight has counted what the scenarios stored, so
  // that they are measured on the machine the scenarios had at their start.
  WaitUntilIdle(processes.insight, absl::Seconds(120));
  // polku-insight counts behind the feed, so part of one row's work falls in
  // the next row's window: its CPU per event over every scenario, up to
  // when it had counted them all, is the figure that does not swing.
  const double insight_cpu = CpuSeconds(processes.insight) - insight_start;
  double scenario_events = 0;
  for (const Result& r : results) scenario_events += r.events;
  const std::string dir = suite.data_dir() + "/bench";
  std::filesystem::create_directories(dir);
  Result sqlite_ceiling = RunSqlite(dir, clients, batch, duration, run + "q");
  size_t bidi_echo = 0;
  {
    EchoService echo;
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&echo);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    Target echo_target{grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                           grpc::InsecureChannelCredentials())};
    add(RunUnary("ceiling: empty unary RPC (calls/s)", echo_target, clients, 0,
                 duration, run));
    bidi_echo =
        add(RunStream("ceiling: empty bidi echo (messages/s)", echo_target,
                      clients, window, true, duration, run));
    server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }
  const size_t raw_sqlite = add(std::move(sqlite_ceiling));

  std::cout << absl::StrFormat(
      "\nclients=%d duration=%ds batch=%d stream_window=%d event_ids=%s, %d "
      "CPUs\n\n",
      clients, absl::ToInt64Seconds(duration), batch, window,
      absl::GetFlag(FLAGS_random_event_ids) ? "random" : "ordered",
      std::thread::hardware_concurrency());
  PrintTable(results);

  auto percent = [&results](size_t a, size_t b) {
    const double base = results[b].rate();
    return base > 0 ? 100 * results[a].rate() / base : 0;
  };
  std::cout
      << "\nRatios to the ceilings of this run:\n"
      << absl::StrFormat("  batched, gateway / raw SQLite        %5.1f %%\n",
                         percent(batched_gateway, raw_sqlite))
      << absl::StrFormat("  batched, direct  / raw SQLite        %5.1f %%\n",
                         percent(batched_direct, raw_sqlite))
      << absl::StrFormat("  stream, gateway  / empty bidi echo   %5.1f %%\n",
                         percent(stream_gateway, bidi_echo))
      << absl::StrFormat("  stream, direct   / empty bidi echo   %5.1f %%\n",
                         percent(stream_direct, bidi_echo))
      << absl::StrFormat("  gateway / direct, batched            %5.1f %%\n",
                         percent(batched_gateway, batched_direct))
      << absl::StrFormat("  gateway / direct, stream             %5.1f %%\n",
                         percent(stream_gateway, stream_direct));
  std::cout << absl::StrFormat(
                   "\np99 acknowledgement through the gateway, against its "
                   "batched rate (%.0f events/s; target: at most 20 ms at "
                   "90 %%):\n",
                   max_rate)
            << absl::StrFormat(
                   "  %-48s %8.2f ms\n",
                   absl::StrCat(batch, "-event batches on a fixed schedule, 90 %"),
                   results[paced_batches].latency.Percentile(0.99));
  for (const auto& [percent, row] : arrivals) {
    std::cout << absl::StrFormat(
        "  %-48s %8.2f ms\n",
        absl::StrFormat("arrivals batched every 5 ms, %d %%", percent),
        results[row].latency.Percentile(0.99));
  }
  std::cout << absl::StrFormat(
      "\npolku-insight over every scenario until it had counted them all: "
      "%.2f CPU-s per 1M events (%.0f CPU-s, %.0f events)\n",
      scenario_events > 0 ? 1e6 * insight_cpu / scenario_events : 0,
      insight_cpu, scenario_events);
  std::cout << absl::StrFormat(
      "\nPeak RSS (VmHWM) at the end: polku-feedback %d kB, polku-gateway %d "
      "kB, polku-journey %d kB, polku-insight %d kB, polku-bench %d kB\n",
      MemoryKb(processes.feedback, "VmHWM"),
      MemoryKb(processes.gateway, "VmHWM"),
      MemoryKb(processes.journey, "VmHWM"),
      MemoryKb(processes.insight, "VmHWM"), MemoryKb(::getpid(), "VmHWM"));
  return 0;
}

// polku-import of `rows` rows through the gateway, as a user runs it: the
// binary, a CSV file of the same events the scenarios send (the clients'
// channels in turn), each row with its channel's key from credentials.json.
// Its rate counts from starting the process to its exit.
Result RunImportTool(testing::Suite& suite, int clients, int64_t rows,
                     const std::string& run) {
  Result result;
  result.name = absl::StrCat("polku-import, ", rows, " CSV rows, gateway");
  const std::string dir = suite.data_dir() + "/bench";
  std::filesystem::create_directories(dir);
  const std::string file = absl::StrCat(dir, "/", run, ".csv");
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << "channel,touchpoint,customer,occurred_at,csat,nps,comment,language,"
           "measures.wait_seconds,attributes.store_id\r\n";
    for (int64_t i = 0; i < rows; ++i) {
      const std::string channel = kChannels[i % clients];
      const v1::TouchpointEvent event = MakeEvent(channel, run, i);
      out << channel << "," << event.touchpoint() << "," << event.customer()
          << ","
          << absl::FormatTime(
                 "%Y-%m-%dT%H:%M:%SZ",
                 absl::FromUnixSeconds(event.occurred_at().seconds()),
                 absl::UTCTimeZone())
          << "," << event.csat() << "," << event.nps() << "," << event.comment()
          << "," << event.language() << ","
          << event.measures().at("wait_seconds") << ","
          << event.attributes().at("store_id") << "\r\n";
    }
  }
  struct rusage before;
  ::getrusage(RUSAGE_CHILDREN, &before);
  const absl::Time start = absl::Now();
  testing::ProgramRun import = testing::RunProgram(
      testing::BinaryPath("polku-import"),
      {"--gateway=" + suite.gateway_grpc_address(),
       "--credentials=" + suite.data_dir() + "/credentials.json",
       "--progress=log", "--id_prefix=" + run, file},
      file, absl::Minutes(30));
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  struct rusage after;
  ::getrusage(RUSAGE_CHILDREN, &after);
  auto seconds = [](const struct rusage& usage) {
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
           (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  };
  result.import_cpu = seconds(after) - seconds(before);
  if (import.exit_code != 0 ||
      !absl::StrContains(import.out, absl::StrCat(rows, " accepted"))) {
    std::cerr << "polku-import failed (exit " << import.exit_code << "):\n"
              << import.out << import.err;
    result.failed_calls = 1;
    return result;
  }
  result.events = static_cast<double>(rows);
  std::filesystem::remove(file);
  return result;
}

// StreamEvents through the gateway and polku-import, alternated `rounds`
// times in one run, and the import's rate against the stream's.
int RunImportComparison(testing::Suite& suite, const Target& gateway,
                        const Processes& processes, int clients, int window,
                        absl::Duration duration, int64_t rows, int rounds,
                        const std::string& run) {
  std::vector<Result> results;
  std::vector<std::pair<size_t, size_t>> pairs;  // (stream, import) rows
  for (int round = 1; round <= rounds; ++round) {
    const std::string tag = absl::StrCat(run, "r", round);
    results.push_back(Measure(processes, [&] {
      return RunStream(
          absl::StrCat("StreamEvents 1/message, gateway (round ", round, ")"),
          gateway, clients, window, false, duration, tag + "t");
    }));
    WaitUntilIdle(processes.insight, absl::Seconds(120));
    results.push_back(Measure(processes, [&] {
      Result r = RunImportTool(suite, clients, rows, tag + "i");
      r.name += absl::StrCat(" (round ", round, ")");
      return r;
    }));
    results.back().cpu.emplace_back("polku-import", results.back().import_cpu);
    pairs.emplace_back(results.size() - 2, results.size() - 1);
    WaitUntilIdle(processes.insight, absl::Seconds(120));
  }
  std::cout << absl::StrFormat(
      "\nclients=%d duration=%ds stream_window=%d import_rows=%d, %d CPUs\n\n",
      clients, absl::ToInt64Seconds(duration), window, rows,
      std::thread::hardware_concurrency());
  PrintTable(results);
  std::cout << "\npolku-import / StreamEvents 1/message through the gateway "
               "(target: at least 80 %):\n";
  double import_sum = 0, stream_sum = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const Result& stream = results[pairs[i].first];
    const Result& import = results[pairs[i].second];
    import_sum += import.rate();
    stream_sum += stream.rate();
    std::cout << absl::StrFormat(
        "  round %d: %.0f / %.0f events/s = %.1f %%\n", i + 1, import.rate(),
        stream.rate(),
        stream.rate() > 0 ? 100 * import.rate() / stream.rate() : 0);
  }
  std::cout << absl::StrFormat(
      "  mean of the rounds: %.1f %%\n",
      stream_sum > 0 ? 100 * import_sum / stream_sum : 0);
  for (const Result& r : results) {
    if (r.failed_calls > 0 && r.name.starts_with("polku-import")) return 1;
  }
  return 0;
}

// The soak: events arriving through the gateway at a fixed rate for
// `soak_s` seconds, every process's RSS sampled every 10 s.
int RunSoak(const Target& gateway, const Processes& processes, int clients,
            int batch, absl::Duration warm_up, int soak_s, double soak_rate,
            const std::string& run) {
  std::string rate_source = "--soak_rate";
  if (soak_rate <= 0) {
    const Result warm = Measure(processes, [&] {
      return RunUnary(
          absl::StrCat("warm-up: SubmitEvents ", batch, "/batch, gateway"),
          gateway, clients, batch, warm_up, run + "w");
    });
    soak_rate = 0.5 * warm.rate();
    rate_source = absl::StrFormat(
        "50 %% of an unpaced %d/batch gateway warm-up: %.0f events/s over "
        "%d s",
        batch, warm.rate(), absl::ToInt64Seconds(warm_up));
    if (soak_rate <= 0) {
      std::cerr << "the warm-up stored no events\n";
      return 1;
    }
  }
  std::cerr << absl::StrFormat("soak: %.0f events/s for %d s\n", soak_rate,
                               soak_s);

  constexpr int kSampleEvery = 10;  // seconds
  constexpr int kFirstMinute = 60;
  const std::vector<std::pair<std::string, pid_t>> watched = {
      {"feedback", processes.feedback},
      {"gateway", processes.gateway},
      {"journey", processes.journey},
      {"insight", processes.insight},
      {"bench", ::getpid()}};
  struct Sample {
    int t_s;
    double rate;  // events/s accepted since the sample before
    std::vector<int64_t> rss_kb;
  };
  std::vector<Sample> samples;
  auto take_sample = [&](int t_s, double rate) {
    Sample& sample = samples.emplace_back(Sample{t_s, rate, {}});
    for (const auto& [process, pid] : watched) {
      sample.rss_kb.push_back(MemoryKb(pid, "VmRSS"));
    }
  };

  std::vector<Result> results;
  results.push_back(Measure(processes, [&] {
    std::atomic<int64_t> acked{0};
    Result soak;
    take_sample(0, 0);
    const absl::Time start = absl::Now();
    std::thread load([&] {
      soak =
          RunArrivals(absl::StrFormat("soak: SubmitEvents, gateway, %.0f "
                                      "events/s, arrivals batched every 5 ms",
                                      soak_rate),
                      gateway, clients, batch, soak_rate, absl::Seconds(soak_s),
                      run + "k", &acked);
    });
    int64_t acked_before = 0;
    absl::Time before = start;
    // The last sample waits for the load to end, so that it counts the
    // calls still answering when the time was up.
    for (int t = kSampleEvery;; t = std::min(t + kSampleEvery, soak_s)) {
      if (t < soak_s) {
        absl::SleepFor(start + absl::Seconds(t) - absl::Now());
      } else {
        load.join();
      }
      const absl::Time now = absl::Now();
      const int64_t acked_now = acked.load();
      take_sample(t, static_cast<double>(acked_now - acked_before) /
                         absl::ToDoubleSeconds(now - before));
      std::cerr << absl::StrFormat("soak: %d s, %.0f events/s\n", t,
                                   samples.back().rate);
      if (t == soak_s) break;
      acked_before = acked_now;
      before = now;
    }
    return soak;
  }));

  std::cout << absl::StrFormat(
      "\nsoak: clients=%d, %d s, %.0f events/s (%s), arriving on a fixed "
      "schedule and sent through the gateway every 5 ms (at most %d per "
      "call), event_ids=%s, %d CPUs\n\n",
      clients, soak_s, soak_rate, rate_source, batch,
      absl::GetFlag(FLAGS_random_event_ids) ? "random" : "ordered",
      std::thread::hardware_concurrency());
  std::cout << "| t s | events/s |";
  for (const auto& [process, pid] : watched) {
    std::cout << " " << process << " RSS kB |";
  }
  std::cout << "\n| ---: | ---: |";
  for (size_t p = 0; p < watched.size(); ++p) std::cout << " ---: |";
  std::cout << "\n";
  for (const Sample& sample : samples) {
    std::cout << absl::StrFormat(
        "| %4d | %8s |", sample.t_s,
        sample.t_s == 0 ? "—" : absl::StrFormat("%.0f", sample.rate));
    for (int64_t kb : sample.rss_kb) std::cout << absl::StrFormat(" %8d |", kb);
    std::cout << "\n";
  }

  std::cout << "\n";
  PrintTable(results);

  // The first minute holds start-up growth (caches, connections, SQLite's
  // page cache); what follows is what a leak would show.
  size_t one_minute = 0;
  while (samples[one_minute].t_s < kFirstMinute) ++one_minute;
  const Sample& reference = samples[one_minute];
  const Sample& last = samples.back();
  std::cout << absl::StrFormat(
      "\nRSS after the first minute (t=%d s) against the end (t=%d s); the "
      "slope is a least-squares line through the samples from t=%d s; "
      "verdict: flat when the end is within 10 %% of the one-minute value.\n\n",
      reference.t_s, last.t_s, reference.t_s);
  std::cout << "| process | 1 min kB | end kB | growth kB | growth % | "
               "slope kB/min | verdict |\n"
               "| --- | ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (size_t p = 0; p < watched.size(); ++p) {
    std::vector<double> minutes, kb;
    for (size_t i = one_minute; i < samples.size(); ++i) {
      minutes.push_back(samples[i].t_s / 60.0);
      kb.push_back(static_cast<double>(samples[i].rss_kb[p]));
    }
    const int64_t growth = last.rss_kb[p] - reference.rss_kb[p];
    const double percent = reference.rss_kb[p] > 0
                               ? 100.0 * static_cast<double>(growth) /
                                     static_cast<double>(reference.rss_kb[p])
                               : 0;
    std::cout << absl::StrFormat(
        "| %-8s | %8d | %8d | %+9d | %+7.1f %% | %12s | %s |\n",
        watched[p].first, reference.rss_kb[p], last.rss_kb[p], growth, percent,
        minutes.size() < 2
            ? "—"
            : absl::StrFormat("%+.1f", LeastSquaresSlope(minutes, kb)),
        MemoryVerdict(reference.rss_kb[p], last.rss_kb[p]));
  }
  return 0;
}

int Main() {
  const int clients = std::clamp(absl::GetFlag(FLAGS_clients), 1, 4);
  const absl::Duration duration =
      absl::Seconds(absl::GetFlag(FLAGS_duration_s));
  const int batch = absl::GetFlag(FLAGS_batch);
  const int window = absl::GetFlag(FLAGS_stream_window);
  const int soak_s = absl::GetFlag(FLAGS_soak_s);
  if (soak_s != 0 && soak_s < 120) {
    std::cerr << "--soak_s must be 0 or at least 120: the soak compares the "
                 "memory at the end with that after the first minute\n";
    return 2;
  }

  // The gateway's default limits (100 calls/s per key) are for ordinary
  // channels; a channel sending every 5 ms is given room, as an operator
  // would. The limiter still runs on every call.
  testing::Suite::Options options;
  options.gateway_flags = {"--key_rate=1000", "--key_burst=2000",
                           "--tenant_rate=10000", "--tenant_burst=20000"};
  auto suite = testing::Suite::Start(options);
  if (!suite.ok()) {
    std::cerr << "starting the suite: " << suite.status() << "\n";
    return 1;
  }
  if (absl::Status s = PublishJourney(**suite); !s.ok()) {
    std::cerr << "publishing the journey: " << s << "\n";
    return 1;
  }
  absl::SleepFor(absl::Seconds(1));  // polku-feedback learns the journey

  Target direct{(*suite)->Dial((*suite)->feedback_address())};
  Target gateway{(*suite)->GatewayChannel(), true};
  for (int c = 0; c < clients; ++c) {
    gateway.keys.push_back(
        (*suite)->credentials().channel_keys.at(kChannels[c]));
  }
  const Processes processes{
      (*suite)->pid("polku-feedback"), (*suite)->pid("polku-gateway"),
      (*suite)->pid("polku-journey"), (*suite)->pid("polku-insight")};
  const std::string run = absl::StrCat("b", absl::ToUnixMicros(absl::Now()));
  const int64_t import_rows = absl::GetFlag(FLAGS_import_rows);
  const int status =
      import_rows > 0
          ? RunImportComparison(**suite, gateway, processes, clients, window,
                                duration, import_rows,
                                std::max(1, absl::GetFlag(FLAGS_import_rounds)),
                                run)
      : soak_s > 0 ? RunSoak(gateway, processes, clients, batch, duration,
                             soak_s, absl::GetFlag(FLAGS_soak_rate), run)
                   : RunScenarios(**suite, direct, gateway, processes, clients,
                                  batch, window, duration, run);

  absl::Status stopped = (*suite)->Stop();
  if (!stopped.ok()) std::cerr << "stopping the suite: " << stopped << "\n";
  return status;
}

}  // namespace
}  // namespace polku::bench

int main(int argc, char** argv) {
  // --help lists the flags of files named like the program; the bench's
  // live in this file.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "bench/ingest_bench.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  // As the suite's processes do, so that the bench's client costs what a
  // channel system's would.
  polku::rpc::ParseFlags(
      argc, argv,
      "durable ingestion through the real suite next to its "
      "ceilings, or with --soak_s a memory soak (see bench/README.md)");
  return polku::bench::Main();
}
