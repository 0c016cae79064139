#include "services/insight/analytics/trend.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "lib/base/status_macros.h"
#include "lib/stats/significance.h"
#include "services/insight/analytics/scope.h"

namespace polku::insight {
namespace {

const absl::CivilDay kEpoch(1970, 1, 1);

absl::CivilDay CivilOf(Day day) { return kEpoch + day; }
Day DayOfCivil(absl::CivilDay civil) { return civil - kEpoch; }

MetricValue Share(int64_t successes, int64_t n) {
  MetricValue value{.n = n};
  if (n > 0) {
    value.value = static_cast<double>(successes) / static_cast<double>(n);
    value.ci95 = stats::Wilson(successes, n);
  }
  return value;
}

MetricValue Mean(int64_t n, double mean, double variance) {
  MetricValue value{.n = n};
  if (n > 0) value.value = mean;
  if (n >= 2) value.ci95 = MeanInterval(n, mean, variance);
  return value;
}

MetricValue HistogramMean(const int64_t* counts, int buckets) {
  const stats::Moments moments =
      stats::MomentsOfHistogram(counts, buckets, /*first_score=*/1);
  return Mean(moments.n, moments.mean, moments.variance);
}

// The 97.5 % quantile of Student's t with `df` degrees of freedom, by
// bisection on its distribution function (monotone, so this converges).
double TQuantile975(double df) {
  double low = 0, high = 1000;
  for (int i = 0; i < 100; ++i) {
    const double mid = (low + high) / 2;
    if (stats::StudentTCdf(mid, df) < 0.975) {
      low = mid;
    } else {
      high = mid;
    }
  }
  return (low + high) / 2;
}

}  // namespace

stats::Interval MeanInterval(int64_t n, double mean, double variance) {
  const double half = TQuantile975(static_cast<double>(n - 1)) *
                      std::sqrt(variance / static_cast<double>(n));
  return {.low = mean - half, .high = mean + half};
}

MetricValue ValueOf(const GroupRollup& rollup, v1::Metric metric,
                    const std::string& measure) {
  switch (metric) {
    case v1::NPS: {
      const stats::NpsSummary nps = stats::SummarizeNps(rollup.nps);
      MetricValue value{.n = nps.responses};
      if (nps.responses > 0) {
        value.value = nps.score;
        value.ci95 = nps.ci95;
      }
      return value;
    }
    case v1::NPS_PROMOTER_SHARE: {
      const stats::NpsSummary nps = stats::SummarizeNps(rollup.nps);
      return Share(nps.promoters, nps.responses);
    }
    case v1::NPS_DETRACTOR_SHARE: {
      const stats::NpsSummary nps = stats::SummarizeNps(rollup.nps);
      return Share(nps.detractors, nps.responses);
    }
    case v1::CSAT_TOP2_BOX: {
      const stats::CsatSummary csat = stats::SummarizeCsat(rollup.csat);
      return Share(rollup.csat[3] + rollup.csat[4], csat.responses);
    }
    case v1::CSAT_MEAN:
      return HistogramMean(rollup.csat.data(),
                           static_cast<int>(rollup.csat.size()));
    case v1::CES_MEAN:
      return HistogramMean(rollup.ces.data(),
                           static_cast<int>(rollup.ces.size()));
    case v1::CES_SHARE_5_TO_7: {
      const stats::CesSummary ces = stats::SummarizeCes(rollup.ces);
      return Share(rollup.ces[4] + rollup.ces[5] + rollup.ces[6],
                   ces.responses);
    }
    case v1::MEASURE_MEAN: {
      auto sum = rollup.measures.find(measure);
      if (sum == rollup.measures.end()) return {};
      return Mean(sum->second.n, sum->second.mean(), sum->second.variance());
    }
    case v1::EVENT_COUNT: {
      MetricValue value{.n = rollup.events};
      if (rollup.events > 0) value.value = static_cast<double>(rollup.events);
      return value;
    }
    default:
      return {};
  }
}

Day BucketStart(Day day, v1::Bucket bucket) {
  const absl::CivilDay civil = CivilOf(day);
  switch (bucket) {
    case v1::WEEK:
      // The Monday on or before the day.
      return DayOfCivil(absl::PrevWeekday(civil + 1, absl::Weekday::monday));
    case v1::MONTH:
      return DayOfCivil(absl::CivilDay(absl::CivilMonth(civil)));
    default:
      return day;
  }
}

Day NextBucket(Day bucket_start, v1::Bucket bucket) {
  switch (bucket) {
    case v1::WEEK:
      return bucket_start + 7;
    case v1::MONTH:
      return DayOfCivil(
          absl::CivilDay(absl::CivilMonth(CivilOf(bucket_start)) + 1));
    default:
      return bucket_start + 1;
  }
}

absl::Status CheckMetric(v1::Metric metric, const std::string& measure,
                         absl::string_view field) {
  if (metric == v1::METRIC_UNSPECIFIED || !v1::Metric_IsValid(metric)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": required, one of NPS, NPS_PROMOTER_SHARE, ",
        "NPS_DETRACTOR_SHARE, CSAT_TOP2_BOX, CSAT_MEAN, CES_MEAN, ",
        "CES_SHARE_5_TO_7, MEASURE_MEAN, EVENT_COUNT"));
  }
  if (metric == v1::MEASURE_MEAN && measure.empty()) {
    return absl::InvalidArgumentError(
        "measure: required for MEASURE_MEAN (e.g. wait_seconds)");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Trend> ComputeTrend(RollupReader& store,
                                       absl::string_view tenant,
                                       const v1::GetTrendRequest& request,
                                       const TouchpointSuccessors& successors,
                                       absl::Time now) {
  const v1::Scope& scope = request.scope();
  // Every filter of the scope but its range, which is `range` here.
  POLKU_ASSIGN_OR_RETURN(ScorecardQuery query,
                         ToScorecardQuery(scope, tenant, successors));
  if (scope.has_range()) {
    return absl::InvalidArgumentError(
        "scope.range: GetTrend's range is `range`; leave scope.range unset");
  }
  POLKU_RETURN_IF_ERROR(
      CheckMetric(request.metric(), request.measure(), "metric"));
  const v1::Bucket bucket = request.bucket() == v1::BUCKET_UNSPECIFIED
                                ? v1::DAY
                                : request.bucket();
  if (!v1::Bucket_IsValid(bucket)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bucket: unknown value ", static_cast<int>(bucket),
                     "; use DAY, WEEK or MONTH"));
  }
  if (!request.range().has_start()) {
    return absl::InvalidArgumentError(
        "range.start: required (the first bucket's time)");
  }
  POLKU_ASSIGN_OR_RETURN(Day start_day,
                         DayOfBound(request.range().start(), "range.start"));
  google::protobuf::Timestamp end = request.range().end();
  if (!request.range().has_end()) {
    end.set_seconds(absl::ToUnixSeconds(now));
    end.set_nanos(0);
  }
  if (std::make_pair(request.range().start().seconds(),
                     request.range().start().nanos()) >=
      std::make_pair(end.seconds(), end.nanos())) {
    return absl::InvalidArgumentError("range: start must be before end");
  }
  POLKU_ASSIGN_OR_RETURN(Day end_day, EndDayOfBound(end, "range.end"));

  // Whole buckets: the first starts on or before start_day, the last ends on
  // or after end_day.
  std::vector<Day> starts;
  for (Day day = BucketStart(start_day, bucket); day < end_day;
       day = NextBucket(day, bucket)) {
    if (static_cast<int64_t>(starts.size()) >= kMaxTrendBuckets) {
      return absl::InvalidArgumentError(absl::StrCat(
          "range: more than ", kMaxTrendBuckets,
          " buckets; use a shorter range or a larger bucket"));
    }
    starts.push_back(day);
  }
  const Day first = starts.front();
  const Day last = NextBucket(starts.back(), bucket);

  query.start_day = first;
  query.end_day = last;
  query.group_by = Grouping::kDay;
  POLKU_ASSIGN_OR_RETURN(GroupedRollups days, store.Scorecard(query));

  std::vector<GroupRollup> sums(starts.size());
  for (const GroupRollup& day : days.groups) {
    // The bucket whose start is the last one ≤ the day.
    auto after = std::upper_bound(starts.begin(), starts.end(), day.day);
    if (after == starts.begin()) continue;  // outside the range: not asked for
    AddRollup(sums[static_cast<size_t>(after - starts.begin() - 1)], day);
  }

  v1::Trend trend;
  *trend.mutable_scope() = scope;
  trend.set_metric(request.metric());
  trend.set_measure(request.measure());
  trend.set_bucket(bucket);
  SetMidnight(first, *trend.mutable_range()->mutable_start());
  SetMidnight(last, *trend.mutable_range()->mutable_end());
  for (size_t i = 0; i < starts.size(); ++i) {
    v1::TrendPoint* point = trend.add_points();
    SetMidnight(starts[i], *point->mutable_bucket()->mutable_start());
    SetMidnight(NextBucket(starts[i], bucket),
                *point->mutable_bucket()->mutable_end());
    const MetricValue value =
        ValueOf(sums[i], request.metric(), request.measure());
    point->set_n(value.n);
    if (value.value) point->set_value(*value.value);
    if (value.ci95 && request.metric() != v1::EVENT_COUNT) {
      point->mutable_ci95()->set_low(value.ci95->low);
      point->mutable_ci95()->set_high(value.ci95->high);
    }
  }
  trend.set_as_of_sequence(days.as_of_sequence);
  return trend;
}

}  // namespace polku::insight
