// StreamEvents over a real gRPC server: answers in order, flow control,
// the stream limit, store failures and the drain.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "lib/base/executor.h"
#include "lib/rpc/metadata.h"
#include "services/feedback/feedback_service.h"
#include "services/feedback/sqlite_event_store.h"
#include "services/feedback/test_journeys.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using polku::v1::StreamEventsRequest;
using polku::v1::StreamEventsResponse;
using polku::v1::TouchpointEvent;

using Stream =
    grpc::ClientReaderWriter<StreamEventsRequest, StreamEventsResponse>;

constexpr absl::Duration kWait = absl::Seconds(10);
const absl::Time kNow = absl::FromUnixSeconds(1'714'564'800);

TouchpointEvent Event(const std::string& event_id, int csat = 4) {
  TouchpointEvent event;
  event.set_event_id(event_id);
  event.set_touchpoint("shop_in_shop_sales");
  event.set_customer("customer-42");
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kNow) - 3600);
  event.set_csat(csat);
  return event;
}

StreamEventsRequest Message(std::vector<TouchpointEvent> events) {
  StreamEventsRequest request;
  for (auto& e : events) *request.add_events() = std::move(e);
  return request;
}

// An EventStore that holds every submission until the test answers it.
class HeldStore : public EventStore {
 public:
  void Submit(EventBatch batch, SubmitCallback done) override {
    absl::MutexLock lock(&mu_);
    submitted_events_ += batch.events.size();
    max_outstanding_ =
        std::max(max_outstanding_, submitted_events_ - answered_events_);
    held_.push_back({std::move(batch), std::move(done)});
  }
  void Erase(std::string, std::string, bool, EraseCallback done) override {
    done(absl::UnimplementedError("not in this fake"));
  }
  absl::StatusOr<std::vector<FeedRecord>> ReadFeedRecords(absl::string_view,
                                                          int64_t,
                                                          int) override {
    return std::vector<FeedRecord>();
  }
  absl::StatusOr<std::vector<FeedRecord>> ReadEventRecords(
      const EventQuery&) override {
    return std::vector<FeedRecord>();
  }
  const std::string& feed_id() const override { return feed_id_; }
  FeedNotifier& notifier() override { return notifier_; }
  void Stop() override {}

  // Events handed over so far.
  size_t submitted_events() {
    absl::MutexLock lock(&mu_);
    return submitted_events_;
  }
  bool AwaitSubmitted(size_t events) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return submitted_events_ >= events; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kWait);
  }
  // The most events held (handed over, not answered) at any time.
  size_t max_outstanding() {
    absl::MutexLock lock(&mu_);
    return max_outstanding_;
  }
  // Accepts every held batch (sequence = a running count), or fails them.
  void AnswerAll(const absl::Status& error = absl::OkStatus()) {
    std::deque<Held> held;
    {
      absl::MutexLock lock(&mu_);
      held.swap(held_);
      for (const Held& h : held) answered_events_ += h.batch.events.size();
    }
    for (Held& h : held) {
      if (!error.ok()) {
        h.done(error);
        continue;
      }
      std::vector<EventResult> results;
      for (const ValidEvent& v : h.batch.events) {
        EventResult& r = results.emplace_back();
        r.set_event_id(v.event.event_id());
        r.set_outcome(EventResult::ACCEPTED);
        r.set_sequence(++sequence_);
      }
      h.done(std::move(results));
    }
  }

 private:
  struct Held {
    EventBatch batch;
    SubmitCallback done;
  };
  absl::Mutex mu_;
  std::deque<Held> held_ ABSL_GUARDED_BY(mu_);
  size_t submitted_events_ ABSL_GUARDED_BY(mu_) = 0;
  size_t answered_events_ ABSL_GUARDED_BY(mu_) = 0;
  size_t max_outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t sequence_ = 0;
  FeedNotifier notifier_;
  const std::string feed_id_ = "held";
};

class StreamEventsTest : public ::testing::Test {
 protected:
  void StartServer(EventStore& store, FeedbackServiceOptions options = {}) {
    index_.Reset(testing::DemoJourneys().journeys());
    service_ = std::make_unique<FeedbackServiceImpl>(store, index_, readers_,
                                                     clock_, options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = polku::v1::FeedbackService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void StartWithSqlite(FeedbackServiceOptions options = {}) {
    auto store = SqliteEventStore::Open(testing::ScratchDir() + "/feedback.db",
                                        CustomerHasher(std::string(32, 'k')),
                                        SqliteEventStoreOptions());
    ASSERT_TRUE(store.ok()) << store.status();
    sqlite_ = *std::move(store);
    StartServer(*sqlite_, options);
  }

  ~StreamEventsTest() override {
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::seconds(1));
    }
    if (sqlite_) sqlite_->Stop();
  }

