// The channel client against an in-process FeedbackService that fails on
// command: every event must end with exactly one report, retries must carry
// the same events, the buffer must stay bounded, refusals must not be
// retried.
#include "lib/client/channel_client.h"

#include <grpcpp/grpcpp.h>

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "polku/v1/feedback.grpc.pb.h"

namespace polku::client {
namespace {

using Outcome = EventReport::Outcome;
using ::testing::ElementsAreArray;

// What the fake does with one call.
enum class Fault {
  kNone,
  kUnavailable,
  // RESOURCE_EXHAUSTED with `retry-after-ms`.
  kExhaustedWithHint,
  // Waits until the caller's deadline has passed.
  kStall,
  // Stores the events, then answers UNAVAILABLE: the acknowledgement is lost.
  kStoreThenUnavailable,
  kPermissionDenied,
};

// An idempotent FeedbackService: (event_id) → (content, sequence). Events
// whose touchpoint is "unknown" are REJECTED. Faults are consumed one per
// call; `gate_open` false holds every call until opened.
class FakeFeedbackService final : public polku::v1::FeedbackService::Service {
 public:
  grpc::Status SubmitEvents(
      grpc::ServerContext* context,
      const polku::v1::SubmitEventsRequest* request,
      polku::v1::SubmitEventsResponse* response) override {
    Fault fault = Fault::kNone;
    int hint_ms = 0;
    {
      absl::MutexLock lock(&mu_);
      hint_ms = hint_ms_;
      std::vector<std::string> ids;
      for (const auto& event : request->events())
        ids.push_back(event.event_id());
      calls_.push_back({ids, absl::Now(), request->validate_only(),
                        request->history_version()});
      authorization_ = std::string(
          context->client_metadata().find("authorization")->second.data(),
          context->client_metadata().find("authorization")->second.size());
      if (!faults_.empty()) {
        fault = faults_.front();
        faults_.pop_front();
      } else {
        fault = default_fault_;
      }
      mu_.Await(absl::Condition(&gate_open_));
    }
    switch (fault) {
      case Fault::kUnavailable:
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "injected: unavailable");
      case Fault::kExhaustedWithHint:
        context->AddTrailingMetadata("retry-after-ms", absl::StrCat(hint_ms));
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "injected: queue full");
      case Fault::kStall:
        while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            "injected: stalled");
      case Fault::kPermissionDenied:
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                            "injected: denied");
      case Fault::kStoreThenUnavailable:
        Store(*request, response);
        response->Clear();
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "injected: ack lost");
      case Fault::kNone:
        break;
    }
    Store(*request, response);
    return grpc::Status::OK;
  }

  // Stores every event it reads; answers each at once with one message,
  // unless a stream fault says to end the stream with UNAVAILABLE after
  // answering that many events (the next event is stored, unanswered).
  grpc::Status StreamEvents(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<polku::v1::StreamEventsResponse,
                               polku::v1::StreamEventsRequest>* stream)
      override {
    int break_after = -1;
    int scramble_at = -1;
    {
      absl::MutexLock lock(&mu_);
      ++streams_;
      if (!scrambles_.empty()) {
        scramble_at = scrambles_.front();
        scrambles_.pop_front();
      }
      authorization_ = std::string(
          context->client_metadata().find("authorization")->second.data(),
          context->client_metadata().find("authorization")->second.size());
      if (!stream_faults_.empty()) {
        break_after = stream_faults_.front();
        stream_faults_.pop_front();
      }
    }
    polku::v1::StreamEventsRequest request;
    int answered = 0;
    while (stream->Read(&request)) {
      {
        absl::MutexLock lock(&mu_);
        stream_history_versions_.push_back(request.history_version());
      }
      for (const auto& event : request.events()) {
        polku::v1::SubmitEventsRequest one;
        *one.add_events() = event;
        polku::v1::SubmitEventsResponse result;
        Store(one, &result);
        if (answered == break_after) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "injected: stream broken");
        }
        polku::v1::StreamEventsResponse response;
        *response.add_results() = result.results(0);
        if (answered == scramble_at) {
          response.mutable_results(0)->set_event_id("not-" + event.event_id());
        }
        if (!stream->Write(response)) return grpc::Status::OK;
        ++answered;
      }
    }
    return grpc::Status::OK;
  }

  // Per stream: the answer at this index carries a wrong event_id.
  void AddStreamScrambles(std::initializer_list<int> answer_index) {
    absl::MutexLock lock(&mu_);
    scrambles_.insert(scrambles_.end(), answer_index);
  }
  void AddStreamFaults(std::initializer_list<int> break_after) {
    absl::MutexLock lock(&mu_);
    stream_faults_.insert(stream_faults_.end(), break_after);
  }
  int streams() {
    absl::MutexLock lock(&mu_);
    return streams_;
  }

  struct Call {
    std::vector<std::string> event_ids;
    absl::Time at;
    bool validate_only = false;
    int32_t history_version = 0;
  };
  // history_version of every stream message read.
  std::vector<int32_t> stream_history_versions() {
    absl::MutexLock lock(&mu_);
    return stream_history_versions_;
  }

  void AddFaults(std::initializer_list<Fault> faults) {
    absl::MutexLock lock(&mu_);
    faults_.insert(faults_.end(), faults);
  }
  void SetDefaultFault(Fault fault) {
    absl::MutexLock lock(&mu_);
    default_fault_ = fault;
  }
  void SetGate(bool open) {
    absl::MutexLock lock(&mu_);
    gate_open_ = open;
  }
  void SetHintMillis(int ms) {
    absl::MutexLock lock(&mu_);
    hint_ms_ = ms;
  }
  std::vector<Call> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // event_id → sequence of what is stored.
  std::map<std::string, int64_t> stored() {
    absl::MutexLock lock(&mu_);
    std::map<std::string, int64_t> out;
    for (const auto& [id, entry] : stored_) out[id] = entry.second;
    return out;
  }
  int64_t store_count() {
    absl::MutexLock lock(&mu_);
    return next_sequence_ - 1;
  }
  std::string authorization() {
    absl::MutexLock lock(&mu_);
    return authorization_;
  }

 private:
  void Store(const polku::v1::SubmitEventsRequest& request,
             polku::v1::SubmitEventsResponse* response) {
    absl::MutexLock lock(&mu_);
    for (const auto& event : request.events()) {
      auto* result = response->add_results();
      result->set_event_id(event.event_id());
      if (event.touchpoint() == "unknown") {
        result->set_outcome(polku::v1::EventResult::REJECTED);
        result->set_field("touchpoint");
        result->set_reason("no such touchpoint");
        continue;
      }
      const std::string content = event.SerializeAsString();
      auto it = stored_.find(event.event_id());
      if (it == stored_.end()) {
        stored_[event.event_id()] = {content, next_sequence_};
        result->set_outcome(polku::v1::EventResult::ACCEPTED);
        result->set_sequence(next_sequence_++);
      } else if (it->second.first == content) {
        result->set_outcome(polku::v1::EventResult::DUPLICATE);
        result->set_sequence(it->second.second);
      } else {
        result->set_outcome(polku::v1::EventResult::REJECTED);
        result->set_field("event_id");
      }
    }
  }

  absl::Mutex mu_;
  std::deque<Fault> faults_ ABSL_GUARDED_BY(mu_);
  Fault default_fault_ ABSL_GUARDED_BY(mu_) = Fault::kNone;
  bool gate_open_ ABSL_GUARDED_BY(mu_) = true;
  int hint_ms_ ABSL_GUARDED_BY(mu_) = 100;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  std::deque<int> stream_faults_ ABSL_GUARDED_BY(mu_);
  std::deque<int> scrambles_ ABSL_GUARDED_BY(mu_);
  int streams_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int32_t> stream_history_versions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::pair<std::string, int64_t>> stored_
      ABSL_GUARDED_BY(mu_);
  int64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  std::string authorization_ ABSL_GUARDED_BY(mu_);
};

