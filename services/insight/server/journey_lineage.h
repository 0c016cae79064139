// The rename chains of journey maps, which a scorecard across versions needs
// to count feedback under an old touchpoint key as its successor's.
//
// polku-journey records each touchpoint's former keys in every published
// version (Touchpoint.former_keys), so the latest version alone holds the
// whole chain. The lookup runs at query time, on the query executor, with a
// deadline: there is nothing to keep in sync.
//
//   GrpcJourneyLineage lineage(grpc::CreateChannel(address, …));
//   POLKU_ASSIGN_OR_RETURN(TouchpointSuccessors successors,
//                          lineage.Successors("acme", "switching"));
#ifndef POLKU_SERVICES_INSIGHT_JOURNEY_LINEAGE_H_
#define POLKU_SERVICES_INSIGHT_JOURNEY_LINEAGE_H_

#include <grpcpp/channel.h>

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "polku/v1/journey.grpc.pb.h"
#include "polku/v1/journey.pb.h"
#include "services/insight/analytics/scorecard.h"

namespace polku::insight {

class JourneyLineage {
 public:
  virtual ~JourneyLineage() = default;

  // Every former touchpoint key of the tenant's journey → its current key.
  // Empty for a journey that is unknown or was never published.
  virtual absl::StatusOr<TouchpointSuccessors> Successors(
      absl::string_view tenant, absl::string_view journey) = 0;
};

// Asks polku-journey (GetJourney, latest version) on behalf of the tenant.
// Blocks for at most `timeout`, then DEADLINE_EXCEEDED (or UNAVAILABLE).
class GrpcJourneyLineage : public JourneyLineage {
 public:
  explicit GrpcJourneyLineage(std::shared_ptr<grpc::Channel> channel,
                              absl::Duration timeout = absl::Seconds(2));

  absl::StatusOr<TouchpointSuccessors> Successors(
      absl::string_view tenant, absl::string_view journey) override;

 private:
  std::unique_ptr<v1::JourneyService::Stub> stub_;
  const absl::Duration timeout_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_JOURNEY_LINEAGE_H_
