#include "services/insight/scorecard.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/stats/scores.h"

namespace polku::insight {
namespace {

// google.protobuf.Timestamp's valid range: 0001-01-01 to 9999-12-31 UTC.
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;

absl::StatusOr<Day> DayOfBound(const google::protobuf::Timestamp& bound,
                               absl::string_view field) {
  if (bound.seconds() < kMinTimestampSeconds ||
      bound.seconds() > kMaxTimestampSeconds || bound.nanos() < 0 ||
      bound.nanos() > 999'999'999) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a valid timestamp"));
  }
  // Nanoseconds never move a bound across midnight, so seconds suffice.
  return DayOf(absl::FromUnixSeconds(bound.seconds()));
}

// The first day not covered by a range ending (exclusively) at `end`: the
// day after the one `end` falls on, unless `end` is exactly midnight. So
// "today so far" (end = now) covers today.
absl::StatusOr<Day> EndDayOfBound(const google::protobuf::Timestamp& end) {
  POLKU_ASSIGN_OR_RETURN(Day day, DayOfBound(end, "range.end"));
  const bool midnight = end.nanos() == 0 &&
                        absl::FromUnixSeconds(end.seconds()) == StartOfDay(day);
  return midnight ? day : day + 1;
}

void SetMidnight(Day day, google::protobuf::Timestamp& out) {
  out.set_seconds(absl::ToUnixSeconds(StartOfDay(day)));
  out.set_nanos(0);
}

absl::StatusOr<Grouping> GroupingOf(v1::GroupBy group_by) {
  switch (group_by) {
    case v1::GROUP_BY_UNSPECIFIED:
    case v1::GROUP_BY_TOUCHPOINT:
      return Grouping::kTouchpoint;
    case v1::GROUP_BY_STAGE:
      return Grouping::kStage;
    case v1::GROUP_BY_CHANNEL:
      return Grouping::kChannel;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("group_by: unknown value ", static_cast<int>(group_by),
                       "; use touchpoint, stage or channel"));
  }
}

template <size_t N>
void AddInto(std::array<int64_t, N>& sum, const std::array<int64_t, N>& h) {
  for (size_t i = 0; i < N; ++i) sum[i] += h[i];
}

// Groups keyed by an old touchpoint key folded into their current key's.
std::vector<GroupRollup> MergeRenamed(std::vector<GroupRollup> groups,
                                      const TouchpointSuccessors& successors) {
  std::map<std::string, GroupRollup> merged;  // ordered by key, as promised
  for (GroupRollup& group : groups) {
    auto successor = successors.find(group.group);
    const std::string key =
        successor == successors.end() ? group.group : successor->second;
    GroupRollup& into = merged[key];
    into.group = key;
    into.events += group.events;
    AddInto(into.csat, group.csat);
    AddInto(into.nps, group.nps);
    AddInto(into.ces, group.ces);
  }
  std::vector<GroupRollup> result;
  result.reserve(merged.size());
  for (auto& [key, group] : merged) result.push_back(std::move(group));
  return result;
}

}  // namespace

v1::ScorecardRow RowFromRollup(const GroupRollup& rollup) {
  v1::ScorecardRow row;
  row.set_group(rollup.group);
  row.set_events(rollup.events);

  const stats::NpsSummary nps = stats::SummarizeNps(rollup.nps);
  if (nps.responses > 0) {
    v1::NpsScore* out = row.mutable_nps();
    out->set_responses(nps.responses);
    out->set_promoters(nps.promoters);
    out->set_passives(nps.passives);
    out->set_detractors(nps.detractors);
    out->set_score(nps.score);
    out->mutable_ci95()->set_low(nps.ci95.low);
    out->mutable_ci95()->set_high(nps.ci95.high);
  }
  const stats::CsatSummary csat = stats::SummarizeCsat(rollup.csat);
  if (csat.responses > 0) {
    v1::CsatScore* out = row.mutable_csat();
    out->set_responses(csat.responses);
    out->set_top2_box(csat.top2_box);
    out->mutable_ci95()->set_low(csat.ci95.low);
    out->mutable_ci95()->set_high(csat.ci95.high);
    out->set_mean(csat.mean);
  }
  const stats::CesSummary ces = stats::SummarizeCes(rollup.ces);
  if (ces.responses > 0) {
    v1::CesScore* out = row.mutable_ces();
    out->set_responses(ces.responses);
    out->set_mean(ces.mean);
    out->set_share_5_to_7(ces.share_5_to_7);
  }
  return row;
}

absl::StatusOr<v1::Scorecard> ComputeScorecard(
    RollupStore& store, absl::string_view tenant,
    const v1::GetScorecardRequest& request,
    const TouchpointSuccessors& successors) {
  if (request.journey().empty()) {
    return absl::InvalidArgumentError("journey: required (the journey key)");
  }
  if (request.journey_version() < 0) {
    return absl::InvalidArgumentError(
        "journey_version: must be 0 (every version) or a version number");
  }
  POLKU_ASSIGN_OR_RETURN(Grouping grouping, GroupingOf(request.group_by()));

  ScorecardQuery query;
  query.tenant = std::string(tenant);
  query.journey = request.journey();
  query.journey_version = request.journey_version();
  query.group_by = grouping;

  const v1::TimeRange& range = request.range();
  if (range.has_start()) {
    POLKU_ASSIGN_OR_RETURN(query.start_day,
                           DayOfBound(range.start(), "range.start"));
  }
  if (range.has_end()) {
    POLKU_ASSIGN_OR_RETURN(query.end_day, EndDayOfBound(range.end()));
  }
  if (range.has_start() && range.has_end()) {
    const auto as_pair = [](const google::protobuf::Timestamp& t) {
      return std::make_pair(t.seconds(), t.nanos());
    };
    // With start rounded down and end up, start < end covers at least the
    // day start falls on.
    if (as_pair(range.start()) >= as_pair(range.end())) {
      return absl::InvalidArgumentError("range: start must be before end");
    }
  }

  POLKU_ASSIGN_OR_RETURN(GroupedRollups rollups, store.Scorecard(query));
  if (grouping == Grouping::kTouchpoint && query.journey_version == 0 &&
      !successors.empty()) {
    rollups.groups = MergeRenamed(std::move(rollups.groups), successors);
  }

  v1::Scorecard card;
  card.set_journey(request.journey());
  if (range.has_start()) {
    SetMidnight(query.start_day, *card.mutable_range()->mutable_start());
  }
  if (range.has_end()) {
    SetMidnight(query.end_day, *card.mutable_range()->mutable_end());
  }
  card.set_group_by(request.group_by() == v1::GROUP_BY_UNSPECIFIED
                        ? v1::GROUP_BY_TOUCHPOINT
                        : request.group_by());
  GroupRollup total;
  for (const GroupRollup& group : rollups.groups) {
    *card.add_rows() = RowFromRollup(group);
    total.events += group.events;
    AddInto(total.csat, group.csat);
    AddInto(total.nps, group.nps);
    AddInto(total.ces, group.ces);
  }
  *card.mutable_total() = RowFromRollup(total);
  card.set_as_of_sequence(rollups.as_of_sequence);
  return card;
}

}  // namespace polku::insight
