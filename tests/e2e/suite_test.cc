// End to end, through the gateway only: a journey is imported and published,
// channels submit feedback over gRPC and HTTP/JSON with their own keys, bad
// input is rejected event by event, and the scorecard polku-insight computes
// from the change feed matches numbers worked out by hand below — also after
// polku-insight restarts from its checkpoint.
#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::polku::testing::Suite;
using ::testing::HasSubstr;

constexpr char kJourney[] = "e2e-journey";
constexpr absl::Duration kBound = absl::Seconds(30);

// research: search_ad (web) · purchase: store_visit (shop), confirmation_call
// (phone) · use: welcome_email (email), order_tracking (web).
v1::Journey TestJourney() {
  return testing::MakeJourney(kJourney, "End-to-end test journey",
                              {"research", "purchase", "use"},
                              {{"search_ad", "research", "web"},
                               {"store_visit", "purchase", "shop"},
                               {"confirmation_call", "purchase", "phone"},
                               {"welcome_email", "use", "email"},
                               {"order_tracking", "use", "web"}},
                              "e2e");
}

// An event two hours ago; a score of -1 means "not given".
v1::TouchpointEvent Event(const std::string& id, const std::string& touchpoint, int csat,
                          int nps, int ces) {
  v1::TouchpointEvent event;
  event.set_event_id(id);
  event.set_touchpoint(touchpoint);
  event.set_customer("customer-" + id);
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(2)));
  if (csat >= 0) event.set_csat(csat);
  if (nps >= 0) event.set_nps(nps);
  if (ces >= 0) event.set_ces(ces);
  return event;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &json, options).ok());
  return json;
}

template <typename Message>
Message FromJson(const std::string& json) {
  Message message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(json, &message, options);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return message;
}

// What a scorecard row must say. Intervals and means are given to six
// decimals, so they are compared with a tolerance of 1e-5.
struct Nps {
  int64_t responses, promoters, passives, detractors;
  double score, low, high;
};
struct Csat {
  int64_t responses;
  double top2_box, low, high, mean;
};
struct Ces {
  int64_t responses;
  double mean, share_5_to_7;
};
struct Row {
  std::string group;
  int64_t events;
  std::optional<Nps> nps;
  std::optional<Csat> csat;
  std::optional<Ces> ces;
};

constexpr double kTolerance = 1e-5;

void ExpectRow(const v1::ScorecardRow& actual, const Row& expected) {
  SCOPED_TRACE(absl::StrCat("group \"", expected.group, "\": ", actual.DebugString()));
  EXPECT_EQ(actual.group(), expected.group);
  EXPECT_EQ(actual.events(), expected.events);
  ASSERT_EQ(actual.has_nps(), expected.nps.has_value());
  if (expected.nps) {
    EXPECT_EQ(actual.nps().responses(), expected.nps->responses);
    EXPECT_EQ(actual.nps().promoters(), expected.nps->promoters);
    EXPECT_EQ(actual.nps().passives(), expected.nps->passives);
    EXPECT_EQ(actual.nps().detractors(), expected.nps->detractors);
    EXPECT_NEAR(actual.nps().score(), expected.nps->score, kTolerance);
    EXPECT_NEAR(actual.nps().ci95().low(), expected.nps->low, kTolerance);
    EXPECT_NEAR(actual.nps().ci95().high(), expected.nps->high, kTolerance);
  }
  ASSERT_EQ(actual.has_csat(), expected.csat.has_value());
  if (expected.csat) {
    EXPECT_EQ(actual.csat().responses(), expected.csat->responses);
    EXPECT_NEAR(actual.csat().top2_box(), expected.csat->top2_box, kTolerance);
    EXPECT_NEAR(actual.csat().ci95().low(), expected.csat->low, kTolerance);
    EXPECT_NEAR(actual.csat().ci95().high(), expected.csat->high, kTolerance);
    EXPECT_NEAR(actual.csat().mean(), expected.csat->mean, kTolerance);
  }
  ASSERT_EQ(actual.has_ces(), expected.ces.has_value());
  if (expected.ces) {
    EXPECT_EQ(actual.ces().responses(), expected.ces->responses);
    EXPECT_NEAR(actual.ces().mean(), expected.ces->mean, kTolerance);
    EXPECT_NEAR(actual.ces().share_5_to_7(), expected.ces->share_5_to_7, kTolerance);
  }
}

