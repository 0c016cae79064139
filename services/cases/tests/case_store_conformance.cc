#include "services/cases/tests/case_store_conformance.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "services/cases/domain/business_calendar.h"
#include "services/cases/domain/measures.h"
#include "services/cases/store/change_follower.h"

namespace polku::cases {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

absl::TimeZone Helsinki() {
  absl::TimeZone zone;
  absl::LoadTimeZone("Europe/Helsinki", &zone);
  return zone;
}

absl::Time Local(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), Helsinki());
}

google::protobuf::Timestamp Proto(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  return out;
}

absl::Time Time(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Monday 1 June 2026, 9:00 in Helsinki: where every test's clock starts.
absl::Time Start() { return Local(2026, 6, 1, 9); }

v1::StoredEvent Event(int64_t sequence, const std::string& customer,
                      std::optional<int> nps, const std::string& tenant = "acme",
                      absl::Time received = Start()) {
  v1::StoredEvent e;
  e.set_sequence(sequence);
  e.set_tenant(tenant);
  e.set_channel("phone");
  e.set_journey("switching");
  e.set_journey_version(1);
  e.set_stage("support");
  e.set_customer_hash(absl::StrCat("hash-", customer));
  *e.mutable_received_at() = Proto(received);
  v1::TouchpointEvent& t = *e.mutable_event();
  t.set_event_id(absl::StrCat("ev", sequence));
  t.set_touchpoint("support_call");
  *t.mutable_occurred_at() = Proto(received - absl::Minutes(5));
  if (nps.has_value()) t.set_nps(*nps);
  t.set_comment("Jonotin tunnin.");
  return e;
}

google::protobuf::RepeatedPtrField<v1::StoredEvent> Page(
    std::vector<v1::StoredEvent> events) {
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  for (auto& e : events) *page.Add() = std::move(e);
  return page;
}

v1::CaseRule DetractorRule() {
  v1::CaseRule rule;
  google::protobuf::TextFormat::ParseFromString(R"pb(
    journey: "switching"
    name: "Detractors"
    conditions { max_nps: 6 max_csat: 2 }
    priority: HIGH
    fallback_queue: "customer-care"
    sla {
      first_contact_seconds: 28800    # 8 business hours
      resolution_seconds: 172800      # 48 business hours
      reminder_share: 0.75
      business_hours {
        time_zone: "Europe/Helsinki"
        weekly { weekday: 1 open_minute: 480 close_minute: 960 }
        weekly { weekday: 2 open_minute: 480 close_minute: 960 }
        weekly { weekday: 3 open_minute: 480 close_minute: 960 }
        weekly { weekday: 4 open_minute: 480 close_minute: 960 }
        weekly { weekday: 5 open_minute: 480 close_minute: 960 }
        holidays { date: "2026-06-19" name: "Juhannusaatto" }
      }
    }
  )pb", &rule);
  return rule;
}

google::protobuf::FieldMask Mask(std::vector<std::string> paths) {
  google::protobuf::FieldMask mask;
  for (auto& p : paths) mask.add_paths(p);
  return mask;
}

std::vector<v1::Case> AllCases(CaseStore& store, const std::string& tenant,
                               const CaseFilter& filter = {}) {
  std::vector<v1::Case> all;
  std::string token;
  do {
    auto page = store.ListCases(tenant, filter, 7, token);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    for (const auto& c : page->cases()) all.push_back(c);
    token = page->next_page_token();
  } while (!token.empty());
  return all;
}

}  // namespace

CaseStoreConformance::CaseStoreConformance() : clock_(Start()) {
  static int n = 0;
  database_ = absl::StrCat("cases_", getpid(), "_", n++);
  store_ = GetParam().make(Options(), database_);
}

CaseStore::Options CaseStoreConformance::Options() {
  return {.clock = &clock_, .owner_team = [](const v1::StoredEvent& e) {
            return e.event().touchpoint() == "support_call"
                       ? std::string("support-team")
                       : std::string();
          }};
}

std::unique_ptr<CaseStore> CaseStoreConformance::Twin() {
  return GetParam().make(Options(), database_);
}

TEST_P(CaseStoreConformance, DetractorsDeliveredTwiceOpenOneCaseEach) {
  auto rule = store_->CreateRule("acme", "anna", DetractorRule());
  ASSERT_TRUE(rule.ok()) << rule.status();
  std::vector<v1::StoredEvent> events;
  for (int i = 0; i < 100; ++i) {
    events.push_back(Event(2 * i + 1, absl::StrCat("customer", i), i % 7));
    // The same customer's second detractor answer in the period: no new case.
    events.push_back(Event(2 * i + 2, absl::StrCat("customer", i), 3));
  }
  // Promoters and unrated touches open nothing.
  events.push_back(Event(201, "promoter", 10));
  events.push_back(Event(202, "silent", std::nullopt));
  // In pages of 25, then the whole feed replayed from the start (a restart
  // that lost its checkpoint would do that), then a page delivered twice.
  for (size_t i = 0; i < events.size(); i += 25) {
    std::vector<v1::StoredEvent> page(
        events.begin() + i, events.begin() + std::min(events.size(), i + 25));
    ASSERT_TRUE(store_->Apply(Page(page)).ok());
  }
  ASSERT_TRUE(store_->Apply(Page(events)).ok());
  ASSERT_TRUE(store_->Apply(Page({events[10], events[11]})).ok());
  EXPECT_EQ(*store_->Checkpoint(), 202);

  std::vector<v1::Case> cases = AllCases(*store_, "acme");
  ASSERT_THAT(cases, SizeIs(100));
  std::set<std::string> ids;
  for (const v1::Case& c : cases) {
    ids.insert(c.case_id());
    EXPECT_EQ(c.state(), v1::NEW);
    EXPECT_EQ(c.priority(), v1::HIGH);
    EXPECT_EQ(c.owner_team(), "support-team");
    EXPECT_EQ(c.rule_id(), rule->rule_id());
    EXPECT_EQ(c.event().comment(), "Jonotin tunnin.");
    EXPECT_LE(c.event().nps(), 6);
    // The case shows the event, never who the customer is.
    EXPECT_THAT(c.ShortDebugString(), testing::Not(HasSubstr("customer")));
    auto trail = store_->AuditTrail("acme", c.case_id(), "");
    ASSERT_TRUE(trail.ok());
    ASSERT_THAT(*trail, SizeIs(1));
    EXPECT_EQ((*trail)[0].actor(), kSystemActor);
    EXPECT_EQ((*trail)[0].new_value(), "NEW");
  }
  EXPECT_THAT(ids, SizeIs(100));
}

