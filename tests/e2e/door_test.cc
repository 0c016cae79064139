// The door refuses what a later stage cannot keep, the same on SQLite and on
// PostgreSQL: a measure too large for polku-insight's exact sums, and text
// holding NUL (which PostgreSQL's text type cannot store). Each is rejected
// at validation with the field named; the good event beside them is stored
// and counted.
#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "polku/v1/feedback.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;

class DoorTest : public ::testing::TestWithParam<Suite::Database> {};

TEST_P(DoorTest, WhatALaterStageCannotKeepIsRejectedWithItsField) {
  Suite::Options options;
  options.database = GetParam();
  auto started = Suite::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  Suite& suite = **started;
  const std::string admin = suite.credentials().admin_key;

  auto journeys = v1::JourneyService::NewStub(suite.GatewayChannel());
  v1::CreateJourneyRequest create;
  *create.mutable_journey() = testing::MakeJourney(
      "door", "Door", {"purchase"}, {{"store_visit", "purchase", "shop"}}, "t");
  v1::Journey journey;
  grpc::ClientContext create_context;
  Suite::Authorize(create_context, admin);
  ASSERT_TRUE(journeys->CreateJourney(&create_context, create, &journey).ok());
  grpc::ClientContext publish_context;
  Suite::Authorize(publish_context, admin);
  v1::PublishJourneyRequest publish;
  publish.set_key("door");
  ASSERT_TRUE(
      journeys->PublishJourney(&publish_context, publish, &journey).ok());

  // JSON cannot carry NUL but as the escape \u0000, which proto3 JSON
  // accepts in strings; 1e308 is a valid JSON number.
  const std::string occurred = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%SZ", absl::Now() - absl::Hours(1), absl::UTCTimeZone());
  const std::string body = absl::StrCat(
      R"({"events": [)",
      R"({"eventId": "huge", "touchpoint": "store_visit", "customer": "C-1", "occurredAt": ")",
      occurred, R"(", "csat": 4, "measures": {"handle_seconds": 1e308}},)",
      R"({"eventId": "nul", "touchpoint": "store_visit", "customer": "C-2", "occurredAt": ")",
      occurred, R"(", "csat": 4, "comment": "ok\u0000hidden"},)",
      R"({"eventId": "good", "touchpoint": "store_visit", "customer": "C-3", "occurredAt": ")",
      occurred, R"(", "csat": 5, "measures": {"handle_seconds": 312.5}}]})");
  httplib::Client client(suite.gateway_http_host(), suite.gateway_http_port());
  const httplib::Headers shop = {
      {"Authorization",
       "Bearer " + suite.credentials().channel_keys.at("shop")}};
  int64_t good_sequence = 0;
  // Until feedback's touchpoint index has the journey, "good" is rejected too.
  for (absl::Time deadline = absl::Now() + absl::Seconds(30);
       absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(100))) {
    auto answer = client.Post("/v1/events", shop, body, "application/json");
    ASSERT_TRUE(answer);
    ASSERT_EQ(answer->status, 200) << answer->body;
    v1::SubmitEventsResponse response;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(answer->body, &response)
            .ok());
    ASSERT_EQ(response.results_size(), 3);
    if (response.results(2).outcome() == v1::EventResult::REJECTED) continue;
    EXPECT_EQ(response.results(0).outcome(), v1::EventResult::REJECTED);
    EXPECT_EQ(response.results(0).field(), "events[0].measures.handle_seconds");
    EXPECT_THAT(response.results(0).reason(),
                ::testing::HasSubstr("at most 1000000000"));
    EXPECT_EQ(response.results(1).outcome(), v1::EventResult::REJECTED);
    EXPECT_EQ(response.results(1).field(), "events[1].comment");
    EXPECT_THAT(response.results(1).reason(), ::testing::HasSubstr("NUL"));
    EXPECT_NE(response.results(2).outcome(), v1::EventResult::REJECTED);
    good_sequence = response.results(2).sequence();
    break;
  }
  ASSERT_GT(good_sequence, 0);

  // Only the good event is counted, with its measure.
  auto insight = v1::InsightService::NewStub(suite.GatewayChannel());
  v1::Scorecard scorecard;
  for (absl::Time deadline = absl::Now() + absl::Seconds(30);
       absl::Now() < deadline && scorecard.as_of_sequence() < good_sequence;
       absl::SleepFor(absl::Milliseconds(100))) {
    grpc::ClientContext context;
    Suite::Authorize(context, admin);
    v1::GetScorecardRequest request;
    request.set_journey("door");
    ASSERT_TRUE(insight->GetScorecard(&context, request, &scorecard).ok());
  }
  ASSERT_EQ(scorecard.rows_size(), 1);
  EXPECT_EQ(scorecard.rows(0).events(), 1);
  EXPECT_EQ(scorecard.rows(0).csat().responses(), 1);
  EXPECT_EQ(suite.Stop(), absl::OkStatus());
}

INSTANTIATE_TEST_SUITE_P(Backends, DoorTest,
                         ::testing::Values(Suite::Database::kSqlite,
                                           Suite::Database::kPostgres),
                         [](const auto& info) {
                           return info.param == Suite::Database::kSqlite
                                      ? "sqlite"
                                      : "postgresql";
                         });

}  // namespace
}  // namespace polku
