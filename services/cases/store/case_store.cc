#include "services/cases/store/case_store.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/base/status_macros.h"
#include "lib/crypto/crypto.h"
#include "services/cases/domain/business_calendar.h"
#include "services/cases/domain/case_state.h"
#include "services/cases/domain/proto_convert.h"
#include "services/cases/domain/rule_match.h"
#include "services/cases/domain/sla.h"

namespace polku::cases {
namespace {

constexpr absl::Duration kDefaultPeriod = absl::Hours(24 * 30);
constexpr int kMaxPageSize = 500;
constexpr int kDefaultPageSize = 50;

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp out;
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / 1'000'000;
  int64_t rest = micros % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    --seconds;
  }
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(rest * 1000));
  return out;
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

int64_t Micros(const google::protobuf::Timestamp& t) {
  return absl::ToUnixMicros(FromProto(t));
}

v1::CaseEvent CaseEventOf(const v1::StoredEvent& stored) {
  const v1::TouchpointEvent& e = stored.event();
  v1::CaseEvent out;
  out.set_sequence(stored.sequence());
  out.set_journey(stored.journey());
  out.set_journey_version(stored.journey_version());
  out.set_touchpoint(e.touchpoint());
  out.set_stage(stored.stage());
  out.set_channel(stored.channel());
  *out.mutable_occurred_at() = e.occurred_at();
  if (e.has_csat()) out.set_csat(e.csat());
  if (e.has_nps()) out.set_nps(e.nps());
  if (e.has_ces()) out.set_ces(e.ces());
  out.set_comment(e.comment());
  out.set_language(e.language());
  out.mutable_attributes()->insert(e.attributes().begin(),
                                   e.attributes().end());
  return out;
}

// Whether a case's rule gave it any SLA clock.
bool HasSla(const v1::CaseSla& sla) {
  return sla.first_contact_seconds() > 0 || sla.resolution_seconds() > 0;
}

// Whether a case's SLA clock runs: an SLA and the hours it runs in (a
// rule's case has both; see WithTenantCalendar for the one exception).
bool RunsClock(const v1::CaseSla& sla) {
  return HasSla(sla) && HasBusinessHours(sla);
}

absl::StatusOr<BusinessCalendar> CalendarOf(const v1::CaseSla& sla) {
  POLKU_ASSIGN_OR_RETURN(BusinessHours hours,
                         HoursFromProto(sla.business_hours()));
  return BusinessCalendar::Create(hours);
}

// Each clock with its own pauses, cut where its SLA was met (domain/sla.h).
absl::StatusOr<SlaTimes> SlaTimesOf(const v1::Case& c) {
  if (!RunsClock(c.sla_policy())) return SlaTimes{};
  POLKU_ASSIGN_OR_RETURN(BusinessCalendar calendar, CalendarOf(c.sla_policy()));
  return ComputeCaseSla(calendar, PolicyFromProto(c.sla_policy()),
                        FromProto(c.create_time()), HistoryFromProto(c));
}

// Marks or unmarks a case no-contact at `now`, recording the stretch
// that stops its first-contact clock (a case no-contact from its opening
// has it implicitly: HistoryFromProto). The caller refreshes the due times.
void SetNoContact(v1::Case& c, bool no_contact, absl::Time now) {
  if (c.no_contact() == no_contact) return;
  v1::CaseSlaStatus& sla = *c.mutable_sla();
  const bool open_stretch =
      sla.no_contact_pauses_size() > 0 &&
      !sla.no_contact_pauses(sla.no_contact_pauses_size() - 1).has_end();
  if (no_contact) {
    *sla.add_no_contact_pauses()->mutable_start() = ToProto(now);
  } else if (open_stretch) {
    *sla.mutable_no_contact_pauses(sla.no_contact_pauses_size() - 1)
         ->mutable_end() = ToProto(now);
  } else {
    // No-contact since its opening (or, before stretches were recorded,
    // since its first contact).
    v1::TimeRange& stretch = *sla.add_no_contact_pauses();
    *stretch.mutable_start() = sla.has_first_contact_time()
                                   ? sla.first_contact_time()
                                   : c.create_time();
    *stretch.mutable_end() = ToProto(now);
  }
  c.set_no_contact(no_contact);
}

// Sets the due times from the policy, the opening time and the pauses.
absl::Status RefreshDueTimes(v1::Case& c) {
  POLKU_ASSIGN_OR_RETURN(SlaTimes times, SlaTimesOf(c));
  v1::CaseSlaStatus& sla = *c.mutable_sla();
  auto set = [](absl::Time t, google::protobuf::Timestamp* field,
                auto clear) {
    if (t == absl::InfiniteFuture()) {
      clear();
    } else {
      *field = ToProto(t);
    }
  };
  set(times.first_contact_due, sla.mutable_first_contact_due(),
      [&] { sla.clear_first_contact_due(); });
  set(times.resolution_due, sla.mutable_resolution_due(),
      [&] { sla.clear_resolution_due(); });
  return absl::OkStatus();
}

std::string NextEtag(const std::string& etag) {
  int64_t n = 0;
  (void)absl::SimpleAtoi(etag, &n);
  return absl::StrCat(n + 1);
}

std::string PriorityName(v1::CasePriority p) { return v1::CasePriority_Name(p); }
std::string StateName(v1::CaseState s) { return v1::CaseState_Name(s); }

absl::Status CheckTenant(const std::string& tenant) {
  if (tenant.empty()) {
    return absl::PermissionDeniedError("no tenant: call through the gateway");
  }
  return absl::OkStatus();
}

std::string EncodeToken(int64_t micros, const std::string& case_id) {
  return absl::StrCat(micros, ":", case_id);
}

