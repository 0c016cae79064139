#include "tools/simulator/submit.h"

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polku::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// polku-feedback's SubmitEvents contract in memory, with a touchpoint index
// that only knows the journey after a few calls, and a start-up period of
// UNAVAILABLE answers.
class FakeFeedback final : public v1::FeedbackService::Service {
 public:
  int unavailable_calls = 0;  // answer UNAVAILABLE this many times first
  int index_ready_after = 0;  // calls answered before the index knows anything

  grpc::Status SubmitEvents(grpc::ServerContext* context,
                            const v1::SubmitEventsRequest* request,
                            v1::SubmitEventsResponse* response) override {
    absl::MutexLock lock(&mu_);
    auto auth = context->client_metadata().find("authorization");
    if (auth == context->client_metadata().end() || auth->second != "Bearer shop-key") {
      return {grpc::UNAUTHENTICATED, "unknown key"};
    }
    if (unavailable_calls > 0) {
      --unavailable_calls;
      return {grpc::UNAVAILABLE, "starting"};
    }
    batch_sizes_.push_back(request->events_size());
    bool index_ready = calls_++ >= index_ready_after;
    for (int i = 0; i < request->events_size(); ++i) {
      const v1::TouchpointEvent& event = request->events(i);
      v1::EventResult* result = response->add_results();
      result->set_event_id(event.event_id());
      if (!index_ready) {
        result->set_outcome(v1::EventResult::REJECTED);
        result->set_field(absl::StrCat("events[", i, "].touchpoint"));
        result->set_reason("unknown touchpoint");
      } else if (event.csat() > 5) {
        result->set_outcome(v1::EventResult::REJECTED);
        result->set_field(absl::StrCat("events[", i, "].csat"));
        result->set_reason("csat must be 1-5");
      } else if (auto it = stored_.find(event.event_id()); it != stored_.end()) {
        result->set_outcome(v1::EventResult::DUPLICATE);
        result->set_sequence(it->second);
      } else {
        result->set_outcome(v1::EventResult::ACCEPTED);
        stored_[event.event_id()] = ++sequence_;
        result->set_sequence(sequence_);
      }
    }
    return grpc::Status::OK;
  }

  std::vector<int> batch_sizes() {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }

 private:
  absl::Mutex mu_;
  int calls_ = 0;
  int64_t sequence_ = 0;
  std::map<std::string, int64_t> stored_;
  std::vector<int> batch_sizes_;
};

std::vector<v1::TouchpointEvent> Events(int n) {
  std::vector<v1::TouchpointEvent> events;
  for (int i = 0; i < n; ++i) {
    v1::TouchpointEvent& event = events.emplace_back();
    event.set_event_id(absl::StrCat("e", i));
    event.set_touchpoint("shop_in_shop_sales");
    event.set_csat(1 + i % 5);
  }
  return events;
}

class SubmitChannelTest : public ::testing::Test {
 protected:
  void Start() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&feedback_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = v1::FeedbackService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  SubmitOptions FastOptions() {
    SubmitOptions options;
    options.batch_size = 4;
    options.timeout = absl::Seconds(5);
    options.index_wait = absl::Seconds(10);
    options.retry.initial_backoff = absl::Milliseconds(1);
    return options;
  }

  FakeFeedback feedback_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::FeedbackService::Stub> stub_;
};

TEST_F(SubmitChannelTest, SendsInBatchesAndCounts) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto events = Events(10);
  events[6].set_csat(9);
  auto summary = SubmitChannel(*stub_, "shop-key", events, FastOptions());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->accepted, 9);
  EXPECT_EQ(summary->rejected, 1);
  ASSERT_EQ(summary->rejections.size(), 1u);
  EXPECT_THAT(summary->rejections[0], HasSubstr("events[2].csat"));
  EXPECT_THAT(feedback_.batch_sizes(), ElementsAre(4, 4, 2));

  // Sending again is safe: every event comes back DUPLICATE.
  auto again = SubmitChannel(*stub_, "shop-key", Events(4), FastOptions());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->duplicate, 4);
  EXPECT_EQ(again->accepted, 0);
}

TEST_F(SubmitChannelTest, RetriesUnavailableWithTheSameEvents) {
  feedback_.unavailable_calls = 3;
  ASSERT_NO_FATAL_FAILURE(Start());
  auto summary = SubmitChannel(*stub_, "shop-key", Events(3), FastOptions());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->accepted, 3);
}

TEST_F(SubmitChannelTest, ResendsUnknownTouchpointsWhileTheIndexCatchesUp) {
  feedback_.index_ready_after = 2;
  ASSERT_NO_FATAL_FAILURE(Start());
  auto summary = SubmitChannel(*stub_, "shop-key", Events(3), FastOptions());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->accepted, 3);
  EXPECT_EQ(summary->rejected, 0);
}

TEST_F(SubmitChannelTest, ReportsAWrongKeyAsAnError) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto summary = SubmitChannel(*stub_, "wrong", Events(1), FastOptions());
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace polku::sim
