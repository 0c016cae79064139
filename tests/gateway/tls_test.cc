// The suite with TLS switched on: a throwaway CA, mTLS between every service
// with a certificate per service identity, TLS on the gateway's public gRPC
// and HTTP listeners; and the backends refusing callers whose certificate
// does not name an identity allowed the call (lib/rpc/trust.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/testing/test_pki.h"
#include "lib/rpc/tls.h"
#include "polku/v1/admin.grpc.pb.h"
#include "polku/v1/cases.grpc.pb.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;

// The suite's CA and one certificate per service identity, plus
// "monitoring" (from the CA, naming no Polku service) and "rogue"
// (self-signed).
std::string MakeCertificates() {
  auto pki = rpc::testing::TestPki::Make(
      {"polku-gateway", "polku-feedback", "polku-journey", "polku-insight", "monitoring"});
  EXPECT_TRUE(pki.ok()) << pki.status();
  return pki.ok() ? pki->dir() : "";
}

grpc::StatusCode HealthCheck(const std::string& address, const rpc::TlsFiles& tls) {
  auto channel = rpc::MakeChannel(address, tls);
  EXPECT_TRUE(channel.ok()) << channel.status();
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, {}, &response).error_code();
}

TEST(SuiteTlsTest, EverythingWorksOverTlsAndBackendsRefuseClientsWithoutACertificate) {
  std::string dir = MakeCertificates();
  Suite::Options options;
  options.tls_dir = dir;
  auto suite = Suite::Start(options);
  ASSERT_TRUE(suite.ok()) << suite.status();
  const std::string admin_key = (*suite)->credentials().admin_key;

  // gRPC through the gateway over TLS, to backends over mTLS.
  auto journeys = v1::JourneyService::NewStub((*suite)->GatewayChannel());
  {
    grpc::ClientContext context;
    Suite::Authorize(context, admin_key);
    v1::ListChannelsResponse response;
    grpc::Status status = journeys->ListChannels(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  // HTTPS, verified against the CA.
  httplib::SSLClient https((*suite)->gateway_http_host(), (*suite)->gateway_http_port());
  https.set_ca_cert_path((dir + "/ca.pem").c_str());
  https.enable_server_certificate_verification(true);
  httplib::Result listed =
      https.Get("/v1/journeys", {{"Authorization", "Bearer " + admin_key}});
  ASSERT_TRUE(listed) << httplib::to_string(listed.error());
  EXPECT_EQ(listed->status, 200) << listed->body;
  httplib::Result ready = https.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  // Plaintext HTTP to the TLS listener gets nowhere.
  httplib::Client plaintext((*suite)->gateway_http_host(), (*suite)->gateway_http_port());
  plaintext.set_read_timeout(5, 0);
  EXPECT_FALSE(plaintext.Get("/healthz"));

  // A backend serves only clients with a certificate from the CA.
  const std::string journey = (*suite)->backend_address("journey");
  EXPECT_EQ(HealthCheck(journey, {.cert_file = dir + "/monitoring.pem",
                                  .key_file = dir + "/monitoring.key",
                                  .ca_file = dir + "/ca.pem"}),
            grpc::StatusCode::OK);
  EXPECT_EQ(HealthCheck(journey, {.ca_file = dir + "/ca.pem"}), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(HealthCheck(journey, {.cert_file = dir + "/rogue.pem",
                                  .key_file = dir + "/rogue.key",
                                  .ca_file = dir + "/ca.pem"}),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(HealthCheck(journey, {}), grpc::StatusCode::UNAVAILABLE);

  // The command-line tools reach a TLS gateway when told which CA to trust.
  const std::string list_tenants =
      absl::StrCat(testing::BinaryPath("polku-keys"), " --gateway=",
                   (*suite)->gateway_grpc_address(), " --data_dir=", (*suite)->data_dir(),
                   " list-tenants");
  EXPECT_NE(std::system((list_tenants + " >/dev/null 2>&1").c_str()), 0);
  std::string output;
  FILE* pipe = popen((list_tenants + " --gateway_ca=" + dir + "/ca.pem 2>&1").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_THAT(output, ::testing::HasSubstr("tenants/demo"));

  EXPECT_EQ((*suite)->Stop(), absl::OkStatus());
}

// A channel to a backend presenting `identity`'s certificate.
std::shared_ptr<grpc::Channel> As(const std::string& dir, const std::string& identity,
                                  const std::string& address) {
  auto channel = rpc::MakeChannel(address, {.cert_file = dir + "/" + identity + ".pem",
                                            .key_file = dir + "/" + identity + ".key",
                                            .ca_file = dir + "/ca.pem"});
  EXPECT_TRUE(channel.ok()) << channel.status();
  return *channel;
}

grpc::Status Submit(const std::shared_ptr<grpc::Channel>& channel, const rpc::Caller& caller,
                    const std::string& event_id, v1::SubmitEventsResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  rpc::AttachCaller(caller, context);
  v1::SubmitEventsRequest request;
  v1::TouchpointEvent* event = request.add_events();
  event->set_event_id(event_id);
  event->set_touchpoint("store_visit");
  event->set_customer("C-1");
  event->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
  event->set_csat(5);
  return v1::FeedbackService::NewStub(channel)->SubmitEvents(&context, request, response);
}

// Reads a feed stream to its end (or its deadline).
grpc::Status WatchFeed(const std::shared_ptr<grpc::Channel>& channel, const rpc::Caller& caller,
                       int64_t* events_seen) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  rpc::AttachCaller(caller, context);
  auto reader = v1::FeedbackService::NewStub(channel)->WatchEvents(&context, {});
  v1::WatchEventsResponse page;
  while (reader->Read(&page)) *events_seen += page.events_size();
  return reader->Finish();
}

TEST(SuiteTlsTest, BackendsRefuseCallersOfTheWrongIdentityAndForgedTenants) {
  std::string dir = MakeCertificates();
  Suite::Options options;
  options.tls_dir = dir;
  auto suite = Suite::Start(options);
  ASSERT_TRUE(suite.ok()) << suite.status();
  const std::string admin_key = (*suite)->credentials().admin_key;
  const std::string feedback = (*suite)->backend_address("feedback");

  // The whole suite works with identities checked: a journey published
  // through the gateway reaches feedback's index (feedback → journey), an
  // event submitted through the gateway is counted by insight (insight →
  // feedback's feed, insight → journey for the tenant).
  {
    grpc::ClientContext context;
    Suite::Authorize(context, admin_key);
    v1::CreateJourneyRequest create;
    *create.mutable_journey() = testing::MakeJourney(
        "tls-journey", "TLS journey", {"purchase"}, {{"store_visit", "purchase", "shop"}}, "t");
    v1::Journey created;
    ASSERT_TRUE(v1::JourneyService::NewStub((*suite)->GatewayChannel())
                    ->CreateJourney(&context, create, &created)
                    .ok());
    grpc::ClientContext publish_context;
    Suite::Authorize(publish_context, admin_key);
    v1::PublishJourneyRequest publish;
    publish.set_key("tls-journey");
    ASSERT_TRUE(v1::JourneyService::NewStub((*suite)->GatewayChannel())
                    ->PublishJourney(&publish_context, publish, &created)
                    .ok());
  }
  const std::string shop_key = (*suite)->credentials().channel_keys.at("shop");
  auto gateway_feedback = v1::FeedbackService::NewStub((*suite)->GatewayChannel());
  int64_t accepted_sequence = 0;
  for (absl::Time deadline = absl::Now() + absl::Seconds(30); absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(100))) {
    grpc::ClientContext context;
    Suite::Authorize(context, shop_key);
    v1::SubmitEventsRequest request;
    v1::TouchpointEvent* event = request.add_events();
    event->set_event_id("through-gateway");
    event->set_touchpoint("store_visit");
    event->set_customer("C-0");
    event->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
    event->set_csat(4);
    v1::SubmitEventsResponse response;
    ASSERT_TRUE(gateway_feedback->SubmitEvents(&context, request, &response).ok());
    // Rejected until feedback's touchpoint index has the journey.
    if (response.results(0).outcome() != v1::EventResult::REJECTED) {
      accepted_sequence = response.results(0).sequence();
      break;
    }
  }
  ASSERT_GT(accepted_sequence, 0);
  v1::Scorecard scorecard;
  for (absl::Time deadline = absl::Now() + absl::Seconds(30);
       absl::Now() < deadline && scorecard.as_of_sequence() < accepted_sequence;
       absl::SleepFor(absl::Milliseconds(100))) {
    grpc::ClientContext context;
    Suite::Authorize(context, admin_key);
    v1::GetScorecardRequest request;
    request.set_journey("tls-journey");
    ASSERT_TRUE(v1::InsightService::NewStub((*suite)->GatewayChannel())
                    ->GetScorecard(&context, request, &scorecard)
                    .ok());
  }
  ASSERT_EQ(scorecard.rows_size(), 1);
  EXPECT_EQ(scorecard.rows(0).events(), 1);

  // A forged tenant header from anyone but the gateway is refused, and
  // nothing is stored.
  v1::SubmitEventsResponse response;
  for (const char* identity : {"polku-insight", "polku-journey", "monitoring"}) {
    grpc::Status forged = Submit(As(dir, identity, feedback),
                                 {.tenant = "demo", .channel = "shop"}, "forged", &response);
    EXPECT_EQ(forged.error_code(), grpc::StatusCode::PERMISSION_DENIED) << identity;
  }
  // The gateway's identity with the same header is how events arrive.
  ASSERT_TRUE(Submit(As(dir, "polku-gateway", feedback), {.tenant = "demo", .channel = "shop"},
                     "as-gateway", &response)
                  .ok());
  ASSERT_EQ(response.results(0).outcome(), v1::EventResult::ACCEPTED);
  EXPECT_EQ(response.results(0).sequence(), accepted_sequence + 1);

  // Every tenant's feed: for insight, not for a valid certificate of
  // another identity, not for the gateway without a tenant.
  int64_t seen = 0;
  grpc::Status wrong_identity = WatchFeed(As(dir, "polku-journey", feedback), {}, &seen);
  EXPECT_EQ(wrong_identity.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(wrong_identity.error_message(), ::testing::HasSubstr("polku-journey may not call"));
  EXPECT_EQ(WatchFeed(As(dir, "polku-gateway", feedback), {}, &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(WatchFeed(As(dir, "monitoring", feedback), {}, &seen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(seen, 0);
  // Insight's own certificate reads it (until the test's deadline).
  EXPECT_EQ(WatchFeed(As(dir, "polku-insight", feedback), {}, &seen).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(seen, 2);

  EXPECT_EQ((*suite)->Stop(), absl::OkStatus());
}

// polku-cases under mTLS with its own identity: it reads polku-feedback's
// change feed, asks polku-journey for the touchpoint's owner team and
// polku-feedback for a customer's hash and stored events; the gateway
// reaches it over mTLS. A rule created through the gateway, its SLA in the
// tenant's business calendar (set over HTTPS), opens a case from an event.
TEST(SuiteTlsTest, CasesAreOpenedAndWorkedOverMutualTls) {
  auto pki = rpc::testing::TestPki::Make({"polku-gateway", "polku-feedback", "polku-journey",
                                          "polku-insight", "polku-cases", "monitoring"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::string dir = pki->dir();
  Suite::Options options;
  options.tls_dir = dir;
  options.cases_replicas = 1;
  auto suite = Suite::Start(options);
  ASSERT_TRUE(suite.ok()) << suite.status();
  const std::string admin_key = (*suite)->credentials().admin_key;
  const std::string shop_key = (*suite)->credentials().channel_keys.at("shop");
  auto deadline_in = [](grpc::ClientContext& context, absl::Duration d) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + d));
  };

  // A key for the cases, and the journey (owner team "tls-team").
  std::string desk;
  {
    grpc::ClientContext context;
    Suite::Authorize(context, admin_key);
    deadline_in(context, absl::Seconds(10));
    v1::CreateApiKeyRequest request;
    request.set_parent("tenants/demo");
    request.mutable_api_key()->set_display_name("helpdesk");
    request.mutable_api_key()->add_scopes("cases:read");
    request.mutable_api_key()->add_scopes("cases:write");
    v1::CreateApiKeyResponse response;
    grpc::Status status = v1::AdminService::NewStub((*suite)->GatewayChannel())
                              ->CreateApiKey(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    desk = response.key();
  }
  absl::Status published = testing::CreateAndPublish(
      (*suite)->GatewayChannel(), admin_key,
      testing::MakeJourney("tls-cases", "TLS cases", {"purchase"},
                           {{"store_visit", "purchase", "shop"}}, "tls-team"));
  ASSERT_TRUE(published.ok()) << published;

  // The tenant's business calendar over HTTPS: every hour of every day in
  // UTC, so an hour's SLA falls due exactly an hour after opening.
  httplib::SSLClient https((*suite)->gateway_http_host(), (*suite)->gateway_http_port());
  https.set_ca_cert_path((dir + "/ca.pem").c_str());
  https.enable_server_certificate_verification(true);
  https.set_read_timeout(30, 0);
  std::string week;
  for (int day = 1; day <= 7; ++day) {
    absl::StrAppend(&week, day > 1 ? "," : "", "{\"weekday\":", day,
                    ",\"openMinute\":0,\"closeMinute\":1440}");
  }
  const httplib::Headers as_desk = {{"Authorization", "Bearer " + desk}};
  httplib::Result set = https.Put(
      "/v1/businessCalendar", as_desk,
      absl::StrCat(R"({"businessHours":{"timeZone":"UTC","weekly":[)", week, "]}}"),
      "application/json");
  ASSERT_TRUE(set) << httplib::to_string(set.error());
  ASSERT_EQ(set->status, 200) << set->body;
  httplib::Result bad = https.Put(
      "/v1/businessCalendar", as_desk,
      R"({"businessHours":{"timeZone":"Mars/Olympus_Mons","weekly":[{"weekday":1,"closeMinute":60}]}})",
      "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_THAT(bad->body, ::testing::HasSubstr("business_hours.time_zone"));
  httplib::Result got = https.Get("/v1/businessCalendar", as_desk);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200) << got->body;
  EXPECT_THAT(got->body, ::testing::HasSubstr("\"timeZone\":\"UTC\""));

  // A rule without hours of its own, through the gateway over gRPC.
  auto cases = v1::CaseService::NewStub((*suite)->GatewayChannel());
  v1::CaseRule rule;
  {
    grpc::ClientContext context;
    Suite::Authorize(context, desk);
    deadline_in(context, absl::Seconds(10));
    v1::CreateRuleRequest request;
    request.mutable_rule()->set_journey("tls-cases");
    request.mutable_rule()->set_name("Detractors");
    request.mutable_rule()->mutable_conditions()->set_max_nps(6);
    request.mutable_rule()->set_fallback_queue("care");
    request.mutable_rule()->mutable_sla()->set_first_contact_seconds(3600);
    grpc::Status status = cases->CreateRule(&context, request, &rule);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // A detractor through the gateway (retried until feedback knows the
  // journey); polku-cases reads it from the feed over mTLS.
  auto feedback = v1::FeedbackService::NewStub((*suite)->GatewayChannel());
  for (absl::Time deadline = absl::Now() + absl::Seconds(30);;
       absl::SleepFor(absl::Milliseconds(100))) {
    ASSERT_LT(absl::Now(), deadline) << "the journey never reached feedback";
    grpc::ClientContext context;
    Suite::Authorize(context, shop_key);
    deadline_in(context, absl::Seconds(10));
    v1::SubmitEventsRequest request;
    v1::TouchpointEvent* event = request.add_events();
    event->set_event_id("tls-detractor");
    event->set_touchpoint("store_visit");
    event->set_customer("cust-tls");
    event->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
    event->set_nps(2);
    v1::SubmitEventsResponse response;
    ASSERT_TRUE(feedback->SubmitEvents(&context, request, &response).ok());
    if (response.results(0).outcome() != v1::EventResult::REJECTED) break;
  }
  v1::Case opened;
  for (absl::Time deadline = absl::Now() + absl::Seconds(30);;
       absl::SleepFor(absl::Milliseconds(100))) {
    ASSERT_LT(absl::Now(), deadline) << "no case was opened";
    grpc::ClientContext context;
    Suite::Authorize(context, desk);
    deadline_in(context, absl::Seconds(10));
    v1::ListCasesRequest request;
    request.set_journey("tls-cases");
    v1::ListCasesResponse response;
    grpc::Status status = cases->ListCases(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (response.cases_size() > 0) {
      opened = response.cases(0);
      break;
    }
  }
  EXPECT_EQ(opened.rule_id(), rule.rule_id());
  EXPECT_EQ(opened.owner_team(), "tls-team");  // asked of polku-journey
  EXPECT_EQ(opened.sla_policy().business_hours().time_zone(), "UTC");
  auto time_of = [](const google::protobuf::Timestamp& t) {
    return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
  };
  EXPECT_EQ(time_of(opened.sla().first_contact_due()) - time_of(opened.create_time()),
            absl::Hours(1));

  // The customer's hash from polku-feedback, and its stored events.
  {
    grpc::ClientContext context;
    Suite::Authorize(context, desk);
    deadline_in(context, absl::Seconds(10));
    v1::SetContactConsentRequest request;
    request.set_customer("cust-tls");
    request.set_contact_allowed(false);
    v1::SetContactConsentResponse response;
    grpc::Status status = cases->SetContactConsent(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.cases(), 1);
  }
  {
    grpc::ClientContext context;
    Suite::Authorize(context, desk);
    deadline_in(context, absl::Seconds(20));
    v1::DryRunRuleRequest request;
    request.set_rule_id(rule.rule_id());
    request.mutable_range()->mutable_start()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Hours(24)));
    request.mutable_range()->mutable_end()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    v1::DryRunRuleResponse response;
    grpc::Status status = cases->DryRunRule(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.cases(), 1);
  }

  // polku-cases itself serves only certificates from the CA, and only the
  // gateway's acts for a tenant.
  const std::string cases_address = (*suite)->backend_address("cases");
  EXPECT_EQ(HealthCheck(cases_address, {.cert_file = dir + "/monitoring.pem",
                                        .key_file = dir + "/monitoring.key",
                                        .ca_file = dir + "/ca.pem"}),
            grpc::StatusCode::OK);
  EXPECT_EQ(HealthCheck(cases_address, {.ca_file = dir + "/ca.pem"}),
            grpc::StatusCode::UNAVAILABLE);
  {
    grpc::ClientContext context;
    deadline_in(context, absl::Seconds(10));
    rpc::AttachCaller({.tenant = "demo"}, context);
    v1::ListCasesResponse response;
    grpc::Status forged = v1::CaseService::NewStub(As(dir, "polku-insight", cases_address))
                              ->ListCases(&context, {}, &response);
    EXPECT_EQ(forged.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << forged.error_message();
  }

  EXPECT_EQ((*suite)->Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace polku