TEST_P(CaseStoreConformance, TheKeyIsCustomerRuleAndPeriod) {
  v1::CaseRule daily = DetractorRule();
  daily.set_period_seconds(24 * 3600);
  auto first = store_->CreateRule("acme", "anna", daily);
  auto second = store_->CreateRule("acme", "anna", DetractorRule());
  ASSERT_TRUE(first.ok() && second.ok());
  v1::StoredEvent monday = Event(1, "c1", 2);
  v1::StoredEvent tuesday = Event(2, "c1", 2, "acme", Start() + absl::Hours(24));
  ASSERT_TRUE(store_->Apply(Page({monday, tuesday})).ok());
  CaseFilter by_daily;
  by_daily.rule_id = first->rule_id();
  CaseFilter by_monthly;
  by_monthly.rule_id = second->rule_id();
  // Daily periods: two cases; 30-day periods: one. Each rule its own.
  EXPECT_THAT(AllCases(*store_, "acme", by_daily), SizeIs(2));
  EXPECT_THAT(AllCases(*store_, "acme", by_monthly), SizeIs(1));
}

TEST_P(CaseStoreConformance, TwoReplicasOnOneDatabaseOpenNothingTwice) {
  if (!GetParam().shared_database) GTEST_SKIP() << "no shared database";
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  std::unique_ptr<CaseStore> replica = Twin();
  std::vector<v1::StoredEvent> events;
  for (int i = 0; i < 40; ++i) {
    events.push_back(Event(i + 1, absl::StrCat("c", i), 1));
    events.push_back(Event(i + 41, absl::StrCat("c", i), 2));  // again
  }
  // Both replicas read the whole feed, in pages of different sizes,
  // concurrently.
  auto tail = [&](CaseStore* store, size_t page_size) {
    for (size_t i = 0; i < events.size(); i += page_size) {
      std::vector<v1::StoredEvent> page(
          events.begin() + i,
          events.begin() + std::min(events.size(), i + page_size));
      ASSERT_TRUE(store->Apply(Page(page)).ok());
    }
  };
  std::thread first([&] { tail(store_.get(), 7); });
  std::thread second([&] { tail(replica.get(), 5); });
  first.join();
  second.join();
  EXPECT_THAT(AllCases(*store_, "acme"), SizeIs(40));
  EXPECT_THAT(AllCases(*replica, "acme"), SizeIs(40));
  EXPECT_EQ(*replica->Checkpoint(), 80);
}

TEST_P(CaseStoreConformance, ARestartResumesFromTheCheckpoint) {
  if (!GetParam().shared_database) GTEST_SKIP() << "no shared database";
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  std::vector<v1::StoredEvent> events;
  for (int i = 0; i < 20; ++i) events.push_back(Event(i + 1, absl::StrCat("c", i), 1));
  ASSERT_TRUE(store_->Apply(Page({events.begin(), events.begin() + 12})).ok());
  store_.reset();  // the process dies after its 12th event
  store_ = Twin();
  EXPECT_EQ(*store_->Checkpoint(), 12);
  // The feed is read again from an older position: the page overlaps.
  ASSERT_TRUE(store_->Apply(Page(events)).ok());
  EXPECT_THAT(AllCases(*store_, "acme"), SizeIs(20));
}

TEST_P(CaseStoreConformance, EveryIllegalTransitionIsRefusedAndEveryChangeAudited) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0)})).ok());
  std::string id = AllCases(*store_, "acme").at(0).case_id();
  auto move = [&](v1::CaseState to) {
    v1::Case change;
    change.set_case_id(id);
    change.set_state(to);
    return store_->UpdateCase("acme", "ville", change, Mask({"state"}));
  };
  absl::StatusOr<v1::Case> refused = move(v1::RESOLVED);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("from NEW to RESOLVED"));
  EXPECT_EQ(move(v1::CLOSED).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // Assigning a new case makes it ASSIGNED.
  v1::Case assign;
  assign.set_case_id(id);
  assign.set_assignee("ville");
  auto assigned = store_->UpdateCase("acme", "anna", assign, Mask({"assignee"}));
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  EXPECT_EQ(assigned->state(), v1::ASSIGNED);
  clock_.Advance(absl::Hours(1));
  auto contacted = move(v1::CONTACTED);
  ASSERT_TRUE(contacted.ok()) << contacted.status();
  EXPECT_EQ(Time(contacted->sla().first_contact_time()), clock_.Now());
  EXPECT_EQ(move(v1::NEW).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(move(v1::RESOLVED).ok());
  ASSERT_TRUE(move(v1::CLOSED).ok());
  EXPECT_EQ(move(v1::CONTACTED).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(move(v1::REOPENED).ok());
  ASSERT_TRUE(store_->AddComment("acme", "ville", id, "Soitin uudelleen.").ok());

  // A stale etag loses.
  v1::Case stale;
  stale.set_case_id(id);
  stale.set_etag("1");
  stale.set_priority(v1::URGENT);
  EXPECT_EQ(store_->UpdateCase("acme", "anna", stale, Mask({"priority"}))
                .status()
                .code(),
            absl::StatusCode::kAborted);
  // A field that cannot change.
  EXPECT_EQ(store_->UpdateCase("acme", "anna", stale, Mask({"event"}))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  auto trail = store_->AuditTrail("acme", id, "");
  ASSERT_TRUE(trail.ok());
  std::vector<std::string> changes;
  for (const v1::AuditEntry& e : *trail) {
    changes.push_back(absl::StrCat(e.actor(), " ", e.field(), " ",
                                   e.old_value(), "->", e.new_value()));
    EXPECT_TRUE(e.has_time());
  }
  EXPECT_THAT(changes,
              ElementsAre("polku-cases state ->NEW", "anna assignee ->ville",
                          "anna state NEW->ASSIGNED",
                          "ville state ASSIGNED->CONTACTED",
                          "ville state CONTACTED->RESOLVED",
                          "ville state RESOLVED->CLOSED",
                          "ville state CLOSED->REOPENED",
                          "ville comment ->Soitin uudelleen."));
  auto got = store_->GetCase("acme", id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state(), v1::REOPENED);
  ASSERT_THAT(got->comments(), SizeIs(1));
  EXPECT_EQ(got->comments(0).author(), "ville");
}

TEST_P(CaseStoreConformance, WaitingForTheCustomerMovesTheDueTimes) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  // Received Monday 1 June 9:00: first contact (8 business hours) due
  // Tuesday 9:00; resolution (48) Tuesday 9 June 9:00.
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0)})).ok());
  v1::Case c = AllCases(*store_, "acme").at(0);
  EXPECT_EQ(Time(c.sla().first_contact_due()), Local(2026, 6, 2, 9));
  EXPECT_EQ(Time(c.sla().resolution_due()), Local(2026, 6, 9, 9));

  v1::Case change;
  change.set_case_id(c.case_id());
  change.set_assignee("ville");
  ASSERT_TRUE(store_->UpdateCase("acme", "ville", change, Mask({"assignee"})).ok());
  // Waiting from Monday 14:00 to Tuesday 10:00: 4 business hours.
  clock_.Set(Local(2026, 6, 1, 14));
  change.set_state(v1::WAITING_FOR_CUSTOMER);
  auto waiting = store_->UpdateCase("acme", "ville", change, Mask({"state"}));
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  EXPECT_FALSE(waiting->sla().has_first_contact_due());  // the clock stands
  clock_.Set(Local(2026, 6, 2, 10));
  change.set_state(v1::CONTACTED);
  auto contacted = store_->UpdateCase("acme", "ville", change, Mask({"state"}));
  ASSERT_TRUE(contacted.ok()) << contacted.status();
  EXPECT_EQ(contacted->sla().paused_seconds(), 4 * 3600);
  EXPECT_EQ(Time(contacted->sla().first_contact_due()), Local(2026, 6, 2, 13));
  EXPECT_EQ(Time(contacted->sla().resolution_due()), Local(2026, 6, 9, 13));
}

