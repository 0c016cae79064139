#include "services/feedback/journey_watcher.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "lib/rpc/metadata.h"
#include "services/feedback/test_journeys.h"

namespace polku::feedback {
namespace {

using polku::v1::WatchJourneysResponse;
using testing::DemoJourneys;
using testing::Published;

constexpr absl::Duration kWait = absl::Seconds(10);

// A JourneyService that serves WatchJourneys from a script: the full set it
// currently holds, then whatever the test pushes, until the test ends the
// stream.
class FakeJourneyService final : public polku::v1::JourneyService::Service {
 public:
  void SetFullSet(WatchJourneysResponse full_set) {
    absl::MutexLock lock(&mu_);
    full_set_ = std::move(full_set);
  }
  // The next `n` calls fail with UNAVAILABLE right away.
  void FailNextCalls(int n) {
    absl::MutexLock lock(&mu_);
    failures_left_ = n;
  }
  void Push(polku::v1::PublishedJourney published) {
    absl::MutexLock lock(&mu_);
    updates_.push_back(std::move(published));
  }
  // Ends the stream in progress with UNAVAILABLE (a journey service restart).
  void EndStream() {
    absl::MutexLock lock(&mu_);
    end_stream_ = true;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  bool saw_tenant() {
    absl::MutexLock lock(&mu_);
    return saw_tenant_;
  }
  absl::Duration last_deadline() {
    absl::MutexLock lock(&mu_);
    return last_deadline_;
  }
  bool active() {
    absl::MutexLock lock(&mu_);
    return active_;
  }

  grpc::Status WatchJourneys(
      grpc::ServerContext* context, const polku::v1::WatchJourneysRequest*,
      grpc::ServerWriter<WatchJourneysResponse>* writer) override {
    WatchJourneysResponse first;
    {
      absl::MutexLock lock(&mu_);
      ++calls_;
      if (context->client_metadata().count(rpc::kTenantHeader) > 0) {
        saw_tenant_ = true;
      }
      last_deadline_ = absl::FromChrono(context->deadline()) - absl::Now();
      if (failures_left_ > 0) {
        --failures_left_;
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "starting up");
      }
      first = full_set_;
      first.set_reset(true);
      end_stream_ = false;
      active_ = true;
    }
    if (!writer->Write(first)) return grpc::Status::CANCELLED;
    while (true) {
      std::optional<polku::v1::PublishedJourney> next;
      {
        absl::MutexLock lock(&mu_);
        auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return !updates_.empty() || end_stream_;
        };
        mu_.AwaitWithTimeout(absl::Condition(&has_work),
                             absl::Milliseconds(20));
        if (end_stream_ || context->IsCancelled()) {
          active_ = false;
          return context->IsCancelled()
                     ? grpc::Status::CANCELLED
                     : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "restarting");
        }
        if (!updates_.empty()) {
          next = std::move(updates_.front());
          updates_.pop_front();
        }
      }
      if (next.has_value()) {
        WatchJourneysResponse update;
        *update.add_journeys() = *std::move(next);
        if (!writer->Write(update)) {
          absl::MutexLock lock(&mu_);
          active_ = false;
          return grpc::Status::CANCELLED;
        }
      }
    }
  }

 private:
  absl::Mutex mu_;
  WatchJourneysResponse full_set_ ABSL_GUARDED_BY(mu_);
  std::deque<polku::v1::PublishedJourney> updates_ ABSL_GUARDED_BY(mu_);
  bool end_stream_ ABSL_GUARDED_BY(mu_) = false;
  int failures_left_ ABSL_GUARDED_BY(mu_) = 0;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool saw_tenant_ ABSL_GUARDED_BY(mu_) = false;
  bool active_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration last_deadline_ ABSL_GUARDED_BY(mu_);
};

// Waits, bounded, for `condition` to hold. The index has no change signal
// of its own, so this polls briefly.
bool Eventually(const std::function<bool()>& condition) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return condition();
}

