// The trust checks between services: the table (CheckCall, PeerIdentity)
// and a real mTLS server that enforces it before any handler runs.
#include "lib/rpc/trust.h"

#include <gmock/gmock.h>
#include <grpcpp/generic/async_generic_service.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/server.h"
#include "lib/rpc/testing/test_pki.h"
#include "polku/v1/feed_readers.grpc.pb.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"

namespace polku::rpc {
namespace {

using ::testing::HasSubstr;

constexpr char kWatchEvents[] = "/polku.v1.FeedbackService/WatchEvents";
constexpr char kSubmitEvents[] = "/polku.v1.FeedbackService/SubmitEvents";
constexpr char kWatchJourneys[] = "/polku.v1.JourneyService/WatchJourneys";
constexpr char kGetJourney[] = "/polku.v1.JourneyService/GetJourney";
constexpr char kReportProgress[] =
    "/polku.v1.FeedReaderService/ReportProgress";

TEST(CheckCallTest, OnlyTheGatewayActsForTheTenantOfAnApiKey) {
  EXPECT_TRUE(CheckCall(kGatewayIdentity, kSubmitEvents, true).ok());
  EXPECT_TRUE(CheckCall(kGatewayIdentity, kWatchEvents, true).ok());
  // Without a tenant the gateway would read every tenant's feed.
  absl::Status untenanted = CheckCall(kGatewayIdentity, kWatchEvents, false);
  EXPECT_EQ(untenanted.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(untenanted.message(), HasSubstr("for no tenant"));
  // Any other service forging a tenant is refused, naming itself.
  absl::Status forged = CheckCall(kInsightIdentity, kSubmitEvents, true);
  EXPECT_EQ(forged.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(forged.message(),
              HasSubstr("polku-insight may not act for a tenant"));
  EXPECT_EQ(
      CheckCall(kJourneyIdentity, "/polku.v1.InsightService/GetScorecard", true)
          .code(),
      absl::StatusCode::kPermissionDenied);
}

TEST(CheckCallTest, ServicesMakeOnlyTheInternalCallsTheArchitectureNeeds) {
  EXPECT_TRUE(CheckCall(kInsightIdentity, kWatchEvents, false).ok());
  EXPECT_TRUE(CheckCall(kFeedbackIdentity, kWatchJourneys, false).ok());
  EXPECT_TRUE(CheckCall(kInsightIdentity, kGetJourney, true).ok());
  // The same methods by the wrong service, or in the wrong way.
  EXPECT_EQ(CheckCall(kJourneyIdentity, kWatchEvents, false).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckCall(kFeedbackIdentity, kWatchEvents, false).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckCall(kInsightIdentity, kWatchEvents, true).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckCall(kInsightIdentity, kGetJourney, false).code(),
            absl::StatusCode::kPermissionDenied);
  absl::Status submit = CheckCall(kInsightIdentity, kSubmitEvents, false);
  EXPECT_EQ(submit.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(submit.message(), HasSubstr("polku-insight may not call " +
                                          std::string(kSubmitEvents)));
  EXPECT_EQ(CheckCall("someone", kWatchEvents, false).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(CheckCallTest, PolkuCasesReadsTheFeedAndForOneTenantEventsAndJourneys) {
  constexpr char kExport[] = "/polku.v1.FeedbackService/ExportEvents";
  constexpr char kVersion[] = "/polku.v1.JourneyService/GetJourneyVersion";
  EXPECT_TRUE(CheckCall(kCasesIdentity, kWatchEvents, false).ok());
  EXPECT_TRUE(CheckCall(kCasesIdentity, kExport, true).ok());
  EXPECT_TRUE(CheckCall(kCasesIdentity, kVersion, true).ok());
  // Not every tenant's events at once, nor anything else.
  EXPECT_EQ(CheckCall(kCasesIdentity, kExport, false).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckCall(kCasesIdentity, kSubmitEvents, true).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckCall(kCasesIdentity, "/polku.v1.FeedbackService/EraseCustomer",
                      true)
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckCall(kInsightIdentity, kVersion, true).code(),
            absl::StatusCode::kPermissionDenied);
}

// Only polku-cases asks for a customer's hash, and only for one tenant.
TEST(CheckCallTest, OnlyPolkuCasesHashesACustomerForOneTenant) {
  constexpr char kHash[] = "/polku.v1.CustomerKeyService/HashCustomer";
  EXPECT_TRUE(CheckCall(kCasesIdentity, kHash, true).ok());
  EXPECT_EQ(CheckCall(kCasesIdentity, kHash, false).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckCall(kInsightIdentity, kHash, true).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckCall(kJourneyIdentity, kHash, true).code(),
            absl::StatusCode::kPermissionDenied);
  // Not even the gateway, which may otherwise call anything for a tenant.
  absl::Status gateway = CheckCall(kGatewayIdentity, kHash, true);
  EXPECT_EQ(gateway.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(gateway.message(), HasSubstr("only polku-cases"));
}

// Only the feed's readers that hold customer data report their progress
// (erasure receipts), for no tenant; a gateway report would be a forgery.
TEST(CheckCallTest, OnlyTheFeedsReadersReportTheirProgress) {
  constexpr char kReport[] = "/polku.v1.FeedReaderService/ReportProgress";
  EXPECT_TRUE(CheckCall(kInsightIdentity, kReport, false).ok());
  EXPECT_TRUE(CheckCall(kCasesIdentity, kReport, false).ok());
  EXPECT_EQ(CheckCall(kInsightIdentity, kReport, true).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckCall(kCasesIdentity, kReport, true).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckCall(kJourneyIdentity, kReport, false).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckCall(kFeedbackIdentity, kReport, false).code(),
            absl::StatusCode::kPermissionDenied);
  for (bool asserts_tenant : {true, false}) {
    absl::Status gateway = CheckCall(kGatewayIdentity, kReport, asserts_tenant);
    EXPECT_EQ(gateway.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(gateway.message(), HasSubstr("only the feed's readers"));
  }
}

// Its constructor is protected; this iterates over nothing.
struct NoProperties : grpc::AuthPropertyIterator {};

// An AuthContext holding given certificate names.
class FakeAuthContext : public grpc::AuthContext {
 public:
  FakeAuthContext(
      std::initializer_list<std::pair<std::string, std::string>> properties)
      : properties_(properties.begin(), properties.end()) {}
  bool IsPeerAuthenticated() const override { return true; }
  std::vector<grpc::string_ref> GetPeerIdentity() const override { return {}; }
  std::string GetPeerIdentityPropertyName() const override { return ""; }
  std::vector<grpc::string_ref> FindPropertyValues(
      const std::string& name) const override {
    std::vector<grpc::string_ref> values;
    auto [begin, end] = properties_.equal_range(name);
    for (auto it = begin; it != end; ++it) values.emplace_back(it->second);
    return values;
  }
  grpc::AuthPropertyIterator begin() const override { return NoProperties(); }
  grpc::AuthPropertyIterator end() const override { return NoProperties(); }
  void AddProperty(const std::string&, const grpc::string_ref&) override {}
  bool SetPeerIdentityPropertyName(const std::string&) override {
    return false;
  }

 private:
  std::multimap<std::string, std::string> properties_;
};

TEST(PeerIdentityTest, ACertificateNamesExactlyOnePolkuService) {
  EXPECT_EQ(
      *PeerIdentity(FakeAuthContext({{"x509_common_name", "polku-gateway"}})),
      "polku-gateway");
  // Through a DNS name, beside names that are not identities.
  EXPECT_EQ(*PeerIdentity(FakeAuthContext(
                {{"x509_common_name", "insight.example"},
                 {"x509_subject_alternative_name", "polku-insight.polku.svc"},
                 {"x509_subject_alternative_name", "polku-insight"}})),
            "polku-insight");
  EXPECT_EQ(*PeerIdentity(FakeAuthContext(
                {{"x509_common_name", "polku-feedback"},
                 {"x509_subject_alternative_name", "polku-feedback"}})),
            "polku-feedback");
  absl::StatusOr<std::string> none = PeerIdentity(
      FakeAuthContext({{"x509_common_name", "polku-gateway.evil"},
                       {"x509_subject_alternative_name", "*.polku.svc"}}));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(none.status().message(), HasSubstr("names no Polku service"));
  absl::StatusOr<std::string> several = PeerIdentity(
      FakeAuthContext({{"x509_common_name", "polku-insight"},
                       {"x509_subject_alternative_name", "polku-gateway"}}));
  EXPECT_EQ(several.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(
      several.status().message(),
      HasSubstr("several Polku services (polku-gateway, polku-insight)"));
}

// Answers every method with UNIMPLEMENTED "handled" and remembers which
// reached it: a call the enforcer lets through ends that way.
class RecordingService : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    {
      absl::MutexLock lock(&mu_);
      handled_.push_back(context->method());
    }
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() { Finish({grpc::StatusCode::UNIMPLEMENTED, "handled"}); }
      void OnDone() override { delete this; }
    };
    return new Reactor;
  }
  std::vector<std::string> handled() {
    absl::MutexLock lock(&mu_);
    return handled_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> handled_ ABSL_GUARDED_BY(mu_);
};

class TrustedServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = testing::TestPki::Make({"polku-feedback", "polku-gateway",
                                       "polku-insight", "polku-journey",
                                       "monitoring"});
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<testing::TestPki>(*std::move(pki));
    auto server = Server::Start({.name = "polku-feedback",
                                 .listen_address = "127.0.0.1:0",
                                 .generic_service = &service_,
                                 .tls = pki_->Files("polku-feedback")});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // Calls `method` as `identity`, with a tenant header if `tenant` is set.
  grpc::Status Call(absl::string_view identity, const std::string& method,
                    const std::string& tenant = "") {
    auto channel = MakeChannel(absl::StrCat("127.0.0.1:", server_->port()),
                               pki_->Files(identity));
    EXPECT_TRUE(channel.ok()) << channel.status();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (!tenant.empty()) AttachCaller({.tenant = tenant}, context);
    if (method == kWatchEvents) {
      auto stub = v1::FeedbackService::NewStub(*channel);
      auto reader = stub->WatchEvents(&context, {});
      v1::WatchEventsResponse page;
      while (reader->Read(&page)) {
      }
      return reader->Finish();
    }
    if (method == kGetJourney) {
      auto stub = v1::JourneyService::NewStub(*channel);
      v1::Journey journey;
      return stub->GetJourney(&context, {}, &journey);
    }
    if (method == kReportProgress) {
      auto stub = v1::FeedReaderService::NewStub(*channel);
      v1::ReportProgressResponse response;
      return stub->ReportProgress(&context, {}, &response);
    }
    EXPECT_EQ(method, kSubmitEvents);
    auto stub = v1::FeedbackService::NewStub(*channel);
    v1::SubmitEventsResponse response;
    return stub->SubmitEvents(&context, {}, &response);
  }

  RecordingService service_;
  std::unique_ptr<testing::TestPki> pki_;
  std::unique_ptr<Server> server_;
};

TEST_F(TrustedServerTest, ForgedTenantFromAnyoneButTheGatewayIsRefused) {
  grpc::Status forged = Call("polku-insight", kSubmitEvents, "acme");
  EXPECT_EQ(forged.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(forged.error_message(),
              HasSubstr("only polku-gateway asserts tenants"));
  EXPECT_EQ(Call("polku-journey", kWatchEvents, "acme").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  grpc::Status through_gateway = Call("polku-gateway", kSubmitEvents, "acme");
  EXPECT_EQ(through_gateway.error_message(), "handled");
  EXPECT_THAT(service_.handled(), ::testing::ElementsAre(kSubmitEvents));
}

// Over real mTLS: the gateway's certificate cannot report a reader's
// progress, with or without a tenant; polku-insight's can.
TEST_F(TrustedServerTest, OnlyAReaderReportsFeedProgress) {
  for (const std::string tenant : {"acme", ""}) {
    grpc::Status gateway = Call("polku-gateway", kReportProgress, tenant);
    EXPECT_EQ(gateway.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(gateway.error_message(), HasSubstr("only the feed's readers"));
  }
  EXPECT_EQ(Call("polku-journey", kReportProgress).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(service_.handled(), ::testing::IsEmpty());
  EXPECT_EQ(Call("polku-insight", kReportProgress).error_message(), "handled");
  EXPECT_THAT(service_.handled(), ::testing::ElementsAre(kReportProgress));
}

TEST_F(TrustedServerTest, AValidCertificateOfTheWrongIdentityIsRefused) {
  // Signed by the CA, but neither insight nor naming a Polku service.
  grpc::Status journey = Call("polku-journey", kWatchEvents);
  EXPECT_EQ(journey.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(
      journey.error_message(),
      HasSubstr(
          "polku-journey may not call /polku.v1.FeedbackService/WatchEvents"));
  grpc::Status stranger = Call("monitoring", kSubmitEvents, "acme");
  EXPECT_EQ(stranger.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(stranger.error_message(), HasSubstr("names no Polku service"));
  // The gateway reads a tenant's feed, never every tenant's.
  EXPECT_EQ(Call("polku-gateway", kWatchEvents).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  EXPECT_EQ(Call("polku-insight", kWatchEvents).error_message(), "handled");
  EXPECT_EQ(Call("polku-insight", kGetJourney, "acme").error_message(),
            "handled");
  EXPECT_THAT(service_.handled(),
              ::testing::ElementsAre(kWatchEvents, kGetJourney));
}

TEST_F(TrustedServerTest, HealthAnswersAnyCertificateFromTheCa) {
  for (absl::string_view identity : {"monitoring", "polku-journey"}) {
    auto channel = MakeChannel(absl::StrCat("127.0.0.1:", server_->port()),
                               pki_->Files(identity));
    ASSERT_TRUE(channel.ok());
    auto stub = grpc::health::v1::Health::NewStub(*channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << identity << ": " << status.error_message();
    EXPECT_EQ(response.status(),
              grpc::health::v1::HealthCheckResponse::SERVING);
  }
  EXPECT_TRUE(service_.handled().empty());
}

}  // namespace
}  // namespace polku::rpc
