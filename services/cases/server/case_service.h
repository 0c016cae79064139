// CaseService (protos/polku/v1/cases.proto) over a CaseStore. Every call is
// answered on the executor (rpc::RunUnary), for the tenant the gateway
// vouched for; a call without one is UNAUTHENTICATED. Who made a change
// (the audit trail's actor) comes from the gateway's `x-polku-actor`
// header, "api" without it.
//
//   CaseServiceImpl service(store, executor, {.events = &events});
//   rpc::Server::Start({.services = {&service}, …});
//
// Not yet served (UNIMPLEMENTED, docs/cases.md): SetContactConsent (the
// customer hash key is polku-feedback's) and WatchCases. GetCaseMeasures
// leaves recovery out.
#ifndef POLKU_SERVICES_CASES_SERVER_CASE_SERVICE_H_
#define POLKU_SERVICES_CASES_SERVER_CASE_SERVICE_H_

#include "absl/time/time.h"
#include "lib/base/executor.h"
#include "polku/v1/cases.grpc.pb.h"
#include "services/cases/server/event_source.h"
#include "services/cases/store/case_store.h"

namespace polku::cases {

// The header the gateway sets to the name of the caller's key.
inline constexpr char kActorHeader[] = "x-polku-actor";

class CaseServiceImpl final : public v1::CaseService::CallbackService {
 public:
  struct Options {
    // Events for CreateCase and DryRunRule; without it they are UNAVAILABLE.
    EventSource* events = nullptr;
    // Deadline of a call to polku-feedback when the caller's is later.
    absl::Duration downstream_timeout = absl::Seconds(30);
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

 private:
  CaseStore& store_;
  Executor& executor_;
  const Options options_;
};

// The ListCases request's filter, checked (INVALID_ARGUMENT naming the
// field).
absl::StatusOr<CaseFilter> FilterFromRequest(const v1::ListCasesRequest& request);

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_SERVER_CASE_SERVICE_H_
