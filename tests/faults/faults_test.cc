// Faults between services: a FaultProxy (tests/harness/fault_proxy.h) sits
// between the gateway and polku-feedback, and between polku-insight and
// feedback's change feed, and drops connections, delays every chunk, and
// refuses connections for a while, as a flaky network or a restarting
// backend would.
//
//  * Through the gateway, channel clients (lib/client, retrying) lose no
//    acknowledged event and get none twice: the feed, read directly, holds
//    each exactly once under its acknowledged sequence.
//  * While feedback cannot be reached, a caller of the gateway hears
//    UNAVAILABLE with a retry hint (gRPC trailer retry-after-ms, HTTP
//    Retry-After) within seconds, not at its deadline.
//  * polku-insight's feed resumes without gap or double count: its
//    scorecard equals a recount, made here, of the feed read directly.
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lib/client/channel_client.h"
#include "lib/rpc/metadata.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/fault_proxy.h"
#include "tests/harness/journeys.h"
#include "tests/harness/suite.h"
#include "tools/journeys/gateway_client.h"

namespace polku {
namespace {

using ::polku::client::ChannelClient;
using ::polku::client::ChannelClientOptions;
using ::polku::client::EventReport;
using ::polku::testing::FaultProxy;
using ::polku::testing::Suite;

constexpr char kJourney[] = "fault-journey";
constexpr int kEventsPerChannel = 600;

struct ChannelPlan {
  const char* channel;
  const char* touchpoint;
  ChannelClientOptions::Transport transport;
};

constexpr ChannelPlan kChannels[] = {
    {"shop", "store_visit", ChannelClientOptions::Transport::kBatches},
    {"web", "order_tracking", ChannelClientOptions::Transport::kStream},
};

v1::TouchpointEvent MakeEvent(const ChannelPlan& plan, int i, int64_t base_seconds) {
  v1::TouchpointEvent event;
  event.set_event_id(absl::StrCat(plan.channel, "-", i));
  event.set_touchpoint(plan.touchpoint);
  event.set_customer(absl::StrCat("customer-", i % 41));
  event.mutable_occurred_at()->set_seconds(base_seconds + i);
  if (i % 4 != 0) event.set_csat(1 + (i * 7) % 5);
  if (i % 3 != 0) event.set_nps(i % 11);
  event.set_language("en");
  return event;
}

// Every report: (channel, event id) → how many, and the last.
class Ledger {
 public:
  void Record(const std::string& channel, const EventReport& report) {
    absl::MutexLock lock(&mu_);
    auto& entry = entries_[{channel, report.event_id}];
    ++entry.first;
    entry.second = report;
  }
  std::map<std::pair<std::string, std::string>, std::pair<int, EventReport>> entries() {
    absl::MutexLock lock(&mu_);
    return entries_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::pair<int, EventReport>> entries_
      ABSL_GUARDED_BY(mu_);
};

// The counts a scorecard row must show, recounted from stored events.
struct Recount {
  int64_t events = 0, csat = 0, csat_top2 = 0, nps = 0, promoters = 0, detractors = 0;
  void Add(const v1::TouchpointEvent& event) {
    ++events;
    if (event.has_csat()) {
      ++csat;
      if (event.csat() >= 4) ++csat_top2;
    }
    if (event.has_nps()) {
      ++nps;
      if (event.nps() >= 9) ++promoters;
      if (event.nps() <= 6) ++detractors;
    }
  }
};

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Suite::Options options;
    options.channels = "shop,web";
    options.feedback_proxies = true;
    options.gateway_flags = {"--key_rate=5000", "--key_burst=5000"};
    auto started = Suite::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    suite_ = *std::move(started);
    base_seconds_ = absl::ToUnixSeconds(absl::Now() - absl::Hours(3));
    ASSERT_NE(suite_->proxy("gateway"), nullptr);
    ASSERT_NE(suite_->proxy("insight"), nullptr);
    ASSERT_NO_FATAL_FAILURE(PublishJourney());
  }

