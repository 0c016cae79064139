#include "gateway/request_view.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "polku/v1/journey.pb.h"

namespace polku::gateway {
namespace {

TEST(RequestViewTest, ForcesTheBasicViewWhateverTheRequestAsked) {
  v1::ListJourneysRequest request;
  request.set_page_size(7);
  request.set_page_token("after-x");
  request.set_view(v1::JOURNEY_VIEW_FULL);
  auto narrowed =
      NarrowRequest(Narrowing::kJourneyBasicView, request.SerializeAsString());
  ASSERT_TRUE(narrowed.ok()) << narrowed.status();
  v1::ListJourneysRequest forwarded;
  ASSERT_TRUE(forwarded.ParseFromString(*narrowed));
  EXPECT_EQ(forwarded.view(), v1::JOURNEY_VIEW_BASIC);
  EXPECT_EQ(forwarded.page_size(), 7);
  EXPECT_EQ(forwarded.page_token(), "after-x");
}

TEST(RequestViewTest, WithoutNarrowingTheRequestIsForwardedAsItCame) {
  const std::string bytes("\x20\x02", 2);  // view = FULL
  EXPECT_EQ(*NarrowRequest(Narrowing::kNone, bytes), bytes);
}

// A request cut inside a field would swallow an appended override as that
// field's content (here page_token, length 2, with no bytes yet): it is
// refused, not forwarded.
TEST(RequestViewTest, RefusesARequestThatEndsInsideAField) {
  const std::string cut("\x12\x02", 2);
  auto narrowed = NarrowRequest(Narrowing::kJourneyBasicView, cut);
  EXPECT_EQ(narrowed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(narrowed.status().message(),
              testing::HasSubstr("ListJourneysRequest"));
}

}  // namespace
}  // namespace polku::gateway