// Every report, checked for "exactly once" as it arrives.
class Reports {
 public:
  ChannelClient::ReportCallback Callback() {
    return [this](const EventReport& report) {
      absl::MutexLock lock(&mu_);
      ++count_[report.event_id];
      last_[report.event_id] = report;
    };
  }
  std::map<std::string, int> counts() {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  std::map<std::string, EventReport> last() {
    absl::MutexLock lock(&mu_);
    return last_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int> count_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, EventReport> last_ ABSL_GUARDED_BY(mu_);
};

polku::v1::TouchpointEvent Event(
    int i, const std::string& touchpoint = "store_visit") {
  polku::v1::TouchpointEvent event;
  event.set_event_id(absl::StrCat("ev-", i));
  event.set_touchpoint(touchpoint);
  event.set_customer(absl::StrCat("customer-", i % 17));
  event.mutable_occurred_at()->set_seconds(1'700'000'000 + i);
  event.set_csat(1 + i % 5);
  return event;
}

class ChannelClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  void TearDown() override {
    service_.SetGate(true);
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }

  static ChannelClientOptions FastRetries() {
    ChannelClientOptions options;
    options.max_batch_events = 50;
    options.max_batch_delay = absl::Milliseconds(2);
    options.call_timeout = absl::Milliseconds(300);
    options.initial_backoff = absl::Milliseconds(5);
    options.max_backoff = absl::Milliseconds(40);
    options.jitter_seed = 7;
    return options;
  }

  std::unique_ptr<ChannelClient> NewClient(
      const ChannelClientOptions& options) {
    auto client = ChannelClient::Create(address_, "channel-key", options,
                                        reports_.Callback());
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Checks that each of `events` events was reported exactly once, as
  // ACCEPTED or DUPLICATE, under the sequence the server stored it with;
  // returns how many were DUPLICATE.
  int ExpectEachReportedOnceAsStored(int events) {
    const auto counts = reports_.counts();
    const auto last = reports_.last();
    const auto stored = service_.stored();
    EXPECT_EQ(counts.size(), static_cast<size_t>(events));
    int duplicates = 0;
    for (const auto& [id, count] : counts) {
      EXPECT_EQ(count, 1) << id;
      const EventReport& report = last.at(id);
      EXPECT_TRUE(report.outcome == Outcome::kAccepted ||
                  report.outcome == Outcome::kDuplicate)
          << id << " " << OutcomeName(report.outcome) << " " << report.status;
      if (report.outcome == Outcome::kDuplicate) ++duplicates;
      if (!stored.contains(id)) {
        ADD_FAILURE() << id << " was reported but not stored";
        continue;
      }
      EXPECT_EQ(report.sequence, stored.at(id)) << id;
    }
    return duplicates;
  }

  FakeFeedbackService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  Reports reports_;
};

TEST_F(ChannelClientTest, EveryEventIsAcknowledgedExactlyOnceDespiteFailures) {
  service_.SetHintMillis(20);
  service_.AddFaults({Fault::kUnavailable, Fault::kStoreThenUnavailable,
                      Fault::kExhaustedWithHint, Fault::kStall,
                      Fault::kUnavailable, Fault::kStoreThenUnavailable});
  ChannelClientOptions options = FastRetries();
  options.max_batch_delay = absl::Seconds(5);  // Full batches of 50 only.
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  constexpr int kEvents = 300;
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE(client->Submit(Event(i)).ok());
  ASSERT_TRUE(client->Flush(absl::Seconds(20)));

  const int duplicates = ExpectEachReportedOnceAsStored(kEvents);
  // Every fault hits the first batch (one sender); its acknowledgement was
  // lost after it was stored, so all its 50 events come back DUPLICATE.
  EXPECT_EQ(duplicates, 50);
  EXPECT_EQ(service_.store_count(), kEvents);
  EXPECT_EQ(service_.authorization(), "Bearer channel-key");

  // One sender: a failed call is followed by its retry with the same events.
  const auto calls = service_.calls();
  ASSERT_EQ(calls.size(), kEvents / 50 + 6);
  for (size_t i = 0; i + 1 < calls.size() && i < 6; ++i) {
    EXPECT_THAT(calls[i + 1].event_ids, ElementsAreArray(calls[i].event_ids))
        << "call " << i;
  }
}

TEST_F(ChannelClientTest, SeveralSendersStillReportEachEventOnce) {
  service_.AddFaults({Fault::kStoreThenUnavailable, Fault::kUnavailable,
                      Fault::kStall, Fault::kStoreThenUnavailable,
                      Fault::kExhaustedWithHint});
  service_.SetHintMillis(10);
  ChannelClientOptions options = FastRetries();
  options.senders = 4;
  options.max_batch_events = 20;
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  constexpr int kEvents = 1000;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(client->SubmitWithin(Event(i), absl::Seconds(10)).ok());
  }
  ASSERT_TRUE(client->Flush(absl::Seconds(20)));
  ExpectEachReportedOnceAsStored(kEvents);
  EXPECT_EQ(service_.store_count(), kEvents);
}

TEST_F(ChannelClientTest, RetryAfterHintSetsTheDelay) {
  service_.SetHintMillis(300);
  service_.AddFaults({Fault::kExhaustedWithHint});
  ChannelClientOptions options = FastRetries();
  options.initial_backoff = absl::Milliseconds(1);
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Submit(Event(1)).ok());
  ASSERT_TRUE(client->Flush(absl::Seconds(10)));
  const auto calls = service_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_GE(calls[1].at - calls[0].at, absl::Milliseconds(290));
  EXPECT_EQ(reports_.last().at("ev-1").outcome, Outcome::kAccepted);
  EXPECT_EQ(reports_.last().at("ev-1").attempts, 2);
}

TEST_F(ChannelClientTest, FullBufferRefusesAtOnceAndNeverGrows) {
  service_.SetGate(false);  // Hold every call: nothing drains.
  ChannelClientOptions options = FastRetries();
  options.buffer_capacity = 10;
  options.max_batch_events = 4;
  options.call_timeout = absl::Seconds(10);
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client->Submit(Event(i)).ok()) << i;
  absl::Time before = absl::Now();
  absl::Status full = client->Submit(Event(10));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  EXPECT_LT(absl::Now() - before, absl::Milliseconds(100));
  EXPECT_EQ(client->SubmitWithin(Event(10), absl::Milliseconds(50)).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(client->pending(), 10);

  service_.SetGate(true);
  ASSERT_TRUE(client->Flush(absl::Seconds(10)));
  EXPECT_EQ(client->pending(), 0);
  EXPECT_TRUE(client->Submit(Event(10)).ok());
  ASSERT_TRUE(client->Flush(absl::Seconds(10)));
  EXPECT_EQ(reports_.counts().size(), 11u);
}

TEST_F(ChannelClientTest, RejectedEventsAreReportedAndNotRetried) {
  auto client = NewClient(FastRetries());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Submit(Event(1)).ok());
  ASSERT_TRUE(client->Submit(Event(2, "unknown")).ok());
  ASSERT_TRUE(client->Flush(absl::Seconds(10)));
  const auto last = reports_.last();
  EXPECT_EQ(last.at("ev-1").outcome, Outcome::kAccepted);
  const EventReport& rejected = last.at("ev-2");
  EXPECT_EQ(rejected.outcome, Outcome::kRejected);
  EXPECT_EQ(rejected.field, "touchpoint");
  EXPECT_EQ(rejected.reason, "no such touchpoint");
  EXPECT_EQ(service_.calls().size(), 1u);
}