void ExpectRows(const v1::Scorecard& scorecard, const std::vector<Row>& expected) {
  ASSERT_EQ(scorecard.rows_size(), static_cast<int>(expected.size())) << scorecard.DebugString();
  for (size_t i = 0; i < expected.size(); ++i) ExpectRow(scorecard.rows(i), expected[i]);
}

// ---------------------------------------------------------------------------
// The numbers, by hand. z = 1.96, z² = 3.8416.
//
// NPS = 100·(p − d); half-width h = 196·√((p + d − (p − d)²)/n); the interval
// is clamped to [−100, 100].
// Wilson for s of n, p̂ = s/n: centre c = (p̂ + z²/2n)/(1 + z²/n),
// half-width w = z/(1 + z²/n)·√(p̂(1 − p̂)/n + z²/4n²), clamped to [0, 1].
//
// Wilson 2 of 3: c = (0.666667 + 0.640267)/2.280533 = 0.573083,
//   w = 1.96/2.280533·√(0.074074 + 0.106711) = 0.859442·0.425188 = 0.365427
//   → [0.207655, 0.938510]
// Wilson 1 of 3: c = (0.333333 + 0.640267)/2.280533 = 0.426917, w = 0.365427
//   (p̂(1 − p̂) is the same) → [0.061490, 0.792345]
// Wilson 2 of 2: c = (1 + 0.9604)/2.9208 = 0.671186,
//   w = 1.96/2.9208·√(0 + 0.2401) = 0.671049·0.49 = 0.328814 → [0.342372, 1]
// Wilson 1 of 1: c = (1 + 1.9208)/4.8416 = 0.603272,
//   w = 1.96/4.8416·√(0.9604) = 0.404825·0.98 = 0.396728 → [0.206543, 1]
// Wilson 0 of 1: c = 1.9208/4.8416 = 0.396728, w = 0.396728 → [0, 0.793457]
// Wilson 3 of 5: c = (0.6 + 0.38416)/1.76832 = 0.556551,
//   w = 1.96/1.76832·√(0.048 + 0.038416) = 1.108396·0.293966 = 0.325831
//   → [0.230720, 0.882382]
// Wilson 1 of 2: c = 0.5, w = 1.96/2.9208·√(0.125 + 0.2401) = 0.671049·0.604235
//   = 0.405471 → [0.094529, 0.905471]
// Wilson 2 of 4: c = 0.5, w = 1.96/1.9604·√(0.0625 + 0.060025) = 0.999796·0.350036
//   = 0.349964 → [0.150036, 0.849964]
// Wilson 6 of 10: c = (0.6 + 0.19208)/1.38416 = 0.572246,
//   w = 1.96/1.38416·√(0.024 + 0.009604) = 1.416021·0.183314 = 0.259576
//   → [0.312670, 0.831822]
// ---------------------------------------------------------------------------

// search_ad: 4 events (w1–w4, w4 unrated).
//   CSAT 5, 4, 2: top-2 2/3 = 0.666667 (Wilson 2 of 3), mean 11/3 = 3.666667.
//   NPS 10, 9, 3: p = 2/3, d = 1/3 → 33.333333;
//     h = 196·√((1 − 1/9)/3) = 196·√0.296296 = 196·0.544331 = 106.688887
//     → [−73.355553, 139.99 → 100].
//   CES 2: mean 2, share 0.
const Row kSearchAd{"search_ad", 4, Nps{3, 2, 0, 1, 33.333333, -73.355553, 100.0},
                    Csat{3, 0.666667, 0.207655, 0.938510, 3.666667}, Ces{1, 2.0, 0.0}};