TEST_P(CaseStoreConformance, ACaseOpenedOnMidsummerEveIsDueExactly) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0, "acme",
                                        Local(2026, 6, 19, 10, 30))}))
                  .ok());
  v1::Case c = AllCases(*store_, "acme").at(0);
  // 48 business hours from the holiday: six days from Monday 22 June, to
  // Monday 29 June 16:00 EEST = 13:00 UTC.
  EXPECT_EQ(Time(c.sla().resolution_due()),
            absl::FromCivil(absl::CivilSecond(2026, 6, 29, 13, 0, 0),
                            absl::UTCTimeZone()));
  EXPECT_EQ(Time(c.sla().first_contact_due()), Local(2026, 6, 22, 16));
}

TEST_P(CaseStoreConformance, ReminderAndBreachAreRaisedOnceEach) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0)})).ok());
  std::map<std::string, int> raised;
  for (absl::Time t = Start(); t < Start() + absl::Hours(24 * 14);
       t += absl::Minutes(30)) {
    clock_.Set(t);
    auto alerts = store_->RaiseSlaAlerts();
    ASSERT_TRUE(alerts.ok()) << alerts.status();
    for (const SlaAlertRaised& a : *alerts) {
      ++raised[a.kind];
      EXPECT_EQ(a.tenant, "acme");
    }
  }
  EXPECT_EQ(raised, (std::map<std::string, int>{
                        {"sla.first_contact_breach", 1},
                        {"sla.first_contact_reminder", 1},
                        {"sla.resolution_breach", 1},
                        {"sla.resolution_reminder", 1}}));
  v1::Case c = AllCases(*store_, "acme").at(0);
  EXPECT_TRUE(c.sla().first_contact_breached());
  CaseFilter breached;
  breached.breached_only = true;
  EXPECT_THAT(AllCases(*store_, "acme", breached), SizeIs(1));
}

// First contact, once made, stays: waiting for the customer afterwards
// neither hides its due time nor takes the case out of "contacted within
// SLA", nor do resolving, reopening and waiting again.
TEST_P(CaseStoreConformance, AContactedCaseThatWaitsStaysContactedWithinSla) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0)})).ok());
  const std::string id = AllCases(*store_, "acme").at(0).case_id();
  v1::Case change;
  change.set_case_id(id);
  change.set_assignee("ville");
  change.set_state(v1::CONTACTED);
  clock_.Set(Local(2026, 6, 1, 10));  // 1 business hour after opening
  ASSERT_TRUE(store_->UpdateCase("acme", "ville", change,
                                 Mask({"assignee", "state"}))
                  .ok());
  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    v1::Case c = *store_->GetCase("acme", id);
    ASSERT_TRUE(c.sla().has_first_contact_due());
    EXPECT_EQ(Time(c.sla().first_contact_due()), Local(2026, 6, 2, 9));
    EXPECT_EQ(Time(c.sla().first_contact_time()), Local(2026, 6, 1, 10));
    auto m = ComputeCaseMeasures(AllCases(*store_, "acme"));
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->eligible(), 1);
    EXPECT_EQ(m->contacted_within_sla(), 1);
    EXPECT_DOUBLE_EQ(m->first_contact_median_seconds(), 3600);
  };
  clock_.Set(Local(2026, 6, 1, 11));
  change.set_state(v1::WAITING_FOR_CUSTOMER);
  ASSERT_TRUE(store_->UpdateCase("acme", "ville", change, Mask({"state"})).ok());
  check("waiting");
  for (v1::CaseState to : {v1::CONTACTED, v1::RESOLVED, v1::REOPENED,
                           v1::WAITING_FOR_CUSTOMER}) {
    clock_.Set(clock_.Now() + absl::Hours(1));
    change.set_state(to);
    auto moved = store_->UpdateCase("acme", "ville", change, Mask({"state"}));
    ASSERT_TRUE(moved.ok()) << moved.status();
  }
  check("resolved, reopened and waiting again");
  // The resolution clock was met at the resolution (Monday 13:00), moved
  // by the hour of waiting before it; a pause after it does not hide its
  // due time either.
  v1::Case c = *store_->GetCase("acme", id);
  ASSERT_TRUE(c.sla().has_resolution_due());
  EXPECT_EQ(Time(c.sla().resolution_due()), Local(2026, 6, 9, 10));
  // Nothing is raised for met SLAs, however long the case waits.
  clock_.Set(Local(2026, 6, 30, 9));
  EXPECT_THAT(*store_->RaiseSlaAlerts(), SizeIs(0));
}

std::map<std::string, int> RaiseUntil(CaseStore& store, FakeClock& clock,
                                      absl::Time until) {
  // Every 30 minutes from the clock's time, and at `until`.
  std::map<std::string, int> raised;
  for (absl::Time t = clock.Now();; t = std::min(t + absl::Minutes(30), until)) {
    clock.Set(t);
    auto alerts = store.RaiseSlaAlerts();
    EXPECT_TRUE(alerts.ok()) << alerts.status();
    if (!alerts.ok()) break;
    for (const SlaAlertRaised& a : *alerts) ++raised[a.kind];
    if (t >= until) break;
  }
  return raised;
}

// A customer who does not want to be contacted has no first-contact clock:
// no reminder, no breach, no due time, not breached for first contact; the
// resolution clock still runs.
TEST_P(CaseStoreConformance, ANoContactCaseHasNoFirstContactClock) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  v1::StoredEvent event = Event(1, "c1", 0);
  (*event.mutable_event()->mutable_attributes())["contact_consent"] = "no";
  ASSERT_TRUE(store_->Apply(Page({event})).ok());
  v1::Case c = AllCases(*store_, "acme").at(0);
  EXPECT_FALSE(c.sla().has_first_contact_due());
  EXPECT_EQ(Time(c.sla().resolution_due()), Local(2026, 6, 9, 9));
  EXPECT_EQ(RaiseUntil(*store_, clock_, Start() + absl::Hours(24 * 14)),
            (std::map<std::string, int>{{"sla.resolution_breach", 1},
                                        {"sla.resolution_reminder", 1}}));
  c = AllCases(*store_, "acme").at(0);
  EXPECT_FALSE(c.sla().first_contact_reminded());
  EXPECT_FALSE(c.sla().first_contact_breached());
  EXPECT_TRUE(c.sla().resolution_breached());
}

