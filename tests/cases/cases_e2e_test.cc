// polku-cases across processes (issue 21): the real binaries over loopback,
// polku-cases started by the harness behind the gateway's --cases_address.
//
//  * Exactly once: a rule is created through the gateway; 100 customers
//    answer as detractors, each answer delivered twice with the same
//    event_id and once more under a new event_id (a channel that lost its
//    idempotency key); polku-cases is killed with SIGKILL in the middle of
//    the feed and restarted, and then the whole feed is replayed (its
//    checkpoint set back to 0). Exactly one case per customer, 100 in all,
//    routed to the touchpoint's owner team. On PostgreSQL the same with two
//    polku-cases replicas on one database, one of them killed mid-feed.
//  * Scopes and tenants: cases:read cannot write; insights:read, a channel
//    key and journeys:read get nothing; another tenant sees none of these
//    cases (and its own only).
//  * Erasure: EraseCustomer through the gateway removes that customer's
//    cases from polku-cases, and only theirs.
//  * Watching: a WatchCases on replica 2 sees the changes made through
//    replica 1 (and its own), each once, in order.
//
// polku-cases applies the feed asynchronously; a test knows it has applied
// everything up to a point when the case of a "sentinel" event submitted
// after that point exists (the feed is applied in order). Every wait is
// bounded.
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <cctype>
#include <functional>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "absl/strings/numbers.h"
#include "lib/postgres/postgres.h"
#include "lib/rpc/metadata.h"
#include "lib/sqlite/sqlite.h"
#include "polku/v1/admin.grpc.pb.h"
#include "polku/v1/cases.grpc.pb.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;

constexpr char kJourney[] = "cases-journey";
constexpr char kOwnerTeam[] = "care";
constexpr int kCustomers = 100;
// Every wait for polku-cases to catch up.
constexpr absl::Duration kCatchUp = absl::Seconds(90);

struct Topology {
  const char* name;
  Suite::Database database;
  int cases_replicas;
};

void PrintTo(const Topology& topology, std::ostream* out) { *out << topology.name; }

// Keys of one tenant, made through the real AdminService.
struct TenantKeys {
  std::string admin;
  std::string shop;
  std::string cases;         // cases:read and cases:write
  std::string cases_reader;  // cases:read only
  std::string insights;      // insights:read only
  std::string journeys;      // journeys:read and journeys:write
};

class CasesE2eTest : public ::testing::TestWithParam<Topology> {
 protected:
  void SetUp() override {
    Suite::Options options;
    options.channels = "shop,phone";
    options.database = GetParam().database;
    options.cases_replicas = GetParam().cases_replicas;
    auto started = Suite::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    suite_ = *std::move(started);
    occurred_ = absl::ToUnixSeconds(absl::Now() - absl::Hours(2));
    demo_.admin = suite_->credentials().admin_key;
    demo_.shop = suite_->credentials().channel_keys.at("shop");
    ASSERT_NO_FATAL_FAILURE(MakeKeys("demo", demo_.admin, demo_));
    ASSERT_NO_FATAL_FAILURE(Publish(demo_.admin));
    ASSERT_NO_FATAL_FAILURE(rule_id_ = CreateRule(demo_.cases));
  }

  // Every process must exit 0 on SIGTERM (a sanitizer's report at exit
  // would not).
  void TearDown() override {
    if (suite_ != nullptr) {
      absl::Status stopped = suite_->Stop();
      EXPECT_TRUE(stopped.ok()) << stopped;
    }
  }

  // The reader-only and other keys of `tenant`, made with its admin key.
  void MakeKeys(const std::string& tenant, const std::string& admin, TenantKeys& keys) {
    keys.cases = CreateKey(admin, tenant, {"cases:read", "cases:write"});
    keys.cases_reader = CreateKey(admin, tenant, {"cases:read"});
    keys.insights = CreateKey(admin, tenant, {"insights:read"});
    keys.journeys = CreateKey(admin, tenant, {"journeys:read", "journeys:write"});
  }