class JourneyWatcherTest : public ::testing::Test {
 protected:
  JourneyWatcherTest() {
    fake_.SetFullSet(DemoJourneys());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials());
  }
  ~JourneyWatcherTest() override {
    if (watcher_) watcher_->Stop();
    server_->Shutdown(std::chrono::system_clock::now());
  }

  void StartWatcher() {
    JourneyWatcherOptions options;
    options.initial_backoff = absl::Milliseconds(1);
    options.max_backoff = absl::Milliseconds(20);
    watcher_ = std::make_unique<JourneyWatcher>(
        channel_, index_, [this] { loaded_.Notify(); }, options);
    watcher_->Start();
  }

  FakeJourneyService fake_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  TouchpointIndex index_;
  absl::Notification loaded_;
  std::unique_ptr<JourneyWatcher> watcher_;
};

TEST_F(JourneyWatcherTest, LoadsEveryTenantsJourneysAndReportsIt) {
  StartWatcher();
  ASSERT_TRUE(loaded_.WaitForNotificationWithTimeout(kWait));
  auto snapshot = index_.Current();
  EXPECT_TRUE(snapshot->loaded());
  EXPECT_EQ(snapshot->Find("demo", "confirmation_call").size(), 1u);
  EXPECT_EQ(snapshot->Find("other", "secret_touchpoint").size(), 1u);
  // A service-to-service call: no tenant, and a deadline (of about an hour).
  EXPECT_FALSE(fake_.saw_tenant());
  EXPECT_GT(fake_.last_deadline(), absl::Minutes(59));
  // (gRPC rounds the timeout it sends up, so allow some slack.)
  EXPECT_LT(fake_.last_deadline(), absl::Minutes(75));
}

TEST_F(JourneyWatcherTest, AppliesEachNewPublish) {
  StartWatcher();
  ASSERT_TRUE(loaded_.WaitForNotificationWithTimeout(kWait));
  fake_.Push(Published("demo", "switching", 3,
                       {{"confirmation_call", "delivery", "phone"}}));
  EXPECT_TRUE(Eventually([&] {
    auto found = index_.Current()->Find("demo", "confirmation_call");
    return found.size() == 1 && found[0].journey_version == 3;
  }));
  EXPECT_EQ(index_.Current()->Find("demo", "confirmation_call")[0].stage,
            "delivery");
  EXPECT_EQ(fake_.calls(), 1);
}

TEST_F(JourneyWatcherTest, ReconnectsAndReloadsEverything) {
  StartWatcher();
  ASSERT_TRUE(loaded_.WaitForNotificationWithTimeout(kWait));
  // While the stream is down a journey is published; the reconnect's full
  // set must bring it in.
  WatchJourneysResponse newer = DemoJourneys();
  *newer.add_journeys() =
      Published("acme", "onboarding", 1, {{"signup", "start", "web"}});
  fake_.SetFullSet(newer);
  fake_.FailNextCalls(2);
  fake_.EndStream();
  EXPECT_TRUE(Eventually(
      [&] { return index_.Current()->Find("acme", "signup").size() == 1; }));
  EXPECT_EQ(fake_.calls(), 4);  // the first, two failures, the reload
  EXPECT_EQ(watcher_->connections(), 4);
}

TEST_F(JourneyWatcherTest, WaitsForAJourneyServiceThatIsNotUpYet) {
  fake_.FailNextCalls(3);
  StartWatcher();
  ASSERT_TRUE(loaded_.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(fake_.calls(), 4);
}

TEST_F(JourneyWatcherTest, StopCancelsTheOpenStreamPromptly) {
  StartWatcher();
  ASSERT_TRUE(loaded_.WaitForNotificationWithTimeout(kWait));
  ASSERT_TRUE(Eventually([&] { return fake_.active(); }));
  const absl::Time start = absl::Now();
  watcher_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(Eventually([&] { return !fake_.active(); }));
}

TEST_F(JourneyWatcherTest, StopWhileBackingOffIsPrompt) {
  fake_.FailNextCalls(1'000'000);
  JourneyWatcherOptions options;
  options.initial_backoff = absl::Seconds(30);
  watcher_ =
      std::make_unique<JourneyWatcher>(channel_, index_, nullptr, options);
  watcher_->Start();
  ASSERT_TRUE(Eventually([&] { return fake_.calls() >= 1; }));
  const absl::Time start = absl::Now();
  watcher_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_FALSE(index_.Current()->loaded());
}

}  // namespace
}  // namespace polku::feedback
