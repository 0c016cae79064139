#include "services/insight/server/feed_tailer.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "lib/rpc/metadata.h"
#include "services/insight/store/rollup_test_util.h"
#include "services/insight/sqlite/sqlite_rollup_store.h"

namespace polku::insight {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::StartsWith;
using testing::MakeEvent;

constexpr absl::Duration kWait = absl::Seconds(20);

v1::WatchEventsResponse PageOf(int64_t first, int64_t last) {
  v1::WatchEventsResponse page;
  for (int64_t s = first; s <= last; ++s) {
    *page.add_events() = MakeEvent({.sequence = s, .nps = 10});
  }
  return page;
}

// Pages of one event each, `first` to `last`: polku-feedback under load sends
// a small page per group commit.
std::vector<v1::WatchEventsResponse> OneEventPages(int64_t first,
                                                   int64_t last) {
  std::vector<v1::WatchEventsResponse> pages;
  for (int64_t s = first; s <= last; ++s) pages.push_back(PageOf(s, s));
  return pages;
}

v1::WatchEventsResponse ErasureAt(int64_t sequence) {
  v1::WatchEventsResponse page;
  page.mutable_erasure()->set_sequence(sequence);
  page.mutable_erasure()->set_tenant("acme");
  page.mutable_erasure()->set_customer_hash("anna");
  return page;
}

// What the fake does on one WatchEvents call: write `pages`, then end with
// `end`, or hold the stream open until cancelled if `end` is unset.
struct ScriptedCall {
  std::vector<v1::WatchEventsResponse> pages;
  std::optional<grpc::Status> end;
};

class ScriptedStream
    : public grpc::ServerWriteReactor<v1::WatchEventsResponse> {
 public:
  ScriptedStream(ScriptedCall call, std::function<void()> on_cancel)
      : call_(std::move(call)), on_cancel_(std::move(on_cancel)) {
    Next(/*ok=*/true);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
    }
    Next(ok);
  }

  void OnCancel() override {
    on_cancel_();
    bool finish_now;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      // With a write in flight, OnWriteDone(false) finishes instead.
      finish_now = !writing_ && !finished_;
      finished_ |= finish_now;
    }
    if (finish_now) Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override { delete this; }

 private:
  // Decides under the lock, acts outside it: a reaction may run inline.
  void Next(bool ok) {
    const v1::WatchEventsResponse* write = nullptr;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (!ok || cancelled_) {
        finish = grpc::Status::CANCELLED;
      } else if (next_ < call_.pages.size()) {
        write = &call_.pages[next_++];
        writing_ = true;
      } else if (call_.end) {
        finish = call_.end;
      }
      if (finish) finished_ = true;
    }
    if (write != nullptr) StartWrite(write);
    if (finish) Finish(*finish);
  }

  ScriptedCall call_;
  std::function<void()> on_cancel_;
  absl::Mutex mu_;
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// A FeedbackService whose WatchEvents follows a script, one entry per call;
// calls past the script hold the stream open.
class FakeFeedback final : public v1::FeedbackService::CallbackService {
 public:
  explicit FakeFeedback(std::vector<ScriptedCall> script)
      : script_(std::move(script)) {}

  grpc::ServerWriteReactor<v1::WatchEventsResponse>* WatchEvents(
      grpc::CallbackServerContext* context,
      const v1::WatchEventsRequest* request) override {
    ScriptedCall call;
    {
      absl::MutexLock lock(&mu_);
      from_sequences_.push_back(request->from_sequence());
      if (!rpc::ClientMetadata(*context, rpc::kTenantHeader).empty()) {
        ++calls_with_tenant_;
      }
      if (from_sequences_.size() <= script_.size()) {
        call = script_[from_sequences_.size() - 1];
      }
    }
    return new ScriptedStream(std::move(call), [this] {
      absl::MutexLock lock(&mu_);
      ++cancellations_;
    });
  }

  // Waits until `n` calls have arrived; false on timeout.
  bool AwaitCalls(size_t n) {
    absl::MutexLock lock(&mu_);
    auto arrived = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return from_sequences_.size() >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&arrived), kWait);
  }
  bool AwaitCancellations(int n) {
    absl::MutexLock lock(&mu_);
    auto cancelled = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return cancellations_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&cancelled), kWait);
  }
  std::vector<int64_t> from_sequences() {
    absl::MutexLock lock(&mu_);
    return from_sequences_;
  }
  int calls_with_tenant() {
    absl::MutexLock lock(&mu_);
    return calls_with_tenant_;
  }

 private:
  const std::vector<ScriptedCall> script_;
  absl::Mutex mu_;
  std::vector<int64_t> from_sequences_ ABSL_GUARDED_BY(mu_);
  int calls_with_tenant_ ABSL_GUARDED_BY(mu_) = 0;
  int cancellations_ ABSL_GUARDED_BY(mu_) = 0;
};