// A change as the change sequence keeps it: the fields of a message
// {Case before = 1; Case after = 2; string tenant = 3; repeated AuditEntry
// entries = 4;}, written by hand so the public proto stays as it is.
std::string EncodeChange(const CaseChange& change) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    auto field = [&](int number, const std::string& bytes) {
      coded.WriteTag(google::protobuf::internal::WireFormatLite::MakeTag(
          number, google::protobuf::internal::WireFormatLite::
                      WIRETYPE_LENGTH_DELIMITED));
      coded.WriteVarint32(static_cast<uint32_t>(bytes.size()));
      coded.WriteString(bytes);
    };
    if (change.before.has_value()) field(1, change.before->SerializeAsString());
    field(2, change.after.SerializeAsString());
    field(3, change.tenant);
    for (const v1::AuditEntry& entry : change.entries) {
      field(4, entry.SerializeAsString());
    }
  }
  return out;
}

absl::StatusOr<CaseChange> DecodeChange(const std::string& body) {
  const absl::Status bad =
      absl::DataLossError("cases: a stored change that does not parse");
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(body.data()),
      static_cast<int>(body.size()));
  CaseChange change;
  bool has_after = false;
  while (uint32_t tag = in.ReadTag()) {
    uint32_t size = 0;
    std::string bytes;
    if (google::protobuf::internal::WireFormatLite::GetTagWireType(tag) !=
            google::protobuf::internal::WireFormatLite::
                WIRETYPE_LENGTH_DELIMITED ||
        !in.ReadVarint32(&size) || !in.ReadString(&bytes, static_cast<int>(size))) {
      return bad;
    }
    switch (google::protobuf::internal::WireFormatLite::GetTagFieldNumber(tag)) {
      case 1:
        if (!change.before.emplace().ParseFromString(bytes)) return bad;
        break;
      case 2:
        if (!change.after.ParseFromString(bytes)) return bad;
        has_after = true;
        break;
      case 3:
        change.tenant = std::move(bytes);
        break;
      case 4:
        if (!change.entries.emplace_back().ParseFromString(bytes)) return bad;
        break;
      default:
        return bad;
    }
  }
  if (!has_after) return bad;
  return change;
}

}  // namespace

CaseStore::CaseStore(Options options) : options_(std::move(options)) {}

void CaseStore::SetCommitObserver(std::function<void()> observer) {
  absl::MutexLock lock(&observer_mu_);
  observer_ = std::move(observer);
}

void CaseStore::Committed() {
  // Called under the lock (observers do not block), so that once
  // SetCommitObserver(nullptr) returns no call is still running on an
  // observer that is going away.
  absl::MutexLock lock(&observer_mu_);
  if (observer_) observer_();
}

absl::Status CaseStore::AppendChanges(Transaction& txn,
                                      const std::vector<CaseChange>& changes) {
  if (changes.empty()) return absl::OkStatus();
  POLKU_ASSIGN_OR_RETURN(
      const int64_t first,
      txn.ReserveChangeSequences(static_cast<int>(changes.size())));
  for (size_t i = 0; i < changes.size(); ++i) {
    POLKU_RETURN_IF_ERROR(txn.PutChange(first + static_cast<int64_t>(i),
                                        changes[i].tenant,
                                        changes[i].after.case_id(),
                                        EncodeChange(changes[i])));
  }
  const int64_t last = first + static_cast<int64_t>(changes.size()) - 1;
  const int64_t keep = std::max<int64_t>(options_.change_retention, 1);
  if (last > keep) POLKU_RETURN_IF_ERROR(txn.PruneChanges(last - keep));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SequencedChange>> CaseStore::ChangesAfter(
    int64_t after, int limit) {
  if (limit < 1 || limit > 1000) {
    return absl::InvalidArgumentError("limit: 1 to 1000 changes");
  }
  std::vector<Transaction::StoredChange> stored;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(stored, txn.ChangesAfter(after, limit));
    return false;
  }));
  std::vector<SequencedChange> out;
  out.reserve(stored.size());
  for (Transaction::StoredChange& row : stored) {
    SequencedChange& change = out.emplace_back();
    change.sequence = row.sequence;
    if (row.body.empty()) {
      change.erased = true;
      continue;
    }
    POLKU_ASSIGN_OR_RETURN(change.change, DecodeChange(row.body));
  }
  return out;
}

void CaseStore::ListenForCommits(absl::Notification&,
                                 absl::FunctionRef<void()>) {}

absl::StatusOr<int64_t> CaseStore::LastChangeSequence() {
  int64_t last = 0;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(last, txn.LastChangeSequence());
    return false;
  }));
  return last;
}

absl::Status CaseStore::ApplyConsent(Transaction& txn, StoredCase& c) {
  if (c.customer_hash.empty()) return absl::OkStatus();
  POLKU_ASSIGN_OR_RETURN(std::optional<bool> allowed,
                         txn.ContactAllowed(c.tenant, c.customer_hash));
  if (allowed.has_value() && !*allowed) c.value.set_no_contact(true);
  return absl::OkStatus();
}

v1::AuditEntry CaseStore::Audit(const std::string& case_id,
                                const std::string& actor,
                                const std::string& field,
                                const std::string& old_value,
                                const std::string& new_value) const {
  v1::AuditEntry entry;
  entry.set_case_id(case_id);
  entry.set_actor(actor);
  *entry.mutable_time() = ToProto(options_.clock->Now());
  entry.set_field(field);
  entry.set_old_value(old_value);
  entry.set_new_value(new_value);
  return entry;
}

// ---------------------------------------------------------------- the feed

std::string CaseStore::TeamOf(const v1::StoredEvent& event) const {
  return options_.owner_team ? options_.owner_team(event) : std::string();
}