TEST_F(ChannelClientTest, NonRetryableErrorGivesUpAfterOneAttempt) {
  service_.AddFaults({Fault::kPermissionDenied});
  auto client = NewClient(FastRetries());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Submit(Event(1)).ok());
  ASSERT_TRUE(client->Flush(absl::Seconds(10)));
  const EventReport report = reports_.last().at("ev-1");
  EXPECT_EQ(report.outcome, Outcome::kGaveUp);
  EXPECT_EQ(report.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(report.attempts, 1);
  EXPECT_EQ(service_.calls().size(), 1u);
}

TEST_F(ChannelClientTest, MaxAttemptsEndsRetrying) {
  service_.SetDefaultFault(Fault::kUnavailable);
  ChannelClientOptions options = FastRetries();
  options.max_attempts = 3;
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Submit(Event(1)).ok());
  ASSERT_TRUE(client->Flush(absl::Seconds(10)));
  const EventReport report = reports_.last().at("ev-1");
  EXPECT_EQ(report.outcome, Outcome::kGaveUp);
  EXPECT_EQ(report.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(report.attempts, 3);
  EXPECT_EQ(service_.calls().size(), 3u);
}

TEST_F(ChannelClientTest, RetryBudgetEndsRetrying) {
  service_.SetDefaultFault(Fault::kUnavailable);
  ChannelClientOptions options = FastRetries();
  options.retry_budget = absl::Milliseconds(200);
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Submit(Event(1)).ok());
  ASSERT_TRUE(client->Flush(absl::Seconds(10)));
  const EventReport report = reports_.last().at("ev-1");
  EXPECT_EQ(report.outcome, Outcome::kGaveUp);
  EXPECT_GT(report.attempts, 2);
}

