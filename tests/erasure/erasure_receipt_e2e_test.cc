// Erasure receipts across processes (issue 21): the real binaries over
// loopback, polku-feedback started with --erasure_readers=polku-insight,
// polku-cases by the harness.
//
//  * Complete: a customer with events and a case is erased through the
//    gateway; the answer's receipt says both readers have applied it, and
//    right after the answer the case is gone and insight's scorecard no
//    longer counts the customer's events (no waiting: that is what the
//    receipt promises). The same receipt over HTTP.
//  * A reader behind: polku-cases is stopped (SIGSTOP) before the erasure;
//    the answer comes before the call's deadline with a receipt naming
//    polku-cases as not applied (polku-insight applied); after SIGCONT,
//    GetErasureReceipt says complete, and the case is gone.
//  * Over mTLS: the readers report under their certificates' identities and
//    the receipt is complete; the gateway's certificate cannot report.
//
// Every wait is bounded.
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "polku/v1/admin.grpc.pb.h"
#include "lib/rpc/testing/test_pki.h"
#include "polku/v1/cases.grpc.pb.h"
#include "polku/v1/feed_readers.grpc.pb.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;

constexpr char kJourney[] = "receipt-journey";
// Every wait for a reader to catch up.
constexpr absl::Duration kCatchUp = absl::Seconds(90);

