// CaseService through polku-gateway against the real binaries: the suite
// (tests/harness) plus a polku-cases this test starts itself on a port it
// gives the gateway (--cases_address), reading the real polku-feedback's
// feed. Checks what needs every process: a detractor's event opens a case
// that an NDJSON watch over HTTP shows; SetContactConsent with the
// customer's own reference (hashed by polku-feedback) marks it; and every
// audit entry's actor is the key, or the person an act_as key names.
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "polku/v1/admin.grpc.pb.h"
#include "polku/v1/cases.grpc.pb.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/programs.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;
using ::testing::HasSubstr;

constexpr char kJourney[] = "cases-journey";

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class CasesThroughTheGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cases_port_ = FreePort();
    Suite::Options options;
    options.gateway_flags = {
        absl::StrCat("--cases_address=127.0.0.1:", cases_port_)};
    auto suite = Suite::Start(options);
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
    const std::string dir = suite_->data_dir() + "/cases";
    std::filesystem::create_directories(dir);
    cases_pid_ = testing::StartProgram(
        testing::BinaryPath("polku-cases"),
        {absl::StrCat("--listen=127.0.0.1:", cases_port_),
         absl::StrCat("--data_dir=", dir),
         absl::StrCat("--feedback_address=", suite_->backend_address("feedback")),
         absl::StrCat("--journey_address=", suite_->backend_address("journey")),
         "--sla_interval_seconds=1"},
        dir + "/out.log", dir + "/err.log");
    ASSERT_GT(cases_pid_, 0);
    log_path_ = dir + "/err.log";
    auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", cases_port_),
        grpc::InsecureChannelCredentials()));
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (true) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
      grpc::health::v1::HealthCheckRequest request;
      grpc::health::v1::HealthCheckResponse response;
      if (health->Check(&context, request, &response).ok() &&
          response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        break;
      }
      ASSERT_LT(absl::Now(), deadline) << testing::ReadWholeFile(log_path_);
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  void TearDown() override {
    if (cases_pid_ > 0) {
      kill(cases_pid_, SIGTERM);
      int status = testing::WaitProgram(cases_pid_, absl::Seconds(30));
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << testing::ReadWholeFile(log_path_);
    }
    if (suite_ != nullptr) {
      EXPECT_EQ(suite_->Stop(), absl::OkStatus());
    }
    if (HasFailure()) {
      std::cerr << "polku-cases log:\n" << testing::ReadWholeFile(log_path_);
    }
  }

  // A new key of the demo tenant; its id into `key_id`.
  std::string CreateKey(const std::string& name,
                        const std::vector<std::string>& scopes,
                        std::string* key_id) {
    auto admin = v1::AdminService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, suite_->credentials().admin_key);
    v1::CreateApiKeyRequest request;
    request.set_parent("tenants/demo");
    request.mutable_api_key()->set_display_name(name);
    for (const auto& s : scopes) request.mutable_api_key()->add_scopes(s);
    v1::CreateApiKeyResponse response;
    grpc::Status status = admin->CreateApiKey(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    const std::string& full = response.api_key().name();
    *key_id = full.substr(full.rfind('/') + 1);
    return response.key();
  }

  int cases_port_ = 0;
  pid_t cases_pid_ = -1;
  std::string log_path_;
  std::unique_ptr<Suite> suite_;
};

