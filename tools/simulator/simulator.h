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
// Low-score comments are generic complaints unless a planted theme
// (planted.h) puts its complaint there; the others praise or are neutral.
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

#include <array>
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
  // Comments (comments.h): the share of rated touches and outcome answers
  // that carry one, the share of those whose event leaves `language` empty
  // (so the server detects it), and the share that start with the
  // language's neutral phrase — as large among the low-score comments as
  // among the others, per touchpoint and language (error diffusion, not
  // chance), so that no theme can rest on it. All in [0, 1].
  double comment_share = 0.3;
  double unlabelled_share = 0.1;
  double neutral_phrase_share = 0.2;
  // The share of customers writing in Finnish, Swedish and English (in that
  // order, kLanguages; adding up to 1). A planted theme stands out only as
  // far as its language is common: a Swedish one needs more customers
  // writing Swedish, or a larger share, than a Finnish one.
  std::array<double, 3> language_mix = {0.6, 0.15, 0.25};
};

// Parses "fi:0.6,sv:0.15,en:0.25" (languages left out write nothing; the
// shares add up to 1) into `mix`; INVALID_ARGUMENT naming the problem.
absl::Status ParseLanguageMix(absl::string_view text, std::array<double, 3>& mix);

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
// range (or planted themes share more than 1); NOT_FOUND when a planted
// truth names what the journeys lack.
absl::StatusOr<Simulation> Simulate(const std::vector<v1::Journey>& journeys,
                                    const Options& options);

// Whether the event's comment counts as a low-score comment for themes
// (docs/themes.md): NPS 0–6, CSAT 1–2 or CES 1–3 (7 is very easy), any of
// them.
bool IsLowScore(const v1::TouchpointEvent& event);

// The quality level a touchpoint has unless overridden: a fixed function of
// its key, spread over [-0.8, 0.9].
double DefaultQuality(absl::string_view touchpoint_key);

}  // namespace polku::sim

#endif  // POLKU_TOOLS_SIMULATOR_SIMULATOR_H_
