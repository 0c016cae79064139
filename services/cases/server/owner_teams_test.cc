#include "services/cases/server/owner_teams.h"

#include "gtest/gtest.h"

namespace polku::cases {
namespace {

v1::StoredEvent Event(const std::string& tenant, int version,
                      const std::string& touchpoint) {
  v1::StoredEvent e;
  e.set_tenant(tenant);
  e.set_journey("switching");
  e.set_journey_version(version);
  e.mutable_event()->set_touchpoint(touchpoint);
  return e;
}

TEST(OwnerTeamsTest, AsksOncePerJourneyVersionAndRetriesFailures) {
  int calls = 0;
  bool down = true;
  OwnerTeams teams([&](const std::string& tenant, const std::string& journey,
                       int version) -> absl::StatusOr<v1::Journey> {
    ++calls;
    if (down) return absl::UnavailableError("polku-journey is down");
    v1::Journey j;
    j.set_key(journey);
    v1::Touchpoint& call = *j.add_touchpoints();
    call.set_key("support_call");
    call.set_owner_team(tenant == "acme" && version == 2 ? "care-2" : "care");
    j.add_touchpoints()->set_key("web");  // no owner team
    return j;
  });
  EXPECT_EQ(teams.Of(Event("acme", 2, "support_call")), "");  // fallback
  down = false;
  EXPECT_EQ(teams.Of(Event("acme", 2, "support_call")), "care-2");
  EXPECT_EQ(teams.Of(Event("acme", 2, "web")), "");
  EXPECT_EQ(teams.Of(Event("acme", 2, "unknown")), "");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(teams.Of(Event("acme", 1, "support_call")), "care");
  EXPECT_EQ(teams.Of(Event("globex", 2, "support_call")), "care");
  EXPECT_EQ(calls, 4);
}

}  // namespace
}  // namespace polku::cases
