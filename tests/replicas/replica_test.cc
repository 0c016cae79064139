// Exactly once across replicas, end to end: the real processes on one
// PostgreSQL (started by the harness), two polku-feedback and two
// polku-insight replicas behind the gateway, which spreads calls across the
// feedback replicas. The same scenario runs on SQLite with one replica of
// each (the default backend), so both backends keep the same promise.
//
//  * The same event sent to both feedback replicas at the same moment is
//    stored once: one ACCEPTED, one DUPLICATE with the same sequence.
//  * Several channel clients (lib/client, retrying with the same event_id)
//    send a few thousand events through the gateway while a feedback replica
//    and an insight replica are killed with SIGKILL and restarted. Every
//    event is acknowledged once; both feedback replicas served submissions.
//  * Every insight replica's scorecard, and the gateway's, equals the one
//    computed here from the events sent; the change feed, read through the
//    gateway, holds every acknowledged event exactly once, under its
//    acknowledged sequence, in strictly increasing order.
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lib/client/channel_client.h"
#include "lib/rpc/metadata.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/recount.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::client::ChannelClient;
using ::polku::client::ChannelClientOptions;
using ::polku::client::EventReport;
using ::polku::testing::ExpectedScorecard;
using ::polku::testing::ExpectScorecard;
using ::polku::testing::ReadFeed;
using ::polku::testing::Suite;

constexpr char kJourney[] = "replica-journey";
constexpr char kTenant[] = "demo";
// Events per channel client, and how many have been acknowledged (over all
// clients) when the replicas are killed.
constexpr int kEventsPerChannel = 1000;
constexpr int kKillAfter = 1000;
// Rounds of the same event sent to both feedback replicas at once.
constexpr int kRaceRounds = 40;

struct ChannelPlan {
  const char* channel;
  const char* touchpoint;
  ChannelClientOptions::Transport transport;
};

constexpr ChannelPlan kChannels[] = {
    {"shop", "store_visit", ChannelClientOptions::Transport::kBatches},
    {"phone", "support_call", ChannelClientOptions::Transport::kStream},
    {"web", "order_tracking", ChannelClientOptions::Transport::kBatches},
};

const ChannelPlan& PlanOf(const std::string& channel) {
  for (const ChannelPlan& plan : kChannels) {
    if (channel == plan.channel) return plan;
  }
  return kChannels[0];
}

v1::Journey ReplicaJourney() {
  std::vector<testing::TouchpointSpec> touchpoints;
  for (const ChannelPlan& plan : kChannels) {
    touchpoints.push_back({plan.touchpoint, "service", plan.channel});
  }
  return testing::MakeJourney(kJourney, "Replica test journey", {"service"},
                              touchpoints, "replicas");
}

// Event `id` of a channel; the same arguments always give the same event.
// Ratings vary with `i`, some are left out, so every score has work to do.
v1::TouchpointEvent MakeEvent(const ChannelPlan& plan, const std::string& id, int i,
                              int64_t base_seconds) {
  v1::TouchpointEvent event;
  event.set_event_id(id);
  event.set_touchpoint(plan.touchpoint);
  event.set_customer(absl::StrCat("customer-", i % 89));
  event.mutable_occurred_at()->set_seconds(base_seconds + (i * 37) % 7200);
  if (i % 7 != 0) event.set_nps(i % 11);
  if (i % 5 != 0) event.set_csat(1 + (i * 3) % 5);
  if (i % 3 == 0) event.set_ces(1 + i % 7);
  event.set_language("en");
  return event;
}

// Every event the test had acknowledged: (channel, event_id) → sequence and
// the event as sent.
class Ledger {
 public:
  struct Entry {
    int acknowledgements = 0;
    int64_t sequence = 0;
    v1::TouchpointEvent event;
  };
  void Acknowledged(const std::string& channel, const v1::TouchpointEvent& event,
                    int64_t sequence) {
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_[{channel, event.event_id()}];
    ++entry.acknowledgements;
    entry.sequence = sequence;
    entry.event = event;
  }
  std::map<std::pair<std::string, std::string>, Entry> entries() {
    absl::MutexLock lock(&mu_);
    return entries_;
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return entries_.size();
  }

