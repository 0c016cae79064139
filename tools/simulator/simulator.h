// A deterministic generator of touchpoint feedback: simulated customers walk
// the stages of published journeys in order, touch some of each stage's
// touchpoints across channels (seed 002: six touches in two days), drop off
// along the way, rate what they touched, comment in Finnish, Swedish or
// English, and finally answer the journey's OUTCOME touchpoints
// (relationship NPS and overall satisfaction) in line with how their touches
// went.
//
// Every touchpoint has a quality level in [-1, 1] (derived from its key
// unless Options::quality says otherwise): its ratings, its comments'
// sentiment, its phone wait times and whether customers carry on to the next
// stage all follow from it. Later work plants known truths through it.
//
//   Options options{.seed = 1, .customers = 2000,
//                   .first_day = absl::CivilDay(2025, 3, 1), .days = 28,
//                   .channels = {"shop", "phone", "web", "email"}};
//   POLKU_ASSIGN_OR_RETURN(Simulation sim, Simulate(journeys, options));
//   for (const auto& [channel, events] : sim.events) { … submit with that channel's key … }
//
// The same options and journeys always give the same events, event ids
// included, so running the simulator again re-sends the same events (the
// server answers DUPLICATE). Event ids name the seed and the window
// (first_day, days), so a run over a different window sends new events
// rather than reusing ids for different content (which the server rejects).
// A customer's events do not depend on `customers` or `channels`. Only std::mt19937_64 is used from <random>; the
// mappings from its output to numbers are our own, because the standard
// distributions are implementation-defined.
#ifndef POLKU_TOOLS_SIMULATOR_SIMULATOR_H_
#define POLKU_TOOLS_SIMULATOR_SIMULATOR_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "polku/v1/common.pb.h"
#include "polku/v1/journey.pb.h"
#include "tools/simulator/planted.h"

namespace polku::sim {

struct Options {
  uint64_t seed = 1;
  int customers = 2000;
  // Customers start their journeys on UTC days [first_day, first_day + days).
  absl::CivilDay first_day = absl::CivilDay(2025, 1, 1);
  int days = 28;
  // Channels that can report (they have a key). Touches in other channels
  // still happen in the simulation, so the walk does not depend on the keys,
  // but are only counted in Simulation::skipped.
  std::set<std::string> channels;
  // Touches after this moment have not happened yet and are not produced.
  absl::Time not_after = absl::InfiniteFuture();
  // Touchpoint key → quality in [-1, 1] (bad … excellent), overriding the
  // level DefaultQuality derives from the key.
  std::map<std::string, double> quality;
  // Changes and inconsistencies to plant (see planted.h); they shift the
  // quality level on top of the above.
  PlantedTruths planted;
};

struct Simulation {
  // Channel → its events, in generation order (customer by customer).
  std::map<std::string, std::vector<v1::TouchpointEvent>> events;
  // Channel → touches not produced because the channel has no key.
  std::map<std::string, int64_t> skipped;
  // Customers who started a journey.
  int64_t customers = 0;

  int64_t EventCount() const;
};

// Generates the feedback of `options.customers` customers over the published
// `journeys` (each customer walks one of them). INVALID_ARGUMENT when no
// journey has a stage with an interaction touchpoint, or options are out of
// range; NOT_FOUND when a planted truth names what the journeys lack.
absl::StatusOr<Simulation> Simulate(const std::vector<v1::Journey>& journeys,
                                    const Options& options);

// The quality level a touchpoint has unless overridden: a fixed function of
// its key, spread over [-0.8, 0.9].
double DefaultQuality(absl::string_view touchpoint_key);

}  // namespace polku::sim

#endif  // POLKU_TOOLS_SIMULATOR_SIMULATOR_H_