// store_visit: 3 events (s1–s3; the malformed one is rejected).
//   CSAT 5, 3, 1: top-2 1/3 (Wilson 1 of 3), mean 9/3 = 3.
//   NPS 10, 7, 0: p = d = 1/3 → 0; h = 196·√((2/3 − 0)/3) = 196·0.471405 = 92.395286.
//   CES 7, 5, 1: mean 13/3 = 4.333333, share 2/3.
const Row kStoreVisit{"store_visit", 3, Nps{3, 1, 1, 1, 0.0, -92.395286, 92.395286},
                      Csat{3, 0.333333, 0.061490, 0.792345, 3.0},
                      Ces{3, 4.333333, 0.666667}};
// confirmation_call: 2 events (p1, p2; p-bad rejected).
//   CSAT 4, 5: top-2 1 (Wilson 2 of 2), mean 4.5.
//   NPS 8, 10: p = 1/2, d = 0 → 50; h = 196·√((0.5 − 0.25)/2) = 196·0.353553 = 69.296465
//     → [−19.296465, 119.30 → 100].
//   CES 6, 7: mean 6.5, share 1.
const Row kConfirmationCall{"confirmation_call", 2, Nps{2, 1, 1, 0, 50.0, -19.296465, 100.0},
                            Csat{2, 1.0, 0.342372, 1.0, 4.5}, Ces{2, 6.5, 1.0}};
// welcome_email: 2 events (e1, e2 unrated).
//   CSAT 4: top-2 1 (Wilson 1 of 1), mean 4.
//   NPS 6: d = 1 → −100; h = 196·√((1 − 1)/1) = 0 → [−100, −100].
//   No CES.
const Row kWelcomeEmail{"welcome_email", 2, Nps{1, 0, 0, 1, -100.0, -100.0, -100.0},
                        Csat{1, 1.0, 0.206543, 1.0, 4.0}, std::nullopt};
// order_tracking: 1 event (t1). CSAT 3: top-2 0 (Wilson 0 of 1), mean 3.
//   No NPS. CES 4: mean 4, share 0.
const Row kOrderTracking{"order_tracking", 1, std::nullopt, Csat{1, 0.0, 0.0, 0.793457, 3.0},
                         Ces{1, 4.0, 0.0}};

// Stages. research = search_ad.
// purchase = store_visit + confirmation_call: 5 events.
//   CSAT 5, 3, 1, 4, 5: top-2 3/5 = 0.6 (Wilson 3 of 5), mean 18/5 = 3.6.
//   NPS 10, 7, 0, 8, 10: p = 2/5, d = 1/5 → 20;
//     h = 196·√((0.6 − 0.04)/5) = 196·√0.112 = 196·0.334664 = 65.594146.
//   CES 7, 5, 1, 6, 7: mean 26/5 = 5.2, share 4/5.
// use = welcome_email + order_tracking: 3 events.
//   CSAT 4, 3: top-2 1/2 (Wilson 1 of 2), mean 3.5. NPS 6: −100. CES 4: mean 4, share 0.
// Rows are ordered by group key: purchase, research, use.
const Row kPurchase{"purchase", 5, Nps{5, 2, 2, 1, 20.0, -45.594146, 85.594146},
                    Csat{5, 0.6, 0.230720, 0.882382, 3.6}, Ces{5, 5.2, 0.8}};
const Row kUse{"use", 3, Nps{1, 0, 0, 1, -100.0, -100.0, -100.0},
               Csat{2, 0.5, 0.094529, 0.905471, 3.5}, Ces{1, 4.0, 0.0}};