// Records the progress reports (erasure receipts) as "reader feed sequence".
class FakeFeedReaders final : public v1::FeedReaderService::CallbackService {
 public:
  grpc::ServerUnaryReactor* ReportProgress(
      grpc::CallbackServerContext* context,
      const v1::ReportProgressRequest* request,
      v1::ReportProgressResponse* /*response*/) override {
    bool fail = false;
    {
      absl::MutexLock lock(&mu_);
      reports_.push_back(absl::StrCat(request->reader(), " ",
                                      request->feed_id(), " ",
                                      request->applied_sequence()));
      if (failures_ > 0) {
        --failures_;
        fail = true;
      }
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(fail ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                        "failing on purpose")
                         : grpc::Status::OK);
    return reactor;
  }
  // The next `n` reports are recorded and answered UNAVAILABLE.
  void FailNext(int n) {
    absl::MutexLock lock(&mu_);
    failures_ = n;
  }
  // Waits until `n` reports have arrived; false on timeout.
  bool AwaitReports(size_t n) {
    absl::MutexLock lock(&mu_);
    auto arrived = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return reports_.size() >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&arrived), kWait);
  }
  std::vector<std::string> reports() {
    absl::MutexLock lock(&mu_);
    return reports_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> reports_ ABSL_GUARDED_BY(mu_);
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
};

// The fake served on 127.0.0.1:0.
class FakeFeedbackServer {
 public:
  explicit FakeFeedbackServer(std::vector<ScriptedCall> script)
      : service_(std::move(script)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    builder.RegisterService(&readers_);
    server_ = builder.BuildAndStart();
  }
  ~FakeFeedbackServer() { server_->Shutdown(); }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  FakeFeedback& service() { return service_; }
  FakeFeedReaders& readers() { return readers_; }

 private:
  FakeFeedback service_;
  FakeFeedReaders readers_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// Delegates to `store`, failing the first `failures` Apply calls and taking
// `apply_time` over each, and records each call it delegates: "events 1-3",
// "erasure 4".
class ObservedStore final : public FeedSink {
 public:
  explicit ObservedStore(FeedSink& store, int failures = 0,
                         absl::Duration apply_time = absl::ZeroDuration())
      : store_(store), failures_(failures), apply_time_(apply_time) {}
  absl::Status Apply(const google::protobuf::RepeatedPtrField<v1::StoredEvent>&
                         events) override {
    absl::SleepFor(apply_time_);
    if (failures_ > 0) {
      --failures_;
      return absl::UnavailableError("disk full");
    }
    if (events.empty()) return absl::InvalidArgumentError("an empty apply");
    Record(absl::StrCat("events ", events.begin()->sequence(), "-",
                        events.rbegin()->sequence()));
    return store_.Apply(events);
  }
  absl::Status ApplyErasure(const v1::Erasure& erasure) override {
    Record(absl::StrCat("erasure ", erasure.sequence()));
    return store_.ApplyErasure(erasure);
  }
  absl::Status CheckFeed(const std::string& feed_id) override {
    return store_.CheckFeed(feed_id);
  }
  absl::StatusOr<int64_t> Checkpoint() override { return store_.Checkpoint(); }

  std::vector<std::string> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  void Record(std::string call) {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(call));
  }

  FeedSink& store_;
  int failures_;  // only the tailer thread touches it
  const absl::Duration apply_time_;
  absl::Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

class FeedTailerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = testing::ScratchDir() + "/insight.db";
    OpenStore();
  }

  void OpenStore() {
    store_.reset();
    auto store = SqliteRollupStore::Open(path_, /*durable=*/false);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  int64_t EventsCounted() {
    absl::StatusOr<GroupedRollups> rollups =
        store_->Scorecard({.tenant = "acme", .journey = "switching"});
    EXPECT_TRUE(rollups.ok()) << rollups.status();
    return rollups.ok() && !rollups->groups.empty() ? rollups->groups[0].events
                                                    : 0;
  }

  // Waits until the store's checkpoint reaches `sequence`; false on timeout.
  bool AwaitCheckpoint(int64_t sequence) {
    const absl::Time deadline = absl::Now() + kWait;
    while (*store_->Checkpoint() < sequence) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return true;
  }

  static FeedTailer::Options Fast() {
    return {.initial_backoff = absl::Milliseconds(10),
            .max_backoff = absl::Milliseconds(50)};
  }

  std::string path_;
  std::unique_ptr<SqliteRollupStore> store_;
};

