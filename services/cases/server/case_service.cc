#include "services/cases/server/case_service.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"
#include "lib/rpc/push_stream.h"
#include "lib/rpc/status.h"
#include "lib/rpc/unary.h"
#include "services/cases/domain/measures.h"
#include "services/cases/domain/recovery.h"
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

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  return out;
}

constexpr absl::Duration kDefaultRecoveryWindow = absl::Hours(24 * 90);
constexpr int64_t kMaxRecoveryWindowSeconds = int64_t{10} * 366 * 86400;
constexpr int kMaxExisting = 500;
constexpr int kDefaultExisting = 50;
// The retry hint's trailing metadata, as the gateway and lib/client read it.
constexpr char kRetryAfterMsTrailer[] = "retry-after-ms";

}  // namespace

// One WatchCases call: the existing cases first (if asked), then every
// change that passes the filter. Changes that arrive before the existing
// cases are sent wait behind them.
class CaseStream final : public rpc::PushStream<v1::WatchCasesResponse> {
 public:
  CaseStream(CaseServiceImpl& service, std::string tenant, CaseFilter filter,
             int existing)
      : PushStream([&service, this] { service.RemoveStream(this); }),
        tenant_(std::move(tenant)),
        filter_(std::move(filter)),
        existing_(existing) {}

  bool Wants(const CaseChange& change) const {
    return change.tenant == tenant_ &&
           (PassesFilter(filter_, change.after) ||
            (change.before.has_value() &&
             PassesFilter(filter_, *change.before)));
  }

  // Pinned by the caller.
  void Deliver(const CaseChange& change) {
    absl::MutexLock lock(&initial_mu_);
    for (const v1::AuditEntry& entry : change.entries) {
      v1::WatchCasesResponse update;
      *update.mutable_case_() = change.after;
      *update.mutable_change() = entry;
      if (initial_sent_) {
        Send(std::move(update));
      } else if (held_.size() >= kMaxHeld) {
        // As far behind as PushStream lets a subscriber fall: SendInitial
        // ends the watch as PushStream would.
        overflowed_ = true;
        held_.clear();
        return;
      } else if (!overflowed_) {
        held_.push_back(std::move(update));
      }
    }
  }

