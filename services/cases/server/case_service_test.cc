// CaseService through a real gRPC server in the test process: the codes and
// messages a caller sees, tenants kept apart, the actor in the audit trail.
#include "services/cases/server/case_service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "lib/rpc/metadata.h"
#include "services/cases/server/sla_timer.h"
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
        service_(store_, executor_, {.events = &events_}) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::CaseService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  ~CaseServiceTest() override { server_->Shutdown(); }

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
  CaseServiceImpl service_;
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

}  // namespace
}  // namespace polku::cases
