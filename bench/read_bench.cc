// polku-read-bench: how polku-insight's reads grow with the data. Starts the
// real suite (tests/harness, SQLite), publishes one journey (four stages,
// eight touchpoints, four channels), loads events straight into
// polku-feedback in large batches up to each size (--sizes, default 1, 3 and
// 10 million), waits until polku-insight has counted them all, and then
// times every read RPC through the gateway, --repeat calls each:
//
//   * GetScorecard, by touchpoint, unfiltered;
//   * GetScorecard filtered by one attribute (attributes.store_id, one of
//     --stores values);
//   * GetTrend, CSAT top-2-box per day over the data's 60 days;
//   * GetConsistency, every stage;
//   * GetJourneyMap over the 60 days.
//
//   POLKU_BIN_DIR=build/release/bin build/release/bin/polku-read-bench
//   (--sizes=1000000,3000000,10000000 is the default)
//
// It prints one table row per (size, call): p50 and p99 in milliseconds.
// Not a test: bench/README.md has the recorded results.
#include <grpcpp/client_context.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_stats.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/suite.h"
#include "tools/journeys/gateway_client.h"

ABSL_FLAG(std::string, sizes, "1000000,3000000,10000000",
          "event counts to measure at, ascending");
ABSL_FLAG(int, repeat, 50, "calls of each read per size");
ABSL_FLAG(int, stores, 100, "distinct store_id values");
ABSL_FLAG(int, batch, 1000, "events per SubmitEvents call while loading");
ABSL_FLAG(int, loaders, 4, "concurrent loading calls");

