#include "services/feedback/touchpoint_index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>

#include "services/feedback/test_journeys.h"

namespace polku::feedback {
namespace {

using testing::DemoJourneys;
using testing::Published;

TEST(TouchpointIndexTest, EmptyUntilTheFirstFullSet) {
  TouchpointIndex index;
  EXPECT_FALSE(index.Current()->loaded());
  EXPECT_TRUE(index.Current()->Find("demo", "confirmation_call").empty());

  index.Reset(DemoJourneys().journeys());
  EXPECT_TRUE(index.Current()->loaded());
}

TEST(TouchpointIndexTest, ResolvesATouchpointOfTheTenant) {
  TouchpointIndex index;
  index.Reset(DemoJourneys().journeys());

  auto found = index.Current()->Find("demo", "confirmation_call");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].journey, "switching");
  EXPECT_EQ(found[0].journey_version, 2);
  EXPECT_EQ(found[0].stage, "purchase");
  EXPECT_EQ(found[0].channel, "phone");
  EXPECT_EQ(found[0].kind, polku::v1::INTERACTION);
  EXPECT_EQ(index.Current()->Find("demo", "relationship_nps")[0].kind,
            polku::v1::OUTCOME);
}

TEST(TouchpointIndexTest, TenantsDoNotSeeEachOthersTouchpoints) {
  TouchpointIndex index;
  index.Reset(DemoJourneys().journeys());
  EXPECT_TRUE(index.Current()->Find("demo", "secret_touchpoint").empty());
  EXPECT_EQ(index.Current()->Find("other", "secret_touchpoint").size(), 1u);
  EXPECT_TRUE(index.Current()->Find("other", "confirmation_call").empty());
  EXPECT_TRUE(index.Current()->HasJourney("other", "switching"));
  EXPECT_FALSE(index.Current()->HasJourney("other", "renovation"));
}

TEST(TouchpointIndexTest, AKeyUsedByTwoJourneysFindsBothInJourneyOrder) {
  TouchpointIndex index;
  index.Reset(DemoJourneys().journeys());
  auto found = index.Current()->Find("demo", "feedback_survey");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].journey, "renovation");
  EXPECT_EQ(found[0].stage, "support");
  EXPECT_EQ(found[1].journey, "switching");
}

// Every version the watch sends is kept; Find answers from the latest.
TEST(TouchpointIndexTest, HoldsEveryPublishedVersion) {
  polku::v1::WatchJourneysResponse all;
  auto* v1 = all.add_journeys();
  *v1 =
      Published("demo", "switching", 1, {{"service_call", "support", "phone"}});
  v1->mutable_journey()->mutable_publish_time()->set_seconds(1'000'000);
  auto* v2 = all.add_journeys();
  *v2 = Published("demo", "switching", 2, {{"support_call", "use", "phone"}});
  v2->mutable_journey()->mutable_publish_time()->set_seconds(2'000'000);
  TouchpointIndex index;
  index.Reset(all.journeys());

  auto snapshot = index.Current();
  EXPECT_TRUE(snapshot->Find("demo", "service_call").empty());
  ASSERT_EQ(snapshot->Find("demo", "support_call").size(), 1u);
  std::optional<JourneyHistory> history =
      snapshot->History("demo", "switching");
  ASSERT_TRUE(history.has_value());
  EXPECT_EQ(history->latest_version, 2);
  EXPECT_EQ(history->first_published, absl::FromUnixSeconds(1'000'000));
  std::optional<ResolvedTouchpoint> old =
      snapshot->FindInVersion("demo", "switching", 1, "service_call");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->journey_version, 1);
  EXPECT_EQ(old->stage, "support");
  EXPECT_FALSE(snapshot->FindInVersion("demo", "switching", 1, "support_call")
                   .has_value());
  EXPECT_FALSE(snapshot->HasVersion("demo", "switching", 3));
  EXPECT_FALSE(snapshot->History("demo", "unknown").has_value());
  EXPECT_FALSE(snapshot->History("other", "switching").has_value());

  // A new version becomes the latest; the older ones stay.
  index.Apply(
      Published("demo", "switching", 3, {{"new_call", "use", "phone"}}));
  EXPECT_EQ(index.Current()->Find("demo", "new_call").size(), 1u);
  EXPECT_TRUE(index.Current()->HasVersion("demo", "switching", 1));
  EXPECT_EQ(index.Current()->History("demo", "switching")->latest_version, 3);
}

