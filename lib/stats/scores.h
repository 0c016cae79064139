// The score definitions (docs/monitoring.md, insight.proto), computed
// exactly from histograms.
//
//   NpsHistogram nps{};           // nps[k] = answers with score k, 0–10
//   nps[10] = 5; nps[3] = 2;
//   NpsSummary s = SummarizeNps(nps);   // s.score == 100·(5−2)/7
#ifndef POLKU_LIB_STATS_SCORES_H_
#define POLKU_LIB_STATS_SCORES_H_

#include <array>
#include <cstdint>

namespace polku::stats {

// The normal quantile used for every 95 % interval (docs/monitoring.md: 1.96).
inline constexpr double kZ95 = 1.96;

using CsatHistogram = std::array<int64_t, 5>;  // [k] = answers with score k+1
using NpsHistogram = std::array<int64_t, 11>;  // [k] = answers with score k
using CesHistogram = std::array<int64_t, 7>;   // [k] = answers with score k+1

struct Interval {
  double low = 0;
  double high = 0;
};

// Wilson score interval for `successes` out of `n` (n > 0), clamped to [0, 1].
Interval Wilson(int64_t successes, int64_t n, double z = kZ95);

struct NpsSummary {
  int64_t responses = 0;
  int64_t promoters = 0;   // 9–10
  int64_t passives = 0;    // 7–8
  int64_t detractors = 0;  // 0–6
  double score = 0;        // 100·(p − d)
  // score ± z·100·√((p + d − (p − d)²)/n), clamped to [−100, 100].
  Interval ci95;
};
NpsSummary SummarizeNps(const NpsHistogram& histogram);

struct CsatSummary {
  int64_t responses = 0;
  double top2_box = 0;  // share of 4–5
  Interval ci95;        // Wilson interval of top2_box
  double mean = 0;
};
CsatSummary SummarizeCsat(const CsatHistogram& histogram);

struct CesSummary {
  int64_t responses = 0;
  double mean = 0;
  double share_5_to_7 = 0;
};
CesSummary SummarizeCes(const CesHistogram& histogram);

}  // namespace polku::stats

#endif  // POLKU_LIB_STATS_SCORES_H_
