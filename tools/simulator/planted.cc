#include "tools/simulator/planted.h"

#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/base/log.h"
#include "tools/simulator/comments.h"

namespace polku::sim {
namespace {

absl::Status ParseShift(absl::string_view text, absl::string_view spec, double& shift) {
  if (!absl::SimpleAtod(text, &shift) || shift < -2 || shift > 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", spec, "\": the quality shift must be a number in [-2, 2], got \"", text, "\""));
  }
  return absl::OkStatus();
}

// "JOURNEY/STAGE:NUMBER" → its parts; INVALID_ARGUMENT naming `form`.
absl::Status ParseStageSpec(absl::string_view text, absl::string_view form,
                            std::string& journey, std::string& stage,
                            double& number) {
  std::vector<absl::string_view> halves = absl::StrSplit(text, ':');
  std::vector<absl::string_view> where =
      halves.empty() ? std::vector<absl::string_view>{} : absl::StrSplit(halves[0], '/');
  if (halves.size() != 2 || where.size() != 2 || where[0].empty() || where[1].empty() ||
      !absl::SimpleAtod(halves[1], &number)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": ", form));
  }
  journey = std::string(where[0]);
  stage = std::string(where[1]);
  return absl::OkStatus();
}

}  // namespace

const PlantedDropOff* PlantedTruths::DropOffInto(absl::string_view journey,
                                                 absl::string_view stage) const {
  for (const PlantedDropOff& drop : drop_offs) {
    if (drop.journey == journey && drop.stage == stage) return &drop;
  }
  return nullptr;
}

const PlantedStageTime* PlantedTruths::StageTimeInto(absl::string_view journey,
                                                     absl::string_view stage) const {
  for (const PlantedStageTime& time : stage_times) {
    if (time.journey == journey && time.stage == stage) return &time;
  }
  return nullptr;
}

absl::Status ParseDropOff(absl::string_view text, PlantedTruths& truths) {
  PlantedDropOff drop;
  if (absl::Status s = ParseStageSpec(
          text, "a drop-off is JOURNEY/STAGE:CARRY_ON, CARRY_ON in [0, 1]",
          drop.journey, drop.stage, drop.carry_on);
      !s.ok()) {
    return s;
  }
  if (drop.carry_on < 0 || drop.carry_on > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": CARRY_ON must be in [0, 1]"));
  }
  truths.drop_offs.push_back(std::move(drop));
  return absl::OkStatus();
}

absl::Status ParseStageTime(absl::string_view text, PlantedTruths& truths) {
  PlantedStageTime time;
  if (absl::Status s = ParseStageSpec(
          text, "a stage time is JOURNEY/STAGE:MEAN_HOURS, MEAN_HOURS > 0",
          time.journey, time.stage, time.mean_hours);
      !s.ok()) {
    return s;
  }
  if (!(time.mean_hours > 0) || time.mean_hours > 24 * 366) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": MEAN_HOURS must be in (0, 8784]"));
  }
  truths.stage_times.push_back(std::move(time));
  return absl::OkStatus();
}

absl::Status ParseSwitch(absl::string_view text, PlantedTruths& truths) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  PlantedSwitch planted;
  if (parts.size() != 4 || parts[0].empty() || parts[1].empty() ||
      parts[0] == parts[1] || !absl::SimpleAtod(parts[2], &planted.share) ||
      !absl::SimpleAtod(parts[3], &planted.within_hours)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\": a switch is FROM:TO:SHARE:WITHIN_HOURS between two channels"));
  }
  if (planted.share < 0 || planted.share > 1 || !(planted.within_hours > 0) ||
      planted.within_hours > 24 * 366) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\": SHARE must be in [0, 1] and WITHIN_HOURS in (0, 8784]"));
  }
  planted.from = std::string(parts[0]);
  planted.to = std::string(parts[1]);
  truths.switches.push_back(std::move(planted));
  return absl::OkStatus();
}

