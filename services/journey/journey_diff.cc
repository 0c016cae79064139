#include "services/journey/journey_diff.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/message_differencer.h"

namespace polku::journey {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::polku::v1::ChangeKind;
using ::polku::v1::Journey;
using ::polku::v1::JourneyChange;
using ::polku::v1::JourneyDiff;
using ::polku::v1::Stage;
using ::polku::v1::Target;
using ::polku::v1::Touchpoint;

JourneyChange& AddChange(JourneyDiff& diff, ChangeKind kind,
                         const std::string& key, std::string description) {
  JourneyChange& change = *diff.add_changes();
  change.set_kind(kind);
  change.set_key(key);
  change.set_description(std::move(description));
  return change;
}

void SetValues(JourneyChange& change, const std::string& old_value,
               const std::string& new_value) {
  change.set_old_value(old_value);
  change.set_new_value(new_value);
}

std::string DescribeTarget(const Target& target) {
  std::vector<std::string> parts;
  if (target.has_csat_top2_box()) {
    parts.push_back(absl::StrCat("CSAT top-2-box ", target.csat_top2_box()));
  }
  if (target.has_nps()) parts.push_back(absl::StrCat("NPS ", target.nps()));
  if (target.has_ces_mean()) {
    parts.push_back(absl::StrCat("CES mean ", target.ces_mean()));
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, ", ");
}

// Every key `touchpoint` is known by: its own, then its history.
std::vector<std::string> KnownKeys(const Touchpoint& touchpoint) {
  std::vector<std::string> keys = {touchpoint.key()};
  if (!touchpoint.replaces().empty()) keys.push_back(touchpoint.replaces());
  for (const std::string& key : touchpoint.former_keys()) keys.push_back(key);
  return keys;
}

void DiffStages(const Journey& from, const Journey& to, JourneyDiff& diff) {
  absl::flat_hash_map<std::string, const Stage*> old_stages;
  for (const Stage& stage : from.stages()) old_stages[stage.key()] = &stage;
  absl::flat_hash_set<std::string> new_keys;
  std::vector<std::string> old_order, new_order;  // of the stages in both
  for (const Stage& stage : to.stages()) {
    new_keys.insert(stage.key());
    auto it = old_stages.find(stage.key());
    if (it == old_stages.end()) {
      AddChange(diff, v1::STAGE_ADDED, stage.key(),
                absl::StrCat("stage \"", stage.key(), "\" added"));
      continue;
    }
    new_order.push_back(stage.key());
    Stage old_content = *it->second;
    if (!MessageDifferencer::Equals(old_content, stage)) {
      AddChange(diff, v1::STAGE_EDITED, stage.key(),
                absl::StrCat("stage \"", stage.key(),
                             "\": name, goal or tasks edited"));
    }
  }
  for (const Stage& stage : from.stages()) {
    if (new_keys.contains(stage.key())) {
      old_order.push_back(stage.key());
      continue;
    }
    AddChange(diff, v1::STAGE_REMOVED, stage.key(),
              absl::StrCat("stage \"", stage.key(), "\" removed"));
  }
  if (old_order != new_order) {
    JourneyChange& change =
        AddChange(diff, v1::STAGES_REORDERED, "",
                  absl::StrCat("stage order changed from ",
                               absl::StrJoin(old_order, ", "), " to ",
                               absl::StrJoin(new_order, ", ")));
    SetValues(change, absl::StrJoin(old_order, ","),
              absl::StrJoin(new_order, ","));
  }
}

void DiffTouchpoint(const Touchpoint& before, const Touchpoint& after,
                    JourneyDiff& diff) {
  const std::string& key = after.key();
  const std::string name = absl::StrCat("touchpoint \"", key, "\"");
  if (before.key() != key) {
    SetValues(AddChange(diff, v1::TOUCHPOINT_RENAMED, key,
                        absl::StrCat("touchpoint \"", before.key(),
                                     "\" renamed to \"", key,
                                     "\" (its feedback carries over)")),
              before.key(), key);
  }
  if (before.stage() != after.stage()) {
    SetValues(
        AddChange(diff, v1::TOUCHPOINT_MOVED, key,
                  absl::StrCat(name, " moved from stage \"", before.stage(),
                               "\" to stage \"", after.stage(), "\"")),
        before.stage(), after.stage());
  }
  if (before.channel() != after.channel()) {
    SetValues(
        AddChange(diff, v1::TOUCHPOINT_CHANNEL_CHANGED, key,
                  absl::StrCat(name, " moved from channel \"", before.channel(),
                               "\" to channel \"", after.channel(), "\"")),
        before.channel(), after.channel());
  }
  if (before.kind() != after.kind()) {
    SetValues(
        AddChange(diff, v1::TOUCHPOINT_KIND_CHANGED, key,
                  absl::StrCat(name, " changed kind from ",
                               v1::TouchpointKind_Name(before.kind()), " to ",
                               v1::TouchpointKind_Name(after.kind()))),
        v1::TouchpointKind_Name(before.kind()),
        v1::TouchpointKind_Name(after.kind()));
  }
  if (!MessageDifferencer::Equals(before.target(), after.target())) {
    JourneyChange& change =
        AddChange(diff, v1::TARGET_CHANGED, key,
                  absl::StrCat(name, " target changed from ",
                               DescribeTarget(before.target()), " to ",
                               DescribeTarget(after.target())));
    *change.mutable_old_target() = before.target();
    *change.mutable_new_target() = after.target();
  }
  if (before.name() != after.name() ||
      before.owner_team() != after.owner_team() ||
      before.description() != after.description()) {
    AddChange(diff, v1::TOUCHPOINT_EDITED, key,
              absl::StrCat(name, ": name, owner team or description edited"));
  }
}

}  // namespace