  void PublishJourney() {
    auto stub = v1::JourneyService::NewStub(suite_->GatewayChannel());
    v1::CreateJourneyRequest create;
    std::vector<testing::TouchpointSpec> touchpoints;
    for (const ChannelPlan& plan : kChannels) {
      touchpoints.push_back({plan.touchpoint, "service", plan.channel});
    }
    *create.mutable_journey() =
        testing::MakeJourney(kJourney, "Fault test journey", {"service"}, touchpoints, "faults");
    v1::Journey journey;
    grpc::Status status = tools::CallWithRetry([&] {
      grpc::ClientContext context;
      Suite::Authorize(context, suite_->credentials().admin_key);
      return stub->CreateJourney(&context, create, &journey);
    });
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::PublishJourneyRequest publish;
    publish.set_key(kJourney);
    status = tools::CallWithRetry([&] {
      grpc::ClientContext context;
      Suite::Authorize(context, suite_->credentials().admin_key);
      return stub->PublishJourney(&context, publish, &journey);
    });
    ASSERT_TRUE(status.ok()) << status.error_message();
    // Feedback learns the journey from its own watch: until then a valid
    // event is REJECTED. Asked directly (no proxy).
    auto feedback = v1::FeedbackService::NewStub(suite_->Dial(suite_->feedback_address()));
    for (const absl::Time deadline = absl::Now() + absl::Seconds(30);;) {
      grpc::ClientContext context;
      context.AddMetadata(rpc::kTenantHeader, "demo");
      context.AddMetadata(rpc::kChannelHeader, "shop");
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
      v1::SubmitEventsRequest request;
      v1::TouchpointEvent probe = MakeEvent(kChannels[0], 1, base_seconds_);
      probe.set_event_id("probe");
      *request.add_events() = probe;
      v1::SubmitEventsResponse response;
      ASSERT_TRUE(feedback->SubmitEvents(&context, request, &response).ok());
      if (response.results(0).outcome() != v1::EventResult::REJECTED) return;
      ASSERT_LT(absl::Now(), deadline) << response.results(0).reason();
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  // Channel clients send kEventsPerChannel events each through the gateway
  // while `faults` runs; returns once every event has its final report.
  void SendWhile(const std::function<void()>& faults) {
    std::vector<std::unique_ptr<ChannelClient>> clients;
    for (const ChannelPlan& plan : kChannels) {
      ChannelClientOptions options;
      options.transport = plan.transport;
      options.max_batch_events = 20;
      options.buffer_capacity = 400;
      options.senders = 2;
      options.call_timeout = absl::Seconds(5);
      options.stream_window = 100;
      options.stream_max_age = absl::Seconds(3);
      options.initial_backoff = absl::Milliseconds(20);
      options.max_backoff = absl::Milliseconds(500);
      options.retry_budget = absl::InfiniteDuration();
      const std::string channel = plan.channel;
      auto client = ChannelClient::Create(
          suite_->GatewayChannel(), suite_->credentials().channel_keys.at(channel), options,
          [this, channel](const EventReport& report) { ledger_.Record(channel, report); });
      ASSERT_TRUE(client.ok()) << client.status();
      clients.push_back(*std::move(client));
    }
    // A steady pace: about 400 events a second per channel.
    std::vector<std::thread> producers;
    for (size_t c = 0; c < std::size(kChannels); ++c) {
      producers.emplace_back([&, c] {
        for (int i = 0; i < kEventsPerChannel; ++i) {
          absl::Status queued = clients[c]->SubmitWithin(
              MakeEvent(kChannels[c], i, base_seconds_), absl::Seconds(60));
          if (!queued.ok()) {
            ADD_FAILURE() << "not queued: " << queued;
            return;
          }
          if (i % 20 == 19) absl::SleepFor(absl::Milliseconds(50));
        }
      });
    }
    faults();
    for (std::thread& producer : producers) producer.join();
    for (auto& client : clients) {
      EXPECT_TRUE(client->Flush(absl::Seconds(120))) << client->pending() << " still pending";
      client->Close(absl::Seconds(1));
    }
  }

  // The feed read directly from polku-feedback (no proxy), up to
  // `last_sequence`: (channel, event id) → (sequence, event).
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, v1::TouchpointEvent>> ReadFeed(
      int64_t last_sequence) {
    std::map<std::pair<std::string, std::string>, std::pair<int64_t, v1::TouchpointEvent>> feed;
    auto stub = v1::FeedbackService::NewStub(suite_->Dial(suite_->feedback_address()));
    grpc::ClientContext context;
    context.AddMetadata(rpc::kTenantHeader, "demo");
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::WatchEventsRequest request;
    request.set_from_sequence(1);
    auto reader = stub->WatchEvents(&context, request);
    v1::WatchEventsResponse page;
    int64_t previous = 0;
    while (previous < last_sequence && reader->Read(&page)) {
      for (const v1::StoredEvent& stored : page.events()) {
        EXPECT_GT(stored.sequence(), previous);
        previous = stored.sequence();
        const auto key = std::make_pair(stored.channel(), stored.event().event_id());
        EXPECT_TRUE(feed.emplace(key, std::make_pair(stored.sequence(), stored.event())).second)
            << "in the feed twice: " << key.first << "/" << key.second;
      }
    }
    context.TryCancel();
    reader->Finish();
    return feed;
  }

  // Every event reported once, acknowledged, and in the feed once under
  // its sequence. Returns the highest acknowledged sequence.
  int64_t ExpectEveryEventOnce() {
    const auto entries = ledger_.entries();
    EXPECT_EQ(entries.size(), std::size(kChannels) * kEventsPerChannel);
    int64_t last_sequence = 0;
    int duplicates = 0;
    for (const auto& [key, entry] : entries) {
      const auto& [reports, report] = entry;
      EXPECT_EQ(reports, 1) << key.first << "/" << key.second;
      EXPECT_TRUE(report.outcome == EventReport::Outcome::kAccepted ||
                  report.outcome == EventReport::Outcome::kDuplicate)
          << key.first << "/" << key.second << ": " << client::OutcomeName(report.outcome) << " "
          << report.status << " " << report.reason;
      if (report.outcome == EventReport::Outcome::kDuplicate) ++duplicates;
      last_sequence = std::max(last_sequence, report.sequence);
    }
    const auto feed = ReadFeed(last_sequence);
    for (const auto& [key, entry] : entries) {
      auto it = feed.find(key);
      if (it == feed.end()) {
        ADD_FAILURE() << "acknowledged but not in the feed: " << key.first << "/" << key.second;
        continue;
      }
      EXPECT_EQ(it->second.first, entry.second.sequence) << key.first << "/" << key.second;
    }
    std::cout << entries.size() << " events acknowledged (" << duplicates
              << " as DUPLICATE: acknowledgements lost to a fault), " << feed.size()
              << " in the feed" << std::endl;
    return last_sequence;
  }

  std::unique_ptr<Suite> suite_;
  int64_t base_seconds_ = 0;
  Ledger ledger_;
};

TEST_F(FaultsTest, GatewayToFeedbackLosesNothingAndRefusesWithARetryHint) {
  FaultProxy& proxy = *suite_->proxy("gateway");
  SendWhile([&] {
    // Connections reset under load, five times.
    for (int i = 0; i < 5; ++i) {
      absl::SleepFor(absl::Milliseconds(150));
      proxy.DropConnections();
    }
    // A slow network: every chunk held 100 ms, each way, for a second.
    proxy.SetDelay(absl::Milliseconds(100));
    absl::SleepFor(absl::Seconds(1));
    proxy.SetDelay(absl::ZeroDuration());
    // Feedback unreachable: callers hear UNAVAILABLE with a hint, at once.
    proxy.SetRefusing(true);
    proxy.DropConnections();
    auto stub = v1::FeedbackService::NewStub(suite_->GatewayChannel());
    for (int i = 0; i < 3; ++i) {
      grpc::ClientContext context;
      Suite::Authorize(context, suite_->credentials().channel_keys.at("shop"),
                       absl::Seconds(30));
      v1::SubmitEventsRequest request;
      *request.add_events() = MakeEvent(kChannels[0], 100000 + i, base_seconds_);
      v1::SubmitEventsResponse response;
      const absl::Time start = absl::Now();
      grpc::Status status = stub->SubmitEvents(&context, request, &response);
      EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "a hang, not a refusal";
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
      const auto& trailers = context.GetServerTrailingMetadata();
      EXPECT_NE(trailers.find("retry-after-ms"), trailers.end()) << "no retry hint";
    }
    httplib::Client http(suite_->gateway_http_host(), suite_->gateway_http_port());
    http.set_read_timeout(30, 0);
    const absl::Time start = absl::Now();
    auto answer = http.Post(
        "/v1/events",
        {{"Authorization", "Bearer " + suite_->credentials().channel_keys.at("shop")}},
        R"({"events": [{"eventId": "refused-http", "touchpoint": "store_visit", "csat": 3}]})",
        "application/json");
    EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "a hang, not a refusal";
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 503) << answer->body;
    EXPECT_FALSE(answer->get_header_value("Retry-After").empty()) << "no retry hint";
    absl::SleepFor(absl::Milliseconds(1500));
    proxy.SetRefusing(false);
  });
  std::cout << "proxy: " << proxy.accepted() << " connections, " << proxy.forwarded_bytes()
            << " bytes" << std::endl;
  ExpectEveryEventOnce();
  EXPECT_EQ(suite_->Stop(), absl::OkStatus());
}

TEST_F(FaultsTest, InsightFeedResumesWithoutGapOrDoubleCount) {
  FaultProxy& proxy = *suite_->proxy("insight");
  SendWhile([&] {
    for (int round = 0; round < 4; ++round) {
      absl::SleepFor(absl::Milliseconds(200));
      proxy.DropConnections();
      proxy.SetDelay(absl::Milliseconds(50));
      absl::SleepFor(absl::Milliseconds(300));
      proxy.SetDelay(absl::ZeroDuration());
      proxy.SetRefusing(true);
      proxy.DropConnections();
      absl::SleepFor(absl::Milliseconds(400));
      proxy.SetRefusing(false);
    }
  });
  const int64_t last_sequence = ExpectEveryEventOnce();

  // The recount, from the feed read directly (the readiness probe
  // included: it is an event like any other).
  std::map<std::string, Recount> expected;
  Recount total;
  for (const auto& [key, entry] : ReadFeed(last_sequence)) {
    expected[entry.second.touchpoint()].Add(entry.second);
    total.Add(entry.second);
  }

  auto insight = v1::InsightService::NewStub(suite_->Dial(suite_->backend_address("insight")));
  v1::GetScorecardRequest request;
  request.set_journey(kJourney);
  request.set_group_by(v1::GROUP_BY_TOUCHPOINT);
  v1::Scorecard scorecard;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(60);;) {
    grpc::ClientContext context;
    context.AddMetadata(rpc::kTenantHeader, "demo");
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::Status status = insight->GetScorecard(&context, request, &scorecard);
    if (status.ok() && scorecard.as_of_sequence() >= last_sequence) break;
    ASSERT_LT(absl::Now(), deadline) << "insight has not counted up to " << last_sequence << ": "
                                     << status.error_message() << ", as of "
                                     << scorecard.as_of_sequence();
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::cout << "proxy: " << proxy.accepted() << " feed connections" << std::endl;
  EXPECT_GE(proxy.accepted(), 4) << "the feed was not reconnected after the faults";
  ASSERT_EQ(static_cast<size_t>(scorecard.rows_size()), expected.size());
  for (const v1::ScorecardRow& row : scorecard.rows()) {
    SCOPED_TRACE(row.group());
    auto it = expected.find(row.group());
    ASSERT_NE(it, expected.end());
    EXPECT_EQ(row.events(), it->second.events);
    EXPECT_EQ(row.csat().responses(), it->second.csat);
    EXPECT_NEAR(row.csat().top2_box(),
                static_cast<double>(it->second.csat_top2) / static_cast<double>(it->second.csat),
                1e-9);
    EXPECT_EQ(row.nps().responses(), it->second.nps);
    EXPECT_EQ(row.nps().promoters(), it->second.promoters);
    EXPECT_EQ(row.nps().detractors(), it->second.detractors);
  }
  EXPECT_EQ(scorecard.total().events(), total.events);
  EXPECT_EQ(suite_->Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace polku
