// polku-bench: how fast durable ingestion is on this machine, next to the
// ceilings it should be compared with, all measured in one run.
//
//   build/release/bin/polku-bench --clients=4 --duration_s=10
//
// It starts the real suite (tests/harness: keys, journey, feedback, insight,
// gateway on loopback, in a temporary data directory), publishes a journey,
// then runs each scenario for --duration_s with --clients concurrent
// channel clients, each with its own channel:
//   * unary SubmitEvents batches of --batch events, directly to
//     polku-feedback (trusted metadata) and through the gateway (Bearer key);
//   * the gateway batches again, paced at 90 % of the rate just measured,
//     for the acknowledgement latency below saturation;
//   * StreamEvents with one event per message (at most --stream_window
//     unanswered per stream), directly and through the gateway.
// Ceilings, measured in the same run:
//   * raw SQLite: the same rows (same schema as services/feedback, WAL,
//     synchronous=FULL, --batch rows per transaction) inserted by one thread;
//   * empty RPCs over the same loopback transport: an in-process echo
//     FeedbackService answering empty SubmitEvents calls, and a bidi stream
//     answering each empty message with one empty message.
// The table: events/s, acknowledgement latency percentiles, server
// CPU-seconds per million events (/proc/<pid>/stat), and each process's peak
// RSS (VmHWM) at the end.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "lib/sqlite/sqlite.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/suite.h"
#include "tools/journeys/gateway_client.h"

ABSL_FLAG(int, clients, 4,
          "concurrent channel clients (1-4, one channel each)");
ABSL_FLAG(int, duration_s, 10, "seconds per scenario");
ABSL_FLAG(int, batch, 1000,
          "events per SubmitEvents call and rows per SQLite transaction");
ABSL_FLAG(int, stream_window, 1000, "unanswered events per stream at most");

namespace polku::bench {
namespace {

constexpr char kJourney[] = "bench-journey";
const char* const kChannels[] = {"shop", "phone", "web", "email"};

std::string Touchpoint(const std::string& channel) {
  return channel + "_touch";
}

// ---------------------------------------------------------------- metrics

struct Latencies {
  std::vector<double> ms;
  void Add(double value) { ms.push_back(value); }
  void Merge(const Latencies& other) {
    ms.insert(ms.end(), other.ms.begin(), other.ms.end());
  }
  double Percentile(double p) {
    if (ms.empty()) return 0;
    size_t index = std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()));
    std::nth_element(ms.begin(), ms.begin() + index, ms.end());
    return ms[index];
  }
};

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

std::string PeakRss(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::string value = line.substr(6);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return "?";
}

double SelfCpuSeconds() { return CpuSeconds(::getpid()); }

struct Result {
  std::string name;
  double events = 0;
  double seconds = 0;
  Latencies latency;
  // Server processes' CPU seconds during the scenario, by name.
  std::vector<std::pair<std::string, double>> cpu;
  double rate() const { return seconds > 0 ? events / seconds : 0; }
};

// ---------------------------------------------------------------- events

v1::TouchpointEvent MakeEvent(const std::string& channel,
                              const std::string& run, int64_t i) {
  v1::TouchpointEvent event;
  event.set_event_id(absl::StrCat(run, "-", channel, "-", i));
  event.set_touchpoint(Touchpoint(channel));
  event.set_customer(absl::StrCat("customer-", i % 10007));
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()) -
                                           3600);
  event.set_csat(1 + i % 5);
  event.set_nps(i % 11);
  event.set_comment("Quick and friendly service");
  event.set_language("en");
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

// K threads, each calling SubmitEvents with `batch` events (empty requests
// when `batch` is 0) until the time is up: back to back, or, with
// `paced_rate` (events/s over all threads), on a fixed schedule whose
// latency counts from the scheduled send time (a late call's wait counts).
Result RunUnary(const std::string& name, const Target& target, int clients,
                int batch, absl::Duration duration, const std::string& run,
                double paced_rate = 0) {
  Result result;
  result.name = name;
  std::vector<Latencies> latencies(clients);
  std::vector<int64_t> acked(clients, 0);
  std::atomic<int> errors{0};
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
      absl::Time scheduled = start + interval * c / clients;
      while (absl::Now() < end) {
        if (paced_rate > 0) {
          absl::SleepFor(scheduled - absl::Now());
          scheduled += interval;
        }
        v1::SubmitEventsRequest request;
        for (int i = 0; i < batch; ++i) {
          *request.add_events() = MakeEvent(kChannels[c], run, next++);
        }
        grpc::ClientContext context;
        Prepare(context, target, c, absl::Seconds(30));
        v1::SubmitEventsResponse response;
        const absl::Time sent =
            paced_rate > 0 ? scheduled - interval : absl::Now();
        grpc::Status status = stub->SubmitEvents(&context, request, &response);
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - sent);
        if (!status.ok()) {
          if (errors.fetch_add(1) < 3) {
            std::cerr << name << ": " << tools::DescribeStatus(status) << "\n";
          }
          continue;
        }
        int ok = 0;
        for (const auto& r : response.results()) {
          if (r.outcome() == v1::EventResult::ACCEPTED) ++ok;
        }
        acked[c] += batch == 0 ? 1 : ok;
        latencies[c].Add(ms);
      }
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

