// Journey maps as living documents, across the real processes and through
// the gateway only: v2 of a journey is published while a client keeps
// submitting events, and every event ends up stamped with the version it
// was validated against; then a rename (v3) carries feedback over in the
// scorecard across versions, while a scorecard of one version keeps the keys
// that version had.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;

constexpr char kJourney[] = "store-journey";
constexpr absl::Duration kBound = absl::Seconds(30);
// How long a publish may take to reach polku-feedback's index (issue 4: < 1 s).
constexpr absl::Duration kIndexDelay = absl::Seconds(1);

v1::Journey VersionOne() {
  v1::Journey journey;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        key: "store-journey"
        name: "Store journey"
        stages { key: "research" name: "Research" }
        stages { key: "buy" name: "Buy" }
        stages { key: "visit" name: "Visit" }
        touchpoints {
          key: "web_quote"
          name: "Quote on the web"
          stage: "research"
          channel: "web"
          kind: INTERACTION
        }
        touchpoints {
          key: "store_visit"
          name: "Store visit"
          stage: "buy"
          channel: "shop"
          kind: INTERACTION
          target { nps: 20 }
        }
      )pb",
      &journey));
  return journey;
}

v1::TouchpointEvent Event(const std::string& id, const std::string& touchpoint,
                          int nps) {
  v1::TouchpointEvent event;
  event.set_event_id(id);
  event.set_touchpoint(touchpoint);
  event.set_customer("customer-" + id);
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  event.set_nps(nps);
  return event;
}

// What the submitting thread saw of one event.
struct Submitted {
  std::string event_id;
  absl::Time sent;      // before the call started
  absl::Time answered;  // after it returned
  v1::EventResult result;
};

class JourneyVersionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto suite = Suite::Start();
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
    journeys_ = v1::JourneyService::NewStub(suite_->GatewayChannel());
    feedback_ = v1::FeedbackService::NewStub(suite_->GatewayChannel());
    insight_ = v1::InsightService::NewStub(suite_->GatewayChannel());
  }

  void TearDown() override {
    if (suite_ != nullptr) {
      absl::Status stopped = suite_->Stop();
      EXPECT_TRUE(stopped.ok()) << stopped;
    }
  }

  const std::string& AdminKey() { return suite_->credentials().admin_key; }
  const std::string& ShopKey() {
    return suite_->credentials().channel_keys.at("shop");
  }

  v1::Journey Publish(bool allow_removals = false) {
    v1::PublishJourneyRequest publish;
    publish.set_key(kJourney);
    publish.set_allow_removals(allow_removals);
    v1::Journey published;
    grpc::ClientContext context;
    Suite::Authorize(context, AdminKey());
    grpc::Status status =
        journeys_->PublishJourney(&context, publish, &published);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return published;
  }

  void UpdateDraft(const v1::Journey& journey) {
    v1::UpdateDraftRequest update;
    *update.mutable_journey() = journey;
    v1::Journey draft;
    grpc::ClientContext context;
    Suite::Authorize(context, AdminKey());
    grpc::Status status = journeys_->UpdateDraft(&context, update, &draft);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // One event in one call. The gateway's rate limit refuses a call, not an
  // event: it is retried, as any client does.
  v1::EventResult SubmitOne(const v1::TouchpointEvent& event) {
    v1::SubmitEventsRequest request;
    *request.add_events() = event;
    v1::SubmitEventsResponse response;
    grpc::Status status;
    const absl::Time deadline = absl::Now() + kBound;
    do {
      grpc::ClientContext context;
      Suite::Authorize(context, ShopKey());
      status = feedback_->SubmitEvents(&context, request, &response);
      if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) break;
      absl::SleepFor(absl::Milliseconds(20));
    } while (absl::Now() < deadline);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok() || response.results_size() != 1) return {};
    return response.results(0);
  }

  // Re-sends `event` until polku-feedback's index knows its touchpoint (it
  // follows WatchJourneys); the accepted result.
  v1::EventResult SubmitOnceKnown(const v1::TouchpointEvent& event) {
    const absl::Time deadline = absl::Now() + kBound;
    while (true) {
      v1::EventResult result = SubmitOne(event);
      if (result.outcome() != v1::EventResult::REJECTED ||
          absl::Now() > deadline) {
        return result;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  // Every stored event with a sequence in `sequences`, read from the change
  // feed through the gateway with the admin key.
  std::map<int64_t, v1::StoredEvent> ReadFeed(
      const std::vector<int64_t>& sequences) {
    std::map<int64_t, v1::StoredEvent> wanted;
    for (int64_t sequence : sequences) wanted[sequence];
    std::map<int64_t, v1::StoredEvent> found;
    grpc::ClientContext context;
    Suite::Authorize(context, AdminKey(), kBound);
    v1::WatchEventsRequest request;
    request.set_from_sequence(1);
    auto reader = feedback_->WatchEvents(&context, request);
    v1::WatchEventsResponse page;
    while (found.size() < wanted.size() && reader->Read(&page)) {
      for (const v1::StoredEvent& stored : page.events()) {
        if (wanted.contains(stored.sequence())) {
          found[stored.sequence()] = stored;
        }
      }
    }
    context.TryCancel();
    reader->Finish();
    return found;
  }

  v1::Scorecard AwaitScorecard(int version, int64_t sequence) {
    v1::GetScorecardRequest request;
    request.set_journey(kJourney);
    request.set_journey_version(version);
    v1::Scorecard card;
    const absl::Time deadline = absl::Now() + kBound;
    while (absl::Now() < deadline) {
      grpc::ClientContext context;
      Suite::Authorize(context, AdminKey());
      grpc::Status status = insight_->GetScorecard(&context, request, &card);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok() || card.as_of_sequence() >= sequence) return card;
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "scorecard never reached sequence " << sequence;
    return card;
  }

  std::unique_ptr<Suite> suite_;
  std::unique_ptr<v1::JourneyService::Stub> journeys_;
  std::unique_ptr<v1::FeedbackService::Stub> feedback_;
  std::unique_ptr<v1::InsightService::Stub> insight_;
};

TEST_F(JourneyVersionsTest, EventsAreStampedWithTheVersionTheyMet) {
  {
    v1::CreateJourneyRequest create;
    *create.mutable_journey() = VersionOne();
    v1::Journey created;
    grpc::ClientContext context;
    Suite::Authorize(context, AdminKey());
    grpc::Status status = journeys_->CreateJourney(&context, create, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_EQ(Publish().version(), 1);
  v1::EventResult first = SubmitOnceKnown(Event("warmup", "store_visit", 10));
  ASSERT_EQ(first.outcome(), v1::EventResult::ACCEPTED) << first.DebugString();

  // The submitting client: one event per call, until well after the publish.
  absl::Mutex mu;
  std::vector<Submitted> submitted;
  std::atomic<bool> published{false};
  absl::Time published_at = absl::InfiniteFuture();
  std::thread client([&] {
    absl::Time stop_after = absl::InfiniteFuture();
    for (int i = 0; i < 5000 && absl::Now() < stop_after; ++i) {
      Submitted one{.event_id = absl::StrCat("e", i), .sent = absl::Now()};
      one.result = SubmitOne(Event(one.event_id, "store_visit", i % 11));
      one.answered = absl::Now();
      absl::MutexLock lock(&mu);
      submitted.push_back(one);
      if (published.load() && stop_after == absl::InfiniteFuture()) {
        stop_after = absl::Now() + 2 * kIndexDelay;
      }
    }
  });

  // v2: the store visit moves to stage "visit" with a new target.
  auto count = [&] {
    absl::MutexLock lock(&mu);
    return submitted.size();
  };
  const absl::Time wait_until = absl::Now() + kBound;
  while (count() < 20 && absl::Now() < wait_until) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  v1::Journey v2 = VersionOne();
  v2.mutable_touchpoints(1)->set_stage("visit");
  v2.mutable_touchpoints(1)->mutable_target()->set_nps(30);
  ASSERT_NO_FATAL_FAILURE(UpdateDraft(v2));
  const absl::Time publish_sent = absl::Now();
  ASSERT_EQ(Publish().version(), 2);
  {
    absl::MutexLock lock(&mu);
    published_at = absl::Now();
  }
  published = true;
  client.join();

  // None rejected; sent before the publish → v1 (stage buy); sent a second
  // after it returned → v2 (stage visit); in feed order, never back to v1.
  std::vector<int64_t> sequences;
  int before = 0, after = 0;
  for (const Submitted& one : submitted) {
    EXPECT_EQ(one.result.outcome(), v1::EventResult::ACCEPTED)
        << one.event_id << ": " << one.result.DebugString();
    sequences.push_back(one.result.sequence());
  }
  ASSERT_GT(submitted.size(), 20u);
  std::map<int64_t, v1::StoredEvent> stored = ReadFeed(sequences);
  ASSERT_EQ(stored.size(), submitted.size());
  for (const Submitted& one : submitted) {
    const v1::StoredEvent& event = stored[one.result.sequence()];
    EXPECT_EQ(event.journey(), kJourney);
    EXPECT_EQ(event.stage(), event.journey_version() == 1 ? "buy" : "visit")
        << one.event_id;
    if (one.answered < publish_sent) {
      EXPECT_EQ(event.journey_version(), 1) << one.event_id;
      ++before;
    } else if (one.sent > published_at + kIndexDelay) {
      EXPECT_EQ(event.journey_version(), 2) << one.event_id;
      ++after;
    } else {
      EXPECT_THAT(event.journey_version(), ::testing::AnyOf(1, 2));
    }
  }
  EXPECT_GE(before, 20);
  EXPECT_GT(after, 0);
  int last_version = 1;
  for (const auto& [sequence, event] : stored) {
    EXPECT_GE(event.journey_version(), last_version) << "sequence " << sequence;
    last_version = event.journey_version();
  }

  // The scorecard per version splits them the same way.
  const int64_t last_sequence = stored.rbegin()->first;
  int64_t v1_events = 0, v2_events = 0;
  for (const auto& [sequence, event] : stored) {
    (event.journey_version() == 1 ? v1_events : v2_events)++;
  }
  EXPECT_EQ(AwaitScorecard(1, last_sequence).total().events(), v1_events + 1);
  EXPECT_EQ(AwaitScorecard(2, last_sequence).total().events(), v2_events);

  // v3 renames store_visit → shop_visit: history carries over when asking
  // across versions; one version keeps its own keys.
  v1::Journey v3 = v2;
  v3.mutable_touchpoints(1)->set_key("shop_visit");
  v3.mutable_touchpoints(1)->set_replaces("store_visit");
  ASSERT_NO_FATAL_FAILURE(UpdateDraft(v3));
  v1::Journey published_v3 = Publish();
  ASSERT_EQ(published_v3.version(), 3);
  EXPECT_THAT(published_v3.touchpoints(1).former_keys(),
              ::testing::ElementsAre("store_visit"));
  v1::EventResult renamed =
      SubmitOnceKnown(Event("after-rename", "shop_visit", 9));
  ASSERT_EQ(renamed.outcome(), v1::EventResult::ACCEPTED)
      << renamed.DebugString();
  // The old key is gone from the map: refused, naming the touchpoint.
  v1::EventResult old_key = SubmitOne(Event("old-key", "store_visit", 9));
  EXPECT_EQ(old_key.outcome(), v1::EventResult::REJECTED);
  EXPECT_THAT(old_key.field(), ::testing::HasSubstr("touchpoint"));

  v1::Scorecard across = AwaitScorecard(0, renamed.sequence());
  ASSERT_EQ(across.rows_size(), 1) << across.DebugString();
  EXPECT_EQ(across.rows(0).group(), "shop_visit");
  EXPECT_EQ(across.rows(0).events(),
            static_cast<int64_t>(submitted.size()) + 2);
  v1::Scorecard only_v1 = AwaitScorecard(1, renamed.sequence());
  ASSERT_EQ(only_v1.rows_size(), 1);
  EXPECT_EQ(only_v1.rows(0).group(), "store_visit");

  // What changed, as an analyst reads it.
  v1::DiffJourneyVersionsRequest diff_request;
  diff_request.set_key(kJourney);
  diff_request.set_from_version(1);
  diff_request.set_to_version(3);
  v1::JourneyDiff diff;
  grpc::ClientContext context;
  Suite::Authorize(context, AdminKey());
  grpc::Status status =
      journeys_->DiffJourneyVersions(&context, diff_request, &diff);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<v1::ChangeKind> kinds;
  for (const auto& change : diff.changes()) kinds.push_back(change.kind());
  EXPECT_THAT(kinds,
              ::testing::ElementsAre(v1::TOUCHPOINT_RENAMED,
                                     v1::TOUCHPOINT_MOVED, v1::TARGET_CHANGED));

  // An archived journey takes no more feedback (once the index has the new
  // snapshot, well within the bound).
  v1::ArchiveJourneyRequest archive;
  archive.set_key(kJourney);
  v1::Journey archived;
  grpc::ClientContext archive_context;
  Suite::Authorize(archive_context, AdminKey());
  status = journeys_->ArchiveJourney(&archive_context, archive, &archived);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(archived.archived());
  v1::EventResult late;
  const absl::Time refused_by = absl::Now() + kBound;
  for (int i = 0; absl::Now() < refused_by; ++i) {
    late = SubmitOne(Event(absl::StrCat("late-", i), "shop_visit", 5));
    if (late.outcome() == v1::EventResult::REJECTED) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(late.outcome(), v1::EventResult::REJECTED) << late.DebugString();
}

}  // namespace
}  // namespace polku