 private:
  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

struct Topology {
  const char* name;
  Suite::Database database;
  int replicas;  // of polku-feedback and of polku-insight each
};

// For test names and messages (ctest lists the parameter).
void PrintTo(const Topology& topology, std::ostream* out) { *out << topology.name; }

class ReplicaTest : public ::testing::TestWithParam<Topology> {
 protected:
  void SetUp() override {
    Suite::Options options;
    options.channels = "shop,phone,web";
    options.database = GetParam().database;
    options.feedback_replicas = GetParam().replicas;
    options.insight_replicas = GetParam().replicas;
    auto started = Suite::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    suite_ = *std::move(started);
    base_seconds_ = absl::ToUnixSeconds(absl::Now() - absl::Hours(4));
  }

  std::string Replica(const std::string& name, int k) const {
    return k == 1 ? name : absl::StrCat(name, "#", k);
  }

  // SubmitEvents straight to one feedback replica, with the trusted
  // metadata the gateway would set.
  grpc::Status SubmitDirect(v1::FeedbackService::Stub& stub, const std::string& channel,
                            const v1::TouchpointEvent& event, v1::EventResult& result) {
    grpc::ClientContext context;
    context.AddMetadata(rpc::kTenantHeader, kTenant);
    context.AddMetadata(rpc::kChannelHeader, channel);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::SubmitEventsRequest request;
    *request.add_events() = event;
    v1::SubmitEventsResponse response;
    grpc::Status status = stub.SubmitEvents(&context, request, &response);
    if (status.ok() && response.results_size() == 1) result = response.results(0);
    return status;
  }

  // Until every feedback replica knows the published journey (each learns
  // it from its own watch stream), one event per replica, which stays part
  // of the data.
  void AwaitJourneyOnEveryReplica() {
    for (int k = 1; k <= GetParam().replicas; ++k) {
      auto stub = v1::FeedbackService::NewStub(
          suite_->Dial(suite_->backend_address(Replica("feedback", k))));
      const v1::TouchpointEvent event =
          MakeEvent(kChannels[0], absl::StrCat("ready-", k), k, base_seconds_);
      const absl::Time deadline = absl::Now() + absl::Seconds(30);
      v1::EventResult result;
      while (true) {
        grpc::Status status = SubmitDirect(*stub, "shop", event, result);
        ASSERT_TRUE(status.ok()) << status.error_message();
        if (result.outcome() != v1::EventResult::REJECTED) break;
        ASSERT_LT(absl::Now(), deadline) << "replica " << k << ": " << result.reason();
        absl::SleepFor(absl::Milliseconds(50));
      }
      ledger_.Acknowledged("shop", event, result.sequence());
    }
  }

  // (a) Each round sends one new event to the first and the last feedback
  // replica at the same moment.
  void RaceSameEvent() {
    const int last = GetParam().replicas;
    auto first_stub = v1::FeedbackService::NewStub(
        suite_->Dial(suite_->backend_address(Replica("feedback", 1))));
    auto last_stub = v1::FeedbackService::NewStub(
        suite_->Dial(suite_->backend_address(Replica("feedback", last))));
    for (int round = 0; round < kRaceRounds; ++round) {
      const v1::TouchpointEvent event =
          MakeEvent(PlanOf("web"), absl::StrCat("race-", round), round, base_seconds_);
      std::promise<void> go;
      std::shared_future<void> start = go.get_future().share();
      v1::EventResult results[2];
      grpc::Status statuses[2];
      std::thread senders[2];
      v1::FeedbackService::Stub* stubs[2] = {first_stub.get(), last_stub.get()};
      for (int i = 0; i < 2; ++i) {
        senders[i] = std::thread([&, i] {
          start.wait();
          statuses[i] = SubmitDirect(*stubs[i], "web", event, results[i]);
        });
      }
      go.set_value();
      for (std::thread& sender : senders) sender.join();
      ASSERT_TRUE(statuses[0].ok()) << statuses[0].error_message();
      ASSERT_TRUE(statuses[1].ok()) << statuses[1].error_message();
      const int accepted = (results[0].outcome() == v1::EventResult::ACCEPTED) +
                           (results[1].outcome() == v1::EventResult::ACCEPTED);
      const int duplicates = (results[0].outcome() == v1::EventResult::DUPLICATE) +
                             (results[1].outcome() == v1::EventResult::DUPLICATE);
      ASSERT_EQ(accepted, 1) << "round " << round << ": " << results[0].ShortDebugString()
                             << " / " << results[1].ShortDebugString();
      ASSERT_EQ(duplicates, 1) << "round " << round;
      ASSERT_EQ(results[0].sequence(), results[1].sequence()) << "round " << round;
      ledger_.Acknowledged("web", event, results[0].sequence());
    }
  }

