// CaseService through a real gRPC server in the test process: the codes and
// messages a caller sees, tenants kept apart, the actor in the audit trail.
#include "services/cases/server/case_service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "lib/rpc/push_stream.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "lib/rpc/metadata.h"
#include "services/cases/server/sla_timer.h"
#include "services/cases/store/change_follower.h"
#include "services/cases/store/memory_case_store.h"

namespace polku::cases {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// Events by (tenant, sequence), as polku-feedback would export them.
class FakeEvents final : public EventSource {
 public:
  void Add(const v1::StoredEvent& e) { events_[{e.tenant(), e.sequence()}] = e; }

  absl::StatusOr<v1::StoredEvent> Event(const rpc::Caller& caller,
                                        int64_t sequence, absl::Time) override {
    auto it = events_.find({caller.tenant, sequence});
    if (it == events_.end()) return absl::NotFoundError("no such event");
    return it->second;
  }
  absl::Status ForEach(
      const rpc::Caller& caller, const std::string& journey,
      const v1::TimeRange&, absl::Time,
      absl::FunctionRef<absl::Status(const v1::StoredEvent&)> visit) override {
    for (const auto& [key, e] : events_) {
      if (key.first == caller.tenant && e.journey() == journey) {
        if (absl::Status s = visit(e); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  std::map<std::pair<std::string, int64_t>, v1::StoredEvent> events_;
};

// Hashes as polku-feedback would, per tenant; remembers what it was asked.
class FakeCustomerKeys final : public CustomerKeys {
 public:
  absl::StatusOr<std::string> Hash(const rpc::Caller& caller,
                                   const std::string& customer,
                                   absl::Time) override {
    asked.push_back(customer);
    return absl::StrCat(caller.tenant == "acme" ? "" : caller.tenant + "-", "h",
                        customer.substr(customer.find('-') + 1));
  }
  std::vector<std::string> asked;
};

v1::StoredEvent Event(const std::string& tenant, int64_t sequence, int nps,
                      const std::string& customer) {
  v1::StoredEvent e;
  e.set_tenant(tenant);
  e.set_sequence(sequence);
  e.set_journey("switching");
  e.set_stage("support");
  e.set_channel("phone");
  e.set_customer_hash(customer);
  e.mutable_received_at()->set_seconds(1'780'300'800);  // 2026-06-01 08:00 UTC
  e.mutable_event()->set_touchpoint("support_call");
  e.mutable_event()->set_nps(nps);
  e.mutable_event()->mutable_occurred_at()->set_seconds(1'780'300'000);
  return e;
}

class CaseServiceTest : public testing::Test {
 protected:
  CaseServiceTest()
      : clock_(absl::FromUnixSeconds(1'780'300'800)),
        store_(CaseStore::Options{.clock = &clock_}),
        executor_(2),
        service_(store_, executor_,
                 {.events = &events_, .customer_keys = &keys_}) {
    follower_.Start();
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::CaseService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  ~CaseServiceTest() override {
    service_.EndStreams();
    server_->Shutdown();
    follower_.Stop();
  }

  // Applies one event of the feed (opening its cases).
  void Feed(const v1::StoredEvent& event) {
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    *page.Add() = event;
    ASSERT_TRUE(store_.Apply(page).ok());
    // Handed on now, so a watch begun next does not get it after the
    // existing cases too.
    ASSERT_TRUE(follower_.CatchUp().ok());
  }

  std::unique_ptr<grpc::ClientContext> As(const std::string& tenant,
                                          const std::string& actor = "anna") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    if (!tenant.empty()) context->AddMetadata(rpc::kTenantHeader, tenant);
    context->AddMetadata(kActorHeader, actor);
    return context;
  }

  v1::CaseRule Rule() {
    v1::CaseRule rule;
    google::protobuf::TextFormat::ParseFromString(R"pb(
      journey: "switching" name: "Detractors" conditions { max_nps: 6 }
      fallback_queue: "care"
      sla {
        first_contact_seconds: 3600 reminder_share: 0.5
        business_hours {
          time_zone: "UTC"
          weekly { weekday: 1 open_minute: 0 close_minute: 1440 }
        }
      }
    )pb", &rule);
    return rule;
  }

  FakeClock clock_;
  MemoryCaseStore store_;
  Executor executor_;
  FakeEvents events_;
  FakeCustomerKeys keys_;
  CaseServiceImpl service_;
  // As main.cc: WatchCases sends what the follower reads from the store.
  ChangeFollower follower_{
      store_, [this](const CaseChange& change) { service_.CaseChanged(change); },
      [this] { service_.ResetStreams(); }};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::CaseService::Stub> stub_;
};

TEST_F(CaseServiceTest, WithoutATenantNothingIsAnswered) {
  v1::ListCasesResponse cases;
  grpc::Status status =
      stub_->ListCases(As("").get(), v1::ListCasesRequest(), &cases);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(CaseServiceTest, ACaseFromARuleIsWorkedAndAudited) {
  v1::CreateRuleRequest create_rule;
  *create_rule.mutable_rule() = Rule();
  v1::CaseRule rule;
  ASSERT_TRUE(stub_->CreateRule(As("acme").get(), create_rule, &rule).ok());
  events_.Add(Event("acme", 7, 3, "h1"));

  v1::CreateCaseRequest create;
  create.set_event_sequence(7);
  create.set_rule_id(rule.rule_id());
  v1::Case created;
  grpc::Status status = stub_->CreateCase(As("acme").get(), create, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.owner_team(), "care");
  EXPECT_EQ(created.event().nps(), 3);

  v1::UpdateCaseRequest update;
  update.mutable_case_()->set_case_id(created.case_id());
  update.mutable_case_()->set_state(v1::CLOSED);
  update.mutable_update_mask()->add_paths("state");
  v1::Case updated;
  status = stub_->UpdateCase(As("acme", "ville").get(), update, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("from NEW to CLOSED"));
  update.mutable_case_()->set_assignee("ville");
  update.mutable_update_mask()->Clear();
  update.mutable_update_mask()->add_paths("assignee");
  ASSERT_TRUE(stub_->UpdateCase(As("acme", "ville").get(), update, &updated).ok());
  EXPECT_EQ(updated.state(), v1::ASSIGNED);

  v1::ListAuditEntriesRequest audit;
  audit.set_case_id(created.case_id());
  v1::ListAuditEntriesResponse trail;
  ASSERT_TRUE(stub_->ListAuditEntries(As("acme").get(), audit, &trail).ok());
  ASSERT_THAT(trail.entries(), SizeIs(3));
  EXPECT_EQ(trail.entries(0).actor(), "anna");
  EXPECT_EQ(trail.entries(1).actor(), "ville");
  EXPECT_EQ(trail.entries(1).field(), "assignee");

  // Another tenant's key gets nothing of it.
  v1::GetCaseRequest get;
  get.set_case_id(created.case_id());
  v1::Case other;
  EXPECT_EQ(stub_->GetCase(As("globex").get(), get, &other).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ListAuditEntriesResponse none;
  ASSERT_TRUE(stub_->ListAuditEntries(As("globex").get(), audit, &none).ok());
  EXPECT_THAT(none.entries(), SizeIs(0));
  v1::ListRulesResponse rules;
  ASSERT_TRUE(stub_->ListRules(As("globex").get(), {}, &rules).ok());
  EXPECT_THAT(rules.rules(), SizeIs(0));
  // Nor can it open a case for acme's event.
  EXPECT_EQ(stub_->CreateCase(As("globex").get(), create, &other).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(CaseServiceTest, DryRunCountsWhatARuleWouldHaveOpened) {
  for (int i = 1; i <= 6; ++i) {
    events_.Add(Event("acme", i, i % 2 == 0 ? 9 : 2, absl::StrCat("h", i % 3)));
  }
  v1::DryRunRuleRequest request;
  *request.mutable_inline_rule() = Rule();
  request.mutable_range()->mutable_start()->set_seconds(0);
  request.mutable_range()->mutable_end()->set_seconds(2'000'000'000);
  v1::DryRunRuleResponse response;
  grpc::Status status = stub_->DryRunRule(As("acme").get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.scanned_events(), 6);
  EXPECT_EQ(response.matched_events(), 3);  // sequences 1, 3, 5
  EXPECT_EQ(response.cases(), 3);           // customers h1, h0, h2
  request.mutable_inline_rule()->mutable_conditions()->set_max_nps(12);
  EXPECT_EQ(stub_->DryRunRule(As("acme").get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(store_.ListRules("acme", "")->empty());  // a dry run stores nothing
}

TEST_F(CaseServiceTest, TheSlaTimerRaisesEachAlertOnce) {
  auto rule = store_.CreateRule("acme", "anna", Rule());
  ASSERT_TRUE(rule.ok());
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  *page.Add() = Event("acme", 1, 0, "h1");  // Monday 08:00 UTC
  ASSERT_TRUE(store_.Apply(page).ok());
  std::vector<std::string> raised;
  SlaTimer timer(store_, {.on_raised = [&](const SlaAlertRaised& a) {
                   raised.push_back(a.kind);
                 }});
  for (int minute = 0; minute <= 120; minute += 10) {
    clock_.Set(absl::FromUnixSeconds(1'780'300'800) + absl::Minutes(minute));
    ASSERT_TRUE(timer.Tick().ok());
  }
  EXPECT_THAT(raised, testing::ElementsAre("sla.first_contact_reminder",
                                           "sla.first_contact_breach"));
}

TEST_F(CaseServiceTest, MeasuresCountTheTenantsCases) {
  ASSERT_TRUE(store_.CreateRule("acme", "anna", Rule()).ok());
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  *page.Add() = Event("acme", 1, 0, "h1");
  *page.Add() = Event("acme", 2, 0, "h2");
  *page.Add() = Event("globex", 3, 0, "h3");
  ASSERT_TRUE(store_.Apply(page).ok());
  v1::ListCasesResponse cases;
  ASSERT_TRUE(stub_->ListCases(As("acme").get(), {}, &cases).ok());
  ASSERT_EQ(cases.cases_size(), 2);
  // One of the two contacted 30 minutes after opening, within its hour.
  clock_.Advance(absl::Minutes(30));
  v1::UpdateCaseRequest update;
  update.mutable_case_()->set_case_id(cases.cases(0).case_id());
  update.mutable_case_()->set_assignee("ville");
  update.mutable_case_()->set_state(v1::CONTACTED);
  update.mutable_update_mask()->add_paths("assignee");
  update.mutable_update_mask()->add_paths("state");
  v1::Case updated;
  ASSERT_TRUE(stub_->UpdateCase(As("acme").get(), update, &updated).ok());
  v1::CaseMeasures measures;
  grpc::Status status = stub_->GetCaseMeasures(
      As("acme").get(), v1::GetCaseMeasuresRequest(), &measures);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(measures.eligible(), 2);  // globex's case is not acme's
  EXPECT_EQ(measures.contacted_within_sla(), 1);
  EXPECT_DOUBLE_EQ(measures.close_the_loop_rate(), 0.5);
  EXPECT_DOUBLE_EQ(measures.first_contact_median_seconds(), 1800);
}

TEST_F(CaseServiceTest, ListFiltersAreChecked) {
  v1::ListCasesRequest request;
  request.add_states(v1::CASE_STATE_UNSPECIFIED);
  v1::ListCasesResponse response;
  grpc::Status status = stub_->ListCases(As("acme").get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("states[0]"));
}

// A team's board: the existing cases of its queue, then each change of a
// case in it (one message per audit entry), including the change that takes
// a case out of the filter, and nothing of other teams or tenants; the
// drain ends the watch UNAVAILABLE.
TEST_F(CaseServiceTest, WatchCasesSendsTheQueueThenItsChanges) {
  ASSERT_TRUE(store_.CreateRule("acme", "anna", Rule()).ok());
  ASSERT_TRUE(store_.CreateRule("globex", "gina", Rule()).ok());
  Feed(Event("acme", 1, 0, "h1"));
  auto context = As("acme");
  v1::WatchCasesRequest request;
  request.set_include_existing(true);
  request.mutable_filter()->set_owner_team("care");
  request.mutable_filter()->add_states(v1::NEW);
  request.mutable_filter()->add_states(v1::ASSIGNED);
  std::unique_ptr<grpc::ClientReader<v1::WatchCasesResponse>> reader =
      stub_->WatchCases(context.get(), request);
  v1::WatchCasesResponse update;
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.case_().event().sequence(), 1);
  EXPECT_FALSE(update.has_change());  // an existing case
  const std::string first = update.case_().case_id();

  Feed(Event("globex", 2, 0, "h9"));  // another tenant's: not sent
  Feed(Event("acme", 3, 0, "h2"));    // opened now
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.case_().event().sequence(), 3);
  EXPECT_EQ(update.change().field(), "state");
  EXPECT_EQ(update.change().new_value(), "NEW");
  EXPECT_EQ(update.change().actor(), kSystemActor);
  const std::string second = update.case_().case_id();

  // Assigned and contacted in one update: three entries, the last taking
  // the case out of the filter.
  v1::UpdateCaseRequest change;
  change.mutable_case_()->set_case_id(first);
  change.mutable_case_()->set_assignee("ville");
  change.mutable_case_()->set_state(v1::CONTACTED);
  change.mutable_update_mask()->add_paths("assignee");
  change.mutable_update_mask()->add_paths("state");
  v1::Case updated;
  ASSERT_TRUE(stub_->UpdateCase(As("acme", "ville").get(), change, &updated).ok());
  std::vector<std::string> fields;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(reader->Read(&update));
    EXPECT_EQ(update.case_().case_id(), first);
    EXPECT_EQ(update.case_().state(), v1::CONTACTED);
    EXPECT_EQ(update.change().actor(), "ville");
    fields.push_back(absl::StrCat(update.change().field(), "=",
                                  update.change().new_value()));
  }
  EXPECT_THAT(fields, testing::ElementsAre("assignee=ville", "state=ASSIGNED",
                                           "state=CONTACTED"));
  // The first case is out of the filter now: its comment is not sent; the
  // second's is, and comes next.
  v1::AddCommentRequest comment;
  comment.set_case_id(first);
  comment.set_text("Soitettu.");
  ASSERT_TRUE(stub_->AddComment(As("acme").get(), comment, &updated).ok());
  comment.set_case_id(second);
  ASSERT_TRUE(stub_->AddComment(As("acme").get(), comment, &updated).ok());
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.case_().case_id(), second);
  EXPECT_EQ(update.change().field(), "comment");

  service_.EndStreams();
  EXPECT_FALSE(reader->Read(&update));
  grpc::Status ended = reader->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  // A watch begun while draining is refused the same way.
  auto late = As("acme");
  auto refused = stub_->WatchCases(late.get(), request);
  EXPECT_FALSE(refused->Read(&update));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// When the follower lost changes (it fell behind the store's retention),
// every watch ends UNAVAILABLE, as it would have gaps; a new watch is
// taken and gets the changes from then on.
TEST_F(CaseServiceTest, AWatchWithAGapEndsAndANewOneIsTaken) {
  ASSERT_TRUE(store_.CreateRule("acme", "anna", Rule()).ok());
  Feed(Event("acme", 1, 0, "h1"));
  v1::WatchCasesRequest request;
  request.set_include_existing(true);
  auto context = As("acme");
  auto reader = stub_->WatchCases(context.get(), request);
  v1::WatchCasesResponse update;
  ASSERT_TRUE(reader->Read(&update));  // the existing case: registered
  service_.ResetStreams();
  EXPECT_FALSE(reader->Read(&update));
  grpc::Status ended = reader->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(ended.error_message(), HasSubstr("watch again"));
  auto again = As("acme");
  reader = stub_->WatchCases(again.get(), request);
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_FALSE(update.has_change());
  Feed(Event("acme", 2, 0, "h2"));
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.case_().event().sequence(), 2);
  EXPECT_EQ(update.change().new_value(), "NEW");
  again->TryCancel();
  reader->Finish();
}

TEST_F(CaseServiceTest, WatchCasesChecksItsFilterAndTenant) {
  v1::WatchCasesRequest request;
  request.mutable_filter()->add_states(v1::CASE_STATE_UNSPECIFIED);
  v1::WatchCasesResponse update;
  auto context = As("acme");
  auto reader = stub_->WatchCases(context.get(), request);
  EXPECT_FALSE(reader->Read(&update));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("states[0]"));
  auto anonymous = As("");
  reader = stub_->WatchCases(anonymous.get(), v1::WatchCasesRequest());
  EXPECT_FALSE(reader->Read(&update));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// The reference goes to polku-feedback to be hashed; the customer's open
// case becomes no-contact (audited with the actor), and the answer holds a
// count, never the hash.
TEST_F(CaseServiceTest, SetContactConsentMarksTheCustomersCases) {
  ASSERT_TRUE(store_.CreateRule("acme", "anna", Rule()).ok());
  Feed(Event("acme", 1, 0, "h1"));
  Feed(Event("acme", 2, 0, "h2"));
  v1::SetContactConsentRequest request;
  request.set_customer("customer-1");
  request.set_contact_allowed(false);
  v1::SetContactConsentResponse response;
  grpc::Status status =
      stub_->SetContactConsent(As("acme", "pia").get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.cases(), 1);
  EXPECT_THAT(keys_.asked, testing::ElementsAre("customer-1"));
  v1::ListCasesResponse cases;
  ASSERT_TRUE(stub_->ListCases(As("acme").get(), {}, &cases).ok());
  for (const v1::Case& c : cases.cases()) {
    EXPECT_EQ(c.no_contact(), c.event().sequence() == 1);
    if (c.event().sequence() != 1) continue;
    std::vector<v1::AuditEntry> trail = *store_.AuditTrail("acme", c.case_id(), "");
    EXPECT_EQ(trail.back().field(), "no_contact");
    EXPECT_EQ(trail.back().actor(), "pia");
  }
  // Another tenant's same reference is another customer.
  ASSERT_TRUE(stub_->SetContactConsent(As("globex").get(), request, &response).ok());
  EXPECT_EQ(response.cases(), 0);
  request.clear_customer();
  status = stub_->SetContactConsent(As("acme").get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "customer: must not be empty");
}

// Recovery through the RPC: a resolved customer's later NPS against a
// never-contacted one's, read back from the events.
TEST_F(CaseServiceTest, MeasuresCompareLaterAnswersForRecovery) {
  ASSERT_TRUE(store_.CreateRule("acme", "anna", Rule()).ok());
  for (int i = 1; i <= 4; ++i) {
    v1::StoredEvent e = Event("acme", i, 2, absl::StrCat("h", i));
    events_.Add(e);
    Feed(e);
  }
  v1::ListCasesResponse cases;
  ASSERT_TRUE(stub_->ListCases(As("acme").get(), {}, &cases).ok());
  ASSERT_EQ(cases.cases_size(), 4);
  clock_.Advance(absl::Hours(1));
  for (const v1::Case& c : cases.cases()) {
    // Customers h1 and h2 are contacted and resolved; h3 and h4 never.
    if (c.event().sequence() > 2) continue;
    v1::UpdateCaseRequest update;
    update.mutable_case_()->set_case_id(c.case_id());
    update.mutable_case_()->set_assignee("ville");
    update.mutable_case_()->set_state(v1::CONTACTED);
    *update.mutable_update_mask()->add_paths() = "assignee";
    *update.mutable_update_mask()->add_paths() = "state";
    v1::Case updated;
    ASSERT_TRUE(stub_->UpdateCase(As("acme").get(), update, &updated).ok());
    update.mutable_update_mask()->Clear();
    update.mutable_case_()->set_state(v1::RESOLVED);
    *update.mutable_update_mask()->add_paths() = "state";
    ASSERT_TRUE(stub_->UpdateCase(As("acme").get(), update, &updated).ok());
  }
  // Later answers, a week on: 9 and 7 from the resolved, 4 and 6 from the
  // others; one answer before the case does not count.
  const int later[] = {9, 7, 4, 6};
  for (int i = 1; i <= 4; ++i) {
    v1::StoredEvent e = Event("acme", 10 + i, later[i - 1], absl::StrCat("h", i));
    e.mutable_event()->mutable_occurred_at()->set_seconds(1'780'300'800 +
                                                          7 * 86400);
    events_.Add(e);
  }
  v1::StoredEvent early = Event("acme", 20, 0, "h1");
  early.mutable_event()->mutable_occurred_at()->set_seconds(1'780'000'000);
  events_.Add(early);
  v1::CaseMeasures measures;
  grpc::Status status = stub_->GetCaseMeasures(
      As("acme").get(), v1::GetCaseMeasuresRequest(), &measures);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(measures.recovery_score(), "nps");
  EXPECT_EQ(measures.recovery_n_resolved(), 2);
  EXPECT_EQ(measures.recovery_n_not_contacted(), 2);
  EXPECT_DOUBLE_EQ(measures.recovery_mean_resolved(), 8);
  EXPECT_DOUBLE_EQ(measures.recovery_mean_not_contacted(), 5);
  EXPECT_DOUBLE_EQ(measures.recovery(), 3);
  // Welch: se = √(2/2 + 2/2) = √2, ν = 2, t(0.975, 2) = 4.302653.
  EXPECT_NEAR(measures.recovery_interval().low(), 3 - 4.302653 * std::sqrt(2.0),
              1e-5);
  EXPECT_NEAR(measures.recovery_interval().high(), 3 + 4.302653 * std::sqrt(2.0),
              1e-5);
  v1::GetCaseMeasuresRequest bad;
  bad.set_recovery_score("ces");
  status = stub_->GetCaseMeasures(As("acme").get(), bad, &measures);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("recovery_score"));
}

TEST_F(CaseServiceTest, TheRecoveryWindowIsBounded) {
  v1::CaseMeasures measures;
  for (int64_t seconds : {int64_t{-1}, int64_t{11} * 366 * 86400,
                          int64_t{1} << 62}) {
    v1::GetCaseMeasuresRequest request;
    request.set_recovery_window_seconds(seconds);
    grpc::Status status =
        stub_->GetCaseMeasures(As("acme").get(), request, &measures);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << seconds;
    EXPECT_THAT(status.error_message(), HasSubstr("recovery_window_seconds"));
  }
  v1::GetCaseMeasuresRequest ten_years;
  ten_years.set_recovery_window_seconds(int64_t{10} * 365 * 86400);
  grpc::Status status =
      stub_->GetCaseMeasures(As("acme").get(), ten_years, &measures);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// Recovery per journey: h1 was resolved in "switching" and never contacted
// in "moving". Its answer in "moving" (2, the earlier) says nothing of the
// "switching" case, which counts only its "switching" answer (9).
TEST_F(CaseServiceTest, RecoveryCountsAnswersOnlyInTheCasesJourney) {
  v1::CaseRule moving = Rule();
  moving.set_journey("moving");
  ASSERT_TRUE(store_.CreateRule("acme", "anna", Rule()).ok());
  ASSERT_TRUE(store_.CreateRule("acme", "anna", moving).ok());
  v1::StoredEvent in_switching = Event("acme", 1, 2, "h1");
  v1::StoredEvent in_moving = Event("acme", 2, 2, "h1");
  in_moving.set_journey("moving");
  for (const v1::StoredEvent& e : {in_switching, in_moving}) {
    events_.Add(e);
    Feed(e);
  }
  v1::ListCasesRequest list;
  list.set_journey("switching");
  v1::ListCasesResponse cases;
  ASSERT_TRUE(stub_->ListCases(As("acme").get(), list, &cases).ok());
  ASSERT_EQ(cases.cases_size(), 1);
  clock_.Advance(absl::Hours(1));
  v1::UpdateCaseRequest update;
  update.mutable_case_()->set_case_id(cases.cases(0).case_id());
  update.mutable_case_()->set_assignee("ville");
  update.mutable_case_()->set_state(v1::CONTACTED);
  *update.mutable_update_mask()->add_paths() = "assignee";
  *update.mutable_update_mask()->add_paths() = "state";
  v1::Case updated;
  ASSERT_TRUE(stub_->UpdateCase(As("acme").get(), update, &updated).ok());
  update.mutable_update_mask()->Clear();
  update.mutable_case_()->set_state(v1::RESOLVED);
  *update.mutable_update_mask()->add_paths() = "state";
  ASSERT_TRUE(stub_->UpdateCase(As("acme").get(), update, &updated).ok());
  v1::StoredEvent later_moving = Event("acme", 11, 2, "h1");
  later_moving.set_journey("moving");
  later_moving.mutable_event()->mutable_occurred_at()->set_seconds(
      1'780'300'800 + 86400);
  v1::StoredEvent later_switching = Event("acme", 12, 9, "h1");
  later_switching.mutable_event()->mutable_occurred_at()->set_seconds(
      1'780'300'800 + 2 * 86400);
  events_.Add(later_moving);
  events_.Add(later_switching);
  v1::CaseMeasures measures;
  grpc::Status status = stub_->GetCaseMeasures(
      As("acme").get(), v1::GetCaseMeasuresRequest(), &measures);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(measures.recovery_n_resolved(), 1);
  EXPECT_EQ(measures.recovery_n_not_contacted(), 1);
  EXPECT_DOUBLE_EQ(measures.recovery_mean_resolved(), 9);
  EXPECT_DOUBLE_EQ(measures.recovery_mean_not_contacted(), 2);
  EXPECT_DOUBLE_EQ(measures.recovery(), 7);
}

// Changes arriving while a watch's existing cases are still to be read wait
// for them, but only so many: past PushStream's bound the watch ends
// RESOURCE_EXHAUSTED instead of holding them without end.
TEST_F(CaseServiceTest, AWatchHoldsBoundedChangesBeforeItsExistingCases) {
  ASSERT_TRUE(store_.CreateRule("acme", "anna", Rule()).ok());
  Feed(Event("acme", 1, 0, "h1"));
  v1::ListCasesResponse cases;
  ASSERT_TRUE(stub_->ListCases(As("acme").get(), {}, &cases).ok());
  ASSERT_EQ(cases.cases_size(), 1);
  // Both executor threads busy: the existing cases are not read until
  // they are freed.
  // Shared: a woken job may still be leaving the wait when the test ends.
  auto release = std::make_shared<absl::Notification>();
  for (int i = 0; i < 2; ++i) {
    executor_.Schedule([release] {
      release->WaitForNotificationWithTimeout(absl::Seconds(60));
    });
  }
  auto context = As("acme");
  // Generous: slow under ASan on a loaded machine.
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(60));
  v1::WatchCasesRequest request;
  request.set_include_existing(true);
  std::unique_ptr<grpc::ClientReader<v1::WatchCasesResponse>> reader =
      stub_->WatchCases(context.get(), request);
  // Until the server has the watch (no message can come before the
  // executor is freed), then well past the bound.
  absl::SleepFor(absl::Milliseconds(500));
  // Priority back and forth: one message each, and the case stays small.
  v1::Case change;
  change.set_case_id(cases.cases(0).case_id());
  google::protobuf::FieldMask mask;
  mask.add_paths("priority");
  for (size_t i = 0; i < 2 * rpc::kDefaultMaxPending + 10; ++i) {
    change.set_priority(i % 2 == 0 ? v1::HIGH : v1::NORMAL);
    ASSERT_TRUE(store_.UpdateCase("acme", "ville", change, mask).ok());
  }
  release->Notify();
  v1::WatchCasesResponse update;
  int read = 0;
  while (read < 10'000 && reader->Read(&update)) ++read;
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message() << " after " << read << " messages";
  EXPECT_EQ(read, 0);
}

TEST_F(CaseServiceTest, TheTenantsBusinessCalendarIsSetReadAndAudited) {
  v1::CreateRuleRequest create_rule;
  *create_rule.mutable_rule() = Rule();
  create_rule.mutable_rule()->mutable_sla()->clear_business_hours();
  v1::CaseRule rule;
  grpc::Status status =
      stub_->CreateRule(As("acme").get(), create_rule, &rule);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("rule.sla.business_hours"));
  v1::TenantBusinessCalendar calendar;
  EXPECT_EQ(stub_->GetBusinessCalendar(As("acme").get(), {}, &calendar)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::SetBusinessCalendarRequest set;
  *set.mutable_business_hours() = Rule().sla().business_hours();
  set.mutable_business_hours()->mutable_weekly(0)->set_close_minute(0);
  status = stub_->SetBusinessCalendar(As("acme").get(), set, &calendar);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("business_hours.weekly[0]"));
  set.mutable_business_hours()->mutable_weekly(0)->set_close_minute(1440);
  status = stub_->SetBusinessCalendar(As("acme", "ville").get(), set, &calendar);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(
      stub_->GetBusinessCalendar(As("acme").get(), {}, &calendar).ok());
  EXPECT_EQ(calendar.business_hours().time_zone(), "UTC");
  EXPECT_EQ(stub_->GetBusinessCalendar(As("globex").get(), {}, &calendar)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);

  status = stub_->CreateRule(As("acme").get(), create_rule, &rule);
  ASSERT_TRUE(status.ok()) << status.error_message();
  Feed(Event("acme", 1, 0, "h1"));  // Monday 08:00 UTC; due an hour later
  v1::ListCasesResponse cases;
  ASSERT_TRUE(stub_->ListCases(As("acme").get(), {}, &cases).ok());
  ASSERT_EQ(cases.cases_size(), 1);
  EXPECT_EQ(cases.cases(0).sla().first_contact_due().seconds(),
            1'780'300'800 + 3600);

  v1::ListAuditEntriesRequest audit;
  audit.set_business_calendar(true);
  v1::ListAuditEntriesResponse trail;
  ASSERT_TRUE(stub_->ListAuditEntries(As("acme").get(), audit, &trail).ok());
  ASSERT_THAT(trail.entries(), SizeIs(1));
  EXPECT_EQ(trail.entries(0).actor(), "ville");
  EXPECT_EQ(trail.entries(0).field(), "business_calendar");
  audit.set_rule_id(rule.rule_id());
  EXPECT_EQ(stub_->ListAuditEntries(As("acme").get(), audit, &trail)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Recovery reads events from polku-feedback until released; counts who is
// reading.
class BlockingEvents final : public EventSource {
 public:
  absl::StatusOr<v1::StoredEvent> Event(const rpc::Caller&, int64_t,
                                        absl::Time) override {
    return absl::NotFoundError("no such event");
  }
  absl::Status ForEach(
      const rpc::Caller&, const std::string&, const v1::TimeRange&,
      absl::Time,
      absl::FunctionRef<absl::Status(const v1::StoredEvent&)>) override {
    absl::MutexLock lock(&mu_);
    ++reading_;
    // Bounded: a test that never releases fails rather than hangs.
    mu_.AwaitWithTimeout(absl::Condition(&released_), absl::Seconds(60));
    --reading_;
    return absl::OkStatus();
  }
  // Whether `n` calls are reading, waiting up to 30 s.
  bool AwaitReading(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return reading_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }
  int reading() {
    absl::MutexLock lock(&mu_);
    return reading_;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

 private:
  absl::Mutex mu_;
  int reading_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

// At most two recovery computations at once: a third is refused at once
// with a retry hint (no executor thread waits), and case writes go on.
TEST(CaseServiceRecoveryLimitTest, AThirdRecoveryIsRefusedAndWritesGoOn) {
  FakeClock clock(absl::FromUnixSeconds(1'780'300'800));
  MemoryCaseStore store(CaseStore::Options{.clock = &clock});
  Executor executor(4);
  BlockingEvents events;
  CaseServiceImpl service(store, executor,
                          {.events = &events, .max_recoveries = 2});
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::CaseService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  auto as_acme = [] {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(60));
    context->AddMetadata(rpc::kTenantHeader, "acme");
    return context;
  };
  v1::CaseRule rule;
  google::protobuf::TextFormat::ParseFromString(
      R"pb(journey: "switching" conditions { max_nps: 6 }
           fallback_queue: "care")pb",
      &rule);
  ASSERT_TRUE(store.CreateRule("acme", "anna", rule).ok());
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  *page.Add() = Event("acme", 1, 2, "h1");
  ASSERT_TRUE(store.Apply(page).ok());
  v1::ListCasesResponse cases;
  ASSERT_TRUE(stub->ListCases(as_acme().get(), {}, &cases).ok());
  ASSERT_EQ(cases.cases_size(), 1);

  grpc::Status first, second;
  v1::CaseMeasures first_measures, second_measures;
  std::thread a([&] {
    first = stub->GetCaseMeasures(as_acme().get(), {}, &first_measures);
  });
  std::thread b([&] {
    second = stub->GetCaseMeasures(as_acme().get(), {}, &second_measures);
  });
  // Joined on every way out (a joinable thread's destruction would end
  // the test binary).
  absl::Cleanup join = [&] {
    events.Release();
    a.join();
    b.join();
  };
  ASSERT_TRUE(events.AwaitReading(2));

  auto context = as_acme();
  v1::CaseMeasures third;
  grpc::Status refused = stub->GetCaseMeasures(context.get(), {}, &third);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("retry in"));
  bool hinted = false;
  for (const auto& [key, value] : context->GetServerTrailingMetadata()) {
    hinted = hinted || (key == "retry-after-ms" &&
                        std::string(value.data(), value.size()) == "2000");
  }
  EXPECT_TRUE(hinted);
  EXPECT_EQ(events.reading(), 2);  // the third never read

  // Writes are answered while both recoveries read.
  v1::AddCommentRequest comment;
  comment.set_case_id(cases.cases(0).case_id());
  comment.set_text("Soitettu.");
  v1::Case commented;
  grpc::Status written = stub->AddComment(as_acme().get(), comment, &commented);
  EXPECT_TRUE(written.ok()) << written.error_message();

  std::move(join).Invoke();
  EXPECT_TRUE(first.ok()) << first.error_message();
  EXPECT_TRUE(second.ok()) << second.error_message();
  // Their places are free again.
  v1::CaseMeasures again;
  grpc::Status later = stub->GetCaseMeasures(as_acme().get(), {}, &again);
  EXPECT_TRUE(later.ok()) << later.error_message();
  server->Shutdown();
}

}  // namespace
}  // namespace polku::cases