TEST_F(FeedTailerTest, AppliesPagesAndReconnectsFromTheNextSequence) {
  FakeFeedbackServer feedback(
      {{.pages = {PageOf(1, 3), PageOf(4, 5)}, .end = grpc::Status::OK}});
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()));
  tailer.Start();

  ASSERT_TRUE(feedback.service().AwaitCalls(2));
  EXPECT_THAT(feedback.service().from_sequences(), ElementsAre(1, 6));
  EXPECT_EQ(feedback.service().calls_with_tenant(), 0);  // internal caller
  EXPECT_EQ(*store_->Checkpoint(), 5);
  EXPECT_EQ(EventsCounted(), 5);

  // The second stream is held open; Stop cancels it at once.
  const absl::Time before = absl::Now();
  tailer.Stop();
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));
  EXPECT_TRUE(feedback.service().AwaitCancellations(1));
}

TEST_F(FeedTailerTest, RestartResumesFromThePersistedCheckpoint) {
  {
    FakeFeedbackServer feedback(
        {{.pages = {PageOf(1, 3), PageOf(4, 5)}, .end = grpc::Status::OK}});
    FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()));
    tailer.Start();
    ASSERT_TRUE(feedback.service().AwaitCalls(2));
    tailer.Stop();
  }
  OpenStore();  // as after a process restart

  // This feed re-delivers sequence 5 before the new ones: counted once.
  // The next call proves the page was applied (it asks from 8).
  FakeFeedbackServer feedback(
      {{.pages = {PageOf(5, 7)}, .end = grpc::Status::OK}});
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()));
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(2));
  EXPECT_THAT(feedback.service().from_sequences(), ElementsAre(6, 8));
  tailer.Stop();
  EXPECT_EQ(*store_->Checkpoint(), 7);
  EXPECT_EQ(EventsCounted(), 7);
}

TEST_F(FeedTailerTest, RetriesAfterErrorsFromTheSameSequence) {
  FakeFeedbackServer feedback(
      {{.end = grpc::Status(grpc::StatusCode::UNAVAILABLE, "starting")},
       {.pages = {PageOf(1, 2)},
        .end = grpc::Status(grpc::StatusCode::INTERNAL, "broke")},
       {.pages = {PageOf(3, 3)}, .end = grpc::Status::OK}});
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()), Fast());
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(4));
  tailer.Stop();
  EXPECT_THAT(feedback.service().from_sequences(), ElementsAre(1, 1, 3, 4));
  EXPECT_EQ(EventsCounted(), 3);
}

TEST_F(FeedTailerTest, AFailedApplyIsRetriedFromTheCheckpoint) {
  ObservedStore flaky(*store_, /*failures=*/1);
  FakeFeedbackServer feedback(
      {{.pages = {PageOf(1, 2), PageOf(3, 4)}},
       {.pages = {PageOf(1, 2), PageOf(3, 4)}, .end = grpc::Status::OK}});
  FeedTailer tailer(flaky, MakeFeedbackChannel(feedback.address()), Fast());
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(3));
  tailer.Stop();
  // The failed first page was not counted, so the tailer cancelled that
  // stream and asked again from 1; then everything arrived.
  EXPECT_THAT(feedback.service().from_sequences(), ElementsAre(1, 1, 5));
  EXPECT_EQ(EventsCounted(), 4);
}

TEST_F(FeedTailerTest, ReopensTheStreamWhenItsDeadlinePasses) {
  FakeFeedbackServer feedback({{.pages = {PageOf(1, 1)}}});  // then held open
  FeedTailer::Options options = Fast();
  options.stream_deadline = absl::Milliseconds(300);
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()), options);
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(3));
  tailer.Stop();
  EXPECT_THAT(feedback.service().from_sequences(), ElementsAre(1, 2, 2));
}

