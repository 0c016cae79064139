// CaseService (protos/polku/v1/cases.proto) over a CaseStore. Every call is
// answered on the executor (rpc::RunUnary), for the tenant the gateway
// vouched for; a call without one is UNAUTHENTICATED. Who made a change
// (the audit trail's actor) comes from the gateway's `x-polku-actor`
// header, "api" without it (a direct call; through the gateway there is
// always one: docs/security.md).
//
//   CaseServiceImpl service(store, executor, {.events = &events,
//                                             .customer_keys = &keys});
//   ChangeFollower follower(store,
//                           [&](const CaseChange& c) { service.CaseChanged(c); },
//                           [&] { service.ResetStreams(); });
//   follower.Start();
//   rpc::Server::Start({.services = {&service},
//                       .on_drain = [&] { service.EndStreams(); }});
//
// WatchCases sends what the follower reads from the store's change
// sequence: the changes every replica on the database commits. Its
// subscribers are lib/rpc's PushStream: bounded, ended with UNAVAILABLE on
// drain.
#ifndef POLKU_SERVICES_CASES_SERVER_CASE_SERVICE_H_
#define POLKU_SERVICES_CASES_SERVER_CASE_SERVICE_H_

#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/base/executor.h"
#include "lib/rpc/metadata.h"
#include "polku/v1/cases.grpc.pb.h"
#include "services/cases/server/customer_keys.h"
#include "services/cases/server/event_source.h"
#include "services/cases/store/case_store.h"

namespace polku::cases {

// The header the gateway sets to who acted (lib/rpc/metadata.h).
using rpc::kActorHeader;

class CaseStream;

class CaseServiceImpl final : public v1::CaseService::CallbackService {
 public:
  struct Options {
    // Events for CreateCase and DryRunRule; without it they are UNAVAILABLE.
    // And recovery in GetCaseMeasures (left out without it).
    EventSource* events = nullptr;
    // Customer hashes for SetContactConsent; without it UNAVAILABLE.
    CustomerKeys* customer_keys = nullptr;
    // Deadline of a call to polku-feedback when the caller's is later.
    absl::Duration downstream_timeout = absl::Seconds(30);
    // GetCaseMeasures' recovery computations running at once, at most: each
    // reads up to its range plus the window (90 days) of events from
    // polku-feedback on the shared executor, so more of them could starve
    // case writes. A call past the limit is RESOURCE_EXHAUSTED with the
    // trailing metadata `retry-after-ms` (the gateway's Retry-After).
    int max_recoveries = 2;
    absl::Duration recovery_retry_after = absl::Seconds(2);
  };

  // `store`, `executor` and `options.events` must outlive the service.
  CaseServiceImpl(CaseStore& store, Executor& executor, Options options)
      : store_(store), executor_(executor), options_(options) {}

  grpc::ServerUnaryReactor* CreateRule(grpc::CallbackServerContext* context,
                                       const v1::CreateRuleRequest* request,
                                       v1::CaseRule* response) override;
  grpc::ServerUnaryReactor* UpdateRule(grpc::CallbackServerContext* context,
                                       const v1::UpdateRuleRequest* request,
                                       v1::CaseRule* response) override;
  grpc::ServerUnaryReactor* ListRules(grpc::CallbackServerContext* context,
                                      const v1::ListRulesRequest* request,
                                      v1::ListRulesResponse* response) override;
  grpc::ServerUnaryReactor* DryRunRule(
      grpc::CallbackServerContext* context,
      const v1::DryRunRuleRequest* request,
      v1::DryRunRuleResponse* response) override;
  grpc::ServerUnaryReactor* CreateCase(grpc::CallbackServerContext* context,
                                       const v1::CreateCaseRequest* request,
                                       v1::Case* response) override;
  grpc::ServerUnaryReactor* GetCase(grpc::CallbackServerContext* context,
                                    const v1::GetCaseRequest* request,
                                    v1::Case* response) override;
  grpc::ServerUnaryReactor* ListCases(grpc::CallbackServerContext* context,
                                      const v1::ListCasesRequest* request,
                                      v1::ListCasesResponse* response) override;
  grpc::ServerUnaryReactor* UpdateCase(grpc::CallbackServerContext* context,
                                       const v1::UpdateCaseRequest* request,
                                       v1::Case* response) override;
  grpc::ServerUnaryReactor* AddComment(grpc::CallbackServerContext* context,
                                       const v1::AddCommentRequest* request,
                                       v1::Case* response) override;
  grpc::ServerUnaryReactor* ListAuditEntries(
      grpc::CallbackServerContext* context,
      const v1::ListAuditEntriesRequest* request,
      v1::ListAuditEntriesResponse* response) override;
  grpc::ServerUnaryReactor* GetCaseMeasures(
      grpc::CallbackServerContext* context,
      const v1::GetCaseMeasuresRequest* request,
      v1::CaseMeasures* response) override;
  grpc::ServerUnaryReactor* SetContactConsent(
      grpc::CallbackServerContext* context,
      const v1::SetContactConsentRequest* request,
      v1::SetContactConsentResponse* response) override;
  grpc::ServerUnaryReactor* SetBusinessCalendar(
      grpc::CallbackServerContext* context,
      const v1::SetBusinessCalendarRequest* request,
      v1::TenantBusinessCalendar* response) override;
  grpc::ServerUnaryReactor* GetBusinessCalendar(
      grpc::CallbackServerContext* context,
      const v1::GetBusinessCalendarRequest* request,
      v1::TenantBusinessCalendar* response) override;
  grpc::ServerWriteReactor<v1::WatchCasesResponse>* WatchCases(
      grpc::CallbackServerContext* context,
      const v1::WatchCasesRequest* request) override;

  // A committed change (the store's listener): queued to every watcher of
  // the tenant whose filter the case passes before or after. Never blocks.
  void CaseChanged(const CaseChange& change);
  // Ends every watch with UNAVAILABLE and refuses new ones (on drain).
  void EndStreams();
  // Ends every watch with UNAVAILABLE but takes new ones: the follower
  // lost changes, so the watches would have gaps (watch again).
  void ResetStreams();

 private:
  friend class CaseStream;
  void RemoveStream(CaseStream* stream);

  // A recovery computation's place (Options::max_recoveries); false when
  // all are taken.
  bool StartRecovery();
  void EndRecovery();

  CaseStore& store_;
  Executor& executor_;
  const Options options_;
  absl::Mutex recovery_mu_;
  int recoveries_ ABSL_GUARDED_BY(recovery_mu_) = 0;
  absl::Mutex streams_mu_;
  std::set<CaseStream*> streams_ ABSL_GUARDED_BY(streams_mu_);
  bool draining_ ABSL_GUARDED_BY(streams_mu_) = false;
};

// The ListCases request's filter, checked (INVALID_ARGUMENT naming the
// field).
absl::StatusOr<CaseFilter> FilterFromRequest(const v1::ListCasesRequest& request);

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_SERVER_CASE_SERVICE_H_