absl::StatusOr<std::optional<StoredCase>> CaseStore::NewRuleCase(
    const v1::CaseRule& rule, const v1::StoredEvent& event,
    const std::string& team) {
  if (rule.disabled() || !Matches(ConditionsFromProto(rule), event)) {
    return std::nullopt;
  }
  const absl::Duration period = rule.period_seconds() > 0
                                    ? absl::Seconds(rule.period_seconds())
                                    : kDefaultPeriod;
  StoredCase c;
  c.tenant = event.tenant();
  c.customer_hash = event.customer_hash();
  c.period_bucket =
      PeriodBucket(FromProto(event.event().occurred_at()), period);
  v1::Case& value = c.value;
  // The id follows from the exactly-once key, so replicas and replays that
  // race to open the case agree on what it is.
  value.set_case_id(absl::StrCat(
      "c", crypto::Sha256Hex(absl::StrCat(c.tenant, "\n", rule.rule_id(), "\n",
                                          c.customer_hash, "\n",
                                          *c.period_bucket))
               .substr(0, 24)));
  value.set_rule_id(rule.rule_id());
  value.set_state(v1::NEW);
  value.set_priority(rule.priority() == v1::CASE_PRIORITY_UNSPECIFIED
                         ? v1::NORMAL
                         : rule.priority());
  value.set_owner_team(team.empty() ? rule.fallback_queue() : team);
  value.set_no_contact(RefusesContact(event));
  *value.mutable_event() = CaseEventOf(event);
  // The clock starts when polku-feedback received the event: the same on
  // every replica and on a replay, unlike the time the feed is read.
  absl::Time opened = event.has_received_at() ? FromProto(event.received_at())
                                              : options_.clock->Now();
  *value.mutable_create_time() = ToProto(opened);
  *value.mutable_update_time() = value.create_time();
  value.set_etag("1");
  *value.mutable_sla_policy() = rule.sla();
  POLKU_RETURN_IF_ERROR(RefreshDueTimes(value));
  return c;
}

absl::Status CaseStore::OpenCasesFor(Transaction& txn,
                                     const v1::StoredEvent& event,
                                     const std::string& team,
                                     std::vector<v1::CaseRule>& rules,
                                     std::vector<CaseChange>& changes) {
  for (const v1::CaseRule& rule : rules) {
    POLKU_ASSIGN_OR_RETURN(std::optional<StoredCase> c,
                           NewRuleCase(rule, event, team));
    if (!c.has_value()) continue;
    POLKU_RETURN_IF_ERROR(ApplyConsent(txn, *c));
    POLKU_ASSIGN_OR_RETURN(bool inserted, txn.InsertCase(*c));
    if (!inserted) continue;  // opened before: a duplicate or a replay
    v1::AuditEntry entry = Audit(c->value.case_id(), kSystemActor, "state",
                                 "", "NEW");
    entry.set_rule_id(rule.rule_id());
    POLKU_RETURN_IF_ERROR(txn.AppendAudit(c->tenant, entry));
    changes.push_back({.tenant = c->tenant, .after = c->value, .entries = {entry}});
  }
  return absl::OkStatus();
}

absl::Status CaseStore::Apply(
    const google::protobuf::RepeatedPtrField<v1::StoredEvent>& events) {
  std::vector<std::string> teams;
  teams.reserve(events.size());
  for (const v1::StoredEvent& event : events) {
    teams.push_back(event.customer_hash().empty() ? "" : TeamOf(event));
  }
  std::vector<CaseChange> changes;
  bool committed = false;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    changes.clear();  // a retried transaction starts again
    committed = false;
    POLKU_ASSIGN_OR_RETURN(Transaction::FeedCheckpoint checkpoint,
                           txn.ReadCheckpoint());
    std::map<std::string, std::vector<v1::CaseRule>> rules;
    int64_t last = checkpoint.sequence;
    for (int i = 0; i < events.size(); ++i) {
      const v1::StoredEvent& event = events[i];
      if (event.sequence() <= last) continue;
      auto it = rules.find(event.tenant());
      if (it == rules.end()) {
        POLKU_ASSIGN_OR_RETURN(std::vector<v1::CaseRule> of_tenant,
                               txn.Rules(event.tenant()));
        POLKU_RETURN_IF_ERROR(
            WithTenantCalendar(txn, event.tenant(), of_tenant));
        it = rules.emplace(event.tenant(), std::move(of_tenant)).first;
      }
      POLKU_RETURN_IF_ERROR(
          OpenCasesFor(txn, event, teams[i], it->second, changes));
      last = event.sequence();
    }
    if (last == checkpoint.sequence) return false;
    POLKU_RETURN_IF_ERROR(txn.SaveCheckpoint(last));
    POLKU_RETURN_IF_ERROR(AppendChanges(txn, changes));
    committed = true;
    return true;
  }));
  if (committed && !changes.empty()) Committed();
  return absl::OkStatus();
}

absl::Status CaseStore::ApplyErasure(const v1::Erasure& erasure) {
  return Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(Transaction::FeedCheckpoint checkpoint,
                           txn.ReadCheckpoint());
    if (erasure.sequence() <= checkpoint.sequence) return false;
    POLKU_RETURN_IF_ERROR(
        txn.EraseCustomer(erasure.tenant(), erasure.customer_hash()).status());
    POLKU_RETURN_IF_ERROR(txn.SaveCheckpoint(erasure.sequence()));
    return true;
  });
}

absl::Status CaseStore::CheckFeed(const std::string& feed_id) {
  return Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(Transaction::FeedCheckpoint checkpoint,
                           txn.ReadCheckpoint());
    if (checkpoint.feed_id == feed_id) return false;
    if (!checkpoint.feed_id.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the cases database follows feed ", checkpoint.feed_id,
          " but polku-feedback serves feed ", feed_id,
          ": its sequences do not continue this checkpoint; delete cases.db "
          "(or the PostgreSQL schema) to rebuild from the new feed"));
    }
    POLKU_RETURN_IF_ERROR(txn.BindFeed(feed_id));
    return true;
  });
}

absl::StatusOr<int64_t> CaseStore::Checkpoint() {
  int64_t sequence = 0;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(Transaction::FeedCheckpoint checkpoint,
                           txn.ReadCheckpoint());
    sequence = checkpoint.sequence;
    return false;
  }));
  return sequence;
}