namespace polku {
namespace {

constexpr char kJourney[] = "read-bench";
constexpr const char* kStages[] = {"research", "purchase", "use", "support"};
constexpr const char* kChannels[] = {"web", "shop", "phone", "email"};
constexpr int kDays = 60;
// 2025-01-01T00:00:00Z: the data's first day.
constexpr int64_t kFirstSecond = 1'735'689'600;

std::string Touchpoint(int stage, int channel) {
  return absl::StrCat(kStages[stage], "_", kChannels[channel]);
}

absl::Status Publish(testing::Suite& suite) {
  std::vector<testing::TouchpointSpec> touchpoints;
  for (int stage = 0; stage < 4; ++stage) {
    for (int channel : {stage % 4, (stage + 1) % 4}) {
      touchpoints.push_back(
          {Touchpoint(stage, channel), kStages[stage], kChannels[channel]});
    }
  }
  auto stub = v1::JourneyService::NewStub(suite.GatewayChannel());
  v1::CreateJourneyRequest create;
  *create.mutable_journey() = testing::MakeJourney(
      kJourney, "Read benchmark",
      {kStages[0], kStages[1], kStages[2], kStages[3]}, touchpoints, "bench");
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

// Event `n`: a deterministic touchpoint, day, customer, store and scores.
v1::TouchpointEvent MakeEvent(int64_t n, int stores, int* channel) {
  const uint64_t h = static_cast<uint64_t>(n) * 0x9E3779B97F4A7C15ull;
  const int stage = static_cast<int>(h % 4);
  *channel = (stage + static_cast<int>((h >> 8) % 2)) % 4;
  v1::TouchpointEvent event;
  event.set_event_id(absl::StrCat("rb-", n));
  event.set_touchpoint(Touchpoint(stage, *channel));
  event.set_customer(absl::StrCat("customer-", (h >> 16) % 1'000'000));
  event.mutable_occurred_at()->set_seconds(
      kFirstSecond + static_cast<int64_t>((h >> 24) % (kDays * 86'400)));
  event.set_csat(1 + static_cast<int>((h >> 40) % 5));
  if ((h >> 44) % 3 == 0) event.set_nps(static_cast<int>((h >> 46) % 11));
  (*event.mutable_measures())["wait_seconds"] =
      static_cast<double>((h >> 50) % 600);
  (*event.mutable_attributes())["store_id"] =
      absl::StrCat("store-", (h >> 32) % stores);
  return event;
}

// Loads events [from, to) straight into polku-feedback, `loaders` calls at a
// time, each batch of one channel.
absl::Status Load(testing::Suite& suite, int64_t from, int64_t to) {
  const int batch = absl::GetFlag(FLAGS_batch);
  const int stores = absl::GetFlag(FLAGS_stores);
  std::atomic<int64_t> next{from};
  std::atomic<int> failures{0};
  std::vector<std::thread> loaders;
  for (int l = 0; l < absl::GetFlag(FLAGS_loaders); ++l) {
    loaders.emplace_back([&] {
      auto stub =
          v1::FeedbackService::NewStub(suite.Dial(suite.feedback_address()));
      while (failures.load() == 0) {
        const int64_t first = next.fetch_add(batch * 4);
        if (first >= to) return;
        // Four channels' batches from the next events (a channel's share
        // varies: each request is cut at `batch`).
        std::vector<std::pair<int, v1::SubmitEventsRequest>> requests;
        v1::SubmitEventsRequest open[4];
        for (int64_t n = first; n < std::min(first + batch * 4, to); ++n) {
          int channel = 0;
          v1::TouchpointEvent event = MakeEvent(n, stores, &channel);
          *open[channel].add_events() = std::move(event);
          if (open[channel].events_size() == batch) {
            requests.emplace_back(channel, std::move(open[channel]));
            open[channel].Clear();
          }
        }
        for (int channel = 0; channel < 4; ++channel) {
          if (!open[channel].events().empty()) {
            requests.emplace_back(channel, std::move(open[channel]));
          }
        }
        for (const auto& entry : requests) {
          const int channel = entry.first;
          const auto& request = entry.second;
          grpc::Status status = tools::CallWithRetry([&] {
            grpc::ClientContext context;
            context.AddMetadata("x-polku-tenant", "demo");
            context.AddMetadata("x-polku-channel", kChannels[channel]);
            context.set_deadline(
                absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
            v1::SubmitEventsResponse response;
            return stub->SubmitEvents(&context, request, &response);
          });
          if (!status.ok()) {
            std::cerr << "load: " << tools::DescribeStatus(status) << "\n";
            failures.fetch_add(1);
            return;
          }
        }
      }
    });
  }
  for (std::thread& loader : loaders) loader.join();
  if (failures.load() > 0) return absl::InternalError("loading failed");
  return absl::OkStatus();
}

v1::TimeRange DataRange() {
  v1::TimeRange range;
  range.mutable_start()->set_seconds(kFirstSecond);
  range.mutable_end()->set_seconds(kFirstSecond + kDays * 86'400);
  return range;
}

// Waits until polku-insight's scorecard counts `events` events.
absl::Status AwaitCounted(testing::Suite& suite, int64_t events) {
  auto stub = v1::InsightService::NewStub(suite.GatewayChannel());
  const absl::Time deadline = absl::Now() + absl::Hours(2);
  while (absl::Now() < deadline) {
    v1::GetScorecardRequest request;
    request.set_journey(kJourney);
    v1::Scorecard card;
    grpc::ClientContext context;
    testing::Suite::Authorize(context, suite.credentials().admin_key,
                              absl::Seconds(60));
    if (stub->GetScorecard(&context, request, &card).ok() &&
        card.total().events() >= events) {
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Seconds(1));
  }
  return absl::DeadlineExceededError("insight did not count the events");
}

struct Read {
  std::string name;
  std::function<grpc::Status(v1::InsightService::Stub&, grpc::ClientContext&)>
      call;
};

std::vector<Read> Reads(int stores) {
  std::vector<Read> reads;
  reads.push_back({"GetScorecard", [](auto& stub, auto& context) {
                     v1::GetScorecardRequest request;
                     request.set_journey(kJourney);
                     v1::Scorecard card;
                     return stub.GetScorecard(&context, request, &card);
                   }});
  reads.push_back(
      {"GetScorecard attributes.store_id", [stores](auto& stub, auto& context) {
         static std::atomic<int> store{0};
         v1::GetScorecardRequest request;
         request.set_journey(kJourney);
         (*request.mutable_attributes())["store_id"] =
             absl::StrCat("store-", store.fetch_add(1) % stores);
         v1::Scorecard card;
         return stub.GetScorecard(&context, request, &card);
       }});
  reads.push_back({"GetTrend (day, 60 days)", [](auto& stub, auto& context) {
                     v1::GetTrendRequest request;
                     request.mutable_scope()->set_journey(kJourney);
                     request.set_metric(v1::CSAT_TOP2_BOX);
                     request.set_bucket(v1::DAY);
                     *request.mutable_range() = DataRange();
                     v1::Trend trend;
                     return stub.GetTrend(&context, request, &trend);
                   }});
  reads.push_back({"GetConsistency", [](auto& stub, auto& context) {
                     v1::GetConsistencyRequest request;
                     request.set_journey(kJourney);
                     v1::Consistency consistency;
                     return stub.GetConsistency(&context, request,
                                                &consistency);
                   }});
  reads.push_back({"GetJourneyMap (60 days)", [](auto& stub, auto& context) {
                     v1::GetJourneyMapRequest request;
                     request.set_journey(kJourney);
                     *request.mutable_range() = DataRange();
                     v1::JourneyMap map;
                     return stub.GetJourneyMap(&context, request, &map);
                   }});
  return reads;
}

int Run() {
  std::vector<int64_t> sizes;
  for (absl::string_view size :
       absl::StrSplit(absl::GetFlag(FLAGS_sizes), ',')) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(size, &n) || n <= 0) {
      std::cerr << "--sizes: not a list of positive counts\n";
      return 2;
    }
    sizes.push_back(n);
  }
  testing::Suite::Options options;
  options.timeout = absl::Minutes(5);
  auto suite = testing::Suite::Start(options);
  if (!suite.ok()) {
    std::cerr << "cannot start the suite: " << suite.status() << "\n";
    return 1;
  }
  if (absl::Status published = Publish(**suite); !published.ok()) {
    std::cerr << published << "\n";
    return 1;
  }
  auto stub = v1::InsightService::NewStub((*suite)->GatewayChannel());
  const std::vector<Read> reads = Reads(absl::GetFlag(FLAGS_stores));
  std::cout << "| events | call | p50 ms | p99 ms |\n|---:|---|---:|---:|\n";
  int64_t loaded = 0;
  for (int64_t size : sizes) {
    const absl::Time load_start = absl::Now();
    if (absl::Status status = Load(**suite, loaded, size); !status.ok()) {
      std::cerr << status << "\n";
      return 1;
    }
    loaded = size;
    if (absl::Status status = AwaitCounted(**suite, size); !status.ok()) {
      std::cerr << status << "\n";
      return 1;
    }
    std::cerr << absl::StrFormat(
        "%d events loaded and counted in %.0f s\n", size,
        absl::ToDoubleSeconds(absl::Now() - load_start));
    {
      // What one store's scorecard counts, so that a fast answer is seen
      // to be a full one.
      v1::GetScorecardRequest request;
      request.set_journey(kJourney);
      (*request.mutable_attributes())["store_id"] = "store-0";
      v1::Scorecard card;
      grpc::ClientContext context;
      testing::Suite::Authorize(context, (*suite)->credentials().admin_key,
                                absl::Minutes(2));
      const grpc::Status status = stub->GetScorecard(&context, request, &card);
      std::cerr << absl::StrFormat("store-0 has %d of them (%s)\n",
                                   card.total().events(),
                                   tools::DescribeStatus(status));
    }
    for (const Read& read : reads) {
      bench::Latencies latencies;
      for (int i = 0; i < absl::GetFlag(FLAGS_repeat); ++i) {
        grpc::ClientContext context;
        testing::Suite::Authorize(context, (*suite)->credentials().admin_key,
                                  absl::Minutes(2));
        const absl::Time start = absl::Now();
        const grpc::Status status = read.call(*stub, context);
        if (!status.ok()) {
          std::cerr << read.name << ": " << tools::DescribeStatus(status)
                    << "\n";
          return 1;
        }
        latencies.Add(absl::ToDoubleMilliseconds(absl::Now() - start));
      }
      std::cout << absl::StrFormat("| %d | %s | %.1f | %.1f |\n", size,
                                   read.name, latencies.Percentile(0.50),
                                   latencies.Percentile(0.99))
                << std::flush;
    }
  }
  return (*suite)->Stop().ok() ? 0 : 1;
}

}  // namespace
}  // namespace polku

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return polku::Run();
}
