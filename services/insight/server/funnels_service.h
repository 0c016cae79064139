// polku.v1.FunnelsService (protos/polku/v1/funnels.proto) over the ledger.
//
// The caller's tenant comes from the gateway's trusted metadata; a call
// without one is UNAUTHENTICATED. Each call runs on `executor`: it asks
// `journeys` for the map (stage order, optional stages; the version the
// scope names, or the latest) and answers from the shared in-memory touch
// index (analytics/touch_index.h, brought up to date from the ledger on each
// call), or from the ledger for attribute filters and breakdowns (and
// without an index).
//
//   TouchIndex touches(store, store);
//   FunnelsServiceImpl funnels(store, executor,
//                              {.journeys = &journeys, .touches = &touches});
//   rpc::Server::Start({…, .services = {&insight, &funnels}});
#ifndef POLKU_SERVICES_INSIGHT_SERVER_FUNNELS_SERVICE_H_
#define POLKU_SERVICES_INSIGHT_SERVER_FUNNELS_SERVICE_H_

#include "lib/base/clock.h"
#include "lib/base/executor.h"
#include "polku/v1/funnels.grpc.pb.h"
#include "services/insight/analytics/touch_index.h"
#include "services/insight/server/journey_source.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

class FunnelsServiceImpl final : public v1::FunnelsService::CallbackService {
 public:
  struct Options {
    // Journey definitions; without, calls are UNAVAILABLE.
    JourneySource* journeys = nullptr;
    // "Now", for a range without an end.
    Clock* clock = &Clock::Real();
    // The touch index of the store (shared with DriversService); without,
    // every call reads the ledger.
    TouchIndex* touches = nullptr;
  };

  // `ledger`, `executor` and what `options` points to must outlive every
  // call (drain the server first).
  FunnelsServiceImpl(LedgerReader& ledger, Executor& executor, Options options)
      : ledger_(ledger), executor_(executor), options_(options) {}

  grpc::ServerUnaryReactor* GetFunnel(grpc::CallbackServerContext* context,
                                      const v1::GetFunnelRequest* request,
                                      v1::Funnel* response) override;
  grpc::ServerUnaryReactor* GetPaths(grpc::CallbackServerContext* context,
                                     const v1::GetPathsRequest* request,
                                     v1::Paths* response) override;

 private:
  // The journey `scope` names, for the caller's tenant.
  absl::StatusOr<v1::Journey> JourneyOf(const std::string& tenant,
                                        const v1::Scope& scope);

  LedgerReader& ledger_;
  Executor& executor_;
  const Options options_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_SERVER_FUNNELS_SERVICE_H_