TEST_F(ChannelClientTest, CloseCancelsWhatIsStillPending) {
  service_.SetDefaultFault(Fault::kStall);
  ChannelClientOptions options = FastRetries();
  options.call_timeout = absl::Seconds(30);
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->Submit(Event(i)).ok());
  absl::Time before = absl::Now();
  client->Close(absl::Milliseconds(50));
  EXPECT_LT(absl::Now() - before, absl::Seconds(5));
  const auto last = reports_.last();
  ASSERT_EQ(last.size(), 5u);
  for (const auto& [id, report] : last) {
    EXPECT_EQ(report.outcome, Outcome::kGaveUp) << id;
  }
  EXPECT_EQ(client->Submit(Event(9)).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ChannelClientTest, BrokenStreamsResendTheUnansweredEvents) {
  // Three streams break: after 10 answers, at once, after 37 answers.
  service_.AddStreamFaults({10, 0, 37});
  ChannelClientOptions options = FastRetries();
  options.transport = ChannelClientOptions::Transport::kStream;
  options.max_batch_events = 1;  // One event per stream message.
  options.stream_window = 64;
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  constexpr int kEvents = 500;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(client->SubmitWithin(Event(i), absl::Seconds(10)).ok());
  }
  ASSERT_TRUE(client->Flush(absl::Seconds(20)));

  const int duplicates = ExpectEachReportedOnceAsStored(kEvents);
  // The event a broken stream stored without answering comes back
  // DUPLICATE: the first break's event (the second stream breaks on that
  // same event again) and the third break's.
  EXPECT_EQ(duplicates, 2);
  EXPECT_EQ(service_.store_count(), kEvents);
  EXPECT_EQ(service_.streams(), 4);
  EXPECT_EQ(service_.authorization(), "Bearer channel-key");
}

