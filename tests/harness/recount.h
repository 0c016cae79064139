// What the services must hold after a run of crashes or replicas, checked
// against a recount made by the test from the events it had acknowledged:
// polku-insight's scorecard per touchpoint, and the change feed holding each
// acknowledged event once, under its acknowledged sequence.
//
//   ExpectedScorecard expected;
//   for (const auto& [key, sent] : acknowledged) expected.Add(sent.event);
//   ExpectScorecard(*stub, {.journey = "j", .admin_key = key}, last_sequence,
//                   expected, "gateway");
//
//   std::map<FeedKey, int64_t> feed;
//   ASSERT_NO_FATAL_FAILURE(ReadFeed(gateway, admin_key, last_sequence,
//       [&](const v1::StoredEvent& stored) { … }));
#ifndef POLKU_TESTS_HARNESS_RECOUNT_H_
#define POLKU_TESTS_HARNESS_RECOUNT_H_

#include <grpcpp/channel.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "polku/v1/feedback.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.pb.h"

namespace polku::testing {

class Suite;

// The scorecard row the events of one group must add up to.
struct ExpectedRow {
  int64_t events = 0;
  int64_t nps = 0, promoters = 0, passives = 0, detractors = 0;
  int64_t csat = 0, csat_top2 = 0, csat_sum = 0;
  int64_t ces = 0, ces_sum = 0;

  void Add(const v1::TouchpointEvent& event);
};

// Rows per touchpoint and their total.
struct ExpectedScorecard {
  std::map<std::string, ExpectedRow> touchpoints;
  ExpectedRow total;

  void Add(const v1::TouchpointEvent& event) {
    touchpoints[event.touchpoint()].Add(event);
    total.Add(event);
  }
};

// Exact counts; means, shares and NPS to 1e-9.
void ExpectRow(const v1::ScorecardRow& row, const ExpectedRow& expected,
               const std::string& who);

struct ScorecardCall {
  std::string journey;
  // Through the gateway with this key; empty: straight to a backend with
  // the trusted tenant metadata the gateway would set.
  std::string admin_key;
  std::string tenant = "demo";
  // How long the service may take to count up to the sequence asked for.
  absl::Duration timeout = absl::Seconds(60);
};

// Asks `stub` for the journey's scorecard per touchpoint until it has
// counted up to `sequence` (call.timeout at most), then expects `expected`.
void ExpectScorecard(v1::InsightService::Stub& stub, const ScorecardCall& call,
                     int64_t sequence, const ExpectedScorecard& expected,
                     const std::string& who);

// Reads the change feed through the gateway from the start up to
// `last_sequence`, giving each stored event to `visit`; sequences must rise
// strictly. Fails the test if the feed ends before then, or takes more than
// five minutes (a campaign's round reads a few million events).
void ReadFeed(const std::shared_ptr<grpc::Channel>& gateway,
              const std::string& admin_key, int64_t last_sequence,
              const std::function<void(const v1::StoredEvent&)>& visit);

// Creates and publishes `journey` through the suite's gateway with its admin
// key, retrying while the services come up.
void PublishJourney(Suite& suite, const v1::Journey& journey);

}  // namespace polku::testing

#endif  // POLKU_TESTS_HARNESS_RECOUNT_H_