// ---------------------------------------------------------------- rules

absl::StatusOr<v1::CaseRule> CaseStore::CreateRule(const std::string& tenant,
                                                   const std::string& actor,
                                                   v1::CaseRule rule) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  POLKU_RETURN_IF_ERROR(ValidateRule(rule));
  rule.set_rule_id(absl::StrCat("r", crypto::ToHex(crypto::RandomBytes(8))));
  if (rule.priority() == v1::CASE_PRIORITY_UNSPECIFIED) {
    rule.set_priority(v1::NORMAL);
  }
  *rule.mutable_create_time() = ToProto(options_.clock->Now());
  *rule.mutable_update_time() = rule.create_time();
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_RETURN_IF_ERROR(CheckCalendarOf(txn, tenant, rule));
    POLKU_RETURN_IF_ERROR(txn.PutRule(tenant, rule));
    v1::AuditEntry entry = Audit("", actor, "rule", "",
                                 rule.ShortDebugString());
    entry.set_rule_id(rule.rule_id());
    POLKU_RETURN_IF_ERROR(txn.AppendAudit(tenant, entry));
    return true;
  }));
  return rule;
}

absl::StatusOr<v1::CaseRule> CaseStore::GetRule(const std::string& tenant,
                                                const std::string& rule_id) {
  POLKU_ASSIGN_OR_RETURN(std::vector<v1::CaseRule> rules,
                         ListRules(tenant, ""));
  for (v1::CaseRule& rule : rules) {
    if (rule.rule_id() == rule_id) return std::move(rule);
  }
  return absl::NotFoundError(absl::StrCat("rule ", rule_id, " not found"));
}

absl::StatusOr<std::vector<v1::CaseRule>> CaseStore::ListRules(
    const std::string& tenant, const std::string& journey) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  std::vector<v1::CaseRule> rules;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(rules, txn.Rules(tenant));
    return false;
  }));
  if (!journey.empty()) {
    std::erase_if(rules, [&](const v1::CaseRule& r) {
      return r.journey() != journey;
    });
  }
  return rules;
}

absl::StatusOr<v1::CaseRule> CaseStore::UpdateRule(
    const std::string& tenant, const std::string& actor,
    const v1::CaseRule& change, const google::protobuf::FieldMask& mask) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  static const char* const kMutable[] = {"name",           "conditions",
                                         "priority",       "sla",
                                         "period_seconds", "fallback_queue",
                                         "disabled"};
  std::vector<std::string> paths(mask.paths().begin(), mask.paths().end());
  if (paths.empty()) paths.assign(std::begin(kMutable), std::end(kMutable));
  for (const std::string& path : paths) {
    if (std::find(std::begin(kMutable), std::end(kMutable), path) ==
        std::end(kMutable)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update_mask: rule field \"", path, "\" cannot be updated"));
    }
  }
  v1::CaseRule updated;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(std::vector<v1::CaseRule> rules, txn.Rules(tenant));
    auto it = std::find_if(rules.begin(), rules.end(), [&](const auto& r) {
      return r.rule_id() == change.rule_id();
    });
    if (it == rules.end()) {
      return absl::NotFoundError(
          absl::StrCat("rule ", change.rule_id(), " not found"));
    }
    updated = *it;
    const auto* descriptor = v1::CaseRule::descriptor();
    const auto* reflection = v1::CaseRule::GetReflection();
    std::vector<v1::AuditEntry> entries;
    for (const std::string& path : paths) {
      const auto* field = descriptor->FindFieldByName(path);
      // Messages holding only this field, old and new, for the audit.
      v1::CaseRule old_rest = *it, old_only, new_rest = change, new_only;
      reflection->SwapFields(&old_rest, &old_only, {field});
      reflection->SwapFields(&new_rest, &new_only, {field});
      if (old_only.SerializeAsString() == new_only.SerializeAsString()) {
        continue;
      }
      v1::CaseRule incoming = new_only;
      reflection->SwapFields(&updated, &incoming, {field});
      entries.push_back(Audit("", actor, absl::StrCat("rule.", path),
                              old_only.ShortDebugString(),
                              new_only.ShortDebugString()));
      entries.back().set_rule_id(change.rule_id());
    }
    if (entries.empty()) return false;
    POLKU_RETURN_IF_ERROR(ValidateRule(updated));
    POLKU_RETURN_IF_ERROR(CheckCalendarOf(txn, tenant, updated));
    *updated.mutable_update_time() = ToProto(options_.clock->Now());
    POLKU_RETURN_IF_ERROR(txn.PutRule(tenant, updated));
    for (const v1::AuditEntry& entry : entries) {
      POLKU_RETURN_IF_ERROR(txn.AppendAudit(tenant, entry));
    }
    return true;
  }));
  return updated;
}

// ------------------------------------------------ the business calendar

absl::Status CaseStore::WithTenantCalendar(Transaction& txn,
                                           const std::string& tenant,
                                           std::vector<v1::CaseRule>& rules) {
  std::optional<std::optional<v1::TenantBusinessCalendar>> calendar;
  for (v1::CaseRule& rule : rules) {
    if (!HasSla(rule.sla()) || HasBusinessHours(rule.sla())) continue;
    if (!calendar.has_value()) {
      POLKU_ASSIGN_OR_RETURN(calendar, txn.TenantCalendar(tenant));
    }
    // Never without one: a rule without hours is refused unless the
    // tenant has a calendar, and a calendar cannot be removed. Were it
    // missing, the case opens with no due times rather than stopping the
    // feed (RefreshDueTimes cannot compute any).
    if (!calendar->has_value()) continue;
    *rule.mutable_sla()->mutable_business_hours() =
        (*calendar)->business_hours();
  }
  return absl::OkStatus();
}