// Consent withdrawn on an open case stops its first-contact clock (an alert
// not yet raised never is while it holds); consent given again restarts the
// clock where it stopped: the no-contact stretch counts like a pause.
TEST_P(CaseStoreConformance, AConsentChangeStopsAndResumesTheFirstContactClock) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0)})).ok());
  const std::string id = AllCases(*store_, "acme").at(0).case_id();
  // Reminder at 6 business hours (Monday 15:00), breach Tuesday 9:00.
  // Refused at Monday 14:00, 5 business hours in: nothing raised.
  EXPECT_THAT(RaiseUntil(*store_, clock_, Local(2026, 6, 1, 14)), SizeIs(0));
  ASSERT_EQ(*store_->SetContactConsent("acme", "alice", "hash-c1", false), 1);
  v1::Case c = *store_->GetCase("acme", id);
  EXPECT_FALSE(c.sla().has_first_contact_due());
  EXPECT_TRUE(c.sla().has_resolution_due());
  EXPECT_THAT(RaiseUntil(*store_, clock_, Local(2026, 6, 3, 9)), SizeIs(0));
  // Allowed again Wednesday 9:00: 3 business hours are left, so the
  // reminder (1 h left) goes off at 10:00 and the breach at 12:00.
  ASSERT_EQ(*store_->SetContactConsent("acme", "alice", "hash-c1", true), 1);
  c = *store_->GetCase("acme", id);
  ASSERT_TRUE(c.sla().has_first_contact_due());
  EXPECT_EQ(Time(c.sla().first_contact_due()), Local(2026, 6, 3, 12));
  EXPECT_EQ(RaiseUntil(*store_, clock_, Local(2026, 6, 3, 10, 1)),
            (std::map<std::string, int>{{"sla.first_contact_reminder", 1}}));
  EXPECT_EQ(RaiseUntil(*store_, clock_, Local(2026, 6, 3, 12, 1)),
            (std::map<std::string, int>{{"sla.first_contact_breach", 1}}));
  // The same through UpdateCase's no_contact, set Wednesday 14:00 on a
  // second customer's case opened at 12:30: its clock stops before the
  // reminder; a breach raised before the wish (the first case's) stays
  // raised. The resolution clock keeps running.
  ASSERT_TRUE(store_->Apply(Page({Event(2, "c2", 0, "acme",
                                        Local(2026, 6, 3, 12, 30))}))
                  .ok());
  std::string second;
  for (const v1::Case& c : AllCases(*store_, "acme")) {
    if (c.case_id() != id) second = c.case_id();
  }
  ASSERT_FALSE(second.empty());
  clock_.Set(Local(2026, 6, 3, 14));
  v1::Case change;
  change.set_case_id(second);
  change.set_no_contact(true);
  auto marked = store_->UpdateCase("acme", "ville", change, Mask({"no_contact"}));
  ASSERT_TRUE(marked.ok()) << marked.status();
  EXPECT_FALSE(marked->sla().has_first_contact_due());
  EXPECT_EQ(Time(marked->sla().resolution_due()), Local(2026, 6, 11, 12, 30));
  EXPECT_EQ(RaiseUntil(*store_, clock_, Local(2026, 6, 5, 9)),
            (std::map<std::string, int>{}));
  EXPECT_TRUE(store_->GetCase("acme", id)->sla().first_contact_breached());
  EXPECT_FALSE(store_->GetCase("acme", second)->sla().first_contact_reminded());
}