  std::string CreateKey(const std::string& caller, const std::string& tenant,
                        const std::vector<std::string>& scopes, const std::string& channel = "") {
    auto admin = v1::AdminService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, caller);
    v1::CreateApiKeyRequest request;
    request.set_parent("tenants/" + tenant);
    for (const std::string& scope : scopes) request.mutable_api_key()->add_scopes(scope);
    request.mutable_api_key()->set_channel(channel);
    v1::CreateApiKeyResponse response;
    grpc::Status status = admin->CreateApiKey(&context, request, &response);
    EXPECT_TRUE(status.ok()) << tenant << ": " << status.error_message();
    return response.key();
  }

  // Creates and publishes the test journey: store_visit (shop) and
  // support_call (phone), both owned by kOwnerTeam.
  void Publish(const std::string& admin) {
    absl::Status published = testing::CreateAndPublish(
        suite_->GatewayChannel(), admin,
        testing::MakeJourney(kJourney, "Cases test journey",
                             {"purchase", "support"},
                             {{"store_visit", "purchase", "shop"},
                              {"support_call", "support", "phone"}},
                             kOwnerTeam));
    ASSERT_TRUE(published.ok()) << published;
  }

  // Detractors (NPS ≤ 6) of the journey open a case; the rule is created
  // through the gateway.
  std::string CreateRule(const std::string& key) {
    auto cases = v1::CaseService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, key);
    v1::CreateRuleRequest request;
    v1::CaseRule& rule = *request.mutable_rule();
    rule.set_journey(kJourney);
    rule.set_name("Detractors get a call back");
    rule.mutable_conditions()->set_max_nps(6);
    rule.set_priority(v1::HIGH);
    rule.set_fallback_queue("followup");
    v1::CaseRule created;
    grpc::Status status = cases->CreateRule(&context, request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(created.rule_id().empty());
    return created.rule_id();
  }

  // Customer `i`'s answer at the shop: NPS i % 7 (a detractor) unless
  // `promoter`; attribute "ref" names the customer, so a case says whose it
  // is (a case never shows the customer reference itself).
  v1::TouchpointEvent Answer(const std::string& event_id, const std::string& customer,
                             bool promoter = false) {
    v1::TouchpointEvent event;
    event.set_event_id(event_id);
    event.set_touchpoint("store_visit");
    event.set_customer(customer);
    // The same moment for every answer of a customer: one period bucket.
    event.mutable_occurred_at()->set_seconds(occurred_);
    event.set_nps(promoter ? 9 : static_cast<int>(std::hash<std::string>()(customer) % 7));
    event.set_comment("The queue was long and nobody helped");
    event.set_language("en");
    (*event.mutable_attributes())["ref"] = customer;
    return event;
  }

  // Submits `events` through the gateway; each must be accepted or a
  // duplicate. Until the feedback service knows the journey (it learns of a
  // publish through its watch), a batch rejected for the touchpoint is sent
  // again (bounded).
  void Submit(const std::string& shop_key, const std::vector<v1::TouchpointEvent>& events,
              int* accepted = nullptr, int* duplicates = nullptr) {
    auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (true) {
      grpc::ClientContext context;
      Suite::Authorize(context, shop_key);
      v1::SubmitEventsRequest request;
      for (const v1::TouchpointEvent& event : events) *request.add_events() = event;
      v1::SubmitEventsResponse response;
      grpc::Status status = feedback->SubmitEvents(&context, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ASSERT_EQ(response.results_size(), static_cast<int>(events.size()));
      bool rejected = false;
      for (const v1::EventResult& result : response.results()) {
        if (result.outcome() == v1::EventResult::REJECTED) {
          rejected = true;
          ASSERT_LT(absl::Now(), deadline) << result.reason();
        }
      }
      if (rejected) {
        absl::SleepFor(absl::Milliseconds(100));
        continue;
      }
      for (const v1::EventResult& result : response.results()) {
        if (accepted != nullptr && result.outcome() == v1::EventResult::ACCEPTED) ++*accepted;
        if (duplicates != nullptr && result.outcome() == v1::EventResult::DUPLICATE) {
          ++*duplicates;
        }
      }
      return;
    }
  }

  // Every case `key` can list (all pages).
  grpc::Status ListAll(const std::string& key, std::vector<v1::Case>& cases) {
    auto stub = v1::CaseService::NewStub(suite_->GatewayChannel());
    cases.clear();
    std::string token;
    for (int page = 0; page < 100; ++page) {
      grpc::ClientContext context;
      Suite::Authorize(context, key);
      v1::ListCasesRequest request;
      request.set_page_size(50);  // several pages for 100 cases
      request.set_page_token(token);
      v1::ListCasesResponse response;
      grpc::Status status = stub->ListCases(&context, request, &response);
      if (!status.ok()) return status;
      for (const v1::Case& c : response.cases()) cases.push_back(c);
      token = response.next_page_token();
      if (token.empty()) return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::INTERNAL, "more than 100 pages");
  }

  // Cases per "ref" (the customer) that `key` sees.
  std::map<std::string, int> CasesPerCustomer(const std::string& key) {
    std::vector<v1::Case> cases;
    grpc::Status status = ListAll(key, cases);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::map<std::string, int> per_customer;
    for (const v1::Case& c : cases) ++per_customer[c.event().attributes().at("ref")];
    return per_customer;
  }

  // Submits a detractor answer of a fresh customer `name` and waits until
  // its case is listed: then polku-cases has applied every event before it.
  void AwaitSentinel(const std::string& key, const std::string& shop_key,
                     const std::string& name) {
    ASSERT_NO_FATAL_FAILURE(Submit(shop_key, {Answer(name, name)}));
    const absl::Time deadline = absl::Now() + kCatchUp;
    while (true) {
      if (CasesPerCustomer(key).count(name) > 0) return;
      ASSERT_LT(absl::Now(), deadline)
          << "the case of " << name << " was not opened within " << kCatchUp;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  // Exactly one case for each customer in `expected` and none other.
  void ExpectOneCaseEach(const std::string& key, const std::set<std::string>& expected) {
    std::map<std::string, int> per_customer = CasesPerCustomer(key);
    std::set<std::string> seen;
    for (const auto& [customer, count] : per_customer) {
      EXPECT_EQ(count, 1) << customer << " has " << count << " cases";
      seen.insert(customer);
    }
    EXPECT_EQ(seen, expected);
  }

  // Sets polku-cases' feed checkpoint back to 0 while it is stopped, so it
  // reads the whole feed again when it starts.
  void RewindCheckpoint() {
    if (GetParam().database == Suite::Database::kPostgres) {
      auto db = postgres::Connection::Open(suite_->database_url("cases"), absl::Seconds(10));
      ASSERT_TRUE(db.ok()) << db.status();
      ASSERT_TRUE((*db)->Exec("UPDATE case_feed_checkpoint SET sequence = 0").ok());
    } else {
      auto db = sqlite::Database::Open(suite_->data_dir() + "/cases.db");
      ASSERT_TRUE(db.ok()) << db.status();
      ASSERT_TRUE((*db)->Exec("UPDATE feed_checkpoint SET sequence = 0").ok());
    }
  }

  std::string CaseReplica(int k) const {
    return k == 1 ? "polku-cases" : absl::StrCat("polku-cases#", k);
  }

  std::unique_ptr<Suite> suite_;
  int64_t occurred_ = 0;
  TenantKeys demo_;
  std::string rule_id_;
};

// 100 detractors, each answer delivered twice and again under a new id,
// a SIGKILL mid-feed, then a replay of the whole feed: exactly 100 cases.
TEST_P(CasesE2eTest, HundredDetractorsDeliveredTwiceGiveHundredCases) {
  std::set<std::string> detractors;
  std::vector<v1::TouchpointEvent> answers;
  for (int i = 0; i < kCustomers; ++i) {
    const std::string customer = absl::StrCat("customer-", i);
    detractors.insert(customer);
    answers.push_back(Answer(absl::StrCat("answer-", i), customer));
  }
  // Promoters open nothing.
  std::vector<v1::TouchpointEvent> promoters;
  for (int i = 0; i < 20; ++i) {
    const std::string customer = absl::StrCat("promoter-", i);
    promoters.push_back(Answer(absl::StrCat("promoter-answer-", i), customer, true));
  }
  ASSERT_NO_FATAL_FAILURE(Submit(demo_.shop, promoters));

  int accepted = 0;
  int duplicates = 0;
  constexpr int kBatch = 10;
  for (int start = 0; start < kCustomers; start += kBatch) {
    std::vector<v1::TouchpointEvent> batch(answers.begin() + start,
                                           answers.begin() + start + kBatch);
    // Delivered, and delivered again with the same idempotency key.
    ASSERT_NO_FATAL_FAILURE(Submit(demo_.shop, batch, &accepted, &duplicates));
    ASSERT_NO_FATAL_FAILURE(Submit(demo_.shop, batch, &accepted, &duplicates));
    // And again under new event ids: new events of the same customers in
    // the same period, which must not open a second case.
    for (v1::TouchpointEvent& event : batch) event.set_event_id(event.event_id() + "-again");
    ASSERT_NO_FATAL_FAILURE(Submit(demo_.shop, batch, &accepted, &duplicates));
    if (start == kCustomers / 2) {
      // Mid-feed: polku-cases (the last replica) is likely applying a page.
      const std::string victim = CaseReplica(GetParam().cases_replicas);
      ASSERT_TRUE(suite_->KillAndRestart(victim).ok()) << victim;
    }
  }
  EXPECT_EQ(accepted, 2 * kCustomers);
  EXPECT_EQ(duplicates, kCustomers);

  ASSERT_NO_FATAL_FAILURE(AwaitSentinel(demo_.cases, demo_.shop, "sentinel-1"));
  std::set<std::string> expected = detractors;
  expected.insert("sentinel-1");
  ASSERT_NO_FATAL_FAILURE(ExpectOneCaseEach(demo_.cases, expected));

  // Every case is the rule's, routed to the touchpoint's owner team.
  std::vector<v1::Case> cases;
  ASSERT_TRUE(ListAll(demo_.cases_reader, cases).ok());
  ASSERT_EQ(cases.size(), static_cast<size_t>(kCustomers + 1));
  for (const v1::Case& c : cases) {
    EXPECT_EQ(c.rule_id(), rule_id_);
    EXPECT_EQ(c.owner_team(), kOwnerTeam);
    EXPECT_EQ(c.state(), v1::NEW);
    EXPECT_EQ(c.priority(), v1::HIGH);
    EXPECT_LE(c.event().nps(), 6);
  }

  // Replay: every replica stopped, the checkpoint set back to 0, started
  // again — the whole feed is applied a second time.
  for (int k = GetParam().cases_replicas; k >= 1; --k) {
    ASSERT_TRUE(suite_->Terminate(CaseReplica(k), absl::Seconds(30)).ok()) << CaseReplica(k);
  }
  ASSERT_NO_FATAL_FAILURE(RewindCheckpoint());
  for (int k = 1; k <= GetParam().cases_replicas; ++k) {
    ASSERT_TRUE(suite_->KillAndRestart(CaseReplica(k)).ok()) << CaseReplica(k);
  }
  ASSERT_NO_FATAL_FAILURE(AwaitSentinel(demo_.cases, demo_.shop, "sentinel-2"));
  expected.insert("sentinel-2");
  ASSERT_NO_FATAL_FAILURE(ExpectOneCaseEach(demo_.cases, expected));
}

// cases:read reads and cannot write; keys without a cases scope get
// nothing; another tenant sees none of demo's cases and only its own.
TEST_P(CasesE2eTest, ScopesAndTenantsAreEnforced) {
  ASSERT_NO_FATAL_FAILURE(
      Submit(demo_.shop, {Answer("scoped-1", "customer-a"), Answer("scoped-2", "customer-b")}));
  ASSERT_NO_FATAL_FAILURE(AwaitSentinel(demo_.cases, demo_.shop, "sentinel"));
  std::vector<v1::Case> demo_cases;
  ASSERT_TRUE(ListAll(demo_.cases_reader, demo_cases).ok());
  ASSERT_EQ(demo_cases.size(), 3u);
  const v1::Case& one = demo_cases.front();

  auto stub = v1::CaseService::NewStub(suite_->GatewayChannel());
  // cases:read: reads, but neither a rule nor a case change.
  {
    grpc::ClientContext context;
    Suite::Authorize(context, demo_.cases_reader);
    v1::GetCaseRequest request;
    request.set_case_id(one.case_id());
    v1::Case got;
    grpc::Status status = stub->GetCase(&context, request, &got);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(got.case_id(), one.case_id());
    EXPECT_EQ(got.event().comment(), "The queue was long and nobody helped");
  }
  {
    grpc::ClientContext context;
    Suite::Authorize(context, demo_.cases_reader);
    v1::CreateRuleRequest request;
    request.mutable_rule()->set_journey(kJourney);
    request.mutable_rule()->mutable_conditions()->set_max_nps(3);
    v1::CaseRule rule;
    EXPECT_EQ(stub->CreateRule(&context, request, &rule).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    Suite::Authorize(context, demo_.cases_reader);
    v1::UpdateCaseRequest request;
    request.mutable_case_()->set_case_id(one.case_id());
    request.mutable_case_()->set_assignee("mallory");
    request.mutable_update_mask()->add_paths("assignee");
    v1::Case updated;
    EXPECT_EQ(stub->UpdateCase(&context, request, &updated).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // Keys without a cases scope, and a call without a key.
  for (const std::string& key : {demo_.insights, demo_.shop, demo_.journeys, demo_.admin}) {
    grpc::ClientContext context;
    Suite::Authorize(context, key);
    v1::ListCasesRequest request;
    v1::ListCasesResponse response;
    grpc::Status status = stub->ListCases(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
    EXPECT_EQ(response.cases_size(), 0);
  }
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::ListCasesRequest request;
    v1::ListCasesResponse response;
    EXPECT_EQ(stub->ListCases(&context, request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // The unchanged case: the refused update did nothing.
  {
    grpc::ClientContext context;
    Suite::Authorize(context, demo_.cases);
    v1::GetCaseRequest request;
    request.set_case_id(one.case_id());
    v1::Case got;
    ASSERT_TRUE(stub->GetCase(&context, request, &got).ok());
    EXPECT_EQ(got.assignee(), "");
    EXPECT_EQ(got.etag(), one.etag());
  }
  // Over HTTP, the same: cases:read lists, insights:read is refused.
  {
    httplib::Client http(suite_->gateway_http_host(), suite_->gateway_http_port());
    http.set_read_timeout(10, 0);
    auto listed = http.Get("/v1/cases", {{"Authorization", "Bearer " + demo_.cases_reader}});
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->status, 200) << listed->body;
    EXPECT_NE(listed->body.find(one.case_id()), std::string::npos);
    auto refused = http.Get("/v1/cases", {{"Authorization", "Bearer " + demo_.insights}});
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403) << refused->body;
  }

  // Another tenant, with its own journey, rule, detractor and case.
  std::ifstream in(suite_->data_dir() + "/superadmin.key");
  std::string super_admin((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!super_admin.empty() && std::isspace(static_cast<unsigned char>(super_admin.back()))) {
    super_admin.pop_back();
  }
  {
    auto admin = v1::AdminService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, super_admin);
    v1::CreateTenantRequest request;
    request.set_tenant_id("other");
    v1::Tenant tenant;
    grpc::Status status = admin->CreateTenant(&context, request, &tenant);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  TenantKeys other;
  other.admin = CreateKey(super_admin, "other", {"admin", "journeys:read", "journeys:write"});
  other.shop = CreateKey(other.admin, "other", {"events:write"}, "shop");
  ASSERT_NO_FATAL_FAILURE(MakeKeys("other", other.admin, other));
  ASSERT_NO_FATAL_FAILURE(Publish(other.admin));
  const std::string other_rule = CreateRule(other.cases);
  ASSERT_FALSE(other_rule.empty());
  // The same customer reference as in demo: a different customer there.
  ASSERT_NO_FATAL_FAILURE(Submit(other.shop, {Answer("other-1", "customer-a")}));
  ASSERT_NO_FATAL_FAILURE(AwaitSentinel(other.cases, other.shop, "other-sentinel"));

  ASSERT_NO_FATAL_FAILURE(ExpectOneCaseEach(other.cases, {"customer-a", "other-sentinel"}));
  ASSERT_NO_FATAL_FAILURE(
      ExpectOneCaseEach(demo_.cases, {"customer-a", "customer-b", "sentinel"}));
  std::vector<v1::Case> other_cases;
  ASSERT_TRUE(ListAll(other.cases, other_cases).ok());
  for (const v1::Case& c : other_cases) EXPECT_EQ(c.rule_id(), other_rule);
  for (const std::string& key : {other.cases, other.cases_reader}) {
    // demo's case is not found for other, whether read or written.
    grpc::ClientContext context;
    Suite::Authorize(context, key);
    v1::GetCaseRequest request;
    request.set_case_id(one.case_id());
    v1::Case got;
    EXPECT_EQ(stub->GetCase(&context, request, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    Suite::Authorize(context, other.cases);
    v1::UpdateCaseRequest request;
    request.mutable_case_()->set_case_id(one.case_id());
    request.mutable_case_()->set_assignee("mallory");
    request.mutable_update_mask()->add_paths("assignee");
    v1::Case updated;
    EXPECT_EQ(stub->UpdateCase(&context, request, &updated).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    Suite::Authorize(context, other.cases_reader);
    v1::ListRulesRequest request;
    v1::ListRulesResponse response;
    ASSERT_TRUE(stub->ListRules(&context, request, &response).ok());
    ASSERT_EQ(response.rules_size(), 1);
    EXPECT_EQ(response.rules(0).rule_id(), other_rule);
  }
}

// EraseCustomer through the gateway removes the customer's cases from
// polku-cases, and no one else's.
TEST_P(CasesE2eTest, ErasureRemovesTheCustomersCases) {
  std::vector<v1::TouchpointEvent> answers;
  std::set<std::string> customers;
  for (int i = 0; i < 5; ++i) {
    const std::string customer = absl::StrCat("erasable-", i);
    customers.insert(customer);
    answers.push_back(Answer(absl::StrCat("erase-", i), customer));
  }
  ASSERT_NO_FATAL_FAILURE(Submit(demo_.shop, answers));
  ASSERT_NO_FATAL_FAILURE(AwaitSentinel(demo_.cases, demo_.shop, "sentinel-1"));
  customers.insert("sentinel-1");
  ASSERT_NO_FATAL_FAILURE(ExpectOneCaseEach(demo_.cases, customers));

  auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
  {
    grpc::ClientContext context;
    Suite::Authorize(context, demo_.admin);
    v1::EraseCustomerRequest request;
    request.set_customer("erasable-2");
    v1::EraseCustomerResponse response;
    grpc::Status status = feedback->EraseCustomer(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.erased_events(), 1);
  }
  // polku-cases applies the erasure from the feed, in order: once the
  // sentinel after it has its case, the erased customer's case is gone.
  ASSERT_NO_FATAL_FAILURE(AwaitSentinel(demo_.cases, demo_.shop, "sentinel-2"));
  customers.erase("erasable-2");
  customers.insert("sentinel-2");
  ASSERT_NO_FATAL_FAILURE(ExpectOneCaseEach(demo_.cases, customers));

  // A restart with a replay of the whole feed does not bring it back.
  for (int k = GetParam().cases_replicas; k >= 1; --k) {
    ASSERT_TRUE(suite_->Terminate(CaseReplica(k), absl::Seconds(30)).ok());
  }
  ASSERT_NO_FATAL_FAILURE(RewindCheckpoint());
  for (int k = 1; k <= GetParam().cases_replicas; ++k) {
    ASSERT_TRUE(suite_->KillAndRestart(CaseReplica(k)).ok());
  }
  ASSERT_NO_FATAL_FAILURE(AwaitSentinel(demo_.cases, demo_.shop, "sentinel-3"));
  customers.insert("sentinel-3");
  ASSERT_NO_FATAL_FAILURE(ExpectOneCaseEach(demo_.cases, customers));
}

// WatchCases on one replica sends the changes every replica commits: a
// watch on replica 2 (called directly, as the gateway would) sees the case
// the feed opens (on whichever replica applies it) and then the changes
// made through replica 1 and replica 2 by turns, each once, in the order
// they were made. On SQLite (one replica) the same through the one.
TEST_P(CasesE2eTest, AWatchOnOneReplicaSeesEveryReplicasChanges) {
  const int watched = GetParam().cases_replicas;  // the last replica
  ASSERT_NO_FATAL_FAILURE(AwaitSentinel(demo_.cases, demo_.shop, "watch-anchor"));
  auto stub_of = [&](int k) {
    return v1::CaseService::NewStub(grpc::CreateChannel(
        suite_->backend_address(k == 1 ? "cases" : absl::StrCat("cases#", k)),
        grpc::InsecureChannelCredentials()));
  };
  auto direct = [](grpc::ClientContext& context, absl::Duration timeout) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    context.AddMetadata(rpc::kTenantHeader, "demo");
    context.AddMetadata(rpc::kActorHeader, "e2e-agent");
  };
  std::unique_ptr<v1::CaseService::Stub> watching = stub_of(watched);
  grpc::ClientContext watch_context;
  direct(watch_context, absl::Seconds(120));
  v1::WatchCasesRequest request;
  request.mutable_filter()->set_journey(kJourney);
  request.mutable_filter()->set_page_size(1);
  request.set_include_existing(true);
  std::unique_ptr<grpc::ClientReader<v1::WatchCasesResponse>> reader =
      watching->WatchCases(&watch_context, request);
  v1::WatchCasesResponse update;
  // The newest existing case: the watch is registered from here on.
  ASSERT_TRUE(reader->Read(&update)) << reader->Finish().error_message();
  EXPECT_EQ(update.case_().event().attributes().at("ref"), "watch-anchor");
  EXPECT_FALSE(update.has_change());

  ASSERT_NO_FATAL_FAILURE(Submit(demo_.shop, {Answer("watched-1", "watched-1")}));
  std::vector<std::string> expected = {"state=NEW"};
  std::vector<std::string> got;
  std::string case_id;
  ASSERT_TRUE(reader->Read(&update)) << reader->Finish().error_message();
  got.push_back(absl::StrCat(update.change().field(), "=", update.change().new_value()));
  EXPECT_EQ(update.case_().event().attributes().at("ref"), "watched-1");
  case_id = update.case_().case_id();

  // Changes through replica 1 and replica `watched` by turns.
  auto call = [&](int k, const std::function<grpc::Status(v1::CaseService::Stub&,
                                                          grpc::ClientContext&)>& rpc) {
    std::unique_ptr<v1::CaseService::Stub> stub = stub_of(k);
    grpc::ClientContext context;
    direct(context, absl::Seconds(20));
    grpc::Status status = rpc(*stub, context);
    EXPECT_TRUE(status.ok()) << "replica " << k << ": " << status.error_message();
  };
  call(1, [&](v1::CaseService::Stub& stub, grpc::ClientContext& context) {
    v1::UpdateCaseRequest assign;
    assign.mutable_case_()->set_case_id(case_id);
    assign.mutable_case_()->set_assignee("agent-7");
    assign.mutable_update_mask()->add_paths("assignee");
    v1::Case updated;
    return stub.UpdateCase(&context, assign, &updated);
  });
  expected.push_back("assignee=agent-7");
  expected.push_back("state=ASSIGNED");
  constexpr int kComments = 16;
  for (int i = 0; i < kComments; ++i) {
    const std::string text = absl::StrCat("note ", i);
    call(i % 2 == 0 ? 1 : watched,
         [&](v1::CaseService::Stub& stub, grpc::ClientContext& context) {
           v1::AddCommentRequest comment;
           comment.set_case_id(case_id);
           comment.set_text(text);
           v1::Case updated;
           return stub.AddComment(&context, comment, &updated);
         });
    expected.push_back("comment=" + text);
  }
  call(1, [&](v1::CaseService::Stub& stub, grpc::ClientContext& context) {
    v1::UpdateCaseRequest contact;
    contact.mutable_case_()->set_case_id(case_id);
    contact.mutable_case_()->set_state(v1::CONTACTED);
    contact.mutable_update_mask()->add_paths("state");
    v1::Case updated;
    return stub.UpdateCase(&context, contact, &updated);
  });
  expected.push_back("state=CONTACTED");
  // The last change: whatever came before it came once.
  call(1, [&](v1::CaseService::Stub& stub, grpc::ClientContext& context) {
    v1::AddCommentRequest comment;
    comment.set_case_id(case_id);
    comment.set_text("end");
    v1::Case updated;
    return stub.AddComment(&context, comment, &updated);
  });
  expected.push_back("comment=end");

  int64_t last_etag = 1;
  for (int i = 0; i < 200 && got.back() != "comment=end"; ++i) {
    ASSERT_TRUE(reader->Read(&update))
        << "after " << got.size() << " changes: " << reader->Finish().error_message();
    EXPECT_EQ(update.case_().case_id(), case_id);
    got.push_back(absl::StrCat(update.change().field(), "=", update.change().new_value()));
    int64_t etag = 0;
    ASSERT_TRUE(absl::SimpleAtoi(update.case_().etag(), &etag));
    EXPECT_GE(etag, last_etag) << "an older state after a newer one";
    last_etag = etag;
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(update.case_().state(), v1::CONTACTED);
  EXPECT_EQ(update.case_().comments_size(), kComments + 1);
  watch_context.TryCancel();
  reader->Finish();
}

INSTANTIATE_TEST_SUITE_P(
    Topologies, CasesE2eTest,
    ::testing::Values(Topology{"Sqlite", Suite::Database::kSqlite, 1},
                      Topology{"PostgresTwoReplicas", Suite::Database::kPostgres, 2}),
    [](const ::testing::TestParamInfo<Topology>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace polku