class ErasureReceiptE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Suite::Options options;
    options.channels = "shop";
    options.cases_replicas = 1;
    Configure(options);
    auto started = Suite::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    suite_ = *std::move(started);
    occurred_ = absl::ToUnixSeconds(absl::Now() - absl::Hours(2));
    admin_ = suite_->credentials().admin_key;
    shop_ = suite_->credentials().channel_keys.at("shop");
    cases_key_ = CreateKey({"cases:read", "cases:write"});
    insights_key_ = CreateKey({"insights:read"});
    ASSERT_NO_FATAL_FAILURE(Publish());
    ASSERT_NO_FATAL_FAILURE(CreateRule());
  }

  // More options for a variant of the suite.
  virtual void Configure(Suite::Options& /*options*/) {}

  void TearDown() override {
    if (suite_ == nullptr) return;
    // A test that failed while polku-cases was stopped.
    if (cases_stopped_) (void)suite_->Signal("polku-cases", SIGCONT);
    absl::Status stopped = suite_->Stop();
    EXPECT_TRUE(stopped.ok()) << stopped;
  }

  std::string CreateKey(const std::vector<std::string>& scopes) {
    auto admin = v1::AdminService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, admin_);
    v1::CreateApiKeyRequest request;
    request.set_parent("tenants/demo");
    for (const std::string& scope : scopes) request.mutable_api_key()->add_scopes(scope);
    v1::CreateApiKeyResponse response;
    grpc::Status status = admin->CreateApiKey(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.key();
  }

  void Publish() {
    absl::Status published = testing::CreateAndPublish(
        suite_->GatewayChannel(), admin_,
        testing::MakeJourney(kJourney, "Receipt test journey", {"purchase"},
                             {{"store_visit", "purchase", "shop"}}, "care"));
    ASSERT_TRUE(published.ok()) << published;
  }

  // Detractors open a case.
  void CreateRule() {
    auto cases = v1::CaseService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, cases_key_);
    v1::CreateRuleRequest request;
    request.mutable_rule()->set_journey(kJourney);
    request.mutable_rule()->set_name("Detractors");
    request.mutable_rule()->mutable_conditions()->set_max_nps(6);
    request.mutable_rule()->set_priority(v1::HIGH);
    request.mutable_rule()->set_fallback_queue("followup");
    v1::CaseRule created;
    grpc::Status status = cases->CreateRule(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // A detractor's answer; attribute "ref" names the customer in the case.
  v1::TouchpointEvent Answer(const std::string& event_id, const std::string& customer) {
    v1::TouchpointEvent event;
    event.set_event_id(event_id);
    event.set_touchpoint("store_visit");
    event.set_customer(customer);
    event.mutable_occurred_at()->set_seconds(occurred_);
    event.set_nps(2);
    (*event.mutable_attributes())["ref"] = customer;
    return event;
  }

  // Until polku-feedback knows the journey (through its watch), a rejected
  // batch is sent again (bounded).
  void Submit(const std::vector<v1::TouchpointEvent>& events) {
    auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (true) {
      grpc::ClientContext context;
      Suite::Authorize(context, shop_);
      v1::SubmitEventsRequest request;
      for (const v1::TouchpointEvent& event : events) *request.add_events() = event;
      v1::SubmitEventsResponse response;
      grpc::Status status = feedback->SubmitEvents(&context, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      bool rejected = false;
      for (const v1::EventResult& result : response.results()) {
        if (result.outcome() == v1::EventResult::REJECTED) {
          rejected = true;
          ASSERT_LT(absl::Now(), deadline) << result.reason();
        }
      }
      if (!rejected) return;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  // Cases per customer ("ref").
  std::map<std::string, int> CasesPerCustomer() {
    auto stub = v1::CaseService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, cases_key_);
    v1::ListCasesRequest request;
    request.set_page_size(100);
    v1::ListCasesResponse response;
    grpc::Status status = stub->ListCases(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::map<std::string, int> per_customer;
    for (const v1::Case& c : response.cases()) ++per_customer[c.event().attributes().at("ref")];
    return per_customer;
  }

  // The journey's scorecard total over the test's day.
  v1::Scorecard Scorecard() {
    auto insight = v1::InsightService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, insights_key_);
    v1::GetScorecardRequest request;
    request.set_journey(kJourney);
    request.mutable_range()->mutable_start()->set_seconds(occurred_ - 86400);
    request.mutable_range()->mutable_end()->set_seconds(occurred_ + 86400);
    v1::Scorecard scorecard;
    grpc::Status status = insight->GetScorecard(&context, request, &scorecard);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return scorecard;
  }

  // Until `customer` has a case and insight counts `events` in all.
  void AwaitApplied(const std::string& customer, int64_t events) {
    const absl::Time deadline = absl::Now() + kCatchUp;
    while (CasesPerCustomer().count(customer) == 0 || Scorecard().total().events() != events) {
      ASSERT_LT(absl::Now(), deadline) << customer << "'s case or " << events << " events";
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  grpc::Status Erase(const std::string& customer, v1::EraseCustomerResponse& response,
                     absl::Duration deadline) {
    auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, admin_, deadline);
    v1::EraseCustomerRequest request;
    request.set_customer(customer);
    return feedback->EraseCustomer(&context, request, &response);
  }

  grpc::Status GetReceipt(int64_t sequence, v1::ErasureReceipt& receipt) {
    auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, admin_);
    v1::GetErasureReceiptRequest request;
    request.set_sequence(sequence);
    return feedback->GetErasureReceipt(&context, request, &receipt);
  }

  static const v1::ReaderReceipt* Part(const v1::ErasureReceipt& receipt,
                                       const std::string& reader) {
    for (const v1::ReaderReceipt& part : receipt.readers()) {
      if (part.reader() == reader) return &part;
    }
    return nullptr;
  }

  std::unique_ptr<Suite> suite_;
  int64_t occurred_ = 0;
  std::string admin_;
  std::string shop_;
  std::string cases_key_;
  std::string insights_key_;
  bool cases_stopped_ = false;
};

TEST_F(ErasureReceiptE2eTest, TheAnswerComesOnceInsightAndCasesHaveAppliedIt) {
  ASSERT_NO_FATAL_FAILURE(Submit({Answer("gone-1", "gone"), Answer("gone-2", "gone"),
                                  Answer("gone-3", "gone"), Answer("kept-1", "kept")}));
  ASSERT_NO_FATAL_FAILURE(AwaitApplied("kept", 4));
  ASSERT_EQ(CasesPerCustomer().count("gone"), 1u);

  v1::EraseCustomerResponse erased;
  grpc::Status status = Erase("gone", erased, absl::Seconds(40));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(erased.erased_events(), 3);
  ASSERT_TRUE(erased.has_receipt());
  const v1::ErasureReceipt& receipt = erased.receipt();
  EXPECT_TRUE(receipt.complete()) << receipt.DebugString();
  EXPECT_EQ(receipt.sequence(), erased.sequence());
  ASSERT_EQ(receipt.readers_size(), 2);
  for (const char* reader : {"polku-insight", "polku-cases"}) {
    const v1::ReaderReceipt* part = Part(receipt, reader);
    ASSERT_NE(part, nullptr) << reader;
    EXPECT_TRUE(part->applied()) << reader;
    EXPECT_TRUE(part->has_confirmed_at()) << reader;
    EXPECT_GE(part->applied_sequence(), erased.sequence()) << reader;
  }

  // What the receipt promises holds now, without waiting.
  std::map<std::string, int> cases = CasesPerCustomer();
  EXPECT_EQ(cases.count("gone"), 0u);
  EXPECT_EQ(cases.count("kept"), 1u);
  v1::Scorecard scorecard = Scorecard();
  EXPECT_GE(scorecard.as_of_sequence(), erased.sequence());
  EXPECT_EQ(scorecard.total().events(), 1);

  // The same receipt later, over HTTP.
  httplib::Client http(suite_->gateway_http_host(), suite_->gateway_http_port());
  auto got = http.Get(absl::StrCat("/v1/erasures/", erased.sequence(), "/receipt"),
                      {{"Authorization", "Bearer " + admin_}});
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200) << got->body;
  v1::ErasureReceipt over_http;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(got->body, &over_http).ok())
      << got->body;
  EXPECT_TRUE(over_http.complete());
  EXPECT_EQ(over_http.readers_size(), 2);
  // Only admin keys ask.
  auto refused = http.Get(absl::StrCat("/v1/erasures/", erased.sequence(), "/receipt"),
                          {{"Authorization", "Bearer " + insights_key_}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403) << refused->body;
}

TEST_F(ErasureReceiptE2eTest, AStoppedReaderIsNamedAndLaterTheReceiptIsComplete) {
  ASSERT_NO_FATAL_FAILURE(Submit({Answer("late-1", "late"), Answer("other-1", "other")}));
  ASSERT_NO_FATAL_FAILURE(AwaitApplied("other", 2));
  ASSERT_EQ(CasesPerCustomer().count("late"), 1u);

  ASSERT_TRUE(suite_->Signal("polku-cases", SIGSTOP).ok());
  cases_stopped_ = true;
  // polku-feedback answers a second before the deadline, with the receipt
  // as it then stands.
  const absl::Time start = absl::Now();
  v1::EraseCustomerResponse erased;
  grpc::Status status = Erase("late", erased, absl::Seconds(6));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(6));
  ASSERT_TRUE(erased.has_receipt());
  EXPECT_FALSE(erased.receipt().complete());
  const v1::ReaderReceipt* insight = Part(erased.receipt(), "polku-insight");
  const v1::ReaderReceipt* cases = Part(erased.receipt(), "polku-cases");
  ASSERT_NE(insight, nullptr);
  ASSERT_NE(cases, nullptr);
  EXPECT_TRUE(insight->applied());
  EXPECT_FALSE(cases->applied());
  EXPECT_FALSE(cases->has_confirmed_at());
  EXPECT_LT(cases->applied_sequence(), erased.sequence());

  v1::ErasureReceipt receipt;
  ASSERT_TRUE(GetReceipt(erased.sequence(), receipt).ok());
  EXPECT_FALSE(receipt.complete());

  ASSERT_TRUE(suite_->Signal("polku-cases", SIGCONT).ok());
  cases_stopped_ = false;
  const absl::Time deadline = absl::Now() + kCatchUp;
  while (true) {
    grpc::Status got = GetReceipt(erased.sequence(), receipt);
    ASSERT_TRUE(got.ok()) << got.error_message();
    if (receipt.complete()) break;
    ASSERT_LT(absl::Now(), deadline) << receipt.DebugString();
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(Part(receipt, "polku-cases")->applied());
  EXPECT_EQ(CasesPerCustomer().count("late"), 0u);
  EXPECT_EQ(CasesPerCustomer().count("other"), 1u);
}

// Every service over mTLS, polku-cases with its own certificate.
class ErasureReceiptTlsE2eTest : public ErasureReceiptE2eTest {
 protected:
  void Configure(Suite::Options& options) override {
    auto pki = rpc::testing::TestPki::Make(
        {"polku-gateway", "polku-feedback", "polku-journey", "polku-insight", "polku-cases"});
    ASSERT_TRUE(pki.ok()) << pki.status();
    options.tls_dir = pki->dir();
  }
};

TEST_F(ErasureReceiptTlsE2eTest, ReadersReportUnderTheirCertificatesOnly) {
  ASSERT_NO_FATAL_FAILURE(Submit({Answer("tls-1", "tls"), Answer("stay-1", "stay")}));
  ASSERT_NO_FATAL_FAILURE(AwaitApplied("stay", 2));
  v1::EraseCustomerResponse erased;
  grpc::Status status = Erase("tls", erased, absl::Seconds(40));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(erased.receipt().complete()) << erased.receipt().DebugString();
  EXPECT_EQ(erased.receipt().readers_size(), 2);
  EXPECT_EQ(CasesPerCustomer().count("tls"), 0u);

  // The harness's own channel presents the gateway's certificate: a report
  // from it is refused before it reaches polku-feedback's handler.
  auto reports = v1::FeedReaderService::NewStub(suite_->Dial(suite_->feedback_address()));
  for (const std::string reader : {"polku-gateway", "polku-cases"}) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::ReportProgressRequest request;
    request.set_reader(reader);
    request.set_applied_sequence(1'000'000);
    v1::ReportProgressResponse response;
    grpc::Status forged = reports->ReportProgress(&context, request, &response);
    EXPECT_EQ(forged.error_code(), grpc::StatusCode::PERMISSION_DENIED) << reader;
  }
}

}  // namespace
}  // namespace polku