TEST_P(CaseStoreConformance, ErasureRemovesTheCustomersCases) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  ASSERT_TRUE(store_->Apply(Page({Event(1, "gone", 0), Event(2, "stays", 0),
                                  Event(3, "gone", 1, "other")}))
                  .ok());
  std::string gone_id;
  for (const auto& c : AllCases(*store_, "acme")) {
    if (c.event().sequence() == 1) gone_id = c.case_id();
  }
  v1::Erasure erasure;
  erasure.set_sequence(4);
  erasure.set_tenant("acme");
  erasure.set_customer_hash("hash-gone");
  ASSERT_TRUE(store_->ApplyErasure(erasure).ok());
  EXPECT_EQ(*store_->Checkpoint(), 4);
  std::vector<v1::Case> left = AllCases(*store_, "acme");
  ASSERT_THAT(left, SizeIs(1));
  EXPECT_EQ(left[0].event().sequence(), 2);
  EXPECT_EQ(store_->GetCase("acme", gone_id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(*store_->AuditTrail("acme", gone_id, ""), SizeIs(0));
  // The replayed event from before the erasure opens nothing again.
  ASSERT_TRUE(store_->Apply(Page({Event(1, "gone", 0)})).ok());
  EXPECT_THAT(AllCases(*store_, "acme"), SizeIs(1));
}

TEST_P(CaseStoreConformance, TenantsNeverSeeEachOthersCasesOrRules) {
  auto rule = store_->CreateRule("acme", "anna", DetractorRule());
  ASSERT_TRUE(rule.ok());
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0)})).ok());
  // The other tenant's event matches acme's rule's conditions, but acme's
  // rule is acme's: it opens nothing there.
  ASSERT_TRUE(store_->Apply(Page({Event(2, "c1", 0, "globex")})).ok());
  std::string id = AllCases(*store_, "acme").at(0).case_id();
  EXPECT_EQ(store_->GetCase("globex", id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(AllCases(*store_, "globex"), SizeIs(0));
  EXPECT_THAT(*store_->ListRules("globex", ""), SizeIs(0));
  v1::Case change;
  change.set_case_id(id);
  change.set_assignee("mallory");
  EXPECT_EQ(store_->UpdateCase("globex", "mallory", change, Mask({"assignee"}))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->AddComment("globex", "mallory", id, "hi").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(*store_->AuditTrail("globex", id, ""), SizeIs(0));
  EXPECT_EQ(store_->GetCase("", id).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_P(CaseStoreConformance, ANoContactCustomerKeepsTheCase) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  v1::StoredEvent event = Event(1, "c1", 0);
  (*event.mutable_event()->mutable_attributes())["contact_consent"] = "no";
  ASSERT_TRUE(store_->Apply(Page({event})).ok());
  v1::Case c = AllCases(*store_, "acme").at(0);
  EXPECT_TRUE(c.no_contact());
  v1::Case change;
  change.set_case_id(c.case_id());
  change.set_assignee("ville");
  ASSERT_TRUE(store_->UpdateCase("acme", "ville", change, Mask({"assignee"})).ok());
  change.set_state(v1::CONTACTED);
  EXPECT_THAT(store_->UpdateCase("acme", "ville", change, Mask({"state"}))
                  .status()
                  .message(),
              HasSubstr("not to be contacted"));
}

// SetContactConsent: the customer's open cases become no-contact (audited,
// by the actor), settled ones stay as they were worked, cases opened later
// are no-contact from the start, other customers and tenants are untouched;
// allowing contact again clears it.
TEST_P(CaseStoreConformance, AConsentRefusalMarksOpenAndLaterCases) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  v1::CaseRule weekly = DetractorRule();
  weekly.set_name("Weekly detractors");
  weekly.set_period_seconds(7 * 86400);
  ASSERT_TRUE(store_->CreateRule("acme", "anna", weekly).ok());
  ASSERT_TRUE(store_->CreateRule("globex", "gina", DetractorRule()).ok());
  ASSERT_TRUE(store_->Apply(Page({Event(1, "quiet", 0), Event(2, "other", 0),
                                  Event(3, "quiet", 0, "globex")}))
                  .ok());
  // One of quiet's two cases is settled before the wish arrives.
  std::vector<v1::Case> quiet;
  for (const v1::Case& c : AllCases(*store_, "acme")) {
    if (c.event().sequence() == 1) quiet.push_back(c);
  }
  ASSERT_THAT(quiet, SizeIs(2));
  v1::Case change;
  change.set_case_id(quiet[0].case_id());
  change.set_assignee("ville");
  change.set_state(v1::RESOLVED);
  ASSERT_TRUE(store_->UpdateCase("acme", "ville", change,
                                 Mask({"assignee", "state"}))
                  .ok());

  absl::StatusOr<int64_t> marked =
      store_->SetContactConsent("acme", "alice via key k1", "hash-quiet", false);
  ASSERT_TRUE(marked.ok()) << marked.status();
  EXPECT_EQ(*marked, 1);
  EXPECT_FALSE(store_->GetCase("acme", quiet[0].case_id())->no_contact());
  v1::Case open = *store_->GetCase("acme", quiet[1].case_id());
  EXPECT_TRUE(open.no_contact());
  std::vector<v1::AuditEntry> trail =
      *store_->AuditTrail("acme", open.case_id(), "");
  ASSERT_FALSE(trail.empty());
  EXPECT_EQ(trail.back().field(), "no_contact");
  EXPECT_EQ(trail.back().actor(), "alice via key k1");
  EXPECT_EQ(trail.back().new_value(), "true");
  for (const v1::Case& c : AllCases(*store_, "acme")) {
    if (c.event().sequence() == 2) {
      EXPECT_FALSE(c.no_contact());
    }
  }
  ASSERT_THAT(AllCases(*store_, "globex"), SizeIs(1));
  EXPECT_FALSE(AllCases(*store_, "globex").at(0).no_contact());
  // A case opened later (next week's period) is no-contact from the start.
  ASSERT_TRUE(store_->Apply(Page({Event(4, "quiet", 0, "acme",
                                        Start() + absl::Hours(24 * 8))}))
                  .ok());
  int later = 0;
  for (const v1::Case& c : AllCases(*store_, "acme")) {
    if (c.event().sequence() != 4) continue;
    ++later;
    EXPECT_TRUE(c.no_contact());
  }
  EXPECT_GE(later, 1);  // the weekly rule's, and the 30-day one's if a new bucket
  // Marking again changes nothing; allowing contact clears the open ones.
  EXPECT_EQ(*store_->SetContactConsent("acme", "alice", "hash-quiet", false), 0);
  EXPECT_EQ(*store_->SetContactConsent("acme", "alice", "hash-quiet", true),
            1 + later);
  EXPECT_FALSE(store_->GetCase("acme", open.case_id())->no_contact());
  EXPECT_EQ(store_->SetContactConsent("acme", "alice", "", false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A page size out of 1…1000 is taken into it: with 0 the follower once
// read pages of none and never finished catching up.
TEST_P(CaseStoreConformance, AFollowerWithAPageSizeOfNoneStillCatchesUp) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  ASSERT_TRUE(store_
                  ->Apply(Page({Event(1, "c1", 0), Event(2, "c2", 0),
                                Event(3, "c3", 0)}))
                  .ok());
  int heard = 0;
  ChangeFollower follower(*store_, [&](const CaseChange&) { ++heard; }, nullptr,
                          {.page_size = 0});
  follower.StartAfter(0);
  absl::StatusOr<int> read = follower.CatchUp();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, 3);
  EXPECT_EQ(heard, 3);
  EXPECT_EQ(follower.position(), *store_->LastChangeSequence());
}

// Every committed change is followed once, with the case before and after
// it; a change that commits nothing (a replay, a refused update) is not.
TEST_P(CaseStoreConformance, TheFollowerHearsEveryCommittedChange) {
  std::vector<CaseChange> heard;
  int lost = 0;
  ChangeFollower follower(
      *store_, [&](const CaseChange& c) { heard.push_back(c); },
      [&] { ++lost; });
  absl::StatusOr<int64_t> head = store_->LastChangeSequence();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(*head, 0);
  follower.StartAfter(*head);
  auto catch_up = [&] {
    absl::StatusOr<int> read = follower.CatchUp();
    EXPECT_TRUE(read.ok()) << read.status();
  };
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  catch_up();
  EXPECT_THAT(heard, SizeIs(0));  // rules are not cases
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0)})).ok());
  catch_up();
  ASSERT_THAT(heard, SizeIs(1));
  EXPECT_FALSE(heard[0].before.has_value());
  EXPECT_EQ(heard[0].tenant, "acme");
  EXPECT_EQ(heard[0].after.state(), v1::NEW);
  EXPECT_EQ(heard[0].after.event().comment(), "Jonotin tunnin.");
  ASSERT_THAT(heard[0].entries, SizeIs(1));
  EXPECT_EQ(heard[0].entries[0].actor(), kSystemActor);
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0)})).ok());  // replay
  catch_up();
  EXPECT_THAT(heard, SizeIs(1));
  v1::Case change;
  change.set_case_id(heard[0].after.case_id());
  change.set_assignee("ville");
  ASSERT_TRUE(store_->UpdateCase("acme", "ville", change, Mask({"assignee"})).ok());
  catch_up();
  ASSERT_THAT(heard, SizeIs(2));
  EXPECT_EQ(heard[1].before->state(), v1::NEW);
  EXPECT_EQ(heard[1].after.state(), v1::ASSIGNED);
  ASSERT_THAT(heard[1].entries, SizeIs(2));  // assignee, then state
  EXPECT_EQ(heard[1].entries[1].new_value(), "ASSIGNED");
  // A refused change is not heard.
  change.set_state(v1::CLOSED);
  EXPECT_FALSE(store_->UpdateCase("acme", "ville", change, Mask({"state"})).ok());
  catch_up();
  EXPECT_THAT(heard, SizeIs(2));
  ASSERT_TRUE(store_->AddComment("acme", "ville", change.case_id(), "Soitin.").ok());
  catch_up();
  ASSERT_THAT(heard, SizeIs(3));
  EXPECT_EQ(heard[2].entries[0].field(), "comment");
  // Past the whole 8-hour first-contact SLA: reminder and breach together.
  clock_.Advance(absl::Hours(24 * 3));
  ASSERT_TRUE(store_->RaiseSlaAlerts().ok());
  catch_up();
  ASSERT_THAT(heard, SizeIs(4));
  EXPECT_TRUE(heard[3].after.sla().first_contact_breached());
  EXPECT_FALSE(heard[3].before->sla().first_contact_breached());
  ASSERT_TRUE(store_->SetContactConsent("acme", "pia", "hash-c1", false).ok());
  catch_up();
  ASSERT_THAT(heard, SizeIs(5));
  EXPECT_TRUE(heard[4].after.no_contact());
  // By hand too.
  ASSERT_TRUE(store_->CreateCase("acme", "pia", Event(2, "c2", 9),
                                 [] {
                                   v1::CreateCaseRequest r;
                                   r.set_owner_team("care");
                                   return r;
                                 }())
                  .ok());
  catch_up();
  ASSERT_THAT(heard, SizeIs(6));
  EXPECT_EQ(heard[5].entries[0].actor(), "pia");
  EXPECT_EQ(*store_->LastChangeSequence(), 6);
  EXPECT_EQ(follower.position(), 6);
  EXPECT_EQ(lost, 0);
}