absl::Status CaseStore::CheckCalendarOf(Transaction& txn,
                                        const std::string& tenant,
                                        const v1::CaseRule& rule) {
  if (!HasSla(rule.sla()) || HasBusinessHours(rule.sla())) {
    return absl::OkStatus();
  }
  POLKU_ASSIGN_OR_RETURN(std::optional<v1::TenantBusinessCalendar> calendar,
                         txn.TenantCalendar(tenant));
  if (calendar.has_value()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "rule.sla.business_hours: required when the SLA sets a time and the "
      "tenant has no business calendar (set one with SetBusinessCalendar)");
}

absl::StatusOr<v1::TenantBusinessCalendar> CaseStore::SetBusinessCalendar(
    const std::string& tenant, const std::string& actor,
    const v1::BusinessHours& hours) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  POLKU_RETURN_IF_ERROR(ValidateBusinessHours(hours));
  v1::TenantBusinessCalendar calendar;
  *calendar.mutable_business_hours() = hours;
  *calendar.mutable_update_time() = ToProto(options_.clock->Now());
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(std::optional<v1::TenantBusinessCalendar> before,
                           txn.TenantCalendar(tenant));
    const std::string old_value =
        before.has_value() ? before->business_hours().ShortDebugString() : "";
    const std::string new_value = hours.ShortDebugString();
    if (before.has_value() && old_value == new_value) {
      calendar = *before;  // unchanged: nothing to audit
      return false;
    }
    POLKU_RETURN_IF_ERROR(txn.PutTenantCalendar(tenant, calendar));
    POLKU_RETURN_IF_ERROR(txn.AppendAudit(
        tenant, Audit("", actor, "business_calendar", old_value, new_value)));
    return true;
  }));
  return calendar;
}

absl::StatusOr<v1::TenantBusinessCalendar> CaseStore::GetBusinessCalendar(
    const std::string& tenant) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  std::optional<v1::TenantBusinessCalendar> calendar;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(calendar, txn.TenantCalendar(tenant));
    return false;
  }));
  if (!calendar.has_value()) {
    return absl::NotFoundError(
        "the tenant has no business calendar; set one with "
        "SetBusinessCalendar (PUT /v1/businessCalendar)");
  }
  return *std::move(calendar);
}

absl::StatusOr<std::vector<v1::AuditEntry>> CaseStore::BusinessCalendarTrail(
    const std::string& tenant) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  std::vector<v1::AuditEntry> entries;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    // The entries of neither a case nor a rule.
    POLKU_ASSIGN_OR_RETURN(entries, txn.Audit(tenant, "", ""));
    return false;
  }));
  return entries;
}

// ---------------------------------------------------------------- cases

absl::StatusOr<v1::Case> CaseStore::CreateCase(
    const std::string& tenant, const std::string& actor,
    const v1::StoredEvent& event, const v1::CreateCaseRequest& request) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  if (event.tenant() != tenant) {
    return absl::NotFoundError(absl::StrCat(
        "event_sequence: no event ", request.event_sequence(), " found"));
  }
  if (!v1::CasePriority_IsValid(request.priority())) {
    return absl::InvalidArgumentError("priority: unknown priority");
  }
  const std::string team = TeamOf(event);
  v1::Case created;
  std::optional<CaseChange> change;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    change.reset();
    if (!request.request_id().empty()) {
      POLKU_ASSIGN_OR_RETURN(std::optional<StoredCase> earlier,
                             txn.FindByRequest(tenant, request.request_id()));
      if (earlier.has_value()) {
        created = earlier->value;
        return false;
      }
    }
    StoredCase c;
    if (!request.rule_id().empty()) {
      POLKU_ASSIGN_OR_RETURN(std::vector<v1::CaseRule> rules,
                             txn.Rules(tenant));
      POLKU_RETURN_IF_ERROR(WithTenantCalendar(txn, tenant, rules));
      auto it = std::find_if(rules.begin(), rules.end(), [&](const auto& r) {
        return r.rule_id() == request.rule_id();
      });
      if (it == rules.end()) {
        return absl::NotFoundError(
            absl::StrCat("rule_id: rule ", request.rule_id(), " not found"));
      }
      POLKU_ASSIGN_OR_RETURN(std::optional<StoredCase> opened,
                             NewRuleCase(*it, event, team));
      if (!opened.has_value()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "event ", event.sequence(), " does not meet the conditions of rule ",
            it->rule_id(), it->disabled() ? " (the rule is disabled)" : ""));
      }
      c = *std::move(opened);
      // By hand, the clock starts now.
      *c.value.mutable_create_time() = ToProto(options_.clock->Now());
      *c.value.mutable_update_time() = c.value.create_time();
      POLKU_RETURN_IF_ERROR(RefreshDueTimes(c.value));
    } else {
      c.tenant = tenant;
      c.customer_hash = event.customer_hash();
      v1::Case& value = c.value;
      value.set_case_id(
          absl::StrCat("c", crypto::ToHex(crypto::RandomBytes(12))));
      value.set_state(v1::NEW);
      const std::string& owner =
          request.owner_team().empty() ? team : request.owner_team();
      if (owner.empty()) {
        return absl::InvalidArgumentError(
            "owner_team: the touchpoint has no owner team; name one");
      }
      value.set_owner_team(owner);
      value.set_no_contact(RefusesContact(event));
      *value.mutable_event() = CaseEventOf(event);
      *value.mutable_create_time() = ToProto(options_.clock->Now());
      *value.mutable_update_time() = value.create_time();
      value.set_etag("1");
    }
    if (request.priority() != v1::CASE_PRIORITY_UNSPECIFIED) {
      c.value.set_priority(request.priority());
    } else if (c.value.priority() == v1::CASE_PRIORITY_UNSPECIFIED) {
      c.value.set_priority(v1::NORMAL);
    }
    if (!request.owner_team().empty()) c.value.set_owner_team(request.owner_team());
    c.request_id = request.request_id();
    POLKU_RETURN_IF_ERROR(ApplyConsent(txn, c));
    POLKU_ASSIGN_OR_RETURN(bool inserted, txn.InsertCase(c));
    if (!inserted) {
      std::optional<StoredCase> existing;
      if (c.period_bucket.has_value()) {
        POLKU_ASSIGN_OR_RETURN(
            existing, txn.FindCase(tenant, c.value.rule_id(), c.customer_hash,
                                   *c.period_bucket));
      }
      return absl::AlreadyExistsError(absl::StrCat(
          "rule ", c.value.rule_id(),
          " already opened this customer's case for the period: ",
          existing.has_value() ? existing->value.case_id() : "(unknown)"));
    }
    v1::AuditEntry entry = Audit(c.value.case_id(), actor, "state", "", "NEW");
    entry.set_rule_id(c.value.rule_id());
    POLKU_RETURN_IF_ERROR(txn.AppendAudit(tenant, entry));
    created = c.value;
    change = CaseChange{.tenant = tenant, .after = c.value, .entries = {entry}};
    POLKU_RETURN_IF_ERROR(AppendChanges(txn, {*change}));
    return true;
  }));
  if (change.has_value()) Committed();
  return created;
}

