#include "services/journey/published_index.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polku::journey {
namespace {

using ::polku::v1::PublishedJourney;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

PublishedJourney At(const std::string& tenant, const std::string& key,
                    int version) {
  PublishedJourney published;
  published.set_tenant(tenant);
  published.mutable_journey()->set_key(key);
  published.mutable_journey()->set_version(version);
  return published;
}

std::vector<std::string> Names(const PublishedIndex::Changes& changes) {
  std::vector<std::string> names;
  for (const PublishedJourney& p : changes.published) {
    names.push_back(absl::StrCat(p.tenant(), "/", p.journey().key(), "@",
                                 p.journey().version()));
  }
  return names;
}

TEST(PublishedIndexTest, ReportsNewAndNewerVersionsOnly) {
  PublishedIndex index;
  PublishedIndex::Changes first =
      index.Update({At("a", "x", 1), At("b", "x", 2)});
  EXPECT_THAT(Names(first), ElementsAre("a/x@1", "b/x@2"));
  EXPECT_FALSE(first.removed);

  PublishedIndex::Changes same =
      index.Update({At("a", "x", 1), At("b", "x", 2)});
  EXPECT_THAT(Names(same), IsEmpty());
  EXPECT_FALSE(same.removed);

  // Another replica published a:x twice and a new journey a:y.
  PublishedIndex::Changes moved =
      index.Update({At("a", "x", 3), At("a", "y", 1), At("b", "x", 2)});
  EXPECT_THAT(Names(moved), ElementsAre("a/x@3", "a/y@1"));
  EXPECT_FALSE(moved.removed);
}

// Subscribers holding every version cannot fill in versions they never saw
// announced: a jump of more than one asks for a snapshot.
TEST(PublishedIndexTest, AVersionSkippedAsksForASnapshot) {
  PublishedIndex index;
  EXPECT_FALSE(index.Update({At("a", "x", 1)}).skipped);
  EXPECT_FALSE(index.Update({At("a", "x", 2)}).skipped);
  EXPECT_TRUE(index.Update({At("a", "x", 4)}).skipped);
  EXPECT_FALSE(index.Update({At("a", "x", 4), At("a", "y", 1)}).skipped);
  // First seen at version 2: version 1 was never announced.
  EXPECT_TRUE(index.Update({At("a", "x", 4), At("a", "y", 1), At("b", "z", 2)})
                  .skipped);
}

TEST(PublishedIndexTest, LatestVersionsKeepsTheLastOfEachJourney) {
  std::vector<PublishedJourney> latest =
      LatestVersions({At("a", "x", 1), At("a", "x", 2), At("a", "y", 1),
                      At("b", "x", 1), At("b", "x", 2), At("b", "x", 3)});
  ASSERT_EQ(latest.size(), 3u);
  EXPECT_EQ(latest[0].journey().version(), 2);
  EXPECT_EQ(latest[1].journey().key(), "y");
  EXPECT_EQ(latest[2].journey().version(), 3);
  EXPECT_TRUE(LatestVersions({}).empty());
}

TEST(PublishedIndexTest, AJourneyLeavingTheSetAsksForASnapshot) {
  PublishedIndex index;
  index.Update({At("a", "x", 1), At("a", "y", 1)});
  PublishedIndex::Changes archived = index.Update({At("a", "y", 2)});
  EXPECT_TRUE(archived.removed);
  // Once recorded, the smaller set is the new normal.
  EXPECT_FALSE(index.Update({At("a", "y", 2)}).removed);
}

TEST(PublishedIndexTest, OwnPublishesAreNotReportedAgain) {
  PublishedIndex index;
  index.Update({At("a", "x", 1)});
  index.Record("a", At("a", "x", 2).journey());
  EXPECT_THAT(Names(index.Update({At("a", "x", 2)})), IsEmpty());
  // The same key of another tenant is another journey.
  EXPECT_THAT(Names(index.Update({At("a", "x", 2), At("b", "x", 2)})),
              ElementsAre("b/x@2"));
}

}  // namespace
}  // namespace polku::journey