TEST_F(ChannelClientTest, AnswersOutOfStepAreNotTrustedAndTheEventsResent) {
  // The first stream's 20th answer names another event: the client stops
  // trusting that stream and re-sends what it had not confirmed.
  service_.AddStreamScrambles({20});
  ChannelClientOptions options = FastRetries();
  options.transport = ChannelClientOptions::Transport::kStream;
  options.max_batch_events = 1;
  options.stream_window = 8;
  options.max_attempts = 3;
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  constexpr int kEvents = 200;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(client->SubmitWithin(Event(i), absl::Seconds(10)).ok());
  }
  ASSERT_TRUE(client->Flush(absl::Seconds(20)));

  ExpectEachReportedOnceAsStored(kEvents);
  EXPECT_EQ(service_.store_count(), kEvents);
  EXPECT_GE(service_.streams(), 2);
}

TEST_F(ChannelClientTest, EventWithoutIdIsRefused) {
  auto client = NewClient(FastRetries());
  ASSERT_NE(client, nullptr);
  polku::v1::TouchpointEvent event = Event(1);
  event.clear_event_id();
  EXPECT_EQ(client->Submit(event).code(), absl::StatusCode::kInvalidArgument);
}

// What an import sets on the client goes out on every call and message.
TEST_F(ChannelClientTest, HistoryVersionAndValidateOnlyGoOutOnEveryCall) {
  ChannelClientOptions options = FastRetries();
  options.history_version = 3;
  options.validate_only = true;
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 120; ++i) ASSERT_TRUE(client->Submit(Event(i)).ok());
  ASSERT_TRUE(client->Flush(absl::Seconds(10)));
  ASSERT_FALSE(service_.calls().empty());
  for (const auto& call : service_.calls()) {
    EXPECT_TRUE(call.validate_only);
    EXPECT_EQ(call.history_version, 3);
  }

  ChannelClientOptions streaming = FastRetries();
  streaming.transport = ChannelClientOptions::Transport::kStream;
  streaming.history_version = 2;
  auto streamer = NewClient(streaming);
  ASSERT_NE(streamer, nullptr);
  for (int i = 200; i < 260; ++i) ASSERT_TRUE(streamer->Submit(Event(i)).ok());
  ASSERT_TRUE(streamer->Flush(absl::Seconds(10)));
  ASSERT_FALSE(service_.stream_history_versions().empty());
  for (int32_t version : service_.stream_history_versions()) {
    EXPECT_EQ(version, 2);
  }

  // A stream cannot validate only; a version is never negative.
  streaming.validate_only = true;
  EXPECT_EQ(
      ChannelClient::Create(address_, "k", streaming, nullptr).status().code(),
      absl::StatusCode::kInvalidArgument);
  options.history_version = -1;
  EXPECT_EQ(
      ChannelClient::Create(address_, "k", options, nullptr).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace polku::client
