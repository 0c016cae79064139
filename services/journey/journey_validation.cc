#include "services/journey/journey_validation.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/journey/channels.h"

namespace polku::journey {
namespace {

using ::polku::v1::Journey;
using ::polku::v1::Stage;
using ::polku::v1::Target;
using ::polku::v1::Touchpoint;

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

std::string Indexed(absl::string_view repeated_field, int index) {
  return absl::StrCat("journey.", repeated_field, "[", index, "]");
}

bool IsBlank(absl::string_view text) {
  return absl::StripAsciiWhitespace(text).empty();
}

// Written so that NaN fails too.
absl::Status CheckRange(const std::string& field, double value, double low,
                        double high) {
  if (value >= low && value <= high) return absl::OkStatus();
  return FieldError(field, absl::StrCat(value, " is outside ", low, "–", high));
}

absl::Status ValidateTarget(const Target& target, const std::string& path) {
  if (target.has_csat_top2_box()) {
    absl::Status status = CheckRange(absl::StrCat(path, ".csat_top2_box"),
                                     target.csat_top2_box(), 0, 1);
    if (!status.ok()) return status;
  }
  if (target.has_nps()) {
    absl::Status status =
        CheckRange(absl::StrCat(path, ".nps"), target.nps(), -100, 100);
    if (!status.ok()) return status;
  }
  if (target.has_ces_mean()) {
    absl::Status status =
        CheckRange(absl::StrCat(path, ".ces_mean"), target.ces_mean(), 1, 7);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidKey(absl::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength) return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

absl::Status ValidateKey(absl::string_view key, absl::string_view field) {
  if (key.empty()) return FieldError(field, "required");
  if (IsValidKey(key)) return absl::OkStatus();
  return FieldError(
      field,
      absl::StrCat("\"", key, "\" is not a valid key: use 1–", kMaxKeyLength,
                   " characters of lowercase a–z, 0–9, '-' or '_'"));
}

absl::Status ValidateJourney(
    const Journey& journey,
    absl::FunctionRef<bool(absl::string_view)> is_known_channel) {
  if (absl::Status status = ValidateKey(journey.key(), "journey.key");
      !status.ok()) {
    return status;
  }
  if (IsBlank(journey.name())) return FieldError("journey.name", "required");
  if (journey.stages().empty()) {
    return FieldError("journey.stages", "a journey needs at least one stage");
  }

  // Stage key → index of its first definition.
  absl::flat_hash_map<std::string, int> stages;
  for (int i = 0; i < journey.stages_size(); ++i) {
    const Stage& stage = journey.stages(i);
    const std::string path = Indexed("stages", i);
    if (absl::Status status = ValidateKey(stage.key(), path + ".key");
        !status.ok()) {
      return status;
    }
    auto [it, inserted] = stages.emplace(stage.key(), i);
    if (!inserted) {
      return FieldError(
          path + ".key",
          absl::StrCat("duplicate stage key \"", stage.key(), "\" (also ",
                       Indexed("stages", it->second), ")"));
    }
  }

  absl::flat_hash_map<std::string, int> touchpoints;
  for (int i = 0; i < journey.touchpoints_size(); ++i) {
    const Touchpoint& touchpoint = journey.touchpoints(i);
    const std::string path = Indexed("touchpoints", i);
    if (absl::Status status = ValidateKey(touchpoint.key(), path + ".key");
        !status.ok()) {
      return status;
    }
    auto [it, inserted] = touchpoints.emplace(touchpoint.key(), i);
    if (!inserted) {
      return FieldError(
          path + ".key",
          absl::StrCat("duplicate touchpoint key \"", touchpoint.key(),
                       "\" (also ", Indexed("touchpoints", it->second), ")"));
    }
    if (touchpoint.stage().empty()) {
      return FieldError(path + ".stage", "required");
    }
    if (!stages.contains(touchpoint.stage())) {
      std::vector<std::string> known;
      for (const Stage& stage : journey.stages()) known.push_back(stage.key());
      return FieldError(
          path + ".stage",
          absl::StrCat("unknown stage \"", touchpoint.stage(),
                       "\" (stages: ", absl::StrJoin(known, ", "), ")"));
    }
    if (touchpoint.channel().empty()) {
      return FieldError(path + ".channel", "required");
    }
    if (!is_known_channel(touchpoint.channel())) {
      return FieldError(path + ".channel",
                        absl::StrCat("unknown channel \"", touchpoint.channel(),
                                     "\" (ListChannels names the known ones)"));
    }
    if (touchpoint.kind() != polku::v1::INTERACTION &&
        touchpoint.kind() != polku::v1::OUTCOME) {
      return FieldError(
          path + ".kind",
          touchpoint.kind() == polku::v1::TOUCHPOINT_KIND_UNSPECIFIED
              ? "required: INTERACTION or OUTCOME"
              : "must be INTERACTION or OUTCOME");
    }
    if (absl::Status status =
            ValidateTarget(touchpoint.target(), path + ".target");
        !status.ok()) {
      return status;
    }
  }

  // Renames: checked once every key is known, since `replaces` must not name
  // a touchpoint the map still has.
  absl::flat_hash_map<std::string, int> replaced;
  for (int i = 0; i < journey.touchpoints_size(); ++i) {
    const Touchpoint& touchpoint = journey.touchpoints(i);
    if (touchpoint.replaces().empty()) continue;
    const std::string path = Indexed("touchpoints", i) + ".replaces";
    if (absl::Status status = ValidateKey(touchpoint.replaces(), path);
        !status.ok()) {
      return status;
    }
    if (touchpoints.contains(touchpoint.replaces())) {
      return FieldError(
          path,
          absl::StrCat(
              "\"", touchpoint.replaces(),
              "\" is still a touchpoint of this map (",
              Indexed("touchpoints", touchpoints.at(touchpoint.replaces())),
              "); a touchpoint replaces a key it no longer has"));
    }
    auto [it, inserted] = replaced.emplace(touchpoint.replaces(), i);
    if (!inserted) {
      return FieldError(path,
                        absl::StrCat("\"", touchpoint.replaces(),
                                     "\" is already replaced by ",
                                     Indexed("touchpoints", it->second),
                                     "; one key has at most one successor"));
    }
  }

  const polku::v1::Outcomes& outcomes = journey.outcomes();
  auto check_outcome_touchpoint = [&](const std::string& key,
                                      absl::string_view field) {
    if (key.empty()) return absl::OkStatus();
    const std::string path = absl::StrCat("journey.outcomes.", field);
    auto it = touchpoints.find(key);
    if (it == touchpoints.end()) {
      return FieldError(path,
                        absl::StrCat("outcome touchpoint \"", key,
                                     "\" is not a touchpoint of this map"));
    }
    if (journey.touchpoints(it->second).kind() != polku::v1::OUTCOME) {
      return FieldError(
          path,
          absl::StrCat("touchpoint \"", key, "\" (",
                       Indexed("touchpoints", it->second),
                       ") must be of kind OUTCOME to measure an outcome"));
    }
    return absl::OkStatus();
  };
  if (absl::Status status =
          check_outcome_touchpoint(outcomes.relationship_nps_touchpoint(),
                                   "relationship_nps_touchpoint");
      !status.ok()) {
    return status;
  }
  if (absl::Status status =
          check_outcome_touchpoint(outcomes.overall_satisfaction_touchpoint(),
                                   "overall_satisfaction_touchpoint");
      !status.ok()) {
    return status;
  }
  if (!outcomes.conversion_stage().empty() &&
      !stages.contains(outcomes.conversion_stage())) {
    return FieldError(
        "journey.outcomes.conversion_stage",
        absl::StrCat("unknown stage \"", outcomes.conversion_stage(), "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<Journey> PrepareVersion(const Journey& draft,
                                       const Journey* latest,
                                       bool allow_removals) {
  Journey version = draft;
  for (polku::v1::Touchpoint& touchpoint : *version.mutable_touchpoints()) {
    touchpoint.clear_former_keys();
  }
  if (latest == nullptr) {
    // Nothing published yet, so no feedback: a declared former key is taken
    // as the touchpoint's history as it stands (e.g. from an exported map).
    for (polku::v1::Touchpoint& touchpoint : *version.mutable_touchpoints()) {
      if (!touchpoint.replaces().empty()) {
        touchpoint.add_former_keys(touchpoint.replaces());
      }
    }
    return version;
  }

  absl::flat_hash_map<std::string, const Touchpoint*> previous;
  for (const Touchpoint& touchpoint : latest->touchpoints()) {
    previous.emplace(touchpoint.key(), &touchpoint);
  }
  absl::flat_hash_map<std::string, bool>
      kept;  // previous keys with a successor
  for (int i = 0; i < version.touchpoints_size(); ++i) {
    Touchpoint& touchpoint = *version.mutable_touchpoints(i);
    auto same = previous.find(touchpoint.key());
    const Touchpoint* before = same == previous.end() ? nullptr : same->second;
    if (before != nullptr) kept[touchpoint.key()] = true;
    if (!touchpoint.replaces().empty()) {
      auto old = previous.find(touchpoint.replaces());
      if (before == nullptr && old != previous.end()) {
        // A rename: the old key's history and the old key itself.
        *touchpoint.mutable_former_keys() = old->second->former_keys();
        touchpoint.add_former_keys(touchpoint.replaces());
        kept[touchpoint.replaces()] = true;
        continue;
      }
      const bool already_history =
          before != nullptr &&
          std::find(before->former_keys().begin(), before->former_keys().end(),
                    touchpoint.replaces()) != before->former_keys().end();
      if (!already_history) {
        return FieldError(
            absl::StrCat(Indexed("touchpoints", i), ".replaces"),
            absl::StrCat("version ", latest->version(), " has no touchpoint \"",
                         touchpoint.replaces(), "\" for \"", touchpoint.key(),
                         "\" to replace"));
      }
    }
    if (before != nullptr) {
      *touchpoint.mutable_former_keys() = before->former_keys();
    }
  }
  if (!allow_removals) {
    std::vector<std::string> removed;
    for (const Touchpoint& touchpoint : latest->touchpoints()) {
      if (!kept.contains(touchpoint.key())) removed.push_back(touchpoint.key());
    }
    if (!removed.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "journey.touchpoints: the draft drops touchpoint(s) ",
          absl::StrJoin(removed, ", "), " of version ", latest->version(),
          " without a successor, which would orphan feedback collected "
          "under them; name the old key in the new touchpoint's `replaces`, "
          "or publish with allow_removals"));
    }
  }
  return version;
}

absl::Status ValidateJourney(const Journey& journey) {
  return ValidateJourney(journey, IsKnownChannel);
}

}  // namespace polku::journey