absl::StatusOr<v1::Case> CaseStore::GetCase(const std::string& tenant,
                                            const std::string& case_id) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  std::optional<StoredCase> found;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(found, txn.GetCase(tenant, case_id));
    return false;
  }));
  if (!found.has_value()) {
    return absl::NotFoundError(absl::StrCat("case ", case_id, " not found"));
  }
  return found->value;
}

bool PassesFilter(const CaseFilter& f, const v1::Case& c) {
  if (!f.states.empty() &&
      std::find(f.states.begin(), f.states.end(), c.state()) == f.states.end()) {
    return false;
  }
  if (!f.owner_team.empty() && c.owner_team() != f.owner_team) return false;
  if (!f.assignee.empty() && c.assignee() != f.assignee) return false;
  if (!f.rule_id.empty() && c.rule_id() != f.rule_id) return false;
  if (!f.journey.empty() && c.event().journey() != f.journey) return false;
  absl::Time created = FromProto(c.create_time());
  if (created < f.created_from || created >= f.created_to) return false;
  if (f.breached_only && !c.sla().first_contact_breached() &&
      !c.sla().resolution_breached()) {
    return false;
  }
  return true;
}

absl::StatusOr<v1::ListCasesResponse> CaseStore::ListCases(
    const std::string& tenant, const CaseFilter& filter, int page_size,
    const std::string& page_token) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  if (page_size < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  page_size = std::min(page_size, kMaxPageSize);
  std::optional<Transaction::PagePosition> after;
  if (!page_token.empty()) {
    std::pair<std::string, std::string> parts =
        absl::StrSplit(page_token, absl::MaxSplits(':', 1));
    Transaction::PagePosition position;
    if (!absl::SimpleAtoi(parts.first, &position.create_micros) ||
        parts.second.empty()) {
      return absl::InvalidArgumentError("page_token: not one this call gave");
    }
    position.case_id = parts.second;
    after = position;
  }
  v1::ListCasesResponse response;
  const std::optional<Transaction::PagePosition> first = after;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    response.Clear();  // a retried transaction starts again
    after = first;
    constexpr int kChunk = 200;
    while (response.cases_size() < page_size) {
      POLKU_ASSIGN_OR_RETURN(std::vector<StoredCase> chunk,
                             txn.CasesPage(tenant, after, kChunk));
      for (StoredCase& c : chunk) {
        after = Transaction::PagePosition{Micros(c.value.create_time()),
                                          c.value.case_id()};
        if (!PassesFilter(filter, c.value)) continue;
        *response.add_cases() = std::move(c.value);
        if (response.cases_size() == page_size) {
          response.set_next_page_token(
              EncodeToken(after->create_micros, after->case_id));
          return false;
        }
      }
      if (static_cast<int>(chunk.size()) < kChunk) break;
    }
    return false;
  }));
  return response;
}

