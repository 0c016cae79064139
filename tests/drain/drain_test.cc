// A deploy fails no call: each Polku server gets SIGTERM while clients call
// it at a steady, bounded rate, and
//  * every call the server took (its log has the request id) succeeds,
//    at the client and in the server's log;
//  * every call it did not take is refused with UNAVAILABLE, quickly (the
//    client retries elsewhere or after the restart), and nothing fails
//    before the SIGTERM;
//  * every open stream ends with its documented status: UNAVAILABLE saying
//    the server is shutting down (StreamEvents after answering what it
//    took, WatchEvents, WatchJourneys, WatchAlerts; the gateway's own
//    streams are in tests/gateway/shutdown_test.cc);
//  * the process exits 0, well within its drain timeout;
//  * for polku-feedback and the gateway, every event acknowledged during
//    the drain is in feedback.db exactly once, under its sequence.
//
// The real binaries over loopback (tests/harness), on SQLite.
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <signal.h>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lib/rpc/metadata.h"
#include "lib/sqlite/sqlite.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/load.h"
#include "tests/harness/suite.h"
#include "tools/journeys/gateway_client.h"

namespace polku {
namespace {

using ::polku::testing::CallRecord;
using ::polku::testing::CheckDrain;
using ::polku::testing::DrainReport;
using ::polku::testing::LoggedRequests;
using ::polku::testing::SteadyLoad;
using ::polku::testing::Suite;

constexpr char kJourney[] = "drain-journey";
constexpr char kTenant[] = "demo";
constexpr char kTouchpoint[] = "store_visit";
// Within this of the SIGTERM the server has exited 0 (polku-feedback
// drains within 3 s, the others within 10 s; streams are ended at once, so
// a healthy drain takes well under a second).
constexpr absl::Duration kExitBound = absl::Seconds(15);
// A call the server never took is refused within this.
constexpr absl::Duration kRefusalBound = absl::Seconds(5);
// Calls each load completes before the SIGTERM, so that it is under way.
constexpr int kWarmUpCalls = 20;
// Each call's deadline: far beyond a drain, so that a call which fails
// does so because the server failed it, not because it ran out of time.
constexpr absl::Duration kCallDeadline = absl::Seconds(20);

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(
                          static_cast<absl::StatusCode>(status.error_code())),
                      ": ", status.error_message());
}

// A direct call as the gateway would make it: trusted tenant (and channel)
// metadata, the request id, a deadline.
void Direct(grpc::ClientContext& context, const std::string& request_id,
            const std::string& channel = "") {
  context.AddMetadata(rpc::kTenantHeader, kTenant);
  if (!channel.empty()) context.AddMetadata(rpc::kChannelHeader, channel);
  context.AddMetadata(rpc::kRequestIdHeader, request_id);
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
}

v1::TouchpointEvent MakeEvent(const std::string& id, int64_t base_seconds) {
  v1::TouchpointEvent event;
  event.set_event_id(id);
  event.set_touchpoint(kTouchpoint);
  event.set_customer(absl::StrCat("customer-", id.size() % 13));
  event.mutable_occurred_at()->set_seconds(base_seconds + static_cast<int64_t>(id.size()));
  event.set_csat(1 + static_cast<int>(id.size() % 5));
  event.set_language("en");
  return event;
}

