#include "tools/simulator/planted.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/base/log.h"

namespace polku::sim {
namespace {

absl::Status ParseShift(absl::string_view text, absl::string_view spec, double& shift) {
  if (!absl::SimpleAtod(text, &shift) || shift < -2 || shift > 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", spec, "\": the quality shift must be a number in [-2, 2], got \"", text, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

double PlantedTruths::ShiftFor(absl::string_view journey, const v1::Touchpoint& touchpoint,
                               absl::CivilDay day) const {
  double shift = 0;
  for (const PlantedChange& change : changes) {
    if (change.touchpoint == touchpoint.key() && day >= change.from) {
      shift += change.quality_shift;
    }
  }
  for (const PlantedInconsistency& inconsistency : inconsistencies) {
    if (inconsistency.journey == journey && inconsistency.stage == touchpoint.stage() &&
        inconsistency.channel == touchpoint.channel()) {
      shift += inconsistency.quality_shift;
    }
  }
  return shift;
}

double PlantedTruths::DriverWeight(absl::string_view touchpoint) const {
  double weight = 0;
  for (const PlantedDriver& driver : drivers) {
    if (driver.touchpoint == touchpoint) weight += driver.weight;
  }
  return weight;
}

absl::Status ParseDriver(absl::string_view text, PlantedTruths& truths) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  double weight = 0;
  if (parts.size() != 2 || parts[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": a driver is TOUCHPOINT:WEIGHT"));
  }
  if (!absl::SimpleAtod(parts[1], &weight) || weight < 0 || weight > 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\": the weight must be a number in [0, 5], got \"", parts[1], "\""));
  }
  truths.drivers.push_back({std::string(parts[0]), weight});
  return absl::OkStatus();
}

absl::Status ParseChange(absl::string_view text, PlantedTruths& truths) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.size() != 3 || parts[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": a change is TOUCHPOINT:YYYY-MM-DD:SHIFT"));
  }
  PlantedChange change{.touchpoint = std::string(parts[0])};
  if (!absl::ParseCivilTime(parts[1], &change.from)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": the date must be YYYY-MM-DD, got \"", parts[1], "\""));
  }
  if (absl::Status s = ParseShift(parts[2], text, change.quality_shift); !s.ok()) return s;
  truths.changes.push_back(std::move(change));
  return absl::OkStatus();
}

absl::Status ParseInconsistency(absl::string_view text, PlantedTruths& truths) {
  std::vector<absl::string_view> halves = absl::StrSplit(text, ':');
  std::vector<absl::string_view> where =
      halves.empty() ? std::vector<absl::string_view>{} : absl::StrSplit(halves[0], '/');
  if (halves.size() != 2 || where.size() != 3 || where[0].empty() || where[1].empty() ||
      where[2].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": an inconsistency is JOURNEY/STAGE/CHANNEL:SHIFT"));
  }
  PlantedInconsistency inconsistency{.journey = std::string(where[0]),
                                     .stage = std::string(where[1]),
                                     .channel = std::string(where[2])};
  if (absl::Status s = ParseShift(halves[1], text, inconsistency.quality_shift); !s.ok()) {
    return s;
  }
  truths.inconsistencies.push_back(std::move(inconsistency));
  return absl::OkStatus();
}

absl::Status CheckAgainst(const PlantedTruths& truths,
                          const std::vector<v1::Journey>& journeys) {
  for (const PlantedChange& change : truths.changes) {
    bool found = false;
    for (const v1::Journey& journey : journeys) {
      for (const v1::Touchpoint& touchpoint : journey.touchpoints()) {
        found = found || touchpoint.key() == change.touchpoint;
      }
    }
    if (!found) {
      return absl::NotFoundError(absl::StrCat("planted change: no published journey has "
                                              "touchpoint \"", change.touchpoint, "\""));
    }
  }
  for (const PlantedDriver& driver : truths.drivers) {
    bool found = false;
    for (const v1::Journey& journey : journeys) {
      for (const v1::Touchpoint& touchpoint : journey.touchpoints()) {
        found = found || (touchpoint.key() == driver.touchpoint &&
                          touchpoint.kind() != v1::OUTCOME);
      }
    }
    if (!found) {
      return absl::NotFoundError(absl::StrCat("planted driver: no published journey has "
                                              "interaction touchpoint \"", driver.touchpoint,
                                              "\""));
    }
  }
  for (const PlantedInconsistency& inconsistency : truths.inconsistencies) {
    const v1::Journey* journey = nullptr;
    for (const v1::Journey& candidate : journeys) {
      if (candidate.key() == inconsistency.journey) journey = &candidate;
    }
    if (journey == nullptr) {
      return absl::NotFoundError(absl::StrCat("planted inconsistency: no published journey \"",
                                              inconsistency.journey, "\""));
    }
    std::set<std::string> channels;
    for (const v1::Touchpoint& touchpoint : journey->touchpoints()) {
      if (touchpoint.stage() == inconsistency.stage && touchpoint.kind() == v1::INTERACTION) {
        channels.insert(touchpoint.channel());
      }
    }
    if (channels.count(inconsistency.channel) == 0 || channels.size() < 2) {
      return absl::NotFoundError(absl::StrCat(
          "planted inconsistency: stage \"", inconsistency.stage, "\" of \"",
          inconsistency.journey, "\" needs interactions in channel \"", inconsistency.channel,
          "\" and in at least one other channel"));
    }
  }
  return absl::OkStatus();
}

std::string TruthsToJson(const PlantedTruths& truths) {
  std::string json = "{\n  \"changes\": [";
  for (size_t i = 0; i < truths.changes.size(); ++i) {
    const PlantedChange& change = truths.changes[i];
    absl::StrAppend(&json, i == 0 ? "\n" : ",\n", "    {\"touchpoint\": ");
    log::AppendJsonString(change.touchpoint, json);
    absl::StrAppend(&json, ", \"from\": \"", absl::FormatCivilTime(change.from),
                    "\", \"quality_shift\": ", change.quality_shift, "}");
  }
  absl::StrAppend(&json, truths.changes.empty() ? "" : "\n  ", "],\n  \"inconsistencies\": [");
  for (size_t i = 0; i < truths.inconsistencies.size(); ++i) {
    const PlantedInconsistency& inconsistency = truths.inconsistencies[i];
    absl::StrAppend(&json, i == 0 ? "\n" : ",\n", "    {\"journey\": ");
    log::AppendJsonString(inconsistency.journey, json);
    json += ", \"stage\": ";
    log::AppendJsonString(inconsistency.stage, json);
    json += ", \"channel\": ";
    log::AppendJsonString(inconsistency.channel, json);
    absl::StrAppend(&json, ", \"quality_shift\": ", inconsistency.quality_shift, "}");
  }
  absl::StrAppend(&json, truths.inconsistencies.empty() ? "" : "\n  ", "],\n  \"drivers\": [");
  for (size_t i = 0; i < truths.drivers.size(); ++i) {
    absl::StrAppend(&json, i == 0 ? "\n" : ",\n", "    {\"touchpoint\": ");
    log::AppendJsonString(truths.drivers[i].touchpoint, json);
    absl::StrAppend(&json, ", \"weight\": ", truths.drivers[i].weight, "}");
  }
  absl::StrAppend(&json, truths.drivers.empty() ? "" : "\n  ", "]\n}\n");
  return json;
}

}  // namespace polku::sim
