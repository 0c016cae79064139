// polku.v1.InsightService over the rollups.
//
// Every call reads only the calling tenant's data: the tenant comes from the
// gateway's trusted metadata (rpc::CallerFrom), and a call without one is
// UNAUTHENTICATED, since no internal caller needs a cross-tenant answer.
// Queries run on `executor`, never on a gRPC thread. Across every version
// (journey_version 0), touchpoints follow renames: the rename chain comes
// from `lineage`; if that fails, keys are kept as recorded (logged as a
// warning), so a scorecard or trend never depends on polku-journey being up.
// GetConsistency and GetJourneyMap need the journey's definition (stage
// order, channels, targets) from `journeys`, and answer UNAVAILABLE without.
//
// Live streams. WatchScorecard sends the scorecard, then again after the
// feed tailer applies events of that journey (FeedApplied), at most once per
// Options::scorecard_interval and only when as_of_sequence moved and the rows
// changed. WatchAlerts sends the open alerts (initial = true), then each
// alert the monitor opens, changes or clears (AlertChanged). EndStreams
// (rpc::ServerConfig::on_drain) ends both kinds with UNAVAILABLE "server
// shutting down; watch again".
//
//   polku::Executor executor(4);
//   InsightServiceImpl service(store, executor, {.lineage = &lineage,
//                                                .journeys = &journeys});
//   monitor.SetListener([&](auto& tenant, auto& alert) {
//     service.AlertChanged(tenant, alert);
//   });
//   rpc::Server::Start({…, .services = {&service},
//                       .on_drain = [&] { service.EndStreams(); }});
#ifndef POLKU_SERVICES_INSIGHT_INSIGHT_SERVICE_H_
#define POLKU_SERVICES_INSIGHT_INSIGHT_SERVICE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/base/clock.h"
#include "lib/base/executor.h"
#include "polku/v1/insight.grpc.pb.h"
#include "services/insight/server/feed_tailer.h"
#include "services/insight/server/journey_lineage.h"
#include "services/insight/server/journey_source.h"
#include "services/insight/analytics/monitoring.h"
#include "services/insight/store/alert_store.h"
#include "services/insight/store/rollup_reader.h"
#include "services/insight/analytics/scorecard.h"

namespace polku::insight {

class AlertStream;
class ScorecardStream;

class InsightServiceImpl final : public v1::InsightService::CallbackService {
 public:
  struct Options {
    // Rename chains; without, keys stay as recorded.
    JourneyLineage* lineage = nullptr;
    // Journey definitions for GetConsistency and GetJourneyMap.
    JourneySource* journeys = nullptr;
    // Minimum sample and α of consistency tests and journey-map trends.
    MonitoringOptions tests;
    // A live scorecard is recomputed at most this often.
    absl::Duration scorecard_interval = absl::Milliseconds(200);
    Clock* clock = &Clock::Real();
  };

  // `store`, `executor` and what `options` points to must outlive every
  // call (drain the server first).
  InsightServiceImpl(RollupReader& rollups, AlertStore& alerts,
                     Executor& executor, Options options);
  // For a store that is both (RollupStore, MemoryRollupStore).
  template <typename Store>
  InsightServiceImpl(Store& store, Executor& executor, Options options)
      : InsightServiceImpl(static_cast<RollupReader&>(store),
                           static_cast<AlertStore&>(store), executor,
                           options) {}
  template <typename Store>
  InsightServiceImpl(Store& store, Executor& executor)
      : InsightServiceImpl(store, executor, Options()) {}
  ~InsightServiceImpl() override;

  grpc::ServerUnaryReactor* GetScorecard(grpc::CallbackServerContext* context,
                                         const v1::GetScorecardRequest* request,
                                         v1::Scorecard* response) override;
  grpc::ServerUnaryReactor* GetTrend(grpc::CallbackServerContext* context,
                                     const v1::GetTrendRequest* request,
                                     v1::Trend* response) override;
  grpc::ServerUnaryReactor* ListAlerts(grpc::CallbackServerContext* context,
                                       const v1::ListAlertsRequest* request,
                                       v1::ListAlertsResponse* response) override;
  grpc::ServerWriteReactor<v1::AlertUpdate>* WatchAlerts(
      grpc::CallbackServerContext* context,
      const v1::WatchAlertsRequest* request) override;
  grpc::ServerUnaryReactor* GetConsistency(
      grpc::CallbackServerContext* context,
      const v1::GetConsistencyRequest* request,
      v1::Consistency* response) override;
  grpc::ServerWriteReactor<v1::Scorecard>* WatchScorecard(
      grpc::CallbackServerContext* context,
      const v1::GetScorecardRequest* request) override;
  grpc::ServerUnaryReactor* GetJourneyMap(
      grpc::CallbackServerContext* context,
      const v1::GetJourneyMapRequest* request,
      v1::JourneyMap* response) override;

  // FeedTailer::Options::on_applied: marks the live scorecards of the
  // changed journeys for a refresh. Never blocks on a query.
  void FeedApplied(const FeedChanges& changes);
  // AlertMonitor's listener: sends the alert to the tenant's WatchAlerts
  // streams that watch its journey.
  void AlertChanged(const std::string& tenant, const v1::Alert& alert);
  // rpc::ServerConfig::on_drain: ends every stream with UNAVAILABLE (its
  // client watches again, elsewhere or after the restart); new streams are
  // refused the same way.
  void EndStreams();
  // Stops the thread that refreshes live scorecards, so nothing new reaches
  // the executor: call once the server drained, before the executor is
  // destroyed (its queued tasks still use this service). Idempotent.
  void Stop();

  // Open streams (for tests).
  int open_streams() const;

 private:
  friend class AlertStream;
  friend class ScorecardStream;

  // The rename chain for a query across versions; empty if not needed or
  // polku-journey cannot tell (logged).
  TouchpointSuccessors SuccessorsFor(const std::string& tenant,
                                     const std::string& journey,
                                     int32_t journey_version);
  // Recomputes the marked live scorecards, at most once per interval.
  void RunScorecardPump();
  void RemoveStream(AlertStream* stream);
  void RemoveStream(ScorecardStream* stream);

  RollupReader& store_;
  AlertStore& alerts_;
  Executor& executor_;
  const Options options_;

  mutable absl::Mutex streams_mu_;
  std::set<AlertStream*> alert_streams_ ABSL_GUARDED_BY(streams_mu_);
  // Live scorecards → marked for a refresh.
  std::map<ScorecardStream*, bool> scorecard_streams_ ABSL_GUARDED_BY(streams_mu_);
  bool any_marked_ ABSL_GUARDED_BY(streams_mu_) = false;
  bool draining_ ABSL_GUARDED_BY(streams_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(streams_mu_) = false;
  std::thread pump_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_INSIGHT_SERVICE_H_
