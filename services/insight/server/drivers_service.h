// polku.v1.DriversService: key drivers over the ledger (analytics/
// key_drivers.h; docs/drivers.md).
//
// The tenant comes from the gateway's trusted metadata (rpc::CallerFrom); a
// call without one is UNAUTHENTICATED. The journey's definition (touchpoints,
// stages, outcomes, targets) comes from polku-journey through `journeys`
// (UNAVAILABLE without); the analysis runs on `executor`, from the shared
// touch index (analytics/touch_index.h) when one is given and the scope has
// no attribute filters, else from the ledger.
//
//   TouchIndex touches(store, store);
//   DriversServiceImpl drivers(store, executor,
//                              {.journeys = &journeys, .touches = &touches});
//   rpc::Server::Start({…, .services = {&insight, &drivers}});
#ifndef POLKU_SERVICES_INSIGHT_DRIVERS_SERVICE_H_
#define POLKU_SERVICES_INSIGHT_DRIVERS_SERVICE_H_

#include "lib/base/executor.h"
#include "polku/v1/drivers.grpc.pb.h"
#include "services/insight/analytics/key_drivers.h"
#include "services/insight/analytics/touch_index.h"
#include "services/insight/server/journey_source.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

class DriversServiceImpl final : public v1::DriversService::CallbackService {
 public:
  struct Options {
    JourneySource* journeys = nullptr;
    KeyDriverOptions analysis;
    // The touch index of the store (shared with FunnelsService); without,
    // every call scans the ledger.
    TouchIndex* touches = nullptr;
  };

  // `ledger`, `executor` and what `options` points to must outlive every
  // call (drain the server first).
  DriversServiceImpl(LedgerReader& ledger, Executor& executor, Options options)
      : ledger_(ledger), executor_(executor), options_(options) {}

  grpc::ServerUnaryReactor* GetKeyDrivers(
      grpc::CallbackServerContext* context,
      const v1::GetKeyDriversRequest* request,
      v1::KeyDrivers* response) override;

 private:
  LedgerReader& ledger_;
  Executor& executor_;
  const Options options_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_DRIVERS_SERVICE_H_
