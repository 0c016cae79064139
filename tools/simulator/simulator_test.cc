#include "tools/simulator/simulator.h"

#include <cmath>
#include <map>
#include <set>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace polku::sim {
namespace {

// Seed 002's story, shortened: ads, web, shop-in-shop, confirmation call,
// welcome e-mail, and the relationship outcome.
constexpr char kSwitching[] = R"({
  "key": "switching", "name": "Switching mobile operator", "state": "PUBLISHED", "version": 1,
  "stages": [{"key": "need"}, {"key": "research"}, {"key": "purchase"}, {"key": "use"}],
  "touchpoints": [
    {"key": "bus_stop_ad", "stage": "need", "channel": "outdoor", "kind": "INTERACTION"},
    {"key": "search_ad", "stage": "research", "channel": "web", "kind": "INTERACTION"},
    {"key": "web_site", "stage": "research", "channel": "web", "kind": "INTERACTION"},
    {"key": "shop_in_shop_sales", "stage": "purchase", "channel": "shop", "kind": "INTERACTION"},
    {"key": "confirmation_call", "stage": "purchase", "channel": "phone", "kind": "INTERACTION"},
    {"key": "welcome_email", "stage": "use", "channel": "email", "kind": "INTERACTION"},
    {"key": "relationship", "stage": "use", "channel": "email", "kind": "OUTCOME"}
  ]})";

v1::Journey Switching() {
  v1::Journey journey;
  auto status = google::protobuf::util::JsonStringToMessage(kSwitching, &journey);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return journey;
}

Options TestOptions(uint64_t seed) {
  Options options;
  options.seed = seed;
  options.customers = 400;
  options.first_day = absl::CivilDay(2025, 3, 1);
  options.days = 14;
  options.channels = {"web", "shop", "phone", "email"};
  return options;
}

// Text format: map entries print sorted, unlike the wire format.
std::string Serialize(const Simulation& sim) {
  std::string out;
  for (const auto& [channel, events] : sim.events) {
    out += channel + "\n";
    for (const auto& event : events) out += event.ShortDebugString() + "\n";
  }
  return out;
}

TEST(Simulate, SameSeedGivesIdenticalEvents) {
  auto a = Simulate({Switching()}, TestOptions(7));
  auto b = Simulate({Switching()}, TestOptions(7));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GT(a->EventCount(), 400);
  EXPECT_TRUE(Serialize(*a) == Serialize(*b));  // (too long to print)
}

TEST(Simulate, DifferentSeedGivesDifferentEvents) {
  auto a = Simulate({Switching()}, TestOptions(7));
  auto b = Simulate({Switching()}, TestOptions(8));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(Serialize(*a) == Serialize(*b));
}

TEST(Simulate, EveryEventIsValidForItsTouchpointAndChannel) {
  v1::Journey journey = Switching();
  std::map<std::string, const v1::Touchpoint*> touchpoints;
  for (const auto& t : journey.touchpoints()) touchpoints[t.key()] = &t;
  Options options = TestOptions(3);
  auto sim = Simulate({journey}, options);
  ASSERT_TRUE(sim.ok());
  const absl::Time first = absl::FromCivil(options.first_day, absl::UTCTimeZone());
  for (const auto& [channel, events] : sim->events) {
    std::set<std::string> ids;
    for (const auto& event : events) {
      SCOPED_TRACE(event.DebugString());
      ASSERT_TRUE(touchpoints.count(event.touchpoint()));
      EXPECT_EQ(touchpoints[event.touchpoint()]->channel(), channel);
      EXPECT_TRUE(ids.insert(event.event_id()).second) << "event ids repeat within a channel";
      EXPECT_FALSE(event.customer().empty());
      EXPECT_GE(event.occurred_at().seconds(), absl::ToUnixSeconds(first));
      if (event.has_csat()) {
        EXPECT_THAT(event.csat(), ::testing::AllOf(::testing::Ge(1), ::testing::Le(5)));
      }
      if (event.has_nps()) {
        EXPECT_THAT(event.nps(), ::testing::AllOf(::testing::Ge(0), ::testing::Le(10)));
      }
      if (event.has_ces()) {
        EXPECT_THAT(event.ces(), ::testing::AllOf(::testing::Ge(1), ::testing::Le(7)));
      }
      if (!event.comment().empty()) {
        EXPECT_THAT(event.language(), ::testing::AnyOf("", "fi", "sv", "en"));
      }
      if (channel == "phone") {
        EXPECT_TRUE(event.measures().count("wait_seconds"));
      }
      if (channel == "shop") {
        EXPECT_TRUE(event.attributes().count("store_id"));
      }
      if (channel == "phone") {
        EXPECT_TRUE(event.attributes().count("agent_id"));
      }
    }
  }
}

TEST(Simulate, CommentsComeInFinnishSwedishAndEnglish) {
  auto sim = Simulate({Switching()}, TestOptions(1));
  ASSERT_TRUE(sim.ok());
  std::map<std::string, int> comments;
  bool nordic_letters = false;
  for (const auto& [channel, events] : sim->events) {
    for (const auto& event : events) {
      if (event.comment().empty()) continue;
      ++comments[event.language()];
      for (const char* letter : {"ä", "ö", "å"}) {
        nordic_letters |= event.comment().find(letter) != std::string::npos;
      }
    }
  }
  EXPECT_GT(comments["fi"], 0);
  EXPECT_GT(comments["sv"], 0);
  EXPECT_GT(comments["en"], 0);
  EXPECT_TRUE(nordic_letters);
}