absl::Status ParseTheme(absl::string_view text, PlantedTruths& truths) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.size() != 4 || parts[0].empty() || parts[2].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": a theme is TOUCHPOINT:LANG:LEMMA:SHARE"));
  }
  PlantedTheme theme{.touchpoint = std::string(parts[0]), .language = std::string(parts[1])};
  if (theme.language != "fi" && theme.language != "sv" && theme.language != "en") {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\": LANG must be fi, sv or en, got \"", parts[1], "\""));
  }
  const ThemeForms* forms = FindTheme(theme.language, std::string(parts[2]));
  if (forms == nullptr) {
    std::string known;
    for (const ThemeForms& candidate : Themes()) {
      if (candidate.language != theme.language) continue;
      absl::StrAppend(&known, known.empty() ? "" : ", ", std::string(candidate.word));
    }
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": no plantable ",
                                                   theme.language, " theme \"", parts[2],
                                                   "\" (there are: ", known, ")"));
  }
  theme.lemma = std::string(forms->lemma);
  if (!absl::SimpleAtod(parts[3], &theme.share) || theme.share < 0 || theme.share > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\": SHARE must be a number in [0, 1], got \"", parts[3], "\""));
  }
  truths.themes.push_back(std::move(theme));
  return absl::OkStatus();
}

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
  // A drop-off or stage time needs a stage after the first.
  auto check_stage = [&](absl::string_view what, const std::string& journey_key,
                         const std::string& stage) -> absl::Status {
    for (const v1::Journey& journey : journeys) {
      if (journey.key() != journey_key) continue;
      for (int s = 1; s < journey.stages_size(); ++s) {
        if (journey.stages(s).key() == stage) return absl::OkStatus();
      }
    }
    return absl::NotFoundError(absl::StrCat("planted ", what, ": no published journey \"",
                                            journey_key, "\" with a stage \"", stage,
                                            "\" after its first"));
  };
  for (const PlantedDropOff& drop : truths.drop_offs) {
    if (absl::Status s = check_stage("drop-off", drop.journey, drop.stage); !s.ok()) return s;
  }
  for (const PlantedStageTime& time : truths.stage_times) {
    if (absl::Status s = check_stage("stage time", time.journey, time.stage); !s.ok()) {
      return s;
    }
  }
  for (const PlantedSwitch& planted : truths.switches) {
    bool found = false;
    for (const v1::Journey& journey : journeys) {
      bool from = false, to = false;
      for (const v1::Touchpoint& t : journey.touchpoints()) {
        if (t.kind() != v1::INTERACTION) continue;
        from = from || t.channel() == planted.from;
        to = to || t.channel() == planted.to;
      }
      found = found || (from && to);
    }
    if (!found) {
      return absl::NotFoundError(absl::StrCat(
          "planted switch: no published journey has interactions in both \"",
          planted.from, "\" and \"", planted.to, "\""));
    }
  }
  std::map<std::pair<std::string, std::string>, double> theme_shares;
  for (const PlantedTheme& theme : truths.themes) {
    bool found = false;
    for (const v1::Journey& journey : journeys) {
      for (const v1::Touchpoint& touchpoint : journey.touchpoints()) {
        found = found || touchpoint.key() == theme.touchpoint;
      }
    }
    if (!found) {
      return absl::NotFoundError(absl::StrCat("planted theme: no published journey has "
                                              "touchpoint \"", theme.touchpoint, "\""));
    }
    double& share = theme_shares[{theme.touchpoint, theme.language}];
    share += theme.share;
    if (share > 1 + 1e-9) {
      return absl::InvalidArgumentError(absl::StrCat(
          "planted themes: the shares at touchpoint \"", theme.touchpoint, "\" in ",
          theme.language, " add up to more than 1"));
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
  absl::StrAppend(&json, truths.drivers.empty() ? "" : "\n  ", "]");
  auto stage_list = [&](absl::string_view name, absl::string_view field, size_t n,
                        auto at) {
    if (n == 0) return;
    absl::StrAppend(&json, ",\n  \"", name, "\": [");
    for (size_t i = 0; i < n; ++i) {
      const auto& [journey, stage, number] = at(i);
      absl::StrAppend(&json, i == 0 ? "\n" : ",\n", "    {\"journey\": ");
      log::AppendJsonString(journey, json);
      json += ", \"stage\": ";
      log::AppendJsonString(stage, json);
      absl::StrAppend(&json, ", \"", field, "\": ", number, "}");
    }
    json += "\n  ]";
  };
  stage_list("drop_offs", "carry_on", truths.drop_offs.size(), [&](size_t i) {
    const PlantedDropOff& d = truths.drop_offs[i];
    return std::tie(d.journey, d.stage, d.carry_on);
  });
  stage_list("stage_times", "mean_hours", truths.stage_times.size(), [&](size_t i) {
    const PlantedStageTime& t = truths.stage_times[i];
    return std::tie(t.journey, t.stage, t.mean_hours);
  });
  if (!truths.switches.empty()) {
    json += ",\n  \"switches\": [";
    for (size_t i = 0; i < truths.switches.size(); ++i) {
      const PlantedSwitch& planted = truths.switches[i];
      absl::StrAppend(&json, i == 0 ? "\n" : ",\n", "    {\"from\": ");
      log::AppendJsonString(planted.from, json);
      json += ", \"to\": ";
      log::AppendJsonString(planted.to, json);
      absl::StrAppend(&json, ", \"share\": ", planted.share,
                      ", \"within_hours\": ", planted.within_hours, "}");
    }
    json += "\n  ]";
  }
  if (!truths.themes.empty()) {
    json += ",\n  \"themes\": [";
    for (size_t i = 0; i < truths.themes.size(); ++i) {
      const PlantedTheme& theme = truths.themes[i];
      absl::StrAppend(&json, i == 0 ? "\n" : ",\n", "    {\"touchpoint\": ");
      log::AppendJsonString(theme.touchpoint, json);
      json += ", \"language\": ";
      log::AppendJsonString(theme.language, json);
      json += ", \"lemma\": ";
      log::AppendJsonString(theme.lemma, json);
      absl::StrAppend(&json, ", \"share\": ", theme.share, ", \"forms\": [");
      const ThemeForms* forms = FindTheme(theme.language, theme.lemma);
      for (size_t f = 0; forms != nullptr && f < forms->sentences.size(); ++f) {
        if (f > 0) json += ", ";
        log::AppendJsonString(std::string(forms->sentences[f]), json);
      }
      json += "]}";
    }
    json += "\n  ],\n  \"neutral_phrases\": [";
    for (size_t i = 0; i < std::size(kLanguages); ++i) {
      const NeutralPhrase& phrase = NeutralPhraseOf(kLanguages[i]);
      json += i == 0 ? "\n    {\"language\": " : ",\n    {\"language\": ";
      log::AppendJsonString(std::string(phrase.language), json);
      json += ", \"text\": ";
      log::AppendJsonString(std::string(phrase.sentence), json);
      json += ", \"lemmas\": [";
      for (size_t l = 0; l < phrase.lemmas.size(); ++l) {
        if (l > 0) json += ", ";
        log::AppendJsonString(std::string(phrase.lemmas[l]), json);
      }
      json += "]}";
    }
    json += "\n  ]";
  }
  json += "\n}\n";
  return json;
}

}  // namespace polku::sim