  // (b) The channel clients through the gateway, with a feedback and an
  // insight replica killed partway.
  void SendThroughGatewayWithKills() {
    std::vector<std::unique_ptr<ChannelClient>> clients;
    std::atomic<int> acknowledged{0};
    std::atomic<int> failed{0};
    for (const ChannelPlan& plan : kChannels) {
      ChannelClientOptions options;
      options.transport = plan.transport;
      options.max_batch_events = 25;
      options.buffer_capacity = 500;
      options.senders = 2;
      options.call_timeout = absl::Seconds(5);
      options.stream_window = 100;
      options.stream_max_age = absl::Seconds(3);
      options.initial_backoff = absl::Milliseconds(20);
      options.max_backoff = absl::Milliseconds(500);
      options.retry_budget = absl::Seconds(90);
      const std::string channel = plan.channel;
      // The events by id, to record what an acknowledgement was for.
      auto client = ChannelClient::Create(
          suite_->GatewayChannel(), suite_->credentials().channel_keys.at(channel), options,
          [this, channel, &acknowledged, &failed](const EventReport& report) {
            if (report.outcome != EventReport::Outcome::kAccepted &&
                report.outcome != EventReport::Outcome::kDuplicate) {
              ++failed;
              ADD_FAILURE() << channel << "/" << report.event_id << ": "
                            << client::OutcomeName(report.outcome) << " " << report.status
                            << " " << report.reason;
              return;
            }
            const int i = std::stoi(report.event_id.substr(report.event_id.rfind('-') + 1));
            ledger_.Acknowledged(channel, MakeEvent(PlanOf(channel), report.event_id, i,
                                                    base_seconds_),
                                 report.sequence);
            ++acknowledged;
          });
      ASSERT_TRUE(client.ok()) << client.status();
      clients.push_back(*std::move(client));
    }
    std::vector<std::thread> producers;
    for (size_t c = 0; c < std::size(kChannels); ++c) {
      producers.emplace_back([&, c] {
        const ChannelPlan& plan = kChannels[c];
        for (int i = 0; i < kEventsPerChannel; ++i) {
          const std::string id = absl::StrCat(plan.channel, "-", i);
          absl::Status queued =
              clients[c]->SubmitWithin(MakeEvent(plan, id, i, base_seconds_), absl::Seconds(60));
          if (!queued.ok()) {
            ADD_FAILURE() << id << " not queued: " << queued;
            return;
          }
        }
      });
    }
    // Partway: a feedback replica and an insight replica die and come back.
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (acknowledged.load() < kKillAfter && failed.load() == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    const int replicas = GetParam().replicas;
    const std::string feedback = Replica("polku-feedback", replicas);
    const std::string insight = Replica("polku-insight", replicas);
    std::cout << "killing " << feedback << " and " << insight << " after "
              << acknowledged.load() << " acknowledgements" << std::endl;
    absl::Status killed = suite_->KillAndRestart(feedback);
    EXPECT_TRUE(killed.ok()) << killed;
    killed = suite_->KillAndRestart(insight);
    EXPECT_TRUE(killed.ok()) << killed;

    for (std::thread& producer : producers) producer.join();
    for (auto& client : clients) {
      EXPECT_TRUE(client->Flush(absl::Seconds(90))) << client->pending() << " still pending";
      client->Close(absl::Seconds(1));
    }
    std::cout << acknowledged.load() << " events acknowledged through the gateway" << std::endl;
  }

  std::unique_ptr<Suite> suite_;
  int64_t base_seconds_ = 0;
  Ledger ledger_;
};

TEST_P(ReplicaTest, EveryEventOnceAcrossReplicasAndKills) {
  ASSERT_NO_FATAL_FAILURE(testing::PublishJourney(*suite_, ReplicaJourney()));
  ASSERT_NO_FATAL_FAILURE(AwaitJourneyOnEveryReplica());
  {
    // Readiness asks one replica of each backend per check.
    httplib::Client http(suite_->gateway_http_host(), suite_->gateway_http_port());
    http.set_read_timeout(5, 0);
    auto ready = http.Get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200) << ready->body;
  }
  ASSERT_NO_FATAL_FAILURE(RaceSameEvent());
  // What the feedback replicas logged before the gateway's traffic.
  std::vector<size_t> log_before;
  for (int k = 1; k <= GetParam().replicas; ++k) {
    log_before.push_back(suite_->Log(Replica("polku-feedback", k)).size());
  }
  ASSERT_NO_FATAL_FAILURE(SendThroughGatewayWithKills());