// Events acknowledged to the test: event id → sequence, and how many times.
class Acknowledged {
 public:
  void Add(const v1::EventResult& result) {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = sequences_.emplace(result.event_id(), result.sequence());
    if (!inserted) ++repeated_;
  }
  std::map<std::string, int64_t> sequences() const {
    absl::MutexLock lock(&mu_);
    return sequences_;
  }
  int repeated() const {
    absl::MutexLock lock(&mu_);
    return repeated_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, int64_t> sequences_ ABSL_GUARDED_BY(mu_);
  int repeated_ ABSL_GUARDED_BY(mu_) = 0;
};

// A server stream read to its end on a thread of its own: open once its
// call started (or its first message came), `ended` with the final status.
class StreamWatch {
 public:
  template <typename Open>
  StreamWatch(Open open, bool open_on_first_message) {
    thread_ = std::thread([this, open, open_on_first_message] {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
      auto reader = open(context);
      if (!open_on_first_message) open_.Notify();
      ReadAll(*reader);
      if (!open_.HasBeenNotified()) open_.Notify();
      status_ = reader->Finish();
      end_ = absl::Now();
      ended_.Notify();
    });
  }
  ~StreamWatch() {
    if (thread_.joinable()) thread_.join();
  }
  bool AwaitOpen() { return open_.WaitForNotificationWithTimeout(absl::Seconds(30)); }
  bool ended() const { return ended_.HasBeenNotified(); }
  // Joins; the final status and when it came.
  grpc::Status Join() {
    thread_.join();
    return status_;
  }
  absl::Time end() const { return end_; }
  int messages() const { return messages_.load(); }

 private:
  template <typename Response>
  void ReadAll(grpc::ClientReader<Response>& reader) {
    Response response;
    while (reader.Read(&response)) {
      ++messages_;
      if (!open_.HasBeenNotified()) open_.Notify();
    }
  }