JourneyDiff DiffJourneys(const Journey& from, const Journey& to) {
  JourneyDiff diff;
  diff.set_key(to.key().empty() ? from.key() : to.key());
  diff.set_from_version(from.version());
  diff.set_to_version(to.version());

  DiffStages(from, to, diff);

  absl::flat_hash_map<std::string, const Touchpoint*> old_touchpoints;
  for (const Touchpoint& touchpoint : from.touchpoints()) {
    old_touchpoints[touchpoint.key()] = &touchpoint;
  }
  // Keys of `to`, so that a key `from` still has under its own name is not
  // claimed by a rename.
  absl::flat_hash_set<std::string> new_keys;
  for (const Touchpoint& touchpoint : to.touchpoints()) {
    new_keys.insert(touchpoint.key());
  }
  absl::flat_hash_set<std::string> matched;  // keys of `from`
  for (const Touchpoint& touchpoint : to.touchpoints()) {
    const Touchpoint* before = nullptr;
    for (const std::string& key : KnownKeys(touchpoint)) {
      auto it = old_touchpoints.find(key);
      if (it == old_touchpoints.end() || matched.contains(key)) continue;
      if (key != touchpoint.key() && new_keys.contains(key)) continue;
      before = it->second;
      break;
    }
    if (before == nullptr) {
      // Diffing backwards (newer → older): the older key may be in the
      // history of a touchpoint of `from`.
      for (const Touchpoint& candidate : from.touchpoints()) {
        if (matched.contains(candidate.key()) ||
            new_keys.contains(candidate.key())) {
          continue;
        }
        for (const std::string& key : KnownKeys(candidate)) {
          if (key == touchpoint.key()) before = &candidate;
        }
        if (before != nullptr) break;
      }
    }
    if (before == nullptr) {
      SetValues(AddChange(diff, v1::TOUCHPOINT_ADDED, touchpoint.key(),
                          absl::StrCat("touchpoint \"", touchpoint.key(),
                                       "\" added to stage \"",
                                       touchpoint.stage(), "\"")),
                "", touchpoint.stage());
      continue;
    }
    matched.insert(before->key());
    DiffTouchpoint(*before, touchpoint, diff);
  }
  for (const Touchpoint& touchpoint : from.touchpoints()) {
    if (matched.contains(touchpoint.key())) continue;
    SetValues(AddChange(diff, v1::TOUCHPOINT_REMOVED, touchpoint.key(),
                        absl::StrCat("touchpoint \"", touchpoint.key(),
                                     "\" removed from stage \"",
                                     touchpoint.stage(), "\"")),
              touchpoint.stage(), "");
  }

  if (from.name() != to.name() || from.description() != to.description() ||
      !MessageDifferencer::Equals(from.outcomes(), to.outcomes())) {
    AddChange(diff, v1::JOURNEY_EDITED, "",
              "journey name, description or outcome definitions edited");
  }
  return diff;
}

}  // namespace polku::journey