TEST(TouchpointIndexTest, ApplyReplacesOnlyThatJourney) {
  TouchpointIndex index;
  index.Reset(DemoJourneys().journeys());
  // Version 3 moves the call to the delivery stage and drops the e-mail.
  index.Apply(Published("demo", "switching", 3,
                        {{"confirmation_call", "delivery", "phone"}}));

  auto snapshot = index.Current();
  auto call = snapshot->Find("demo", "confirmation_call");
  ASSERT_EQ(call.size(), 1u);
  EXPECT_EQ(call[0].journey_version, 3);
  EXPECT_EQ(call[0].stage, "delivery");
  EXPECT_TRUE(snapshot->Find("demo", "welcome_email").empty());
  // The other journey, and the other tenant, are untouched.
  EXPECT_EQ(snapshot->Find("demo", "invoice").size(), 1u);
  EXPECT_EQ(snapshot->Find("other", "secret_touchpoint").size(), 1u);
}

TEST(TouchpointIndexTest, ApplyAddsANewTenantAndJourney) {
  TouchpointIndex index;
  index.Reset(DemoJourneys().journeys());
  index.Apply(Published("acme", "onboarding", 1, {{"signup", "start", "web"}}));
  EXPECT_EQ(index.Current()->Find("acme", "signup").size(), 1u);
}

TEST(TouchpointIndexTest, ApplyIgnoresAnOlderVersion) {
  TouchpointIndex index;
  index.Reset(DemoJourneys().journeys());
  index.Apply(
      Published("demo", "switching", 1, {{"old_touchpoint", "use", "web"}}));
  EXPECT_TRUE(index.Current()->Find("demo", "old_touchpoint").empty());
  EXPECT_EQ(
      index.Current()->Find("demo", "confirmation_call")[0].journey_version, 2);
}

TEST(TouchpointIndexTest, ResetDropsWhatIsNoLongerThere) {
  TouchpointIndex index;
  index.Reset(DemoJourneys().journeys());
  polku::v1::WatchJourneysResponse smaller;
  *smaller.add_journeys() =
      Published("demo", "renovation", 2, {{"invoice", "purchase", "email"}});
  index.Reset(smaller.journeys());
  EXPECT_TRUE(index.Current()->Find("demo", "confirmation_call").empty());
  EXPECT_TRUE(index.Current()->Find("other", "secret_touchpoint").empty());
  EXPECT_EQ(index.Current()->Find("demo", "invoice")[0].journey_version, 2);
}

TEST(TouchpointIndexTest, ASnapshotDoesNotChangeUnderItsReader) {
  TouchpointIndex index;
  index.Reset(DemoJourneys().journeys());
  auto before = index.Current();
  index.Apply(Published("demo", "switching", 3, {}));
  EXPECT_EQ(before->Find("demo", "confirmation_call").size(), 1u);
  EXPECT_TRUE(index.Current()->Find("demo", "confirmation_call").empty());
}

TEST(TouchpointIndexTest, ReadersAndAWriterRunConcurrently) {
  TouchpointIndex index;
  index.Reset(DemoJourneys().journeys());
  std::atomic<bool> done{false};
  std::atomic<int> misses{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        // Every version keeps the touchpoint: a reader must always find it.
        if (index.Current()->Find("demo", "confirmation_call").size() != 1) {
          ++misses;
        }
      }
    });
  }
  for (int version = 3; version < 300; ++version) {
    index.Apply(Published("demo", "switching", version,
                          {{"confirmation_call", "purchase", "phone"}}));
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(misses, 0);
  EXPECT_EQ(
      index.Current()->Find("demo", "confirmation_call")[0].journey_version,
      299);
}

}  // namespace
}  // namespace polku::feedback