TEST(Simulate, ChannelsWithoutKeyAreSkippedAndCounted) {
  auto sim = Simulate({Switching()}, TestOptions(1));
  ASSERT_TRUE(sim.ok());
  EXPECT_EQ(sim->events.count("outdoor"), 0u);
  EXPECT_GT(sim->skipped["outdoor"], 0);

  // Without a phone key the other channels see exactly the same events.
  Options no_phone = TestOptions(1);
  no_phone.channels.erase("phone");
  auto without = Simulate({Switching()}, no_phone);
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(without->events.count("phone"), 0u);
  EXPECT_EQ(without->skipped["phone"], static_cast<int64_t>(sim->events["phone"].size()));
  for (const char* channel : {"web", "shop", "email"}) {
    ASSERT_EQ(without->events[channel].size(), sim->events[channel].size()) << channel;
  }
}

// Customers walk stages in order and some drop off: later stages see fewer
// customers, and one customer's touches span about two days (seed 002).
TEST(Simulate, CustomersDropOffAlongTheJourney) {
  auto sim = Simulate({Switching()}, TestOptions(5));
  ASSERT_TRUE(sim.ok());
  std::map<std::string, std::set<std::string>> customers_by_stage_touchpoint;
  for (const auto& [channel, events] : sim->events) {
    for (const auto& event : events) {
      customers_by_stage_touchpoint[event.touchpoint()].insert(event.customer());
    }
  }
  std::set<std::string> research = customers_by_stage_touchpoint["search_ad"];
  research.insert(customers_by_stage_touchpoint["web_site"].begin(),
                  customers_by_stage_touchpoint["web_site"].end());
  size_t use = customers_by_stage_touchpoint["welcome_email"].size();
  EXPECT_GT(research.size(), use);
  EXPECT_GT(use, 0u);
}

// The outcome answer follows the customer's touchpoint experiences.
TEST(Simulate, OutcomeCorrelatesWithTouchpointRatings) {
  Options options = TestOptions(11);
  options.customers = 1500;
  auto sim = Simulate({Switching()}, options);
  ASSERT_TRUE(sim.ok());
  std::map<std::string, std::pair<double, int>> csat_by_customer;
  std::map<std::string, int> outcome_nps;
  for (const auto& [channel, events] : sim->events) {
    for (const auto& event : events) {
      if (event.touchpoint() == "relationship") {
        ASSERT_TRUE(event.has_nps() && event.has_csat());
        outcome_nps[event.customer()] = event.nps();
      } else if (event.has_csat()) {
        csat_by_customer[event.customer()].first += event.csat();
        csat_by_customer[event.customer()].second += 1;
      }
    }
  }
  std::vector<std::pair<double, double>> pairs;
  for (const auto& [customer, nps] : outcome_nps) {
    auto it = csat_by_customer.find(customer);
    if (it == csat_by_customer.end()) continue;
    pairs.push_back({it->second.first / it->second.second, nps});
  }
  ASSERT_GT(pairs.size(), 200u);
  double mx = 0, my = 0;
  for (auto [x, y] : pairs) mx += x, my += y;
  mx /= pairs.size();
  my /= pairs.size();
  double sxy = 0, sxx = 0, syy = 0;
  for (auto [x, y] : pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) * (x - mx);
    syy += (y - my) * (y - my);
  }
  EXPECT_GT(sxy / std::sqrt(sxx * syy), 0.4);
}

TEST(Simulate, EventsNotYetHappenedAreNotProduced) {
  Options options = TestOptions(2);
  options.not_after = absl::FromCivil(absl::CivilDay(2025, 3, 8), absl::UTCTimeZone());
  auto sim = Simulate({Switching()}, options);
  ASSERT_TRUE(sim.ok());
  EXPECT_GT(sim->EventCount(), 0);
  for (const auto& [channel, events] : sim->events) {
    for (const auto& event : events) {
      EXPECT_LE(event.occurred_at().seconds(), absl::ToUnixSeconds(options.not_after));
    }
  }
}

TEST(Simulate, NeedsAJourneyWithInteractions) {
  auto sim = Simulate({}, TestOptions(1));
  EXPECT_EQ(sim.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Simulate, QualityDrivesRatings) {
  Options options = TestOptions(4);
  options.customers = 800;
  options.quality = {{"search_ad", -1.0}, {"web_site", 1.0}};
  auto sim = Simulate({Switching()}, options);
  ASSERT_TRUE(sim.ok());
  std::map<std::string, std::pair<double, int>> csat;
  for (const auto& event : sim->events["web"]) {
    if (!event.has_csat()) continue;
    csat[event.touchpoint()].first += event.csat();
    csat[event.touchpoint()].second += 1;
  }
  double bad = csat["search_ad"].first / csat["search_ad"].second;
  double good = csat["web_site"].first / csat["web_site"].second;
  EXPECT_GT(good - bad, 1.5);
}

}  // namespace
}  // namespace polku::sim
