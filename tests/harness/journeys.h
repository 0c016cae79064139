// Journeys for cross-process tests: stages and interaction touchpoints in
// one call, so each test states only what its journey looks like.
//
//   v1::Journey journey = polku::testing::MakeJourney(
//       "e2e-journey", "End-to-end test journey", {"research", "purchase"},
//       {{"search_ad", "research", "web"}, {"store_visit", "purchase", "shop"}},
//       "e2e");
#ifndef POLKU_TESTS_HARNESS_JOURNEYS_H_
#define POLKU_TESTS_HARNESS_JOURNEYS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/channel.h"
#include "polku/v1/journey.pb.h"

namespace polku::testing {

struct TouchpointSpec {
  std::string key;
  std::string stage;
  std::string channel;
};

// Stages and touchpoints are named by their keys; every touchpoint is an
// INTERACTION owned by `owner_team`, in the order given.
v1::Journey MakeJourney(const std::string& key, const std::string& name,
                        const std::vector<std::string>& stages,
                        const std::vector<TouchpointSpec>& touchpoints,
                        const std::string& owner_team);

// Creates `journey` through the gateway and publishes it, as `admin_key`
// (a key with journeys:write); the first refusal, naming its call.
absl::Status CreateAndPublish(const std::shared_ptr<grpc::Channel>& gateway,
                              const std::string& admin_key,
                              const v1::Journey& journey);

}  // namespace polku::testing

#endif  // POLKU_TESTS_HARNESS_JOURNEYS_H_
