// In-process stand-ins for polku-feedback, polku-journey and polku-insight,
// for the gateway's tests. They answer from the request and from the
// trusted metadata they received, so a test sees exactly what the gateway
// forwarded:
//   * every answer names the caller as "tenant=<t> channel=<c>" (in
//     EventResult.reason, the suffix of Scorecard.journey, Journey.name,
//     and Journey.description for CreateJourney);
//   * SubmitEvents with a first event_id "error:<code>" fails with that
//     numeric gRPC code and the message "fake failure" (RESOURCE_EXHAUSTED
//     with the trailer retry-after-ms: 1500, like a full writer queue);
//     with a first event_id "garbled" it answers bytes that do not parse;
//   * ListJourneys answers one journey whose description is the view the
//     request asked for ("view=JOURNEY_VIEW_BASIC");
//   * WatchEvents sends three messages and ends, or with from_sequence = -1
//     sends one and waits to be cancelled, with -2 sends one, then one that
//     does not parse, and waits, with -3 sends one that does not parse and
//     waits;
//   * ExportEvents sends two pages (events e-1, e-2; then e-3), each event's
//     journey the request's journey, its comment "tenant=<t>, channel=<c>",
//     its occurred_at the request's range start.
#ifndef POLKU_GATEWAY_FAKE_BACKENDS_H_
#define POLKU_GATEWAY_FAKE_BACKENDS_H_

#include <grpcpp/server.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gateway/admin_api.h"
#include "gateway/backends.h"
#include "gateway/keys/key_store.h"
#include "gateway/keys/sqlite_key_store.h"
#include "lib/base/executor.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"

namespace polku::gateway::testing {

// An in-memory key store with the tenant "demo", its admin key (admin,
// journeys:read, journeys:write, insights:read) and a shop key
// (events:write on "shop"), and what the proxy needs to serve AdminService.
struct TestKeys {
  TestKeys();

  std::unique_ptr<keys::SqliteKeyStore> store;
  std::string admin_key;
  std::string shop_key;
  // Only insights:read, as a dashboard has.
  std::string insights_key;
  // insights:read and act_as, named "helpdesk": a tool that names who acts.
  std::string desk_key;
  AdminApi admin;
  Executor executor{1};
};

// What a backend saw of one call.
struct SeenCall {
  std::string method;
  // Every value of each header, to catch duplicates a client smuggled in.
  std::vector<std::string> tenants;
  std::vector<std::string> channels;
  std::vector<std::string> request_ids;
  std::vector<std::string> authorizations;
  std::vector<std::string> actors;
  std::chrono::system_clock::time_point deadline;
};

// Calls seen by all fakes, in arrival order.
class CallLog {
 public:
  void Record(const grpc::CallbackServerContext& context,
              const std::string& method);
  std::vector<SeenCall> calls() const;
  SeenCall last() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<SeenCall> calls_ ABSL_GUARDED_BY(mu_);
};

// "tenant=<t> channel=<c>" from the context's metadata.
std::string DescribeCaller(const grpc::CallbackServerContext& context);

class FakeFeedback : public v1::FeedbackService::CallbackService {
 public:
  explicit FakeFeedback(CallLog& log) : log_(log) {}

  grpc::ServerUnaryReactor* SubmitEvents(
      grpc::CallbackServerContext* context,
      const v1::SubmitEventsRequest* request,
      v1::SubmitEventsResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchEventsResponse>* WatchEvents(
      grpc::CallbackServerContext* context,
      const v1::WatchEventsRequest* request) override;
  grpc::ServerWriteReactor<v1::ExportEventsResponse>* ExportEvents(
      grpc::CallbackServerContext* context,
      const v1::ExportEventsRequest* request) override;

  // Notified when an endless WatchEvents is cancelled.
  absl::Notification watch_cancelled;

 private:
  CallLog& log_;
};

class FakeJourney : public v1::JourneyService::CallbackService {
 public:
  explicit FakeJourney(CallLog& log) : log_(log) {}

  grpc::ServerUnaryReactor* CreateJourney(
      grpc::CallbackServerContext* context,
      const v1::CreateJourneyRequest* request, v1::Journey* response) override;
  grpc::ServerUnaryReactor* GetJourney(grpc::CallbackServerContext* context,
                                       const v1::GetJourneyRequest* request,
                                       v1::Journey* response) override;
  grpc::ServerUnaryReactor* ListJourneys(
      grpc::CallbackServerContext* context,
      const v1::ListJourneysRequest* request,
      v1::ListJourneysResponse* response) override;
  grpc::ServerUnaryReactor* PublishJourney(
      grpc::CallbackServerContext* context,
      const v1::PublishJourneyRequest* request, v1::Journey* response) override;
  grpc::ServerUnaryReactor* ListChannels(
      grpc::CallbackServerContext* context,
      const v1::ListChannelsRequest* request,
      v1::ListChannelsResponse* response) override;

 private:
  CallLog& log_;
};

class FakeInsight : public v1::InsightService::CallbackService {
 public:
  explicit FakeInsight(CallLog& log) : log_(log) {}

  // Echoes the request: journey "<journey> tenant=… channel=…", range,
  // group_by, and journey_version as as_of_sequence.
  grpc::ServerUnaryReactor* GetScorecard(grpc::CallbackServerContext* context,
                                         const v1::GetScorecardRequest* request,
                                         v1::Scorecard* response) override;
  // Echoes the request: journey "<journey> tenant=… channel=…", range, and
  // journey_version.
  grpc::ServerUnaryReactor* GetJourneyMap(
      grpc::CallbackServerContext* context,
      const v1::GetJourneyMapRequest* request,
      v1::JourneyMap* response) override;

 private:
  CallLog& log_;
};

// The three fakes on one server at 127.0.0.1:<free port>.
class FakeBackends {
 public:
  FakeBackends();
  ~FakeBackends();

  // Channels to the fakes, as the gateway makes them.
  Backends Connect() const;
  int port() const { return port_; }
  // grpc.health.v1 Check calls answered so far (by all three fakes).
  int health_checks() const { return health_checks_.load(); }

  CallLog log;
  FakeFeedback feedback{log};
  FakeJourney journey{log};
  FakeInsight insight{log};

 private:
  std::atomic<int> health_checks_{0};
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace polku::gateway::testing

#endif  // POLKU_GATEWAY_FAKE_BACKENDS_H_
