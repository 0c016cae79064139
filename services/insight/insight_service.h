// polku.v1.InsightService over the rollups.
//
// GetScorecard reads only the calling tenant's rollups: the tenant comes
// from the gateway's trusted metadata (rpc::CallerFrom), and a call without
// one is UNAUTHENTICATED, since no internal caller needs a cross-tenant
// scorecard. The query runs on `executor`, never on a gRPC thread. A
// scorecard across every version (journey_version 0, by touchpoint) first
// asks `lineage` for the journey's rename chain; if that fails, the answer
// keeps each touchpoint key as recorded (logged as a warning), so a scorecard
// never depends on polku-journey being up.
//
//   polku::Executor executor(4);
//   InsightServiceImpl service(store, executor);
//   rpc::Server::Start({.name = "polku-insight", …, .services = {&service}});
#ifndef POLKU_SERVICES_INSIGHT_INSIGHT_SERVICE_H_
#define POLKU_SERVICES_INSIGHT_INSIGHT_SERVICE_H_

#include "lib/base/executor.h"
#include "polku/v1/insight.grpc.pb.h"
#include "services/insight/journey_lineage.h"
#include "services/insight/rollup_store.h"

namespace polku::insight {

class InsightServiceImpl final : public v1::InsightService::CallbackService {
 public:
  // `store`, `executor` and `lineage` must outlive every call (drain the
  // server first). Without `lineage`, scorecards across versions keep each
  // touchpoint key as recorded.
  InsightServiceImpl(RollupStore& store, Executor& executor,
                     JourneyLineage* lineage = nullptr)
      : store_(store), executor_(executor), lineage_(lineage) {}

  grpc::ServerUnaryReactor* GetScorecard(grpc::CallbackServerContext* context,
                                         const v1::GetScorecardRequest* request,
                                         v1::Scorecard* response) override;

 private:
  RollupStore& store_;
  Executor& executor_;
  JourneyLineage* const lineage_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_INSIGHT_SERVICE_H_
