#include "services/insight/analytics/scorecard.h"

#include <algorithm>
#include <array>
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

}  // namespace

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

// "Today so far" (end = now) covers today.
absl::StatusOr<Day> EndDayOfBound(const google::protobuf::Timestamp& end,
                                  absl::string_view field) {
  POLKU_ASSIGN_OR_RETURN(Day day, DayOfBound(end, field));
  const bool midnight = end.nanos() == 0 &&
                        absl::FromUnixSeconds(end.seconds()) == StartOfDay(day);
  return midnight ? day : day + 1;
}

absl::StatusOr<std::pair<Day, Day>> DaysOfRange(const v1::TimeRange& range,
                                                Day open_start, Day open_end) {
  std::pair<Day, Day> days(open_start, open_end);
  if (range.has_start()) {
    POLKU_ASSIGN_OR_RETURN(days.first, DayOfBound(range.start(), "range.start"));
  }
  if (range.has_end()) {
    POLKU_ASSIGN_OR_RETURN(days.second, EndDayOfBound(range.end(), "range.end"));
  }
  const bool reversed =
      range.has_start() && range.has_end()
          ? std::make_pair(range.start().seconds(), range.start().nanos()) >=
                std::make_pair(range.end().seconds(), range.end().nanos())
          : days.first >= days.second;
  if (reversed) {
    return absl::InvalidArgumentError("range: start must be before end");
  }
  return days;
}

void SetMidnight(Day day, google::protobuf::Timestamp& out) {
  out.set_seconds(absl::ToUnixSeconds(StartOfDay(day)));
  out.set_nanos(0);
}

void AddRollup(GroupRollup& into, const GroupRollup& from) {
  into.events += from.events;
  AddInto(into.csat, from.csat);
  AddInto(into.nps, from.nps);
  AddInto(into.ces, from.ces);
  for (const auto& [name, sum] : from.measures) {
    MeasureSum& total = into.measures[name];
    total.n += sum.n;
    total.sum_milli += sum.sum_milli;
    total.sum_squares_milli2 += sum.sum_squares_milli2;
  }
}

std::vector<GroupRollup> MergeRenamed(std::vector<GroupRollup> groups,
                                      const TouchpointSuccessors& successors) {
  std::map<std::string, GroupRollup> merged;  // ordered by key, as promised
  for (GroupRollup& group : groups) {
    auto successor = successors.find(group.group);
    const std::string key =
        successor == successors.end() ? group.group : successor->second;
    GroupRollup& into = merged[key];
    into.group = key;
    AddRollup(into, group);
  }
  std::vector<GroupRollup> result;
  result.reserve(merged.size());
  for (auto& [key, group] : merged) result.push_back(std::move(group));
  return result;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
AttributeFilter(const google::protobuf::Map<std::string, std::string>& attributes,
                absl::string_view field) {
  std::vector<std::pair<std::string, std::string>> filter(attributes.begin(),
                                                          attributes.end());
  for (const auto& [name, value] : filter) {
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": an attribute name must not be empty"));
    }
  }
  std::sort(filter.begin(), filter.end());
  return filter;
}

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
    RollupReader& store, absl::string_view tenant,
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
    POLKU_ASSIGN_OR_RETURN(query.end_day,
                           EndDayOfBound(range.end(), "range.end"));
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

  POLKU_ASSIGN_OR_RETURN(query.attributes,
                         AttributeFilter(request.attributes(), "attributes"));

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
    AddRollup(total, group);
  }
  *card.mutable_total() = RowFromRollup(total);
  card.set_as_of_sequence(rollups.as_of_sequence);
  return card;
}

TouchpointSuccessors SuccessorsOf(const v1::Journey& journey) {
  TouchpointSuccessors successors;
  for (const v1::Touchpoint& touchpoint : journey.touchpoints()) {
    for (const std::string& former : touchpoint.former_keys()) {
      successors[former] = touchpoint.key();
    }
  }
  return successors;
}

}  // namespace polku::insight
