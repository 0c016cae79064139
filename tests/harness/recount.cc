#include "tests/harness/recount.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lib/rpc/metadata.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/suite.h"
#include "tools/journeys/gateway_client.h"

namespace polku::testing {

void ExpectedRow::Add(const v1::TouchpointEvent& event) {
  ++events;
  if (event.has_nps()) {
    ++nps;
    if (event.nps() >= 9) {
      ++promoters;
    } else if (event.nps() >= 7) {
      ++passives;
    } else {
      ++detractors;
    }
  }
  if (event.has_csat()) {
    ++csat;
    csat_sum += event.csat();
    if (event.csat() >= 4) ++csat_top2;
  }
  if (event.has_ces()) {
    ++ces;
    ces_sum += event.ces();
  }
}

void ExpectRow(const v1::ScorecardRow& row, const ExpectedRow& expected,
               const std::string& who) {
  SCOPED_TRACE(absl::StrCat(who, ", row ", row.group()));
  const auto share = [](int64_t part, int64_t whole) {
    return static_cast<double>(part) / static_cast<double>(whole);
  };
  EXPECT_EQ(row.events(), expected.events);
  EXPECT_EQ(row.nps().responses(), expected.nps);
  EXPECT_EQ(row.nps().promoters(), expected.promoters);
  EXPECT_EQ(row.nps().passives(), expected.passives);
  EXPECT_EQ(row.nps().detractors(), expected.detractors);
  if (expected.nps > 0) {
    EXPECT_NEAR(row.nps().score(),
                100.0 * share(expected.promoters - expected.detractors, expected.nps), 1e-9);
  }
  EXPECT_EQ(row.csat().responses(), expected.csat);
  if (expected.csat > 0) {
    EXPECT_NEAR(row.csat().top2_box(), share(expected.csat_top2, expected.csat), 1e-9);
    EXPECT_NEAR(row.csat().mean(), share(expected.csat_sum, expected.csat), 1e-9);
  }
  EXPECT_EQ(row.ces().responses(), expected.ces);
  if (expected.ces > 0) {
    EXPECT_NEAR(row.ces().mean(), share(expected.ces_sum, expected.ces), 1e-9);
  }
}

void ExpectScorecard(v1::InsightService::Stub& stub, const ScorecardCall& call,
                     int64_t sequence, const ExpectedScorecard& expected,
                     const std::string& who) {
  v1::GetScorecardRequest request;
  request.set_journey(call.journey);
  request.set_group_by(v1::GROUP_BY_TOUCHPOINT);
  v1::Scorecard scorecard;
  const absl::Time deadline = absl::Now() + call.timeout;
  while (true) {
    grpc::ClientContext context;
    if (!call.admin_key.empty()) {
      Suite::Authorize(context, call.admin_key);
    } else {
      context.AddMetadata(rpc::kTenantHeader, call.tenant);
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    }
    grpc::Status status = stub.GetScorecard(&context, request, &scorecard);
    if (status.ok() && scorecard.as_of_sequence() >= sequence) break;
    ASSERT_LT(absl::Now(), deadline)
        << who << " has not counted up to " << sequence << ": " << status.error_message()
        << " as of " << scorecard.as_of_sequence();
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(static_cast<size_t>(scorecard.rows_size()), expected.touchpoints.size()) << who;
  for (const v1::ScorecardRow& row : scorecard.rows()) {
    auto it = expected.touchpoints.find(row.group());
    ASSERT_NE(it, expected.touchpoints.end()) << who << ": unexpected group " << row.group();
    ExpectRow(row, it->second, who);
  }
  ExpectRow(scorecard.total(), expected.total, who);
}

void ReadFeed(const std::shared_ptr<grpc::Channel>& gateway,
              const std::string& admin_key, int64_t last_sequence,
              const std::function<void(const v1::StoredEvent&)>& visit) {
  auto feedback = v1::FeedbackService::NewStub(gateway);
  grpc::ClientContext context;
  Suite::Authorize(context, admin_key, absl::Minutes(5));
  v1::WatchEventsRequest request;
  request.set_from_sequence(1);
  auto reader = feedback->WatchEvents(&context, request);
  int64_t previous = 0;
  v1::WatchEventsResponse page;
  while (previous < last_sequence && reader->Read(&page)) {
    for (const v1::StoredEvent& stored : page.events()) {
      EXPECT_GT(stored.sequence(), previous) << "the feed went back";
      previous = stored.sequence();
      visit(stored);
    }
  }
  context.TryCancel();
  grpc::Status finished = reader->Finish();
  ASSERT_GE(previous, last_sequence)
      << "the feed ended at sequence " << previous << " before " << last_sequence
      << ": " << finished.error_message();
}

void PublishJourney(Suite& suite, const v1::Journey& journey) {
  auto stub = v1::JourneyService::NewStub(suite.GatewayChannel());
  v1::CreateJourneyRequest create;
  *create.mutable_journey() = journey;
  v1::Journey created;
  grpc::Status status = tools::CallWithRetry([&] {
    grpc::ClientContext context;
    Suite::Authorize(context, suite.credentials().admin_key);
    return stub->CreateJourney(&context, create, &created);
  });
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::PublishJourneyRequest publish;
  publish.set_key(journey.key());
  v1::Journey published;
  status = tools::CallWithRetry([&] {
    grpc::ClientContext context;
    Suite::Authorize(context, suite.credentials().admin_key);
    return stub->PublishJourney(&context, publish, &published);
  });
  ASSERT_TRUE(status.ok()) << status.error_message();
}

}  // namespace polku::testing