  // Pinned by the caller; on the executor.
  void SendInitial(CaseStore& store) {
    std::vector<v1::Case> existing;
    if (existing_ > 0) {
      absl::StatusOr<v1::ListCasesResponse> page =
          store.ListCases(tenant_, filter_, existing_, "");
      if (!page.ok()) {
        End(rpc::ToGrpcStatus(page.status()));
        return;
      }
      existing.assign(page->cases().begin(), page->cases().end());
    }
    absl::MutexLock lock(&initial_mu_);
    if (overflowed_) {
      End(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       absl::StrCat("more than ", kMaxHeld,
                                    " changes arrived while the existing "
                                    "cases were read; watch again")));
      return;
    }
    for (v1::Case& c : existing) {
      v1::WatchCasesResponse update;
      *update.mutable_case_() = std::move(c);
      Send(std::move(update));
    }
    for (v1::WatchCasesResponse& update : held_) Send(std::move(update));
    held_.clear();
    initial_sent_ = true;
  }

 private:
  const std::string tenant_;
  const CaseFilter filter_;
  const int existing_;
  // Changes held while the existing cases are read, at most.
  static constexpr size_t kMaxHeld = rpc::kDefaultMaxPending;
  absl::Mutex initial_mu_;
  bool initial_sent_ ABSL_GUARDED_BY(initial_mu_) = false;
  bool overflowed_ ABSL_GUARDED_BY(initial_mu_) = false;
  std::vector<v1::WatchCasesResponse> held_ ABSL_GUARDED_BY(initial_mu_);
};

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
        std::vector<v1::AuditEntry> entries;
        if (request->business_calendar()) {
          if (!request->case_id().empty() || !request->rule_id().empty()) {
            return absl::InvalidArgumentError(
                "business_calendar: name no case_id or rule_id with it");
          }
          POLKU_ASSIGN_OR_RETURN(entries,
                                 store_.BusinessCalendarTrail(caller.tenant));
        } else {
          POLKU_ASSIGN_OR_RETURN(
              entries, store_.AuditTrail(caller.tenant, request->case_id(),
                                         request->rule_id()));
        }
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
      [this, context, request](const rpc::Caller& caller)
          -> absl::StatusOr<v1::CaseMeasures> {
        v1::ListCasesRequest list;
        list.set_journey(request->journey());
        list.set_rule_id(request->rule_id());
        *list.mutable_created() = request->range();
        POLKU_ASSIGN_OR_RETURN(CaseFilter filter, FilterFromRequest(list));
        const std::string score =
            request->recovery_score().empty() ? "nps" : request->recovery_score();
        if (score != "nps" && score != "csat") {
          return absl::InvalidArgumentError(absl::StrCat(
              "recovery_score: \"", score, "\" is not nps or csat"));
        }
        if (request->recovery_window_seconds() < 0 ||
            request->recovery_window_seconds() > kMaxRecoveryWindowSeconds) {
          // Bounded so anchor + window stays a valid timestamp.
          return absl::InvalidArgumentError(absl::StrCat(
              "recovery_window_seconds: must be 0 (the default, 90 days) or "
              "up to ", kMaxRecoveryWindowSeconds, " (10 years), not ",
              request->recovery_window_seconds()));
        }
        const absl::Duration window =
            request->recovery_window_seconds() > 0
                ? absl::Seconds(request->recovery_window_seconds())
                : kDefaultRecoveryWindow;
        POLKU_ASSIGN_OR_RETURN(std::vector<StoredCase> stored,
                               store_.CasesWithCustomers(caller.tenant, filter));
        std::vector<v1::Case> cases;
        std::vector<RecoverySubject> subjects;
        // Per journey, the span of occurred_at later answers may fall in.
        std::map<std::string, std::pair<absl::Time, absl::Time>> spans;
        for (StoredCase& c : stored) {
          if (std::optional<RecoverySubject> subject =
                  SubjectOf(c.value, c.customer_hash)) {
            auto [it, inserted] = spans.emplace(
                c.value.event().journey(),
                std::pair(subject->anchor, subject->anchor + window));
            if (!inserted) {
              it->second.first = std::min(it->second.first, subject->anchor);
              it->second.second =
                  std::max(it->second.second, subject->anchor + window);
            }
            subjects.push_back(*std::move(subject));
          }
          cases.push_back(std::move(c.value));
        }
        POLKU_ASSIGN_OR_RETURN(v1::CaseMeasures out, ComputeCaseMeasures(cases));
        out.set_recovery_score(score);
        if (options_.events == nullptr || subjects.empty()) return out;
        // Per journey: whose answers there count (a customer's answer in
        // another journey says nothing of this case).
        std::map<std::string, std::set<std::string>> customers;
        for (const RecoverySubject& s : subjects) {
          customers[s.journey].insert(s.customer_hash);
        }
        // Bounded: the reads below are the heavy part (see
        // Options::max_recoveries). Refused rather than waited for, so no
        // executor thread blocks.
        if (!StartRecovery()) {
          const int64_t retry_ms =
              absl::ToInt64Milliseconds(options_.recovery_retry_after);
          context->AddTrailingMetadata(kRetryAfterMsTrailer,
                                       absl::StrCat(retry_ms));
          return absl::ResourceExhaustedError(absl::StrCat(
              "recovery: ", options_.max_recoveries,
              " recovery computations of the measures are running, each "
              "reading months of events from polku-feedback; retry in ",
              retry_ms, " ms"));
        }
        absl::Cleanup end_recovery = [this] { EndRecovery(); };
        // The customers' later answers in the journey of their case, read
        // back from polku-feedback.
        std::vector<LaterAnswer> answers;
        for (const auto& [journey, span] : spans) {
          v1::TimeRange range;
          *range.mutable_start() = ToProto(span.first);
          *range.mutable_end() = ToProto(span.second + absl::Seconds(1));
          POLKU_RETURN_IF_ERROR(options_.events->ForEach(
              caller, journey, range,
              DeadlineOf(*context, options_.downstream_timeout),
              [&, &of_journey = customers[journey]](
                  const v1::StoredEvent& event) {
                if (!of_journey.contains(event.customer_hash())) {
                  return absl::OkStatus();
                }
                const v1::TouchpointEvent& e = event.event();
                if (score == "nps" ? !e.has_nps() : !e.has_csat()) {
                  return absl::OkStatus();
                }
                answers.push_back({event.customer_hash(),
                                   TimeOf(e.occurred_at()),
                                   static_cast<double>(score == "nps" ? e.nps()
                                                                      : e.csat()),
                                   event.journey()});
                return absl::OkStatus();
              }));
        }
        RecoveryEstimate recovery = EstimateRecovery(subjects, answers, window);
        out.set_recovery(recovery.difference);
        out.set_recovery_n_resolved(recovery.n_resolved);
        out.set_recovery_n_not_contacted(recovery.n_not_contacted);
        out.set_recovery_mean_resolved(recovery.mean_resolved);
        out.set_recovery_mean_not_contacted(recovery.mean_not_contacted);
        if (recovery.has_interval) {
          out.mutable_recovery_interval()->set_low(recovery.low);
          out.mutable_recovery_interval()->set_high(recovery.high);
        }
        return out;
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::SetContactConsent(
    grpc::CallbackServerContext* context,
    const v1::SetContactConsentRequest* request,
    v1::SetContactConsentResponse* response) {
  return rpc::RunUnary<v1::SetContactConsentResponse>(
      context, response, executor_,
      [this, context, request](const rpc::Caller& caller)
          -> absl::StatusOr<v1::SetContactConsentResponse> {
        if (request->customer().empty()) {
          return absl::InvalidArgumentError("customer: must not be empty");
        }
        if (options_.customer_keys == nullptr) {
          return absl::UnavailableError(
              "no polku-feedback to hash the customer reference with");
        }
        // The reference is hashed by polku-feedback and forgotten here: it
        // is neither stored nor logged nor answered.
        POLKU_ASSIGN_OR_RETURN(
            std::string hash,
            options_.customer_keys->Hash(
                caller, request->customer(),
                DeadlineOf(*context, options_.downstream_timeout)));
        POLKU_ASSIGN_OR_RETURN(
            int64_t marked,
            store_.SetContactConsent(caller.tenant, ActorOf(*context), hash,
                                     request->contact_allowed()));
        v1::SetContactConsentResponse out;
        out.set_cases(marked);
        return out;
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::SetBusinessCalendar(
    grpc::CallbackServerContext* context,
    const v1::SetBusinessCalendarRequest* request,
    v1::TenantBusinessCalendar* response) {
  return rpc::RunUnary<v1::TenantBusinessCalendar>(
      context, response, executor_,
      [this, context, request](const rpc::Caller& caller) {
        return store_.SetBusinessCalendar(caller.tenant, ActorOf(*context),
                                          request->business_hours());
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::GetBusinessCalendar(
    grpc::CallbackServerContext* context,
    const v1::GetBusinessCalendarRequest*,
    v1::TenantBusinessCalendar* response) {
  return rpc::RunUnary<v1::TenantBusinessCalendar>(
      context, response, executor_, [this](const rpc::Caller& caller) {
        return store_.GetBusinessCalendar(caller.tenant);
      });
}

grpc::ServerWriteReactor<v1::WatchCasesResponse>* CaseServiceImpl::WatchCases(
    grpc::CallbackServerContext* context,
    const v1::WatchCasesRequest* request) {
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  absl::StatusOr<CaseFilter> filter = FilterFromRequest(request->filter());
  int existing = 0;
  absl::Status refused = caller.ok() ? filter.status() : caller.status();
  if (refused.ok() && request->include_existing()) {
    const int size = request->filter().page_size();
    if (size < 0) {
      refused = absl::InvalidArgumentError(
          "filter.page_size: must not be negative");
    }
    existing = size == 0 ? kDefaultExisting : std::min(size, kMaxExisting);
  }
  if (refused.ok() && !request->filter().page_token().empty()) {
    refused = absl::InvalidArgumentError(
        "filter.page_token: a watch does not page; list older cases with "
        "ListCases");
  }
  auto* stream =
      new CaseStream(*this, caller.ok() ? caller->tenant : "",
                     filter.ok() ? *filter : CaseFilter(), existing);
  if (!refused.ok()) {
    stream->End(rpc::ToGrpcStatus(refused));
    return stream;
  }
  bool draining;
  {
    absl::MutexLock lock(&streams_mu_);
    draining = draining_;
    if (!draining) {
      // Registered before the existing cases are read, so no change
      // between the two is lost.
      streams_.insert(stream);
      stream->Pin();
    }
  }
  // Ended outside the lock: ending may run OnDone, which takes it.
  if (draining) {
    stream->End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "server shutting down; watch again"));
    return stream;
  }
  // Not `this`: the executor may run this after the service is gone.
  executor_.Schedule([&store = store_, stream] {
    stream->SendInitial(store);
    stream->Unpin();
  });
  return stream;
}

void CaseServiceImpl::CaseChanged(const CaseChange& change) {
  std::vector<CaseStream*> streams;
  {
    absl::MutexLock lock(&streams_mu_);
    for (CaseStream* stream : streams_) {
      if (!stream->Wants(change)) continue;
      stream->Pin();
      streams.push_back(stream);
    }
  }
  for (CaseStream* stream : streams) {
    stream->Deliver(change);
    stream->Unpin();
  }
}

void CaseServiceImpl::EndStreams() {
  std::vector<CaseStream*> streams;
  {
    absl::MutexLock lock(&streams_mu_);
    draining_ = true;
    for (CaseStream* stream : streams_) {
      stream->Pin();
      streams.push_back(stream);
    }
  }
  // UNAVAILABLE: the client watches again (another replica, or this one
  // after the restart); OK would read as "nothing more will come".
  const grpc::Status shutting_down(grpc::StatusCode::UNAVAILABLE,
                                   "server shutting down; watch again");
  for (CaseStream* stream : streams) {
    stream->End(shutting_down);
    stream->Unpin();
  }
}

bool CaseServiceImpl::StartRecovery() {
  absl::MutexLock lock(&recovery_mu_);
  if (recoveries_ >= options_.max_recoveries) return false;
  ++recoveries_;
  return true;
}

void CaseServiceImpl::EndRecovery() {
  absl::MutexLock lock(&recovery_mu_);
  --recoveries_;
}

void CaseServiceImpl::ResetStreams() {
  std::vector<CaseStream*> streams;
  {
    absl::MutexLock lock(&streams_mu_);
    for (CaseStream* stream : streams_) {
      stream->Pin();
      streams.push_back(stream);
    }
  }
  const grpc::Status lost(grpc::StatusCode::UNAVAILABLE,
                          "this replica fell behind the changes and missed "
                          "some; watch again");
  for (CaseStream* stream : streams) {
    stream->End(lost);
    stream->Unpin();
  }
}

void CaseServiceImpl::RemoveStream(CaseStream* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(stream);
}

}  // namespace polku::cases
