// polku.v1.InsightService over the rollups.
//
// GetScorecard reads only the calling tenant's rollups: the tenant comes
// from the gateway's trusted metadata (rpc::CallerFrom), and a call without
// one is UNAUTHENTICATED, since no internal caller needs a cross-tenant
// scorecard. The query runs on `executor`, never on a gRPC thread.
//
//   polku::Executor executor(4);
//   InsightServiceImpl service(store, executor);
//   rpc::Server::Start({.name = "polku-insight", …, .services = {&service}});
#ifndef POLKU_SERVICES_INSIGHT_INSIGHT_SERVICE_H_
#define POLKU_SERVICES_INSIGHT_INSIGHT_SERVICE_H_

#include "lib/base/executor.h"
#include "polku/v1/insight.grpc.pb.h"
#include "services/insight/rollup_store.h"

namespace polku::insight {

class InsightServiceImpl final : public v1::InsightService::CallbackService {
 public:
  // `store` and `executor` must outlive every call (drain the server first).
  InsightServiceImpl(RollupStore& store, Executor& executor)
      : store_(store), executor_(executor) {}

  grpc::ServerUnaryReactor* GetScorecard(grpc::CallbackServerContext* context,
                                         const v1::GetScorecardRequest* request,
                                         v1::Scorecard* response) override;

 private:
  RollupStore& store_;
  Executor& executor_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_INSIGHT_SERVICE_H_
