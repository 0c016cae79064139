// Test helpers: published journeys for the touchpoint index, and scratch
// directories.
#ifndef POLKU_SERVICES_FEEDBACK_TEST_JOURNEYS_H_
#define POLKU_SERVICES_FEEDBACK_TEST_JOURNEYS_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "polku/v1/journey.pb.h"

namespace polku::feedback::testing {

struct TestTouchpoint {
  std::string key;
  std::string stage;
  std::string channel;
  polku::v1::TouchpointKind kind = polku::v1::INTERACTION;
};

inline polku::v1::PublishedJourney Published(
    const std::string& tenant, const std::string& journey, int version,
    const std::vector<TestTouchpoint>& touchpoints) {
  polku::v1::PublishedJourney published;
  published.set_tenant(tenant);
  polku::v1::Journey* j = published.mutable_journey();
  j->set_key(journey);
  j->set_name(journey);
  j->set_version(version);
  j->set_state(polku::v1::PUBLISHED);
  for (const TestTouchpoint& t : touchpoints) {
    polku::v1::Touchpoint* touchpoint = j->add_touchpoints();
    touchpoint->set_key(t.key);
    touchpoint->set_name(t.key);
    touchpoint->set_stage(t.stage);
    touchpoint->set_channel(t.channel);
    touchpoint->set_kind(t.kind);
  }
  return published;
}

// The journeys most tests validate against: tenant "demo" with two journeys
// sharing the touchpoint key `feedback_survey`, and tenant "other".
inline polku::v1::WatchJourneysResponse DemoJourneys() {
  polku::v1::WatchJourneysResponse response;
  response.set_reset(true);
  *response.add_journeys() =
      Published("demo", "switching", 2,
                {{"confirmation_call", "purchase", "phone"},
                 {"shop_in_shop_sales", "purchase", "shop"},
                 {"welcome_email", "use", "email"},
                 {"feedback_survey", "use", "shop"},
                 {"relationship_nps", "use", "shop", polku::v1::OUTCOME}});
  *response.add_journeys() =
      Published("demo", "renovation", 1,
                {{"invoice", "purchase", "email"},
                 {"feedback_survey", "support", "shop"}});
  *response.add_journeys() = Published("other", "switching", 1,
                                       {{"secret_touchpoint", "use", "shop"}});
  return response;
}

// A fresh, empty directory under the test's temporary directory.
inline std::string ScratchDir() {
  std::string pattern =
      (std::filesystem::path(::testing::TempDir()) / "feedback-XXXXXX")
          .string();
  const char* dir = ::mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return pattern;
}

}  // namespace polku::feedback::testing

#endif  // POLKU_SERVICES_FEEDBACK_TEST_JOURNEYS_H_