TEST_F(FeedTailerTest, APageThatDoesNotParseEndsTheStreamAndIsAskedAgain) {
  // Invalid UTF-8 in a string field: the fake serialises it, the tailer's
  // stub cannot parse it. The server holds that stream open, so only the
  // tailer can end it; it must not wait for the stream's (1 h) deadline.
  v1::WatchEventsResponse corrupt = PageOf(2, 2);
  corrupt.mutable_events(0)->set_tenant("\xff\xfe");
  FakeFeedbackServer feedback(
      {{.pages = {PageOf(1, 1), corrupt}}, {.pages = {PageOf(2, 3)}}});
  FeedTailer::Options options = Fast();
  options.finish_grace = absl::Milliseconds(200);
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()), options);
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(2));
  EXPECT_TRUE(feedback.service().AwaitCancellations(1));
  ASSERT_TRUE(AwaitCheckpoint(3));
  tailer.Stop();
  // Nothing of the corrupt page was counted; it was asked for again.
  EXPECT_THAT(feedback.service().from_sequences(), ElementsAre(1, 2));
  EXPECT_EQ(EventsCounted(), 3);
}

TEST_F(FeedTailerTest, StopWithoutAFeedbackServerIsPrompt) {
  // Nothing listens here: every attempt fails and the tailer backs off.
  FeedTailer tailer(*store_, MakeFeedbackChannel("127.0.0.1:1"));
  tailer.Start();
  const absl::Time before = absl::Now();
  tailer.Stop();
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));
  EXPECT_EQ(*store_->Checkpoint(), 0);
}

TEST_F(FeedTailerTest, ErasurePagesSubtractTheCustomer) {
  v1::WatchEventsResponse events = PageOf(1, 3);
  events.mutable_events(1)->set_customer_hash("anna");
  FakeFeedbackServer feedback(
      {{.pages = {events, ErasureAt(4)}, .end = grpc::Status::OK}});
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()));
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(2));
  tailer.Stop();
  EXPECT_THAT(feedback.service().from_sequences(), ElementsAre(1, 5));
  EXPECT_EQ(*store_->Checkpoint(), 4);
  EXPECT_EQ(EventsCounted(), 2);
}

// With a reader name, progress is reported: the first page, an erasure at
// once however recent the last report, and the checkpoint when a stream
// opens again; other pages within report_interval are not.
TEST_F(FeedTailerTest, ProgressIsReportedAfterErasuresAndOnReconnect) {
  std::vector<v1::WatchEventsResponse> pages = {PageOf(1, 3), PageOf(4, 5),
                                                ErasureAt(6)};
  for (v1::WatchEventsResponse& page : pages) page.set_feed_id("feed-x");
  FakeFeedbackServer feedback({{.pages = pages, .end = grpc::Status::OK}});
  FeedTailer::Options options = Fast();
  options.reader = "polku-insight";
  options.report_interval = absl::Hours(1);
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()), options);
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(2));
  ASSERT_TRUE(feedback.readers().AwaitReports(3));
  tailer.Stop();
  // The two event pages may have been applied together.
  EXPECT_THAT(feedback.readers().reports(),
              ElementsAre(AnyOf("polku-insight feed-x 3",
                                "polku-insight feed-x 5"),
                          "polku-insight feed-x 6", "polku-insight feed-x 6"));
}

// A report that failed is tried again while the feed is idle (the stream
// stays open, no page comes): an EraseCustomer waiting for it does not wait
// for the next page or stream.
TEST_F(FeedTailerTest, AFailedReportIsRetriedWhileTheFeedIsIdle) {
  v1::WatchEventsResponse erasure = ErasureAt(1);
  erasure.set_feed_id("feed-x");
  FakeFeedbackServer feedback({{.pages = {erasure}}});  // never ends
  feedback.readers().FailNext(1);
  FeedTailer::Options options = Fast();
  options.reader = "polku-insight";
  options.report_interval = absl::Milliseconds(100);
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()), options);
  tailer.Start();
  ASSERT_TRUE(feedback.readers().AwaitReports(2));
  tailer.Stop();
  const std::vector<std::string> reports = feedback.readers().reports();
  ASSERT_GE(reports.size(), 2u);
  EXPECT_EQ(reports[0], "polku-insight feed-x 1");
  EXPECT_EQ(reports[1], "polku-insight feed-x 1");
  // One stream: the retry did not wait for a new one.
  EXPECT_EQ(feedback.service().from_sequences().size(), 1u);
}

