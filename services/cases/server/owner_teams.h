// The owner team of an event's touchpoint, from the journey version the
// event was validated against (StoredEvent.journey, journey_version): asked
// of polku-journey (GetJourneyVersion, for the event's tenant, with a
// deadline) once per journey version and kept, since a published version
// never changes. Used by CaseStore outside its transactions.
//
//   OwnerTeams teams(journey_channel);
//   CaseStore::Options options{.owner_team = [&](const v1::StoredEvent& e) {
//     return teams.Of(e);
//   }};
//
// When polku-journey cannot answer, the answer is empty (the rule's fallback
// queue takes the case), a warning is logged and the version is asked again
// for the next event.
#ifndef POLKU_SERVICES_CASES_SERVER_OWNER_TEAMS_H_
#define POLKU_SERVICES_CASES_SERVER_OWNER_TEAMS_H_

#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "polku/v1/feedback.pb.h"
#include "polku/v1/journey.grpc.pb.h"

namespace polku::cases {

class OwnerTeams {
 public:
  // The source of journey versions; a fake in tests.
  using Fetch = std::function<absl::StatusOr<v1::Journey>(
      const std::string& tenant, const std::string& journey, int version)>;

  explicit OwnerTeams(Fetch fetch) : fetch_(std::move(fetch)) {}
  // Over polku-journey's GetJourneyVersion, `timeout` per call.
  static Fetch FromJourneyService(std::shared_ptr<grpc::Channel> channel,
                                  absl::Duration timeout = absl::Seconds(5));

  std::string Of(const v1::StoredEvent& event);

 private:
  using Key = std::tuple<std::string, std::string, int>;

  const Fetch fetch_;
  absl::Mutex mu_;
  // (tenant, journey, version) → touchpoint → owner team.
  std::map<Key, std::map<std::string, std::string>> versions_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_SERVER_OWNER_TEAMS_H_