// Channels. shop = store_visit, phone = confirmation_call, email = welcome_email.
// web = search_ad + order_tracking: 5 events.
//   CSAT 5, 4, 2, 3: top-2 2/4 (Wilson 2 of 4), mean 14/4 = 3.5.
//   NPS as search_ad. CES 2, 4: mean 3, share 0.
// Ordered: email, phone, shop, web.
const Row kWeb{"web", 5, kSearchAd.nps, Csat{4, 0.5, 0.150036, 0.849964, 3.5}, Ces{2, 3.0, 0.0}};

// Everything: 12 events.
//   CSAT 5,4,2, 5,3,1, 4,5, 4, 3: 6 of 10 are 4–5 (Wilson 6 of 10); sum 36 → mean 3.6.
//   NPS 10,9,3, 10,7,0, 8,10, 6: p = 4/9, passives 2, d = 3/9 → 100/9 = 11.111111;
//     h = 196·√((7/9 − 1/81)/9) = 196·√(62/729) = 196·0.291630 = 57.159465
//     → [−46.048354, 68.270576].
//   CES 2, 7,5,1, 6,7, 4: sum 32 → mean 32/7 = 4.571429; 5–7: 4 of 7 = 0.571429.
const Row kTotal{"", 12, Nps{9, 4, 2, 3, 11.111111, -46.048354, 68.270576},
                 Csat{10, 0.6, 0.312670, 0.831822, 3.6}, Ces{7, 4.571429, 0.571429}};

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    auto suite = Suite::Start();
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
    journeys_ = v1::JourneyService::NewStub(suite_->GatewayChannel());
    feedback_ = v1::FeedbackService::NewStub(suite_->GatewayChannel());
    insight_ = v1::InsightService::NewStub(suite_->GatewayChannel());
  }

  void TearDown() override {
    if (suite_ != nullptr) {
      journeys_.reset();
      feedback_.reset();
      insight_.reset();
      absl::Status stopped = suite_->Stop();
      EXPECT_TRUE(stopped.ok()) << stopped;
    }
  }

  const std::string& AdminKey() { return suite_->credentials().admin_key; }
  const std::string& ChannelKey(const std::string& channel) {
    return suite_->credentials().channel_keys.at(channel);
  }

  void ImportJourney() {
    v1::CreateJourneyRequest create;
    *create.mutable_journey() = TestJourney();
    v1::Journey created;
    grpc::ClientContext create_context;
    Suite::Authorize(create_context, AdminKey());
    grpc::Status status = journeys_->CreateJourney(&create_context, create, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();

    v1::PublishJourneyRequest publish;
    publish.set_key(kJourney);
    v1::Journey published;
    grpc::ClientContext publish_context;
    Suite::Authorize(publish_context, AdminKey());
    status = journeys_->PublishJourney(&publish_context, publish, &published);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(published.version(), 1);
    EXPECT_EQ(published.state(), v1::PUBLISHED);
  }

  grpc::Status Submit(const std::string& key, const std::vector<v1::TouchpointEvent>& events,
                      v1::SubmitEventsResponse& response) {
    v1::SubmitEventsRequest request;
    for (const auto& event : events) *request.add_events() = event;
    grpc::ClientContext context;
    Suite::Authorize(context, key);
    response.Clear();
    return feedback_->SubmitEvents(&context, request, &response);
  }

  // The first batch after a publish may reach polku-feedback before the
  // journey does (the index follows WatchJourneys); re-send while every
  // event is rejected as an unknown touchpoint.
  v1::SubmitEventsResponse SubmitFirst(const std::string& key,
                                       const std::vector<v1::TouchpointEvent>& events) {
    v1::SubmitEventsResponse response;
    absl::Time deadline = absl::Now() + kBound;
    while (true) {
      grpc::Status status = Submit(key, events, response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) return response;
      bool index_behind = response.results_size() > 0;
      for (const auto& result : response.results()) {
        index_behind &= result.outcome() == v1::EventResult::REJECTED &&
                        absl::StrContains(result.field(), "touchpoint");
      }
      if (!index_behind || absl::Now() > deadline) return response;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  // POST /v1/events with `key`; the parsed body and HTTP status.
  std::pair<int, v1::SubmitEventsResponse> PostEvents(
      const std::string& key, const std::vector<v1::TouchpointEvent>& events) {
    v1::SubmitEventsRequest request;
    for (const auto& event : events) *request.add_events() = event;
    httplib::Client client(suite_->gateway_http_host(), suite_->gateway_http_port());
    client.set_read_timeout(10, 0);
    httplib::Headers headers = {{"Authorization", "Bearer " + key}};
    auto response = client.Post("/v1/events", headers, ToJson(request), "application/json");
    if (!response) {
      ADD_FAILURE() << "POST /v1/events failed: " << httplib::to_string(response.error());
      return {0, {}};
    }
    if (response->status != 200) return {response->status, {}};
    return {200, FromJson<v1::SubmitEventsResponse>(response->body)};
  }

  v1::Scorecard GetScorecard(v1::GroupBy group_by) {
    v1::GetScorecardRequest request;
    request.set_journey(kJourney);
    request.set_group_by(group_by);
    v1::Scorecard scorecard;
    grpc::ClientContext context;
    Suite::Authorize(context, AdminKey());
    grpc::Status status = insight_->GetScorecard(&context, request, &scorecard);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return scorecard;
  }

  // Polls until polku-insight has counted the feed up to `sequence`.
  v1::Scorecard AwaitScorecard(v1::GroupBy group_by, int64_t sequence) {
    absl::Time deadline = absl::Now() + kBound;
    v1::Scorecard scorecard;
    while (absl::Now() < deadline) {
      scorecard = GetScorecard(group_by);
      if (scorecard.as_of_sequence() >= sequence) return scorecard;
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "scorecard as_of_sequence " << scorecard.as_of_sequence()
                  << " never reached " << sequence;
    return scorecard;
  }

  std::unique_ptr<Suite> suite_;
  std::unique_ptr<v1::JourneyService::Stub> journeys_;
  std::unique_ptr<v1::FeedbackService::Stub> feedback_;
  std::unique_ptr<v1::InsightService::Stub> insight_;
};

TEST_F(EndToEnd, FeedbackThroughTheGatewayReachesTheScorecard) {
  ASSERT_NO_FATAL_FAILURE(ImportJourney());
  int64_t last_sequence = 0;
  auto note_accepted = [&](const v1::SubmitEventsResponse& response) {
    for (const auto& result : response.results()) {
      if (result.outcome() == v1::EventResult::ACCEPTED) {
        last_sequence = std::max(last_sequence, result.sequence());
      }
    }
  };

  // gRPC, web key.
  std::vector<v1::TouchpointEvent> web = {
      Event("w1", "search_ad", 5, 10, -1), Event("w2", "search_ad", 4, 9, -1),
      Event("w3", "search_ad", 2, 3, 2), Event("w4", "search_ad", -1, -1, -1)};
  v1::SubmitEventsResponse web_response = SubmitFirst(ChannelKey("web"), web);
  ASSERT_EQ(web_response.results_size(), 4) << web_response.DebugString();
  for (const auto& result : web_response.results()) {
    EXPECT_EQ(result.outcome(), v1::EventResult::ACCEPTED) << result.DebugString();
    EXPECT_GT(result.sequence(), 0);
  }
  EXPECT_EQ(web_response.results(0).event_id(), "w1");
  note_accepted(web_response);

  // gRPC, shop key: the malformed third event is rejected naming its field,
  // the others are stored.
  v1::TouchpointEvent bad_csat = Event("s-bad", "store_visit", 6, -1, -1);
  v1::TouchpointEvent s3 = Event("s3", "store_visit", 1, 0, 1);
  s3.set_comment("Jonotin kassalle pitkään, myyjällä ei ollut aikaa.");
  s3.set_language("fi");
  v1::SubmitEventsResponse shop_response;
  grpc::Status status = Submit(ChannelKey("shop"),
                               {Event("s1", "store_visit", 5, 10, 7),
                                Event("s2", "store_visit", 3, 7, 5), bad_csat, s3},
                               shop_response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(shop_response.results_size(), 4);
  EXPECT_EQ(shop_response.results(0).outcome(), v1::EventResult::ACCEPTED);
  EXPECT_EQ(shop_response.results(1).outcome(), v1::EventResult::ACCEPTED);
  EXPECT_EQ(shop_response.results(2).outcome(), v1::EventResult::REJECTED);
  EXPECT_EQ(shop_response.results(2).event_id(), "s-bad");
  EXPECT_THAT(shop_response.results(2).field(), HasSubstr("csat"));
  EXPECT_FALSE(shop_response.results(2).reason().empty());
  EXPECT_EQ(shop_response.results(3).outcome(), v1::EventResult::ACCEPTED);
  note_accepted(shop_response);

  // Re-sending is safe: DUPLICATE with the original sequence, no second row.
  v1::SubmitEventsResponse again;
  status = Submit(ChannelKey("web"), {web[0]}, again);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(again.results_size(), 1);
  EXPECT_EQ(again.results(0).outcome(), v1::EventResult::DUPLICATE);
  EXPECT_EQ(again.results(0).sequence(), web_response.results(0).sequence());

  // A shop key cannot write a phone touchpoint.
  v1::SubmitEventsResponse wrong_channel;
  status = Submit(ChannelKey("shop"), {Event("s-phone", "confirmation_call", 5, -1, -1)},
                  wrong_channel);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(wrong_channel.results_size(), 1);
  EXPECT_EQ(wrong_channel.results(0).outcome(), v1::EventResult::REJECTED);
  EXPECT_THAT(wrong_channel.results(0).field(), HasSubstr("touchpoint"));

  // HTTP/JSON, phone key: the NPS of 11 is rejected, the rest stored.
  v1::TouchpointEvent p1 = Event("p1", "confirmation_call", 4, 8, 6);
  (*p1.mutable_measures())["wait_seconds"] = 30;
  (*p1.mutable_attributes())["agent_id"] = "agent-07";
  auto [phone_status, phone_response] =
      PostEvents(ChannelKey("phone"), {p1, Event("p-bad", "confirmation_call", -1, 11, -1),
                                       Event("p2", "confirmation_call", 5, 10, 7)});
  ASSERT_EQ(phone_status, 200);
  ASSERT_EQ(phone_response.results_size(), 3);
  EXPECT_EQ(phone_response.results(0).outcome(), v1::EventResult::ACCEPTED);
  EXPECT_EQ(phone_response.results(1).outcome(), v1::EventResult::REJECTED);
  EXPECT_THAT(phone_response.results(1).field(), HasSubstr("nps"));
  EXPECT_EQ(phone_response.results(2).outcome(), v1::EventResult::ACCEPTED);
  note_accepted(phone_response);

  auto [email_status, email_response] =
      PostEvents(ChannelKey("email"),
                 {Event("e1", "welcome_email", 4, 6, -1), Event("e2", "welcome_email", -1, -1, -1)});
  ASSERT_EQ(email_status, 200);
  ASSERT_EQ(email_response.results_size(), 2);
  for (const auto& result : email_response.results()) {
    EXPECT_EQ(result.outcome(), v1::EventResult::ACCEPTED) << result.DebugString();
  }
  note_accepted(email_response);

  auto [web_http_status, web_http_response] =
      PostEvents(ChannelKey("web"), {Event("t1", "order_tracking", 3, -1, 4)});
  ASSERT_EQ(web_http_status, 200);
  ASSERT_EQ(web_http_response.results_size(), 1);
  EXPECT_EQ(web_http_response.results(0).outcome(), v1::EventResult::ACCEPTED);
  note_accepted(web_http_response);

  // 12 events stored, each with its own sequence.
  ASSERT_GT(last_sequence, 0);

  v1::Scorecard by_touchpoint = AwaitScorecard(v1::GROUP_BY_TOUCHPOINT, last_sequence);
  EXPECT_EQ(by_touchpoint.journey(), kJourney);
  // Ordered by group key.
  ExpectRows(by_touchpoint,
             {kConfirmationCall, kOrderTracking, kSearchAd, kStoreVisit, kWelcomeEmail});
  Row total = kTotal;
  total.group = by_touchpoint.total().group();  // the total's label is the server's choice
  ExpectRow(by_touchpoint.total(), total);

  v1::Scorecard by_stage = AwaitScorecard(v1::GROUP_BY_STAGE, last_sequence);
  Row research = kSearchAd;
  research.group = "research";
  ExpectRows(by_stage, {kPurchase, research, kUse});
  ExpectRow(by_stage.total(), total);

  v1::Scorecard by_channel = AwaitScorecard(v1::GROUP_BY_CHANNEL, last_sequence);
  Row email = kWelcomeEmail, phone = kConfirmationCall, shop = kStoreVisit;
  email.group = "email";
  phone.group = "phone";
  shop.group = "shop";
  ExpectRows(by_channel, {email, phone, shop, kWeb});
  ExpectRow(by_channel.total(), total);

  // GET /v1/scorecard says the same as the gRPC answer.
  {
    httplib::Client client(suite_->gateway_http_host(), suite_->gateway_http_port());
    client.set_read_timeout(10, 0);
    auto response = client.Get(absl::StrCat("/v1/scorecard?journey=", kJourney, "&group_by=stage"),
                               {{"Authorization", "Bearer " + AdminKey()}});
    ASSERT_TRUE(response) << httplib::to_string(response.error());
    ASSERT_EQ(response->status, 200) << response->body;
    auto from_http = FromJson<v1::Scorecard>(response->body);
    MessageDifferencer differencer;
    differencer.set_float_comparison(MessageDifferencer::APPROXIMATE);
    std::string differences;
    differencer.ReportDifferencesToString(&differences);
    EXPECT_TRUE(differencer.Compare(by_stage, from_http)) << differences;
  }

  // polku-insight resumes from its checkpoint: the same answer, nothing
  // counted twice.
  ASSERT_TRUE(suite_->RestartInsight().ok());
  for (auto [group_by, before] : std::vector<std::pair<v1::GroupBy, v1::Scorecard>>{
           {v1::GROUP_BY_TOUCHPOINT, by_touchpoint},
           {v1::GROUP_BY_STAGE, by_stage},
           {v1::GROUP_BY_CHANNEL, by_channel}}) {
    v1::Scorecard after = AwaitScorecard(group_by, last_sequence);
    std::string differences;
    MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&differences);
    EXPECT_TRUE(differencer.Compare(before, after)) << differences;
  }
}

TEST_F(EndToEnd, UnknownKeysAreUnauthenticated) {
  v1::SubmitEventsResponse response;
  grpc::Status status = Submit("not-a-key", {Event("x1", "search_ad", 5, -1, -1)}, response);
  EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED) << status.error_message();

  v1::GetScorecardRequest request;
  request.set_journey(kJourney);
  v1::Scorecard scorecard;
  grpc::ClientContext context;  // no authorization header at all
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  status = insight_->GetScorecard(&context, request, &scorecard);
  EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED) << status.error_message();

  auto [http_status, body] = PostEvents("not-a-key", {Event("x2", "search_ad", 5, -1, -1)});
  EXPECT_EQ(http_status, 401);

  httplib::Client client(suite_->gateway_http_host(), suite_->gateway_http_port());
  auto scorecard_response =
      client.Get("/v1/scorecard?journey=e2e-journey", {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(scorecard_response);
  EXPECT_EQ(scorecard_response->status, 401);
  EXPECT_THAT(scorecard_response->body, HasSubstr("UNAUTHENTICATED"));
}

}  // namespace
}  // namespace polku