// Without a reader name nothing is reported.
TEST_F(FeedTailerTest, WithoutAReaderNameNothingIsReported) {
  v1::WatchEventsResponse page = ErasureAt(1);
  page.set_feed_id("feed-x");
  FakeFeedbackServer feedback({{.pages = {page}, .end = grpc::Status::OK}});
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()), Fast());
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(2));
  tailer.Stop();
  EXPECT_TRUE(feedback.readers().reports().empty());
}

TEST_F(FeedTailerTest, EachApplyIsAnnounced) {
  FakeFeedbackServer feedback(
      {{.pages = {PageOf(1, 3), PageOf(4, 5), ErasureAt(6)},
        .end = grpc::Status::OK}});
  absl::Mutex mu;
  std::vector<FeedChanges> announced;
  FeedTailer::Options options = Fast();
  options.on_applied = [&](const FeedChanges& changes) {
    absl::MutexLock lock(&mu);
    // Announced after the page counts: a listener reads it at once.
    EXPECT_EQ(*store_->Checkpoint(), changes.sequence);
    announced.push_back(changes);
  };
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()), options);
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(2));
  tailer.Stop();
  absl::MutexLock lock(&mu);
  // The two event pages may have been applied together.
  ASSERT_GE(announced.size(), 2u);
  ASSERT_LE(announced.size(), 3u);
  for (size_t i = 0; i + 1 < announced.size(); ++i) {
    EXPECT_THAT(announced[i].journeys,
                ElementsAre(std::make_pair(std::string("acme"),
                                           std::string("switching"))));
  }
  EXPECT_EQ(announced[announced.size() - 2].sequence, 5);
  EXPECT_EQ(announced.back().sequence, 6);
  EXPECT_THAT(announced.back().journeys,
              ElementsAre(std::make_pair(std::string("acme"), std::string())));
}

TEST_F(FeedTailerTest, PagesArrivingWithinTheIntervalAreAppliedTogether) {
  std::vector<v1::WatchEventsResponse> pages = OneEventPages(1, 10);
  pages.push_back(ErasureAt(11));
  pages.push_back(PageOf(12, 12));
  pages.push_back(PageOf(13, 13));
  FakeFeedbackServer feedback({{.pages = pages}});  // then held open
  ObservedStore observed(*store_);
  FeedTailer::Options options = Fast();
  options.apply_interval = absl::Milliseconds(300);
  FeedTailer tailer(observed, MakeFeedbackChannel(feedback.address()), options);
  tailer.Start();
  ASSERT_TRUE(AwaitCheckpoint(13));
  tailer.Stop();
  // The first page is applied at once (with any that came with it); the
  // rest wait out the interval and go together, an erasure on its own. (On a
  // slow machine the ten may take longer than one interval to arrive.)
  const std::vector<std::string> calls = observed.calls();
  const auto erasure = std::find(calls.begin(), calls.end(), "erasure 11");
  ASSERT_NE(erasure, calls.end());
  EXPECT_THAT(std::vector<std::string>(erasure, calls.end()),
              ElementsAre("erasure 11", "events 12-13"));
  int64_t next = 1;
  for (auto call = calls.begin(); call != erasure; ++call) {
    int64_t first = 0, last = 0;
    ASSERT_EQ(std::sscanf(call->c_str(), "events %" SCNd64 "-%" SCNd64, &first,
                          &last),
              2)
        << *call;
    EXPECT_EQ(first, next) << *call;
    next = last + 1;
  }
  EXPECT_EQ(next, 11);
  EXPECT_LE(erasure - calls.begin(), 3);  // ten pages in at most three applies
  EXPECT_EQ(*store_->Checkpoint(), 13);
  EXPECT_EQ(EventsCounted(), 12);
}

TEST_F(FeedTailerTest, AnApplyTakesAtMostItsMaximumOfEvents) {
  const std::vector<v1::WatchEventsResponse> pages = OneEventPages(1, 10);
  FakeFeedbackServer feedback({{.pages = pages, .end = grpc::Status::OK}});
  ObservedStore observed(*store_);
  FeedTailer::Options options = Fast();
  options.apply_interval = absl::Milliseconds(300);
  options.max_events_per_apply = 4;
  FeedTailer tailer(observed, MakeFeedbackChannel(feedback.address()), options);
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(2));
  tailer.Stop();
  // Consecutive ranges covering 1..10, none longer than 4, some merged.
  int64_t next = 1;
  bool merged = false;
  for (const std::string& call : observed.calls()) {
    int64_t first = 0, last = 0;
    ASSERT_EQ(std::sscanf(call.c_str(), "events %" SCNd64 "-%" SCNd64, &first,
                          &last),
              2)
        << call;
    EXPECT_EQ(first, next) << call;
    EXPECT_LE(last - first + 1, 4) << call;
    merged |= last > first;
    next = last + 1;
  }
  EXPECT_EQ(next, 11);
  EXPECT_TRUE(merged);
}