// Writers on several threads: the follower, on a thread of its own, hands
// on each case's changes in commit order, every one once. Without the
// sequences given under a lock held to the commit, a reader on PostgreSQL
// can see a later change before an earlier one and skip the earlier.
TEST_P(CaseStoreConformance, FollowedChangesComeInCommitOrder) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0), Event(2, "c2", 0),
                                  Event(3, "c3", 0)}))
                  .ok());
  std::vector<std::string> case_ids;
  for (const v1::Case& c : AllCases(*store_, "acme")) {
    case_ids.push_back(c.case_id());
  }
  ASSERT_THAT(case_ids, SizeIs(3));
  absl::Mutex mu;
  std::map<std::string, std::vector<int64_t>> etags;  // by case
  std::set<std::string> comments;
  int heard = 0;
  ChangeFollower follower(
      *store_,
      [&](const CaseChange& c) {
        // A listener that takes a while, as a busy watcher's does.
        absl::SleepFor(absl::Microseconds(20 + (heard * 37) % 150));
        int64_t etag = 0;
        ASSERT_TRUE(absl::SimpleAtoi(c.after.etag(), &etag));
        absl::MutexLock lock(&mu);
        ++heard;
        etags[c.after.case_id()].push_back(etag);
        comments.insert(c.entries.at(0).new_value());
      },
      nullptr, {.poll_interval = absl::Milliseconds(20), .page_size = 7});
  follower.Start();
  constexpr int kThreads = 4, kEach = 15;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        EXPECT_TRUE(store_
                        ->AddComment("acme", "ville",
                                     case_ids[(t + i) % case_ids.size()],
                                     absl::StrCat("t", t, " #", i))
                        .ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const int64_t last = *store_->LastChangeSequence();
  for (int i = 0; i < 600 && follower.position() < last; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  follower.Stop();
  EXPECT_EQ(last, 3 + kThreads * kEach);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(heard, kThreads * kEach);
  EXPECT_THAT(comments, SizeIs(kThreads * kEach));  // none twice
  for (const auto& [case_id, of_case] : etags) {
    for (size_t i = 1; i < of_case.size(); ++i) {
      EXPECT_EQ(of_case[i], of_case[i - 1] + 1)
          << case_id << ": change " << i << " out of order";
    }
  }
}

// Two replicas on one database, both writing at once: a follower on the
// second hands on the first's changes too, each once, each case's in
// commit order.
TEST_P(CaseStoreConformance, AReplicasFollowerSeesTheOtherReplicasChanges) {
  if (!GetParam().shared_database) GTEST_SKIP() << "no shared database";
  std::unique_ptr<CaseStore> twin = Twin();
  ASSERT_NE(twin, nullptr);
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0), Event(2, "c2", 0)})).ok());
  std::vector<std::string> case_ids;
  for (const v1::Case& c : AllCases(*store_, "acme")) {
    case_ids.push_back(c.case_id());
  }
  ASSERT_THAT(case_ids, SizeIs(2));
  absl::Mutex mu;
  std::map<std::string, std::vector<int64_t>> etags;
  std::multiset<std::string> comments;
  ChangeFollower follower(
      *twin,
      [&](const CaseChange& c) {
        int64_t etag = 0;
        ASSERT_TRUE(absl::SimpleAtoi(c.after.etag(), &etag));
        absl::MutexLock lock(&mu);
        etags[c.after.case_id()].push_back(etag);
        comments.insert(c.entries.at(0).new_value());
      },
      nullptr, {.poll_interval = absl::Milliseconds(20), .page_size = 5});
  follower.Start();
  constexpr int kEach = 20;
  std::vector<std::thread> threads;
  for (CaseStore* replica : {store_.get(), twin.get()}) {
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, replica, t] {
        for (int i = 0; i < kEach; ++i) {
          absl::StatusOr<v1::Case> done = replica->AddComment(
              "acme", "ville", case_ids[(t + i) % 2],
              absl::StrCat(replica == twin.get() ? "twin" : "first", t, "#", i));
          EXPECT_TRUE(done.ok()) << done.status();
        }
      });
    }
  }
  for (std::thread& thread : threads) thread.join();
  const int64_t last = *store_->LastChangeSequence();
  EXPECT_EQ(last, 2 + 4 * kEach);
  for (int i = 0; i < 600 && follower.position() < last; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  follower.Stop();
  absl::MutexLock lock(&mu);
  EXPECT_THAT(comments, SizeIs(4 * kEach));
  EXPECT_EQ(std::set<std::string>(comments.begin(), comments.end()).size(),
            comments.size());  // none twice
  int first = 0;
  for (const std::string& c : comments) first += c.starts_with("first");
  EXPECT_EQ(first, 2 * kEach);  // the other replica's, all of them
  for (const auto& [case_id, of_case] : etags) {
    for (size_t i = 1; i < of_case.size(); ++i) {
      EXPECT_EQ(of_case[i], of_case[i - 1] + 1)
          << case_id << ": change " << i << " out of order";
    }
  }
}

