// Known truths planted in a simulation, so that tests can check that Polku's
// analytics find what is there — and nothing that is not.
//
//   PlantedTruths truths;
//   POLKU_RETURN_IF_ERROR(ParseChange("website:2025-03-15:-0.9", truths));
//   POLKU_RETURN_IF_ERROR(ParseInconsistency("home-renovation/support/phone:-0.8", truths));
//   options.planted = truths;                       // Simulate() applies them
//   WriteFile("truths.json", TruthsToJson(truths));  // what the tests compare with
//
// A change shifts one touchpoint's quality level from a UTC day on (its
// ratings, comments and wait times follow); an inconsistency shifts the
// quality of every touchpoint of one channel in one stage of one journey, so
// that channel is worse than the stage's other channels.
#ifndef POLKU_TOOLS_SIMULATOR_PLANTED_H_
#define POLKU_TOOLS_SIMULATOR_PLANTED_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "polku/v1/journey.pb.h"

namespace polku::sim {

struct PlantedChange {
  std::string touchpoint;
  // First UTC day with the shifted quality.
  absl::CivilDay from;
  // Added to the quality level (which is clamped to [-1, 1]).
  double quality_shift = 0;
};

struct PlantedInconsistency {
  std::string journey;
  std::string stage;
  std::string channel;
  double quality_shift = 0;
};

// A key driver: the customers' outcome answers (relationship NPS, overall
// satisfaction) depend on their experience at this touchpoint with this
// weight. Once any driver is planted, the outcome is the weighted sum of the
// experiences at the planted touchpoints a customer touched (other
// touchpoints weigh nothing) plus the customer's disposition and noise, so
// the planted weights order the true importances.
struct PlantedDriver {
  std::string touchpoint;
  double weight = 0;
};

// A funnel bottleneck: customers who reached the stage before `stage` go on
// to it with exactly this probability (instead of the experience-driven
// default, about 0.8).
struct PlantedDropOff {
  std::string journey;
  std::string stage;
  double carry_on = 0;
};

// Time between stages: a customer reaches `stage` an exponential time with
// this mean after reaching the stage before it (its first touch there),
// instead of 2–28 hours after the previous stage's last touch.
struct PlantedStageTime {
  std::string journey;
  std::string stage;
  double mean_hours = 0;
};

// Channel switching: right after a customer's first touch in channel
// `from`, with probability `share`, their next touch is in channel `to`
// (a touchpoint of that channel in the same stage if there is one, else
// the journey's first), uniformly within `within_hours` later.
struct PlantedSwitch {
  std::string from;
  std::string to;
  double share = 0;
  double within_hours = 0;
};

// A comment theme: at `touchpoint`, this share of the low-score comments
// (IsLowScore in simulator.h) written in `language` mention the theme's
// complaint, each in one of its inflected surface forms (comments.h,
// ThemeForms). `lemma` is the term lib/text's Analyzer gives every one of
// them; the shares of themes at one touchpoint and language add up to at
// most 1.
struct PlantedTheme {
  std::string touchpoint;
  std::string language;
  std::string lemma;
  double share = 0;
};

struct PlantedTruths {
  std::vector<PlantedChange> changes;
  std::vector<PlantedInconsistency> inconsistencies;
  std::vector<PlantedDriver> drivers;
  std::vector<PlantedDropOff> drop_offs;
  std::vector<PlantedStageTime> stage_times;
  std::vector<PlantedSwitch> switches;
  std::vector<PlantedTheme> themes;

  bool empty() const {
    return changes.empty() && inconsistencies.empty() && drivers.empty() &&
           drop_offs.empty() && stage_times.empty() && switches.empty() && themes.empty();
  }
  // The planted weight of `touchpoint` (0 if not a planted driver).
  double DriverWeight(absl::string_view touchpoint) const;
  // The planted drop-off or stage time into `stage` of `journey`, if any.
  const PlantedDropOff* DropOffInto(absl::string_view journey,
                                    absl::string_view stage) const;
  const PlantedStageTime* StageTimeInto(absl::string_view journey,
                                        absl::string_view stage) const;
  // The total shift for a touch of `touchpoint` (in `stage` and `channel` of
  // `journey`) on `day`.
  double ShiftFor(absl::string_view journey, const v1::Touchpoint& touchpoint,
                  absl::CivilDay day) const;
};

// Parses "TOUCHPOINT:YYYY-MM-DD:SHIFT" and appends it; INVALID_ARGUMENT
// naming the part that is wrong.
absl::Status ParseChange(absl::string_view text, PlantedTruths& truths);
// Parses "JOURNEY/STAGE/CHANNEL:SHIFT" and appends it.
absl::Status ParseInconsistency(absl::string_view text, PlantedTruths& truths);

// Parses "TOUCHPOINT:WEIGHT" (weight in [0, 5]) and appends it.
absl::Status ParseDriver(absl::string_view text, PlantedTruths& truths);
// Parses "JOURNEY/STAGE:CARRY_ON" (a probability in [0, 1]) and appends it.
absl::Status ParseDropOff(absl::string_view text, PlantedTruths& truths);
// Parses "JOURNEY/STAGE:MEAN_HOURS" (positive) and appends it.
absl::Status ParseStageTime(absl::string_view text, PlantedTruths& truths);

// Parses "FROM:TO:SHARE:WITHIN_HOURS" (SHARE in [0, 1], WITHIN_HOURS > 0).
absl::Status ParseSwitch(absl::string_view text, PlantedTruths& truths);

// Parses "TOUCHPOINT:LANG:LEMMA:SHARE" (LANG fi, sv or en; LEMMA a theme of
// that language in comments.h, by its lemma or word; SHARE in [0, 1]).
absl::Status ParseTheme(absl::string_view text, PlantedTruths& truths);

// NOT_FOUND unless every planted touchpoint, journey, stage and channel
// exists in `journeys`; an inconsistency needs a stage with another channel
// to be worse than. INVALID_ARGUMENT when the themes planted at one
// touchpoint and language share more than 1.
absl::Status CheckAgainst(const PlantedTruths& truths,
                          const std::vector<v1::Journey>& journeys);

// The truths as a JSON document (stable key order, one change,
// inconsistency or driver per array element; "drop_offs", "stage_times" and
// "switches" only when planted; "themes", with each theme's surface forms,
// and the "neutral_phrases" a theme must not find, only when themes are
// planted).
std::string TruthsToJson(const PlantedTruths& truths);

}  // namespace polku::sim

#endif  // POLKU_TOOLS_SIMULATOR_PLANTED_H_
