#include "services/cases/server/case_service.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/rpc/unary.h"
#include "services/cases/domain/measures.h"
#include "services/cases/domain/proto_convert.h"
#include "services/cases/domain/rule_match.h"

namespace polku::cases {
namespace {

std::string ActorOf(const grpc::CallbackServerContext& context) {
  std::string actor = rpc::ClientMetadata(context, kActorHeader);
  return actor.empty() ? "api" : actor;
}

absl::Time DeadlineOf(const grpc::CallbackServerContext& context,
                      absl::Duration cap) {
  return std::min(absl::FromChrono(context.deadline()), absl::Now() + cap);
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace

absl::StatusOr<CaseFilter> FilterFromRequest(
    const v1::ListCasesRequest& request) {
  CaseFilter filter;
  for (int i = 0; i < request.states_size(); ++i) {
    const int state = request.states(i);
    if (state == v1::CASE_STATE_UNSPECIFIED || !v1::CaseState_IsValid(state)) {
      return absl::InvalidArgumentError(
          absl::StrCat("states[", i, "]: not a case state"));
    }
    filter.states.push_back(static_cast<v1::CaseState>(state));
  }
  filter.owner_team = request.owner_team();
  filter.assignee = request.assignee();
  filter.rule_id = request.rule_id();
  filter.journey = request.journey();
  if (request.created().has_start()) {
    filter.created_from = TimeOf(request.created().start());
  }
  if (request.created().has_end()) {
    filter.created_to = TimeOf(request.created().end());
  }
  filter.breached_only = request.breached_only();
  return filter;
}

grpc::ServerUnaryReactor* CaseServiceImpl::CreateRule(
    grpc::CallbackServerContext* context, const v1::CreateRuleRequest* request,
    v1::CaseRule* response) {
  return rpc::RunUnary<v1::CaseRule>(
      context, response, executor_,
      [this, context, request](const rpc::Caller& caller) {
        return store_.CreateRule(caller.tenant, ActorOf(*context),
                                 request->rule());
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::UpdateRule(
    grpc::CallbackServerContext* context, const v1::UpdateRuleRequest* request,
    v1::CaseRule* response) {
  return rpc::RunUnary<v1::CaseRule>(
      context, response, executor_,
      [this, context, request](const rpc::Caller& caller) {
        return store_.UpdateRule(caller.tenant, ActorOf(*context),
                                 request->rule(), request->update_mask());
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListRules(
    grpc::CallbackServerContext* context, const v1::ListRulesRequest* request,
    v1::ListRulesResponse* response) {
  return rpc::RunUnary<v1::ListRulesResponse>(
      context, response, executor_,
      [this, request](const rpc::Caller& caller)
          -> absl::StatusOr<v1::ListRulesResponse> {
        POLKU_ASSIGN_OR_RETURN(std::vector<v1::CaseRule> rules,
                               store_.ListRules(caller.tenant,
                                                request->journey()));
        v1::ListRulesResponse out;
        for (auto& rule : rules) *out.add_rules() = std::move(rule);
        return out;
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::DryRunRule(
    grpc::CallbackServerContext* context, const v1::DryRunRuleRequest* request,
    v1::DryRunRuleResponse* response) {
  return rpc::RunUnary<v1::DryRunRuleResponse>(
      context, response, executor_,
      [this, context, request](const rpc::Caller& caller)
          -> absl::StatusOr<v1::DryRunRuleResponse> {
        if (options_.events == nullptr) {
          return absl::UnavailableError("no polku-feedback to read events from");
        }
        v1::CaseRule rule;
        if (request->has_inline_rule()) {
          rule = request->inline_rule();
          absl::Status valid = ValidateRule(rule);
          if (!valid.ok()) {
            return absl::InvalidArgumentError(
                absl::StrCat("inline_", valid.message()));
          }
        } else {
          POLKU_ASSIGN_OR_RETURN(rule,
                                 store_.GetRule(caller.tenant, request->rule_id()));
        }
        if (!request->range().has_start() || !request->range().has_end()) {
          return absl::InvalidArgumentError(
              "range: a dry run needs a start and an end");
        }
        DryRunCounter counter(ConditionsFromProto(rule),
                              rule.period_seconds() > 0
                                  ? absl::Seconds(rule.period_seconds())
                                  : absl::Hours(24 * 30));
        POLKU_RETURN_IF_ERROR(options_.events->ForEach(
            caller, rule.journey(), request->range(),
            DeadlineOf(*context, options_.downstream_timeout),
            [&](const v1::StoredEvent& event) {
              counter.Add(event);
              return absl::OkStatus();
            }));
        v1::DryRunRuleResponse out;
        out.set_cases(counter.cases());
        out.set_matched_events(counter.matched());
        out.set_scanned_events(counter.scanned());
        return out;
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::CreateCase(
    grpc::CallbackServerContext* context, const v1::CreateCaseRequest* request,
    v1::Case* response) {
  return rpc::RunUnary<v1::Case>(
      context, response, executor_,
      [this, context, request](const rpc::Caller& caller)
          -> absl::StatusOr<v1::Case> {
        if (options_.events == nullptr) {
          return absl::UnavailableError("no polku-feedback to read events from");
        }
        POLKU_ASSIGN_OR_RETURN(
            v1::StoredEvent event,
            options_.events->Event(
                caller, request->event_sequence(),
                DeadlineOf(*context, options_.downstream_timeout)));
        return store_.CreateCase(caller.tenant, ActorOf(*context), event,
                                 *request);
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::GetCase(
    grpc::CallbackServerContext* context, const v1::GetCaseRequest* request,
    v1::Case* response) {
  return rpc::RunUnary<v1::Case>(
      context, response, executor_, [this, request](const rpc::Caller& caller) {
        return store_.GetCase(caller.tenant, request->case_id());
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListCases(
    grpc::CallbackServerContext* context, const v1::ListCasesRequest* request,
    v1::ListCasesResponse* response) {
  return rpc::RunUnary<v1::ListCasesResponse>(
      context, response, executor_,
      [this, request](const rpc::Caller& caller)
          -> absl::StatusOr<v1::ListCasesResponse> {
        POLKU_ASSIGN_OR_RETURN(CaseFilter filter, FilterFromRequest(*request));
        return store_.ListCases(caller.tenant, filter, request->page_size(),
                                request->page_token());
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::UpdateCase(
    grpc::CallbackServerContext* context, const v1::UpdateCaseRequest* request,
    v1::Case* response) {
  return rpc::RunUnary<v1::Case>(
      context, response, executor_,
      [this, context, request](const rpc::Caller& caller) {
        return store_.UpdateCase(caller.tenant, ActorOf(*context),
                                 request->case_(), request->update_mask());
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::AddComment(
    grpc::CallbackServerContext* context, const v1::AddCommentRequest* request,
    v1::Case* response) {
  return rpc::RunUnary<v1::Case>(
      context, response, executor_,
      [this, context, request](const rpc::Caller& caller) {
        return store_.AddComment(caller.tenant, ActorOf(*context),
                                 request->case_id(), request->text());
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ListAuditEntries(
    grpc::CallbackServerContext* context,
    const v1::ListAuditEntriesRequest* request,
    v1::ListAuditEntriesResponse* response) {
  return rpc::RunUnary<v1::ListAuditEntriesResponse>(
      context, response, executor_,
      [this, request](const rpc::Caller& caller)
          -> absl::StatusOr<v1::ListAuditEntriesResponse> {
        POLKU_ASSIGN_OR_RETURN(
            std::vector<v1::AuditEntry> entries,
            store_.AuditTrail(caller.tenant, request->case_id(),
                              request->rule_id()));
        // A case's trail is short: one page, whatever page_size says.
        v1::ListAuditEntriesResponse out;
        for (auto& e : entries) *out.add_entries() = std::move(e);
        return out;
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::GetCaseMeasures(
    grpc::CallbackServerContext* context,
    const v1::GetCaseMeasuresRequest* request, v1::CaseMeasures* response) {
  return rpc::RunUnary<v1::CaseMeasures>(
      context, response, executor_,
      [this, request](const rpc::Caller& caller)
          -> absl::StatusOr<v1::CaseMeasures> {
        v1::ListCasesRequest list;
        list.set_journey(request->journey());
        list.set_rule_id(request->rule_id());
        *list.mutable_created() = request->range();
        POLKU_ASSIGN_OR_RETURN(CaseFilter filter, FilterFromRequest(list));
        std::vector<v1::Case> cases;
        std::string token;
        do {
          POLKU_ASSIGN_OR_RETURN(
              v1::ListCasesResponse page,
              store_.ListCases(caller.tenant, filter, 500, token));
          for (auto& c : *page.mutable_cases()) cases.push_back(std::move(c));
          token = page.next_page_token();
        } while (!token.empty());
        return ComputeCaseMeasures(cases);
      });
}

}  // namespace polku::cases