  const auto entries = ledger_.entries();
  ASSERT_EQ(entries.size(), std::size(kChannels) * kEventsPerChannel + kRaceRounds +
                                static_cast<size_t>(GetParam().replicas));
  ExpectedScorecard expected;
  int64_t last_sequence = 0;
  for (const auto& [key, entry] : entries) {
    EXPECT_EQ(entry.acknowledgements, 1) << key.first << "/" << key.second;
    expected.Add(entry.event);
    last_sequence = std::max(last_sequence, entry.sequence);
  }

  // Every feedback replica took submissions from the gateway: each logs a
  // line per request.
  for (int k = 1; k <= GetParam().replicas; ++k) {
    const std::string log =
        suite_->Log(Replica("polku-feedback", k)).substr(log_before[static_cast<size_t>(k - 1)]);
    EXPECT_TRUE(absl::StrContains(log, "SubmitEvents") ||
                absl::StrContains(log, "StreamEvents"))
        << Replica("polku-feedback", k) << " served no submissions";
  }

  // Every insight replica, asked directly, and the gateway.
  for (int k = 1; k <= GetParam().replicas; ++k) {
    const std::string name = Replica("insight", k);
    auto stub = v1::InsightService::NewStub(suite_->Dial(suite_->backend_address(name)));
    ASSERT_NO_FATAL_FAILURE(
        ExpectScorecard(*stub, {.journey = kJourney}, last_sequence, expected, name));
  }
  auto gateway_insight = v1::InsightService::NewStub(suite_->GatewayChannel());
  ASSERT_NO_FATAL_FAILURE(ExpectScorecard(
      *gateway_insight, {.journey = kJourney, .admin_key = suite_->credentials().admin_key},
      last_sequence, expected, "gateway"));

  // The change feed, end to end: every acknowledged event once, under its
  // sequence, sequences strictly increasing.
  std::map<std::pair<std::string, std::string>, int64_t> seen;
  ASSERT_NO_FATAL_FAILURE(ReadFeed(
      suite_->GatewayChannel(), suite_->credentials().admin_key, last_sequence,
      [&](const v1::StoredEvent& stored) {
        const auto key = std::make_pair(stored.channel(), stored.event().event_id());
        EXPECT_TRUE(seen.emplace(key, stored.sequence()).second)
            << "in the feed twice: " << key.first << "/" << key.second;
      }));
  EXPECT_EQ(seen.size(), entries.size());
  for (const auto& [key, entry] : entries) {
    auto it = seen.find(key);
    if (it == seen.end()) {
      ADD_FAILURE() << "acknowledged but not in the feed: " << key.first << "/" << key.second;
      continue;
    }
    EXPECT_EQ(it->second, entry.sequence) << key.first << "/" << key.second;
  }

  EXPECT_EQ(suite_->Stop(), absl::OkStatus());
}

INSTANTIATE_TEST_SUITE_P(Backends, ReplicaTest,
                         ::testing::Values(Topology{"PostgreSQL", Suite::Database::kPostgres, 2},
                                           Topology{"SQLite", Suite::Database::kSqlite, 1}),
                         [](const ::testing::TestParamInfo<Topology>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace polku