TEST_F(CasesThroughTheGatewayTest, WatchConsentAndActorsAcrossProcesses) {
  const std::string admin = suite_->credentials().admin_key;
  const std::string shop = suite_->credentials().channel_keys.at("shop");
  std::string desk_id, board_id;
  const std::string desk = CreateKey(
      "helpdesk", {"cases:read", "cases:write", "act_as"}, &desk_id);
  const std::string board = CreateKey("board", {"cases:read", "cases:write"},
                                      &board_id);

  // The journey, published.
  auto journeys = v1::JourneyService::NewStub(suite_->GatewayChannel());
  {
    grpc::ClientContext context;
    Suite::Authorize(context, admin);
    v1::CreateJourneyRequest request;
    *request.mutable_journey() = testing::MakeJourney(
        kJourney, "Cases journey", {"buy"}, {{"store_visit", "buy", "shop"}},
        "store-team");
    v1::Journey created;
    ASSERT_TRUE(journeys->CreateJourney(&context, request, &created).ok());
  }
  {
    grpc::ClientContext context;
    Suite::Authorize(context, admin);
    v1::PublishJourneyRequest request;
    request.set_key(kJourney);
    v1::Journey published;
    ASSERT_TRUE(journeys->PublishJourney(&context, request, &published).ok());
  }

  // A rule, created by a person through the helpdesk's key.
  auto cases = v1::CaseService::NewStub(suite_->GatewayChannel());
  v1::CaseRule rule;
  {
    grpc::ClientContext context;
    Suite::Authorize(context, desk);
    context.AddMetadata("x-polku-actor", "alice@example.com");
    v1::CreateRuleRequest request;
    request.mutable_rule()->set_journey(kJourney);
    request.mutable_rule()->set_name("Detractors");
    request.mutable_rule()->mutable_conditions()->set_max_nps(6);
    request.mutable_rule()->set_fallback_queue("care");
    grpc::Status status = cases->CreateRule(&context, request, &rule);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // The board watches its queue over HTTP (NDJSON) from here on.
  std::mutex lines_mu;
  std::string received;
  std::atomic<bool> stop{false};
  httplib::Client watch_http(suite_->gateway_http_host(),
                             suite_->gateway_http_port());
  watch_http.set_read_timeout(60, 0);
  // With the existing cases first, the case shows whether the watch opened
  // before or after it did: no fixed wait for "the watch is open".
  std::thread watcher([&] {
    httplib::Headers headers = {{"Authorization", "Bearer " + board}};
    watch_http.Get(absl::StrCat("/v1/cases:watch?include_existing=true&"
                                "filter.journey=",
                                kJourney)
                       .c_str(),
                   headers, [&](const char* data, size_t size) {
                     std::lock_guard<std::mutex> lock(lines_mu);
                     received.append(data, size);
                     return !stop.load();
                   });
  });
  // Joined on every way out, a failed ASSERT too (a joinable thread's
  // destruction would terminate the test binary).
  absl::Cleanup join_watcher = [&] {
    stop = true;
    watch_http.stop();
    watcher.join();
  };
  auto watched = [&](const std::string& what) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(lines_mu);
        if (absl::StrContains(received, what)) return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  };

  // A detractor, customer "cust-77" (feedback retries until it knows the
  // journey).
  auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
  const absl::Time submit_deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    grpc::ClientContext context;
    Suite::Authorize(context, shop);
    v1::SubmitEventsRequest request;
    v1::TouchpointEvent& event = *request.add_events();
    event.set_event_id("detractor-1");
    event.set_touchpoint("store_visit");
    event.set_customer("cust-77");
    event.set_nps(2);
    event.mutable_occurred_at()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Minutes(5)));
    v1::SubmitEventsResponse response;
    ASSERT_TRUE(feedback->SubmitEvents(&context, request, &response).ok());
    if (response.results(0).outcome() != v1::EventResult::REJECTED) break;
    ASSERT_LT(absl::Now(), submit_deadline) << response.results(0).reason();
    absl::SleepFor(absl::Milliseconds(100));
  }

  // The case is opened from the feed, and the board's watch shows it.
  // As a change ("newValue":"NEW") or, opened before the watch, as an
  // existing case: either way its state.
  EXPECT_TRUE(watched("\"state\":\"NEW\"")) << received;
  v1::Case opened;
  const absl::Time list_deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    grpc::ClientContext context;
    Suite::Authorize(context, board);
    v1::ListCasesRequest request;
    request.set_journey(kJourney);
    v1::ListCasesResponse response;
    ASSERT_TRUE(cases->ListCases(&context, request, &response).ok());
    if (response.cases_size() == 1) {
      opened = response.cases(0);
      break;
    }
    ASSERT_LT(absl::Now(), list_deadline);
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(opened.owner_team(), "store-team");
  EXPECT_FALSE(opened.no_contact());

  // The customer asks not to be contacted: by their own reference, over
  // HTTP, by a person at the helpdesk.
  httplib::Client http(suite_->gateway_http_host(), suite_->gateway_http_port());
  http.set_read_timeout(30, 0);
  httplib::Result res = http.Post(
      "/v1/customers/cust-77:setContactConsent",
      {{"Authorization", "Bearer " + desk}, {"X-Polku-Actor", "pia"}},
      R"({"contactAllowed": false})", "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(res->body, HasSubstr("\"cases\":\"1\""));
  EXPECT_TRUE(watched("\"field\":\"no_contact\"")) << received;
  // The board's key cannot claim to be someone.
  res = http.Post("/v1/customers/cust-77:setContactConsent",
                  {{"Authorization", "Bearer " + board}, {"X-Polku-Actor", "pia"}},
                  R"({"contactAllowed": false})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << res->body;

  // The board assigns it, as itself.
  {
    grpc::ClientContext context;
    Suite::Authorize(context, board);
    v1::UpdateCaseRequest request;
    request.mutable_case_()->set_case_id(opened.case_id());
    request.mutable_case_()->set_assignee("ville");
    request.mutable_update_mask()->add_paths("assignee");
    v1::Case updated;
    grpc::Status status = cases->UpdateCase(&context, request, &updated);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(updated.no_contact());
  }
  EXPECT_TRUE(watched("\"newValue\":\"ville\"")) << received;

  // The trail: the feed, the person via the helpdesk, the board's key.
  {
    grpc::ClientContext context;
    Suite::Authorize(context, board);
    v1::ListAuditEntriesRequest request;
    request.set_case_id(opened.case_id());
    v1::ListAuditEntriesResponse trail;
    ASSERT_TRUE(cases->ListAuditEntries(&context, request, &trail).ok());
    std::vector<std::string> who;
    for (const auto& e : trail.entries()) {
      who.push_back(absl::StrCat(e.field(), " by ", e.actor()));
    }
    EXPECT_THAT(who, ::testing::ElementsAre(
                         "state by polku-cases",
                         "no_contact by pia via helpdesk (key " + desk_id + ")",
                         "assignee by board (key " + board_id + ")",
                         "state by board (key " + board_id + ")"));
  }
  {
    grpc::ClientContext context;
    Suite::Authorize(context, board);
    v1::ListAuditEntriesRequest request;
    request.set_rule_id(rule.rule_id());
    v1::ListAuditEntriesResponse trail;
    ASSERT_TRUE(cases->ListAuditEntries(&context, request, &trail).ok());
    ASSERT_GE(trail.entries_size(), 1);
    EXPECT_EQ(trail.entries(0).actor(),
              "alice@example.com via helpdesk (key " + desk_id + ")");
  }
  // Nothing the board saw holds the customer's reference.
  {
    std::lock_guard<std::mutex> lock(lines_mu);
    EXPECT_THAT(received, ::testing::Not(HasSubstr("cust-77")));
  }
  stop = true;
  // Ends the watch: the board's next message makes the receiver return false.
  {
    grpc::ClientContext context;
    Suite::Authorize(context, board);
    v1::AddCommentRequest request;
    request.set_case_id(opened.case_id());
    request.set_text("done");
    v1::Case updated;
    ASSERT_TRUE(cases->AddComment(&context, request, &updated).ok());
  }
}

}  // namespace
}  // namespace polku