  std::unique_ptr<Stream> Open(grpc::ClientContext& context,
                               const std::string& channel = "shop",
                               absl::Duration deadline = kWait) {
    rpc::AttachCaller({.tenant = "demo", .channel = channel}, context);
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    return stub_->StreamEvents(&context);
  }

  // Reads answers until `count` arrived or the stream ended.
  static std::vector<EventResult> ReadResults(Stream& stream, size_t count) {
    std::vector<EventResult> results;
    StreamEventsResponse response;
    while (results.size() < count && stream.Read(&response)) {
      for (const EventResult& r : response.results()) results.push_back(r);
    }
    return results;
  }

  // The server forgets a stream shortly after its client saw the end.
  bool AwaitNoStreams() {
    const absl::Time deadline = absl::Now() + kWait;
    while (service_->open_streams() > 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    return service_->open_streams() == 0;
  }

  static std::string Trailer(const grpc::ClientContext& context,
                             const std::string& key) {
    auto it = context.GetServerTrailingMetadata().find(key);
    if (it == context.GetServerTrailingMetadata().end()) return "";
    return std::string(it->second.data(), it->second.size());
  }

  FakeClock clock_{kNow};
  Executor readers_{2};
  TouchpointIndex index_;
  std::unique_ptr<SqliteEventStore> sqlite_;
  std::unique_ptr<FeedbackServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<polku::v1::FeedbackService::Stub> stub_;
};

TEST_F(StreamEventsTest, AnswersEveryEventInOrderThenEndsOk) {
  StartWithSqlite();
  grpc::ClientContext context;
  auto stream = Open(context);
  ASSERT_TRUE(stream->Write(Message({Event("e-1")})));
  ASSERT_TRUE(stream->Write(Message({Event("e-2", /*csat=*/9), Event("e-3")})));
  ASSERT_TRUE(stream->Write(Message({Event("e-1")})));     // a retry
  ASSERT_TRUE(stream->Write(Message({Event("e-1", 5)})));  // reused key
  ASSERT_TRUE(stream->WritesDone());
  std::vector<EventResult> results = ReadResults(*stream, 5);
  grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0].event_id(), "e-1");
  EXPECT_EQ(results[0].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(results[0].sequence(), 1);
  EXPECT_EQ(results[1].event_id(), "e-2");
  EXPECT_EQ(results[1].outcome(), EventResult::REJECTED);
  EXPECT_EQ(results[1].field(), "events[0].csat");
  EXPECT_EQ(results[2].event_id(), "e-3");
  EXPECT_EQ(results[2].outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(results[2].sequence(), 2);
  EXPECT_EQ(results[3].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ(results[3].sequence(), 1);
  EXPECT_EQ(results[4].outcome(), EventResult::REJECTED);
  EXPECT_EQ(results[4].field(), "events[0].event_id");
}

TEST_F(StreamEventsTest, ManyEventsOnManyStreamsAreAllAnsweredOnce) {
  StartWithSqlite();
  constexpr int kStreams = 4;
  constexpr int kEvents = 3000;
  std::vector<std::thread> clients;
  std::vector<std::vector<EventResult>> answers(kStreams);
  for (int s = 0; s < kStreams; ++s) {
    clients.emplace_back([&, s] {
      grpc::ClientContext context;
      // 12,000 durable commits: a bound for a loaded machine under ASan,
      // not a speed requirement.
      auto stream = Open(context, "shop", absl::Seconds(120));
      std::thread writer([&] {
        for (int i = 0; i < kEvents; ++i) {
          if (!stream->Write(Message({Event(absl::StrCat(s, "-", i))}))) break;
        }
        stream->WritesDone();
      });
      answers[s] = ReadResults(*stream, kEvents);
      writer.join();
      EXPECT_TRUE(stream->Finish().ok());
    });
  }
  for (auto& c : clients) c.join();
  for (int s = 0; s < kStreams; ++s) {
    ASSERT_EQ(answers[s].size(), static_cast<size_t>(kEvents));
    for (int i = 0; i < kEvents; ++i) {
      EXPECT_EQ(answers[s][i].event_id(), absl::StrCat(s, "-", i));
      EXPECT_EQ(answers[s][i].outcome(), EventResult::ACCEPTED);
    }
  }
  // Shared transactions: far fewer commits than messages.
  EXPECT_LT(sqlite_->transactions_committed(), kStreams * kEvents / 4);
}

TEST_F(StreamEventsTest, ASlowStoreStopsTheServerReadingAtTheBound) {
  HeldStore store;
  StartServer(store, {.max_unacknowledged_per_stream = 10});
  grpc::ClientContext context;
  auto stream = Open(context);
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) {
      if (!stream->Write(Message({Event(absl::StrCat("e-", i))}))) break;
    }
    stream->WritesDone();
  });
  ASSERT_TRUE(store.AwaitSubmitted(10));
  // The rest waits in the transport, not in the server's memory.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(store.submitted_events(), 10u);

  std::atomic<bool> reading{true};
  std::thread answerer([&] {
    while (reading) {
      store.AnswerAll();
      absl::SleepFor(absl::Milliseconds(1));
    }
  });
  std::vector<EventResult> results;
  StreamEventsResponse response;
  while (results.size() < 200 && stream->Read(&response)) {
    for (const EventResult& r : response.results()) results.push_back(r);
  }
  reading = false;
  answerer.join();
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  // Never more unanswered events in the server than the bound.
  EXPECT_LE(store.max_outstanding(), 10u);
  ASSERT_EQ(results.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(results[i].event_id(), absl::StrCat("e-", i));
    EXPECT_EQ(results[i].sequence(), i + 1);
  }
}