TEST_F(FeedTailerTest, AFirstPageIsAppliedAtOnce) {
  FakeFeedbackServer feedback({{.pages = {PageOf(1, 2)}}});  // then held open
  FeedTailer::Options options = Fast();
  options.apply_interval = absl::Hours(1);
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()), options);
  tailer.Start();
  EXPECT_TRUE(AwaitCheckpoint(2));
  tailer.Stop();
}

TEST_F(FeedTailerTest, StopIsPromptWhilePagesWaitOutTheInterval) {
  // The first apply is slow, so the second page arrives during it and then
  // waits out the hour.
  ObservedStore slow(*store_, /*failures=*/0, absl::Milliseconds(200));
  FakeFeedbackServer feedback({{.pages = {PageOf(1, 1), PageOf(2, 2)}}});
  FeedTailer::Options options = Fast();
  options.apply_interval = absl::Hours(1);
  FeedTailer tailer(slow, MakeFeedbackChannel(feedback.address()), options);
  tailer.Start();
  ASSERT_TRUE(AwaitCheckpoint(1));
  const absl::Time before = absl::Now();
  tailer.Stop();
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));
}

// With room for one event, the reader waits in the queue for every page
// after the first two: the tailer's ways out must all free it.
TEST_F(FeedTailerTest, AFailedApplyWithAFullQueueIsRetriedFromTheCheckpoint) {
  const std::vector<v1::WatchEventsResponse> pages = OneEventPages(1, 10);
  ObservedStore flaky(*store_, /*failures=*/1, absl::Milliseconds(20));
  FakeFeedbackServer feedback(
      {{.pages = pages}, {.pages = pages, .end = grpc::Status::OK}});
  FeedTailer::Options options = Fast();
  options.max_events_per_apply = 1;
  FeedTailer tailer(flaky, MakeFeedbackChannel(feedback.address()), options);
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(3));
  tailer.Stop();
  EXPECT_THAT(feedback.service().from_sequences(), ElementsAre(1, 1, 11));
  EXPECT_EQ(EventsCounted(), 10);
}

TEST_F(FeedTailerTest, StopIsPromptWhileTheReaderWaitsForRoom) {
  const std::vector<v1::WatchEventsResponse> pages = OneEventPages(1, 10);
  ObservedStore slow(*store_, /*failures=*/0, absl::Milliseconds(100));
  FakeFeedbackServer feedback({{.pages = pages}});  // then held open
  FeedTailer::Options options = Fast();
  options.max_events_per_apply = 1;
  FeedTailer tailer(slow, MakeFeedbackChannel(feedback.address()), options);
  tailer.Start();
  ASSERT_TRUE(AwaitCheckpoint(1));
  const absl::Time before = absl::Now();
  tailer.Stop();
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));
  EXPECT_LT(*store_->Checkpoint(), 10);  // it stopped, it did not drain
}

TEST_F(FeedTailerTest, AnotherFeedIsRefusedAndRetried) {
  v1::WatchEventsResponse first = PageOf(1, 2);
  first.set_feed_id("feed-a");
  // polku-feedback's database was replaced: sequences start again.
  v1::WatchEventsResponse replaced = PageOf(3, 4);
  replaced.set_feed_id("feed-b");
  FakeFeedbackServer feedback({{.pages = {first}, .end = grpc::Status::OK},
                               {.pages = {replaced}, .end = grpc::Status::OK},
                               {.pages = {replaced}, .end = grpc::Status::OK}});
  FeedTailer tailer(*store_, MakeFeedbackChannel(feedback.address()), Fast());
  tailer.Start();
  ASSERT_TRUE(feedback.service().AwaitCalls(4));
  tailer.Stop();
  // Nothing of feed-b was applied; the tailer keeps asking from 3.
  EXPECT_THAT(feedback.service().from_sequences(), ElementsAre(1, 3, 3, 3));
  EXPECT_EQ(*store_->Checkpoint(), 2);
  EXPECT_EQ(EventsCounted(), 2);
}

}  // namespace
}  // namespace polku::insight