// The change sequence keeps the newest changes only: a follower further
// behind is told it lost some and goes on from the oldest kept.
TEST_P(CaseStoreConformance, AFollowerBehindTheRetentionIsToldItLostChanges) {
  CaseStore::Options options = Options();
  options.change_retention = 5;
  std::unique_ptr<CaseStore> store =
      GetParam().make(options, database_ + "_retention");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateRule("acme", "anna", DetractorRule()).ok());
  ASSERT_TRUE(store->Apply(Page({Event(1, "c1", 0)})).ok());  // change 1
  const std::string case_id = AllCases(*store, "acme").at(0).case_id();
  std::vector<std::string> heard;
  int lost = 0;
  ChangeFollower follower(
      *store, [&](const CaseChange& c) { heard.push_back(c.after.etag()); },
      [&] { ++lost; });
  follower.StartAfter(0);
  for (int i = 0; i < 9; ++i) {  // changes 2…10
    ASSERT_TRUE(store->AddComment("acme", "ville", case_id, "x").ok());
  }
  absl::StatusOr<std::vector<SequencedChange>> kept = store->ChangesAfter(0, 100);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_THAT(*kept, SizeIs(5));
  EXPECT_EQ(kept->front().sequence, 6);
  absl::StatusOr<int> read = follower.CatchUp();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, 5);
  EXPECT_EQ(lost, 1);
  EXPECT_THAT(heard, ElementsAre("6", "7", "8", "9", "10"));
  EXPECT_EQ(store->ChangesAfter(0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// An erasure leaves nothing of the customer in the change sequence: their
// changes keep their places (no hole for a follower to take for a loss)
// but nothing else, and are not handed on.
TEST_P(CaseStoreConformance, ErasureEmptiesTheCustomersChanges) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  ASSERT_TRUE(store_->Apply(Page({Event(1, "gone", 0), Event(2, "kept", 0)})).ok());
  v1::Erasure erasure;
  erasure.set_sequence(3);
  erasure.set_tenant("acme");
  erasure.set_customer_hash("hash-gone");
  ASSERT_TRUE(store_->ApplyErasure(erasure).ok());
  absl::StatusOr<std::vector<SequencedChange>> all = store_->ChangesAfter(0, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_THAT(*all, SizeIs(2));
  int erased = 0;
  for (const SequencedChange& c : *all) {
    if (c.erased) {
      ++erased;
      EXPECT_EQ(c.change.after.ByteSizeLong(), 0u);
    } else {
      EXPECT_EQ(c.change.after.event().sequence(), 2);
    }
  }
  EXPECT_EQ(erased, 1);
  std::vector<int64_t> heard;
  int lost = 0;
  ChangeFollower follower(
      *store_,
      [&](const CaseChange& c) { heard.push_back(c.after.event().sequence()); },
      [&] { ++lost; });
  follower.StartAfter(0);
  ASSERT_TRUE(follower.CatchUp().ok());
  EXPECT_THAT(heard, ElementsAre(2));
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(follower.position(), 2);
}

TEST_P(CaseStoreConformance, CasesByHandAndByRuleOnRequest) {
  auto rule = store_->CreateRule("acme", "anna", DetractorRule());
  ASSERT_TRUE(rule.ok());
  v1::StoredEvent passive = Event(1, "c1", 8);
  v1::CreateCaseRequest by_hand;
  by_hand.set_event_sequence(1);
  by_hand.set_request_id("req-1");
  auto first = store_->CreateCase("acme", "anna", passive, by_hand);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->owner_team(), "support-team");
  EXPECT_EQ(first->priority(), v1::NORMAL);
  auto again = store_->CreateCase("acme", "anna", passive, by_hand);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->case_id(), first->case_id());

  v1::CreateCaseRequest by_rule;
  by_rule.set_event_sequence(1);
  by_rule.set_rule_id(rule->rule_id());
  EXPECT_EQ(store_->CreateCase("acme", "anna", passive, by_rule).status().code(),
            absl::StatusCode::kFailedPrecondition);
  v1::StoredEvent detractor = Event(2, "c2", 3);
  auto opened = store_->CreateCase("acme", "anna", detractor, by_rule);
  ASSERT_TRUE(opened.ok()) << opened.status();
  absl::StatusOr<v1::Case> twice =
      store_->CreateCase("acme", "anna", detractor, by_rule);
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(twice.status().message(), HasSubstr(opened->case_id()));
  // The feed then brings the same event: still one case.
  ASSERT_TRUE(store_->Apply(Page({detractor})).ok());
  EXPECT_THAT(AllCases(*store_, "acme"), SizeIs(2));
  EXPECT_EQ(store_->CreateCase("globex", "x", detractor, by_rule).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(CaseStoreConformance, RulesAreManagedAndAudited) {
  v1::CaseRule bad = DetractorRule();
  bad.mutable_conditions()->set_max_nps(11);
  EXPECT_THAT(store_->CreateRule("acme", "anna", bad).status().message(),
              HasSubstr("rule.conditions.max_nps"));
  auto rule = store_->CreateRule("acme", "anna", DetractorRule());
  ASSERT_TRUE(rule.ok());
  v1::CaseRule change;
  change.set_rule_id(rule->rule_id());
  change.set_disabled(true);
  auto updated =
      store_->UpdateRule("acme", "ville", change, Mask({"disabled"}));
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_TRUE(updated->disabled());
  EXPECT_EQ(updated->name(), "Detractors");
  EXPECT_EQ(store_->UpdateRule("acme", "ville", change, Mask({"journey"}))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A disabled rule opens nothing.
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0)})).ok());
  EXPECT_THAT(AllCases(*store_, "acme"), SizeIs(0));
  auto trail = store_->AuditTrail("acme", "", rule->rule_id());
  ASSERT_TRUE(trail.ok());
  ASSERT_THAT(*trail, SizeIs(2));
  EXPECT_EQ((*trail)[1].field(), "rule.disabled");
  EXPECT_EQ((*trail)[1].actor(), "ville");
  EXPECT_EQ((*trail)[1].new_value(), "disabled: true");
  EXPECT_THAT(*store_->ListRules("acme", "switching"), SizeIs(1));
  EXPECT_THAT(*store_->ListRules("acme", "other-journey"), SizeIs(0));
}