// The same rows as polku-feedback writes, straight into SQLite.
Result RunSqlite(const std::string& dir, int batch, absl::Duration duration) {
  Result result;
  result.name = "ceiling: raw SQLite insert";
  auto db =
      sqlite::Database::Open(dir + "/ceiling.db");  // WAL, synchronous=FULL
  if (!db.ok()) {
    std::cerr << db.status() << "\n";
    return result;
  }
  // Schema of services/feedback/sqlite_event_store.cc (events and its indexes).
  absl::Status schema = (*db)->Exec(R"sql(
      CREATE TABLE events (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL, channel TEXT NOT NULL, event_id TEXT NOT NULL,
        fingerprint BLOB NOT NULL, customer_hash TEXT NOT NULL,
        occurred_at INTEGER NOT NULL, received_at INTEGER NOT NULL,
        journey TEXT NOT NULL, journey_version INTEGER NOT NULL,
        stage TEXT NOT NULL, touchpoint TEXT NOT NULL, payload BLOB NOT NULL,
        UNIQUE (tenant, channel, event_id));
      CREATE INDEX events_by_tenant ON events (tenant, sequence);
      CREATE INDEX events_by_customer ON events (tenant, customer_hash);)sql");
  if (!schema.ok()) {
    std::cerr << schema << "\n";
    return result;
  }
  const std::string fingerprint(32, '\x5a');
  const std::string customer_hash(64, 'c');
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  int64_t next = 0;
  while (absl::Now() < end) {
    const absl::Time began = absl::Now();
    sqlite::Transaction transaction(**db);
    if (!transaction.Begin().ok()) break;
    auto insert = (*db)->Prepare(
        "INSERT INTO events (tenant, channel, event_id, fingerprint, "
        "customer_hash,"
        " occurred_at, received_at, journey, journey_version, stage, "
        "touchpoint,"
        " payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    if (!insert.ok()) break;
    for (int i = 0; i < batch; ++i, ++next) {
      v1::StoredEvent stored;
      stored.set_tenant("demo");
      stored.set_channel("shop");
      stored.set_journey(kJourney);
      stored.set_journey_version(1);
      stored.set_stage("purchase");
      stored.set_customer_hash(customer_hash);
      *stored.mutable_event() = MakeEvent("shop", "sqlite", next);
      stored.mutable_event()->clear_customer();
      (*insert)
          ->Bind(1, "demo")
          .Bind(2, "shop")
          .Bind(3, stored.event().event_id())
          .BindBlob(4, fingerprint)
          .Bind(5, customer_hash)
          .Bind(6, int64_t{1'700'000'000'000'000} + next)
          .Bind(7, int64_t{1'700'000'000'000'000} + next)
          .Bind(8, kJourney)
          .Bind(9, 1)
          .Bind(10, "purchase")
          .Bind(11, "shop_touch")
          .BindBlob(12, stored.SerializeAsString());
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
  v1::Journey journey;
  journey.set_key(kJourney);
  journey.set_name("Benchmark journey");
  v1::Stage* stage = journey.add_stages();
  stage->set_key("purchase");
  stage->set_name("purchase");
  for (const char* channel : kChannels) {
    v1::Touchpoint* touchpoint = journey.add_touchpoints();
    touchpoint->set_key(Touchpoint(channel));
    touchpoint->set_name(Touchpoint(channel));
    touchpoint->set_stage("purchase");
    touchpoint->set_channel(channel);
    touchpoint->set_kind(v1::INTERACTION);
    touchpoint->set_owner_team("bench");
  }
  return journey;
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

void PrintRow(Result& r) {
  std::string cpu;
  for (const auto& [process, seconds] : r.cpu) {
    absl::StrAppend(
        &cpu, cpu.empty() ? "" : ", ", process, " ",
        absl::StrFormat("%.2f", r.events > 0 ? seconds / r.events * 1e6 : 0));
  }
  std::cout << absl::StrFormat(
      "| %-44s | %10.0f | %7.2f | %7.2f | %7.2f | %s |\n", r.name, r.rate(),
      r.latency.Percentile(0.50), r.latency.Percentile(0.99),
      r.latency.Percentile(0.999), cpu.empty() ? "—" : cpu);
}

int Main() {
  const int clients = std::clamp(absl::GetFlag(FLAGS_clients), 1, 4);
  const absl::Duration duration =
      absl::Seconds(absl::GetFlag(FLAGS_duration_s));
  const int batch = absl::GetFlag(FLAGS_batch);
  const int window = absl::GetFlag(FLAGS_stream_window);

  auto suite = testing::Suite::Start();
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
  const pid_t feedback = (*suite)->pid("polku-feedback");
  const pid_t gateway_pid = (*suite)->pid("polku-gateway");
  // polku-insight tails the feed while events arrive, as in production.
  const pid_t insight = (*suite)->pid("polku-insight");

  std::vector<Result> results;
  auto measure = [&](auto run) {
    const double feedback_before = CpuSeconds(feedback);
    const double gateway_before = CpuSeconds(gateway_pid);
    const double insight_before = CpuSeconds(insight);
    const double bench_before = SelfCpuSeconds();
    Result r = run();
    r.cpu = {{"feedback", CpuSeconds(feedback) - feedback_before},
             {"gateway", CpuSeconds(gateway_pid) - gateway_before},
             {"insight", CpuSeconds(insight) - insight_before},
             {"bench", SelfCpuSeconds() - bench_before}};
    std::cerr << r.name << ": " << static_cast<int64_t>(r.rate())
              << " events/s\n";
    results.push_back(std::move(r));
  };
  const std::string run = absl::StrCat("b", absl::ToUnixMicros(absl::Now()));
  const std::string batch_name = absl::StrCat("SubmitEvents ", batch, "/batch");
  measure([&] {
    return RunUnary(batch_name + ", direct", direct, clients, batch, duration,
                    run + "u");
  });
  measure([&] {
    return RunUnary(batch_name + ", gateway", gateway, clients, batch, duration,
                    run + "g");
  });
  const double paced = 0.9 * results.back().rate();
  measure([&] {
    return RunUnary(absl::StrFormat("%s, gateway, paced at 90 %%", batch_name),
                    gateway, clients, batch, duration, run + "p", paced);
  });
  measure([&] {
    return RunStream("StreamEvents 1/message, direct", direct, clients, window,
                     false, duration, run + "s");
  });
  measure([&] {
    return RunStream("StreamEvents 1/message, gateway", gateway, clients,
                     window, false, duration, run + "t");
  });

  // Ceilings.
  const std::string dir = (*suite)->data_dir() + "/bench";
  std::filesystem::create_directories(dir);
  Result sqlite_ceiling = RunSqlite(dir, batch, duration);
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
    results.push_back(RunUnary("ceiling: empty unary RPC (calls/s)",
                               echo_target, clients, 0, duration, run));
    results.push_back(RunStream("ceiling: empty bidi echo (messages/s)",
                                echo_target, clients, window, true, duration,
                                run));
    server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }
  results.push_back(sqlite_ceiling);

  std::cout << absl::StrFormat(
      "\nclients=%d duration=%ds batch=%d stream_window=%d, %d CPUs\n\n",
      clients, absl::GetFlag(FLAGS_duration_s), batch, window,
      std::thread::hardware_concurrency());
  std::cout << "| scenario | events/s | p50 ms | p99 ms | p99.9 ms | CPU-s per "
               "1M events (client: bench) |\n"
               "| --- | ---: | ---: | ---: | ---: | --- |\n";
  for (Result& r : results) PrintRow(r);

  const double batched_direct = results[0].rate();
  const double batched_gateway = results[1].rate();
  const double stream_direct = results[3].rate();
  const double stream_gateway = results[4].rate();
  const double bidi_echo = results[6].rate();
  const double sqlite_rate = results[7].rate();
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  std::cout
      << "\nRatios to the ceilings of this run:\n"
      << absl::StrFormat("  batched, gateway / raw SQLite        %5.1f %%\n",
                         100 * ratio(batched_gateway, sqlite_rate))
      << absl::StrFormat("  batched, direct  / raw SQLite        %5.1f %%\n",
                         100 * ratio(batched_direct, sqlite_rate))
      << absl::StrFormat("  stream, gateway  / empty bidi echo   %5.1f %%\n",
                         100 * ratio(stream_gateway, bidi_echo))
      << absl::StrFormat("  stream, direct   / empty bidi echo   %5.1f %%\n",
                         100 * ratio(stream_direct, bidi_echo))
      << absl::StrFormat("  gateway / direct, batched            %5.1f %%\n",
                         100 * ratio(batched_gateway, batched_direct))
      << absl::StrFormat("  gateway / direct, stream             %5.1f %%\n",
                         100 * ratio(stream_gateway, stream_direct));
  std::cout << "\nPeak RSS (VmHWM) at the end: polku-feedback "
            << PeakRss(feedback) << ", polku-gateway " << PeakRss(gateway_pid)
            << ", polku-journey " << PeakRss((*suite)->pid("polku-journey"))
            << ", polku-insight " << PeakRss((*suite)->pid("polku-insight"))
            << ", polku-bench " << PeakRss(::getpid()) << "\n";

  absl::Status stopped = (*suite)->Stop();
  if (!stopped.ok()) std::cerr << "stopping the suite: " << stopped << "\n";
  return 0;
}

}  // namespace
}  // namespace polku::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return polku::bench::Main();
}