absl::StatusOr<v1::Case> CaseStore::UpdateCase(
    const std::string& tenant, const std::string& actor,
    const v1::Case& change, const google::protobuf::FieldMask& mask) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  static const char* const kMutable[] = {"assignee", "state", "owner_team",
                                         "priority", "no_contact"};
  if (mask.paths().empty()) {
    return absl::InvalidArgumentError(
        "update_mask: name the fields to change (state, assignee, "
        "owner_team, priority, no_contact)");
  }
  for (const std::string& path : mask.paths()) {
    if (std::find(std::begin(kMutable), std::end(kMutable), path) ==
        std::end(kMutable)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update_mask: case field \"", path, "\" cannot be updated"));
    }
  }
  auto in_mask = [&](const char* path) {
    return std::find(mask.paths().begin(), mask.paths().end(), path) !=
           mask.paths().end();
  };
  v1::Case result;
  std::optional<CaseChange> published;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    published.reset();
    POLKU_ASSIGN_OR_RETURN(std::optional<StoredCase> found,
                           txn.GetCase(tenant, change.case_id()));
    if (!found.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("case ", change.case_id(), " not found"));
    }
    v1::Case& c = found->value;
    const v1::Case before = c;
    if (!change.etag().empty() && change.etag() != c.etag()) {
      return absl::AbortedError(absl::StrCat(
          "case ", c.case_id(), " changed since it was read (etag ",
          change.etag(), ", now ", c.etag(), "); read it again"));
    }
    const absl::Time now = options_.clock->Now();
    std::vector<v1::AuditEntry> entries;
    auto record = [&](const char* field, std::string old_value,
                      std::string new_value) {
      entries.push_back(
          Audit(c.case_id(), actor, field, std::move(old_value),
                std::move(new_value)));
      entries.back().set_rule_id(c.rule_id());
    };
    auto move_to = [&](v1::CaseState to) -> absl::Status {
      const v1::CaseState from = c.state();
      if (from == to) return absl::OkStatus();
      POLKU_RETURN_IF_ERROR(CheckTransition(
          StateFromProto(from), StateFromProto(to), c.no_contact()));
      v1::CaseSlaStatus& sla = *c.mutable_sla();
      if (to == v1::CONTACTED && !sla.has_first_contact_time()) {
        *sla.mutable_first_contact_time() = ToProto(now);
      }
      if (to == v1::RESOLVED && !sla.has_resolution_time()) {
        *sla.mutable_resolution_time() = ToProto(now);
      }
      if (to == v1::WAITING_FOR_CUSTOMER) {
        *sla.add_pauses()->mutable_start() = ToProto(now);
      }
      if (from == v1::WAITING_FOR_CUSTOMER && sla.pauses_size() > 0) {
        v1::TimeRange& pause = *sla.mutable_pauses(sla.pauses_size() - 1);
        *pause.mutable_end() = ToProto(now);
        if (RunsClock(c.sla_policy())) {
          POLKU_ASSIGN_OR_RETURN(BusinessCalendar calendar,
                                 CalendarOf(c.sla_policy()));
          sla.set_paused_seconds(
              sla.paused_seconds() +
              absl::ToInt64Seconds(calendar.BusinessTimeBetween(
                  FromProto(pause.start()), now)));
        }
      }
      c.set_state(to);
      record("state", StateName(from), StateName(to));
      return RefreshDueTimes(c);
    };
    if (in_mask("no_contact") && change.no_contact() != c.no_contact()) {
      record("no_contact", c.no_contact() ? "true" : "false",
             change.no_contact() ? "true" : "false");
      SetNoContact(c, change.no_contact(), now);
      POLKU_RETURN_IF_ERROR(RefreshDueTimes(c));
    }
    if (in_mask("owner_team") && change.owner_team() != c.owner_team()) {
      if (change.owner_team().empty()) {
        return absl::InvalidArgumentError("case.owner_team: must not be empty");
      }
      record("owner_team", c.owner_team(), change.owner_team());
      c.set_owner_team(change.owner_team());
    }
    if (in_mask("priority") && change.priority() != c.priority()) {
      if (change.priority() == v1::CASE_PRIORITY_UNSPECIFIED ||
          !v1::CasePriority_IsValid(change.priority())) {
        return absl::InvalidArgumentError("case.priority: unknown priority");
      }
      record("priority", PriorityName(c.priority()),
             PriorityName(change.priority()));
      c.set_priority(change.priority());
    }
    if (in_mask("assignee") && change.assignee() != c.assignee()) {
      record("assignee", c.assignee(), change.assignee());
      c.set_assignee(change.assignee());
      if (!c.assignee().empty() && c.state() == v1::NEW) {
        POLKU_RETURN_IF_ERROR(move_to(v1::ASSIGNED));
      }
    }
    if (in_mask("state")) POLKU_RETURN_IF_ERROR(move_to(change.state()));
    if (entries.empty()) {
      result = c;
      return false;
    }
    *c.mutable_update_time() = ToProto(now);
    c.set_etag(NextEtag(c.etag()));
    POLKU_RETURN_IF_ERROR(txn.UpdateCase(*found));
    for (const v1::AuditEntry& entry : entries) {
      POLKU_RETURN_IF_ERROR(txn.AppendAudit(tenant, entry));
    }
    result = c;
    published = CaseChange{
        .tenant = tenant, .before = before, .after = c, .entries = entries};
    POLKU_RETURN_IF_ERROR(AppendChanges(txn, {*published}));
    return true;
  }));
  if (published.has_value()) Committed();
  return result;
}

absl::StatusOr<v1::Case> CaseStore::AddComment(const std::string& tenant,
                                               const std::string& actor,
                                               const std::string& case_id,
                                               const std::string& text) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  if (text.empty()) {
    return absl::InvalidArgumentError("text: a comment must not be empty");
  }
  v1::Case result;
  std::optional<CaseChange> published;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    published.reset();
    POLKU_ASSIGN_OR_RETURN(std::optional<StoredCase> found,
                           txn.GetCase(tenant, case_id));
    if (!found.has_value()) {
      return absl::NotFoundError(absl::StrCat("case ", case_id, " not found"));
    }
    v1::Case& c = found->value;
    const v1::Case before = c;
    const absl::Time now = options_.clock->Now();
    v1::CaseComment& comment = *c.add_comments();
    comment.set_author(actor);
    comment.set_text(text);
    *comment.mutable_create_time() = ToProto(now);
    *c.mutable_update_time() = ToProto(now);
    c.set_etag(NextEtag(c.etag()));
    POLKU_RETURN_IF_ERROR(txn.UpdateCase(*found));
    v1::AuditEntry entry = Audit(case_id, actor, "comment", "", text);
    entry.set_rule_id(c.rule_id());
    POLKU_RETURN_IF_ERROR(txn.AppendAudit(tenant, entry));
    result = c;
    published = CaseChange{
        .tenant = tenant, .before = before, .after = c, .entries = {entry}};
    POLKU_RETURN_IF_ERROR(AppendChanges(txn, {*published}));
    return true;
  }));
  if (published.has_value()) Committed();
  return result;
}

absl::StatusOr<std::vector<v1::AuditEntry>> CaseStore::AuditTrail(
    const std::string& tenant, const std::string& case_id,
    const std::string& rule_id) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  if (case_id.empty() == rule_id.empty()) {
    return absl::InvalidArgumentError("case_id or rule_id: name exactly one");
  }
  std::vector<v1::AuditEntry> entries;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(entries, txn.Audit(tenant, case_id, rule_id));
    return false;
  }));
  return entries;
}