  absl::Notification open_;
  absl::Notification ended_;
  std::atomic<int> messages_{0};
  grpc::Status status_;
  absl::Time end_;
  std::thread thread_;
};

class DrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Suite::Options options;
    // The loads below exceed the default per-key rate limit on purpose.
    options.gateway_flags = {"--key_rate=5000", "--key_burst=5000"};
    auto started = Suite::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    suite_ = *std::move(started);
    base_seconds_ = absl::ToUnixSeconds(absl::Now() - absl::Hours(2));
    ASSERT_NO_FATAL_FAILURE(PublishJourney());
    ASSERT_NO_FATAL_FAILURE(AwaitFeedbackKnowsJourney());
  }

  void PublishJourney() {
    auto stub = v1::JourneyService::NewStub(suite_->GatewayChannel());
    v1::CreateJourneyRequest create;
    *create.mutable_journey() = testing::MakeJourney(
        kJourney, "Drain test journey", {"purchase"}, {{kTouchpoint, "purchase", "shop"}},
        "drain");
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
  }

  // polku-feedback learns the journey from its watch stream: until then a
  // valid event is REJECTED (unknown touchpoint).
  void AwaitFeedbackKnowsJourney() {
    auto stub = v1::FeedbackService::NewStub(suite_->Dial(suite_->feedback_address()));
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    for (int attempt = 0;; ++attempt) {
      grpc::ClientContext context;
      Direct(context, absl::StrCat("ready-", attempt), "shop");
      v1::SubmitEventsRequest request;
      *request.add_events() = MakeEvent("ready", base_seconds_);
      v1::SubmitEventsResponse response;
      grpc::Status status = stub->SubmitEvents(&context, request, &response);
      ASSERT_TRUE(status.ok()) << Describe(status);
      ASSERT_EQ(response.results_size(), 1);
      if (response.results(0).outcome() != v1::EventResult::REJECTED) {
        acknowledged_.Add(response.results(0));
        return;
      }
      ASSERT_LT(absl::Now(), deadline) << response.results(0).reason();
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  // SubmitEvents of one event named by the request id; an ACCEPTED or
  // DUPLICATE answer is recorded as acknowledged.
  absl::Status SubmitOne(v1::FeedbackService::Stub& stub, grpc::ClientContext& context,
                         const std::string& id) {
    v1::SubmitEventsRequest request;
    *request.add_events() = MakeEvent(id, base_seconds_);
    v1::SubmitEventsResponse response;
    grpc::Status status = stub.SubmitEvents(&context, request, &response);
    if (!status.ok()) return FromGrpc(status);
    return Acknowledge(response);
  }

  absl::Status Acknowledge(const v1::SubmitEventsResponse& response) {
    if (response.results_size() != 1) {
      return absl::InternalError(absl::StrCat(response.results_size(), " results for 1 event"));
    }
    const v1::EventResult& result = response.results(0);
    if (result.outcome() != v1::EventResult::ACCEPTED &&
        result.outcome() != v1::EventResult::DUPLICATE) {
      return absl::InternalError(absl::StrCat("not stored: ", result.ShortDebugString()));
    }
    acknowledged_.Add(result);
    return absl::OkStatus();
  }

  // SIGTERM to `server` with calls of every load in flight: the server is
  // stopped (SIGSTOP) until each load has a call waiting on it, then gets
  // SIGTERM and SIGCONT together, so that on waking it finds both new calls
  // and the signal. Returns when the SIGTERM was sent; `exited` says how
  // the process ended.
  absl::Time SigtermWhileBusy(const std::string& server, const std::vector<SteadyLoad*>& loads,
                              absl::Status& exited) {
    EXPECT_TRUE(suite_->Signal(server, SIGSTOP).ok());
    for (SteadyLoad* load : loads) {
      EXPECT_TRUE(load->AwaitInFlight(1, absl::Seconds(10))) << server;
    }
    const absl::Time sigterm = absl::Now();
    EXPECT_TRUE(suite_->Signal(server, SIGTERM).ok());
    EXPECT_TRUE(suite_->Signal(server, SIGCONT).ok());
    exited = suite_->Terminate(server, kExitBound);
    return sigterm;
  }

  // The drain, judged for each load; the counts are printed.
  void ExpectDrained(const std::string& server, const SteadyLoad& load, absl::Time sigterm) {
    const DrainReport report = CheckDrain(load.records(), LoggedRequests(suite_->Log(server)),
                                          sigterm, kRefusalBound);
    std::cout << server << " drain: " << report.before << " calls before the SIGTERM, "
              << report.in_flight << " in flight, " << report.after << " taken after it, "
              << report.refused << " refused (" << report.zombies
              << " of them cancelled unhandled by gRPC core)" << std::endl;
    EXPECT_GE(report.before, kWarmUpCalls) << server;
    for (const std::string& problem : report.problems) ADD_FAILURE() << server << ": " << problem;
  }

  // Every acknowledged event is in feedback.db once, under its sequence
  // (polku-feedback must have stopped).
  void ExpectAcknowledgedStored() {
    sqlite::Database::Options read_only;
    read_only.read_only = true;
    auto db = sqlite::Database::Open(suite_->data_dir() + "/feedback.db", read_only);
    ASSERT_TRUE(db.ok()) << db.status();
    auto rows = (*db)->Prepare("SELECT event_id, sequence FROM events WHERE tenant = 'demo'");
    ASSERT_TRUE(rows.ok()) << rows.status();
    std::map<std::string, std::vector<int64_t>> stored;
    while (true) {
      absl::StatusOr<bool> has_row = (*rows)->Step();
      ASSERT_TRUE(has_row.ok()) << has_row.status();
      if (!*has_row) break;
      stored[(*rows)->ColumnText(0)].push_back((*rows)->ColumnInt(1));
    }
    (*rows)->Reset();
    const auto acknowledged = acknowledged_.sequences();
    std::cout << acknowledged.size() << " events acknowledged, " << stored.size() << " stored"
              << std::endl;
    EXPECT_EQ(acknowledged_.repeated(), 0) << "an event id was acknowledged twice";
    for (const auto& [id, sequence] : acknowledged) {
      auto it = stored.find(id);
      if (it == stored.end()) {
        ADD_FAILURE() << "acknowledged but not stored: " << id;
        continue;
      }
      ASSERT_EQ(it->second.size(), 1u) << "stored more than once: " << id;
      EXPECT_EQ(it->second.front(), sequence) << id;
    }
  }

  std::unique_ptr<Suite> suite_;
  int64_t base_seconds_ = 0;
  Acknowledged acknowledged_;
};

// StreamEvents at a steady rate: one event every `interval` until the
// stream breaks; answers recorded as acknowledged.
class EventStreamClient {
 public:
  EventStreamClient(v1::FeedbackService::Stub& stub, int64_t base_seconds,
                    Acknowledged& acknowledged, absl::Duration interval) {
    Direct(context_, "stream-events", "shop");
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
    stream_ = stub.StreamEvents(&context_);
    writer_ = std::thread([this, base_seconds, interval] {
      for (int i = 0;; ++i) {
        v1::StreamEventsRequest request;
        *request.add_events() = MakeEvent(absl::StrCat("stream-", i), base_seconds);
        if (!stream_->Write(request)) break;
        ++written_;
        absl::SleepFor(interval);
      }
    });
    reader_ = std::thread([this, &acknowledged] {
      v1::StreamEventsResponse response;
      while (stream_->Read(&response)) {
        for (const v1::EventResult& result : response.results()) {
          if (result.outcome() == v1::EventResult::ACCEPTED ||
              result.outcome() == v1::EventResult::DUPLICATE) {
            acknowledged.Add(result);
            ++answered_;
          } else {
            ++refused_;
          }
        }
      }
    });
  }
  bool AwaitAnswered(int count) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (answered_.load() < count && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return answered_.load() >= count;
  }
  // Joins both sides; the stream's final status.
  grpc::Status Finish() {
    reader_.join();
    writer_.join();
    return stream_->Finish();
  }
  int written() const { return written_.load(); }
  int answered() const { return answered_.load(); }
  int refused() const { return refused_.load(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::StreamEventsRequest, v1::StreamEventsResponse>>
      stream_;
  std::atomic<int> written_{0};
  std::atomic<int> answered_{0};
  std::atomic<int> refused_{0};
  std::thread writer_;
  std::thread reader_;
};

void ExpectShuttingDown(const grpc::Status& status, const std::string& what) {
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << what << ": " << Describe(status);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "shutting down"))
      << what << ": " << Describe(status);
}

TEST_F(DrainTest, FeedbackUnderLoad) {
  auto stub = v1::FeedbackService::NewStub(suite_->Dial(suite_->feedback_address()));
  SteadyLoad submits("submit", 2, absl::Milliseconds(10), [&](const std::string& id) {
    grpc::ClientContext context;
    Direct(context, id, "shop");
    return SubmitOne(*stub, context, id);
  });
  EventStreamClient events(*stub, base_seconds_, acknowledged_, absl::Milliseconds(5));
  StreamWatch feed(
      [&](grpc::ClientContext& context) {
        Direct(context, "watch-events");
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
        v1::WatchEventsRequest request;
        request.set_from_sequence(1);
        return stub->WatchEvents(&context, request);
      },
      /*open_on_first_message=*/true);
  ASSERT_TRUE(submits.AwaitCompleted(kWarmUpCalls, absl::Seconds(30)));
  ASSERT_TRUE(events.AwaitAnswered(kWarmUpCalls));
  ASSERT_TRUE(feed.AwaitOpen());
  ASSERT_FALSE(feed.ended());

  absl::Status exited;
  const absl::Time sigterm = SigtermWhileBusy("polku-feedback", {&submits}, exited);
  EXPECT_TRUE(exited.ok()) << exited;
  submits.Stop();
  const grpc::Status stream_end = events.Finish();
  const grpc::Status feed_end = feed.Join();

  ExpectDrained("polku-feedback", submits, sigterm);
  // StreamEvents answers what it took, then ends UNAVAILABLE; the client
  // re-sends the rest. Every answer was an acknowledgement.
  ExpectShuttingDown(stream_end, "StreamEvents");
  EXPECT_EQ(events.refused(), 0);
  std::cout << "StreamEvents: " << events.written() << " written, " << events.answered()
            << " answered before it ended" << std::endl;
  // The change feed's readers are told to come back, at once.
  ExpectShuttingDown(feed_end, "WatchEvents");
  EXPECT_LT(feed.end() - sigterm, kRefusalBound) << "WatchEvents ended late";
  ASSERT_NO_FATAL_FAILURE(ExpectAcknowledgedStored());
}

TEST_F(DrainTest, JourneyUnderLoad) {
  auto stub = v1::JourneyService::NewStub(suite_->Dial(suite_->backend_address("journey")));
  SteadyLoad reads("journey", 2, absl::Milliseconds(10), [&](const std::string& id) {
    grpc::ClientContext context;
    Direct(context, id);
    v1::GetJourneyRequest request;
    request.set_key(kJourney);
    v1::Journey journey;
    grpc::Status status = stub->GetJourney(&context, request, &journey);
    if (status.ok() && journey.key() != kJourney) return absl::InternalError("another journey");
    return FromGrpc(status);
  });
  StreamWatch watch(
      [&](grpc::ClientContext& context) {
        Direct(context, "watch-journeys");
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
        return stub->WatchJourneys(&context, v1::WatchJourneysRequest());
      },
      /*open_on_first_message=*/true);
  ASSERT_TRUE(reads.AwaitCompleted(kWarmUpCalls, absl::Seconds(30)));
  ASSERT_TRUE(watch.AwaitOpen());
  ASSERT_FALSE(watch.ended());

  absl::Status exited;
  const absl::Time sigterm = SigtermWhileBusy("polku-journey", {&reads}, exited);
  EXPECT_TRUE(exited.ok()) << exited;
  reads.Stop();
  ExpectDrained("polku-journey", reads, sigterm);
  ExpectShuttingDown(watch.Join(), "WatchJourneys");
  EXPECT_LT(watch.end() - sigterm, kRefusalBound) << "WatchJourneys ended late";
}

TEST_F(DrainTest, InsightUnderLoad) {
  auto stub = v1::InsightService::NewStub(suite_->Dial(suite_->backend_address("insight")));
  SteadyLoad reads("scorecard", 2, absl::Milliseconds(10), [&](const std::string& id) {
    grpc::ClientContext context;
    Direct(context, id);
    v1::GetScorecardRequest request;
    request.set_journey(kJourney);
    request.set_group_by(v1::GROUP_BY_TOUCHPOINT);
    v1::Scorecard scorecard;
    return FromGrpc(stub->GetScorecard(&context, request, &scorecard));
  });
  StreamWatch alerts(
      [&](grpc::ClientContext& context) {
        Direct(context, "watch-alerts");
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
        return stub->WatchAlerts(&context, v1::WatchAlertsRequest());
      },
      /*open_on_first_message=*/false);
  ASSERT_TRUE(reads.AwaitCompleted(kWarmUpCalls, absl::Seconds(30)));
  ASSERT_TRUE(alerts.AwaitOpen());
  ASSERT_FALSE(alerts.ended());

  absl::Status exited;
  const absl::Time sigterm = SigtermWhileBusy("polku-insight", {&reads}, exited);
  EXPECT_TRUE(exited.ok()) << exited;
  reads.Stop();
  ExpectDrained("polku-insight", reads, sigterm);
  ExpectShuttingDown(alerts.Join(), "WatchAlerts");
  EXPECT_LT(alerts.end() - sigterm, kRefusalBound) << "WatchAlerts ended late";
}

// An HTTP answer as a status: the error body's code for a non-200, a
// connection that failed or broke as UNAVAILABLE (the caller retries it).
absl::Status FromHttp(const httplib::Result& result) {
  if (!result) {
    return absl::UnavailableError(absl::StrCat("no answer: ", httplib::to_string(result.error())));
  }
  if (result->status == 200) return absl::OkStatus();
  if (result->status == 503) return absl::UnavailableError(result->body);
  return absl::UnknownError(absl::StrCat("HTTP ", result->status, ": ", result->body));
}

TEST_F(DrainTest, GatewayUnderLoadOverGrpcAndHttp) {
  const std::string shop = suite_->credentials().channel_keys.at("shop");
  const std::string admin = suite_->credentials().admin_key;
  auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
  auto insight = v1::InsightService::NewStub(suite_->GatewayChannel());
  const auto with_key = [](grpc::ClientContext& context, const std::string& key,
                           const std::string& id) {
    Suite::Authorize(context, key, kCallDeadline);
    context.AddMetadata(rpc::kRequestIdHeader, id);
  };
  SteadyLoad grpc_submits("grpc-submit", 2, absl::Milliseconds(10), [&](const std::string& id) {
    grpc::ClientContext context;
    with_key(context, shop, id);
    return SubmitOne(*feedback, context, id);
  });
  SteadyLoad grpc_reads("grpc-scorecard", 1, absl::Milliseconds(10), [&](const std::string& id) {
    grpc::ClientContext context;
    with_key(context, admin, id);
    v1::GetScorecardRequest request;
    request.set_journey(kJourney);
    v1::Scorecard scorecard;
    return FromGrpc(insight->GetScorecard(&context, request, &scorecard));
  });
  const auto http_client = [this] {
    auto client = std::make_unique<httplib::Client>(suite_->gateway_http_host(),
                                                    suite_->gateway_http_port());
    client->set_connection_timeout(5, 0);
    client->set_read_timeout(20, 0);
    return client;
  };
  SteadyLoad http_submits("http-submit", 2, absl::Milliseconds(10), [&](const std::string& id) {
    v1::SubmitEventsRequest request;
    *request.add_events() = MakeEvent(id, base_seconds_);
    std::string body;
    if (!google::protobuf::util::MessageToJsonString(request, &body).ok()) {
      return absl::InternalError("cannot encode");
    }
    auto answer = http_client()->Post(
        "/v1/events", {{"Authorization", "Bearer " + shop}, {"X-Request-Id", id}}, body,
        "application/json");
    absl::Status status = FromHttp(answer);
    if (!status.ok()) return status;
    v1::SubmitEventsResponse response;
    if (!google::protobuf::util::JsonStringToMessage(answer->body, &response).ok()) {
      return absl::InternalError(absl::StrCat("unreadable answer: ", answer->body));
    }
    return Acknowledge(response);
  });
  SteadyLoad http_reads("http-scorecard", 1, absl::Milliseconds(10), [&](const std::string& id) {
    return FromHttp(http_client()->Get(absl::StrCat("/v1/scorecard?journey=", kJourney).c_str(),
                                       {{"Authorization", "Bearer " + admin}, {"X-Request-Id", id}}));
  });
  for (SteadyLoad* load : {&grpc_submits, &grpc_reads, &http_submits, &http_reads}) {
    ASSERT_TRUE(load->AwaitCompleted(kWarmUpCalls, absl::Seconds(30)));
  }

  absl::Status exited;
  const absl::Time sigterm = SigtermWhileBusy(
      "polku-gateway", {&grpc_submits, &grpc_reads, &http_submits, &http_reads}, exited);
  EXPECT_TRUE(exited.ok()) << exited;
  for (SteadyLoad* load : {&grpc_submits, &grpc_reads, &http_submits, &http_reads}) load->Stop();
  for (SteadyLoad* load : {&grpc_submits, &grpc_reads, &http_submits, &http_reads}) {
    ExpectDrained("polku-gateway", *load, sigterm);
  }
  ASSERT_EQ(suite_->Stop(), absl::OkStatus());
  ASSERT_NO_FATAL_FAILURE(ExpectAcknowledgedStored());
}

}  // namespace
}  // namespace polku
