// polku.v1.FunnelsService (protos/polku/v1/funnels.proto) over the ledger.
//
// The caller's tenant comes from the gateway's trusted metadata; a call
// without one is UNAUTHENTICATED. Each call runs on `executor`: it asks
// `journeys` for the map (stage order, optional stages; the version the
// scope names, or the latest) and answers from the funnels' in-memory index
// (analytics/funnel_index.h, brought up to date from the ledger on each
// call), or from the ledger for attribute filters and breakdowns.
//
//   FunnelsServiceImpl funnels(store, executor, {.journeys = &journeys});
//   rpc::Server::Start({…, .services = {&insight, &funnels}});
#ifndef POLKU_SERVICES_INSIGHT_SERVER_FUNNELS_SERVICE_H_
#define POLKU_SERVICES_INSIGHT_SERVER_FUNNELS_SERVICE_H_

#include "lib/base/clock.h"
#include "lib/base/executor.h"
#include "polku/v1/funnels.grpc.pb.h"
#include "services/insight/analytics/funnel_index.h"
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
  };

  // `rollups`, `ledger` (one store), `executor` and what `options` points
  // to must outlive every call (drain the server first).
  FunnelsServiceImpl(RollupReader& rollups, LedgerReader& ledger,
                     Executor& executor, Options options)
      : ledger_(ledger),
        executor_(executor),
        options_(options),
        index_(rollups, ledger) {}
  // For a store that is both (RollupStore, MemoryRollupStore).
  template <typename Store>
  FunnelsServiceImpl(Store& store, Executor& executor, Options options)
      : FunnelsServiceImpl(static_cast<RollupReader&>(store),
                           static_cast<LedgerReader&>(store), executor,
                           options) {}

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
  FunnelIndex index_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_SERVER_FUNNELS_SERVICE_H_