absl::StatusOr<std::vector<SlaAlertRaised>> CaseStore::RaiseSlaAlerts() {
  std::vector<SlaAlertRaised> raised;
  std::vector<CaseChange> changes;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    raised.clear();
    changes.clear();
    const absl::Time now = options_.clock->Now();
    POLKU_ASSIGN_OR_RETURN(std::vector<StoredCase> open, txn.OpenCases());
    for (StoredCase& stored : open) {
      v1::Case& c = stored.value;
      if (!RunsClock(c.sla_policy())) continue;
      POLKU_ASSIGN_OR_RETURN(SlaTimes times, SlaTimesOf(c));
      v1::CaseSlaStatus& sla = *c.mutable_sla();
      auto bit = [](bool set, SlaAlert alert) -> uint32_t {
        return set ? static_cast<uint32_t>(alert) : 0u;
      };
      const uint32_t before =
          bit(sla.first_contact_reminded(), kFirstContactReminder) |
          bit(sla.first_contact_breached(), kFirstContactBreach) |
          bit(sla.resolution_reminded(), kResolutionReminder) |
          bit(sla.resolution_breached(), kResolutionBreach);
      // An SLA met stays met, also when the case is reopened.
      uint32_t raise =
          PendingSlaAlerts(times, now, sla.has_first_contact_time(),
                           sla.has_resolution_time(), before);
      if (raise == 0) continue;
      CaseChange& change = changes.emplace_back(
          CaseChange{.tenant = stored.tenant, .before = c});
      static constexpr std::pair<SlaAlert, const char*> kKinds[] = {
          {kFirstContactReminder, "sla.first_contact_reminder"},
          {kFirstContactBreach, "sla.first_contact_breach"},
          {kResolutionReminder, "sla.resolution_reminder"},
          {kResolutionBreach, "sla.resolution_breach"}};
      for (const auto& [bit, kind] : kKinds) {
        if ((raise & bit) == 0) continue;
        raised.push_back({stored.tenant, c.case_id(), kind});
        v1::AuditEntry entry = Audit(c.case_id(), kSystemActor, kind, "", "raised");
        entry.set_rule_id(c.rule_id());
        POLKU_RETURN_IF_ERROR(txn.AppendAudit(stored.tenant, entry));
        change.entries.push_back(std::move(entry));
      }
      sla.set_first_contact_reminded(sla.first_contact_reminded() ||
                                     (raise & kFirstContactReminder));
      sla.set_first_contact_breached(sla.first_contact_breached() ||
                                     (raise & kFirstContactBreach));
      sla.set_resolution_reminded(sla.resolution_reminded() ||
                                  (raise & kResolutionReminder));
      sla.set_resolution_breached(sla.resolution_breached() ||
                                  (raise & kResolutionBreach));
      POLKU_RETURN_IF_ERROR(txn.UpdateCase(stored));
      change.after = c;
    }
    if (raised.empty()) return false;
    POLKU_RETURN_IF_ERROR(AppendChanges(txn, changes));
    return true;
  }));
  if (!changes.empty()) Committed();  // empty unless committed
  return raised;
}

absl::StatusOr<int64_t> CaseStore::SetContactConsent(
    const std::string& tenant, const std::string& actor,
    const std::string& customer_hash, bool contact_allowed) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  if (customer_hash.empty()) {
    return absl::InvalidArgumentError("customer: must not be empty");
  }
  std::vector<CaseChange> changes;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    changes.clear();
    const absl::Time now = options_.clock->Now();
    POLKU_RETURN_IF_ERROR(
        txn.PutConsent(tenant, customer_hash, contact_allowed, actor, now));
    POLKU_ASSIGN_OR_RETURN(std::vector<StoredCase> cases,
                           txn.CasesOfCustomer(tenant, customer_hash));
    for (StoredCase& stored : cases) {
      v1::Case& c = stored.value;
      // A settled case keeps what it was worked under.
      if (!IsOpen(StateFromProto(c.state()))) continue;
      if (c.no_contact() == !contact_allowed) continue;
      CaseChange& change =
          changes.emplace_back(CaseChange{.tenant = tenant, .before = c});
      v1::AuditEntry entry =
          Audit(c.case_id(), actor, "no_contact", c.no_contact() ? "true" : "false",
                contact_allowed ? "false" : "true");
      entry.set_rule_id(c.rule_id());
      SetNoContact(c, !contact_allowed, now);
      POLKU_RETURN_IF_ERROR(RefreshDueTimes(c));
      *c.mutable_update_time() = ToProto(now);
      c.set_etag(NextEtag(c.etag()));
      POLKU_RETURN_IF_ERROR(txn.UpdateCase(stored));
      POLKU_RETURN_IF_ERROR(txn.AppendAudit(tenant, entry));
      change.after = c;
      change.entries.push_back(std::move(entry));
    }
    POLKU_RETURN_IF_ERROR(AppendChanges(txn, changes));
    return true;
  }));
  if (!changes.empty()) Committed();
  return static_cast<int64_t>(changes.size());
}

absl::StatusOr<std::vector<StoredCase>> CaseStore::CasesWithCustomers(
    const std::string& tenant, const CaseFilter& filter) {
  POLKU_RETURN_IF_ERROR(CheckTenant(tenant));
  std::vector<StoredCase> out;
  POLKU_RETURN_IF_ERROR(Run([&](Transaction& txn) -> absl::StatusOr<bool> {
    out.clear();
    std::optional<Transaction::PagePosition> after;
    constexpr int kChunk = 500;
    while (true) {
      POLKU_ASSIGN_OR_RETURN(std::vector<StoredCase> chunk,
                             txn.CasesPage(tenant, after, kChunk));
      for (StoredCase& c : chunk) {
        after = Transaction::PagePosition{Micros(c.value.create_time()),
                                          c.value.case_id()};
        if (PassesFilter(filter, c.value)) out.push_back(std::move(c));
      }
      if (static_cast<int>(chunk.size()) < kChunk) break;
    }
    return false;
  }));
  return out;
}

}  // namespace polku::cases