TEST_F(StreamEventsTest, OneStreamTooManyIsResourceExhaustedWithAHint) {
  HeldStore store;
  StartServer(store, {.max_streams = 2});
  grpc::ClientContext c1, c2, c3;
  auto s1 = Open(c1);
  auto s2 = Open(c2);
  // Both are open once their first event reaches the store.
  ASSERT_TRUE(s1->Write(Message({Event("a")})));
  ASSERT_TRUE(s2->Write(Message({Event("b")})));
  ASSERT_TRUE(store.AwaitSubmitted(2));
  auto s3 = Open(c3);
  StreamEventsResponse response;
  EXPECT_FALSE(s3->Read(&response));
  grpc::Status status = s3->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("too many open event streams"),
            std::string::npos);
  EXPECT_EQ(Trailer(c3, kRetryAfterHeader), "1000");
  store.AnswerAll();
  for (auto* s : {s1.get(), s2.get()}) {
    s->WritesDone();
    EXPECT_EQ(ReadResults(*s, 1).size(), 1u);
    EXPECT_TRUE(s->Finish().ok());
  }
}

TEST_F(StreamEventsTest, AFullWriterQueueEndsTheStreamWithARetryHint) {
  HeldStore store;
  StartServer(store);
  grpc::ClientContext context;
  auto stream = Open(context);
  ASSERT_TRUE(stream->Write(Message({Event("e-1")})));
  ASSERT_TRUE(store.AwaitSubmitted(1));
  store.AnswerAll();
  ASSERT_TRUE(stream->Write(Message({Event("e-2")})));
  ASSERT_TRUE(store.AwaitSubmitted(2));
  absl::Status full = absl::ResourceExhaustedError("writer queue is full");
  SetRetryAfter(full, absl::Milliseconds(250));
  store.AnswerAll(full);
  std::vector<EventResult> results = ReadResults(*stream, 2);
  grpc::Status status = stream->Finish();
  ASSERT_EQ(results.size(), 1u);  // e-1 only
  EXPECT_EQ(results[0].event_id(), "e-1");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Trailer(context, kRetryAfterHeader), "250");
}

TEST_F(StreamEventsTest, EndStreamsAnswersWhatWasTakenThenUnavailable) {
  HeldStore store;
  StartServer(store);
  grpc::ClientContext context;
  auto stream = Open(context);
  ASSERT_TRUE(stream->Write(Message({Event("e-1"), Event("e-2")})));
  ASSERT_TRUE(store.AwaitSubmitted(2));
  service_->EndStreams();
  store.AnswerAll();
  std::vector<EventResult> results = ReadResults(*stream, 3);
  grpc::Status status = stream->Finish();
  EXPECT_EQ(results.size(), 2u);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("server shutting down"),
            std::string::npos);
  // New streams are turned away while draining.
  grpc::ClientContext late;
  auto again = Open(late);
  StreamEventsResponse response;
  EXPECT_FALSE(again->Read(&response));
  EXPECT_EQ(again->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(StreamEventsTest, EndStreamsEndsAnIdleStreamAtOnce) {
  StartWithSqlite();
  grpc::ClientContext context;
  auto stream = Open(context);
  ASSERT_TRUE(stream->Write(Message({Event("e-1")})));
  ASSERT_EQ(ReadResults(*stream, 1).size(), 1u);
  // Nothing in flight; the server waits for the client's next message.
  service_->EndStreams();
  StreamEventsResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(AwaitNoStreams());
}

TEST_F(StreamEventsTest, StreamingNeedsAChannelKey) {
  HeldStore store;
  StartServer(store);
  grpc::ClientContext context;
  auto stream = Open(context, /*channel=*/"");
  StreamEventsResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(StreamEventsTest, ACancelledStreamLeavesNothingBehind) {
  HeldStore store;
  StartServer(store);
  {
    grpc::ClientContext context;
    auto stream = Open(context);
    ASSERT_TRUE(stream->Write(Message({Event("e-1")})));
    ASSERT_TRUE(store.AwaitSubmitted(1));
    context.TryCancel();
    store.AnswerAll();
    stream->Finish();
  }
  EXPECT_TRUE(AwaitNoStreams());
}

}  // namespace
}  // namespace polku::feedback