TEST_P(CaseStoreConformance, ListingFiltersAndPages) {
  ASSERT_TRUE(store_->CreateRule("acme", "anna", DetractorRule()).ok());
  std::vector<v1::StoredEvent> events;
  for (int i = 0; i < 30; ++i) {
    events.push_back(Event(i + 1, absl::StrCat("c", i), 0, "acme",
                           Start() + absl::Minutes(i)));
  }
  ASSERT_TRUE(store_->Apply(Page(events)).ok());
  std::vector<v1::Case> all = AllCases(*store_, "acme");
  ASSERT_THAT(all, SizeIs(30));
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_GT(Time(all[i - 1].create_time()), Time(all[i].create_time()));
  }
  v1::Case change;
  change.set_case_id(all[3].case_id());
  change.set_assignee("ville");
  ASSERT_TRUE(store_->UpdateCase("acme", "anna", change, Mask({"assignee"})).ok());
  CaseFilter mine;
  mine.assignee = "ville";
  mine.states = {v1::ASSIGNED};
  EXPECT_THAT(AllCases(*store_, "acme", mine), SizeIs(1));
  CaseFilter early;
  early.created_to = Start() + absl::Minutes(10);
  EXPECT_THAT(AllCases(*store_, "acme", early), SizeIs(10));
  EXPECT_EQ(store_->ListCases("acme", {}, 10, "nonsense").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(CaseStoreConformance, AnotherFeedIsRefused) {
  ASSERT_TRUE(store_->CheckFeed("feed-a").ok());
  ASSERT_TRUE(store_->CheckFeed("feed-a").ok());
  EXPECT_EQ(store_->CheckFeed("feed-b").code(),
            absl::StatusCode::kFailedPrecondition);
}

// A tenant's business calendar stands in for a rule's missing hours. Open
// cases keep the calendar they were opened with; later cases use the new one.
TEST_P(CaseStoreConformance, RulesWithoutHoursUseTheTenantsCalendar) {
  v1::CaseRule rule = DetractorRule();
  const v1::BusinessHours helsinki = rule.sla().business_hours();
  rule.mutable_sla()->clear_business_hours();
  // Neither the rule nor the tenant has hours: refused, naming the field.
  absl::StatusOr<v1::CaseRule> refused = store_->CreateRule("acme", "anna", rule);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("rule.sla.business_hours"));
  EXPECT_EQ(store_->GetBusinessCalendar("acme").status().code(),
            absl::StatusCode::kNotFound);

  ASSERT_TRUE(store_->SetBusinessCalendar("acme", "anna", helsinki).ok());
  auto created = store_->CreateRule("acme", "anna", rule);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(created->sla().has_business_hours());  // it follows the tenant
  // Another tenant's calendar is not this one's.
  EXPECT_EQ(store_->CreateRule("globex", "anna", rule).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetBusinessCalendar("globex").status().code(),
            absl::StatusCode::kNotFound);

  // Opened on Midsummer Eve: due exactly as with the rule's own hours.
  ASSERT_TRUE(store_->Apply(Page({Event(1, "c1", 0, "acme",
                                        Local(2026, 6, 19, 10, 30))}))
                  .ok());
  v1::Case first = AllCases(*store_, "acme").at(0);
  EXPECT_EQ(Time(first.sla().first_contact_due()), Local(2026, 6, 22, 16));
  EXPECT_EQ(Time(first.sla().resolution_due()), Local(2026, 6, 29, 16));
  EXPECT_EQ(first.sla_policy().business_hours().time_zone(), "Europe/Helsinki");

  // The tenant moves to round-the-clock weekdays in UTC.
  clock_.Advance(absl::Hours(1));
  v1::BusinessHours around_the_clock;
  around_the_clock.set_time_zone("UTC");
  for (int day = 1; day <= 5; ++day) {
    v1::BusinessHours::Interval& h = *around_the_clock.add_weekly();
    h.set_weekday(day);
    h.set_open_minute(0);
    h.set_close_minute(1440);
  }
  auto changed = store_->SetBusinessCalendar("acme", "ville", around_the_clock);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(Time(changed->update_time()), Start() + absl::Hours(1));
  std::unique_ptr<CaseStore> twin =
      GetParam().shared_database ? Twin() : nullptr;
  CaseStore& reader = twin != nullptr ? *twin : *store_;
  auto read = reader.GetBusinessCalendar("acme");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->business_hours().time_zone(), "UTC");

  // The open case keeps its calendar, also through a change that
  // recomputes its due times.
  v1::Case assign;
  assign.set_case_id(first.case_id());
  assign.set_assignee("ville");
  auto assigned =
      store_->UpdateCase("acme", "anna", assign, Mask({"assignee"}));
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  EXPECT_EQ(Time(assigned->sla().first_contact_due()), Local(2026, 6, 22, 16));
  EXPECT_EQ(Time(assigned->sla().resolution_due()), Local(2026, 6, 29, 16));
  // A case opened now runs on the new calendar: Monday 1 June 9:00 EEST
  // is 6:00 UTC; 8 hours later, 48 hours later (Wednesday 6:00 UTC).
  ASSERT_TRUE(store_->Apply(Page({Event(2, "c2", 0)})).ok());
  CaseFilter of_c2;
  of_c2.created_to = Start() + absl::Minutes(1);
  std::vector<v1::Case> later = AllCases(*store_, "acme", of_c2);
  ASSERT_THAT(later, SizeIs(1));
  EXPECT_EQ(Time(later[0].sla().first_contact_due()),
            Start() + absl::Hours(8));
  EXPECT_EQ(Time(later[0].sla().resolution_due()), Start() + absl::Hours(48));
  EXPECT_EQ(later[0].sla_policy().business_hours().time_zone(), "UTC");

  // Audited: who, old and new; setting the same calendar again is no
  // change.
  ASSERT_TRUE(store_->SetBusinessCalendar("acme", "ville", around_the_clock).ok());
  auto trail = store_->BusinessCalendarTrail("acme");
  ASSERT_TRUE(trail.ok()) << trail.status();
  ASSERT_THAT(*trail, SizeIs(2));
  EXPECT_EQ((*trail)[0].field(), "business_calendar");
  EXPECT_EQ((*trail)[0].actor(), "anna");
  EXPECT_EQ((*trail)[0].old_value(), "");
  EXPECT_THAT((*trail)[0].new_value(), HasSubstr("Europe/Helsinki"));
  EXPECT_EQ((*trail)[1].actor(), "ville");
  EXPECT_THAT((*trail)[1].old_value(), HasSubstr("Europe/Helsinki"));
  EXPECT_THAT((*trail)[1].new_value(), HasSubstr("UTC"));
  EXPECT_THAT(*store_->BusinessCalendarTrail("globex"), SizeIs(0));
  // The rules' and cases' trails hold none of it.
  EXPECT_THAT(*store_->AuditTrail("acme", "", created->rule_id()), SizeIs(1));
}

TEST_P(CaseStoreConformance, ABadCalendarIsRefusedNamingTheField) {
  v1::BusinessHours good = DetractorRule().sla().business_hours();
  auto refused = [&](auto change) {
    v1::BusinessHours hours = good;
    change(hours);
    absl::Status status =
        store_->SetBusinessCalendar("acme", "anna", hours).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    return std::string(status.message());
  };
  EXPECT_THAT(refused([](v1::BusinessHours& h) {
                h.set_time_zone("Europe/Atlantis");
              }),
              HasSubstr("business_hours.time_zone"));
  EXPECT_THAT(refused([](v1::BusinessHours& h) {
                h.mutable_weekly(1)->set_open_minute(960);
              }),
              HasSubstr("business_hours.weekly[1]"));
  EXPECT_THAT(refused([](v1::BusinessHours& h) {
                h.mutable_weekly(2)->set_weekday(8);
              }),
              HasSubstr("business_hours.weekly[2].weekday"));
  EXPECT_THAT(refused([](v1::BusinessHours& h) {
                h.mutable_holidays(0)->set_date("2026-13-01");
              }),
              HasSubstr("business_hours.holidays[0].date"));
  EXPECT_THAT(refused([](v1::BusinessHours& h) { h.clear_weekly(); }),
              HasSubstr("business_hours.weekly"));
  // Nothing was stored or audited.
  EXPECT_EQ(store_->GetBusinessCalendar("acme").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(*store_->BusinessCalendarTrail("acme"), SizeIs(0));
  EXPECT_EQ(store_->SetBusinessCalendar("", "anna", good).status().code(),
            absl::StatusCode::kPermissionDenied);
}

void ExpectMigratedFromVersion2(CaseStore& store) {
  auto rules = store.ListRules("acme", "");
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(rules->size(), 1u);
  v1::BusinessHours hours;
  hours.set_time_zone("Europe/Helsinki");
  v1::BusinessHours::Interval& monday = *hours.add_weekly();
  monday.set_weekday(1);
  monday.set_open_minute(480);
  monday.set_close_minute(960);
  ASSERT_TRUE(store.SetBusinessCalendar("acme", "anna", hours).ok());
  auto read = store.GetBusinessCalendar("acme");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->business_hours().time_zone(), "Europe/Helsinki");
  auto last = store.LastChangeSequence();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 0);
}

}  // namespace polku::cases
