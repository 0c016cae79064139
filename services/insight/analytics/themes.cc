#include "services/insight/analytics/themes.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "lib/base/status_macros.h"
#include "lib/stats/significance.h"
#include "services/insight/analytics/scope.h"

namespace polku::insight {
namespace {

constexpr int kDefaultThemes = 20;
constexpr int kMaxThemes = 200;
constexpr int kDefaultMinCount = 5;
constexpr double kDefaultEmergingAlpha = 0.01;
constexpr int kDefaultPageSize = 10;
constexpr int kMaxPageSize = 100;

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// Which of a journey's comments a scope selects.
class ScopeFilter {
 public:
  ScopeFilter(const ScorecardQuery& query, const TouchNames& names)
      : query_(query) {
    touchpoint_.resize(names.touchpoints.size(), query.touchpoints.empty());
    for (size_t t = 0; t < names.touchpoints.size(); ++t) {
      for (const std::string& key : query.touchpoints) {
        if (names.touchpoints[t] == key) touchpoint_[t] = true;
      }
    }
    stage_.resize(names.stages.size(), query.stage.empty());
    for (size_t s = 0; s < names.stages.size(); ++s) {
      if (names.stages[s] == query.stage) stage_[s] = true;
    }
    channel_.resize(names.channels.size(), query.channel.empty());
    for (size_t c = 0; c < names.channels.size(); ++c) {
      if (names.channels[c] == query.channel) channel_[c] = true;
    }
  }

  // Whether the scope takes the recorded touchpoint `t`.
  bool Touchpoint(size_t t) const { return touchpoint_[t]; }

  bool Matches(const ThemeComment& c) const {
    return c.day >= query_.start_day && c.day < query_.end_day &&
           (query_.journey_version == 0 ||
            c.version == query_.journey_version) &&
           touchpoint_[c.touchpoint] && stage_[c.stage] && channel_[c.channel];
  }

 private:
  const ScorecardQuery& query_;
  std::vector<bool> touchpoint_;
  std::vector<bool> stage_;
  std::vector<bool> channel_;
};

absl::StatusOr<ScorecardQuery> QueryOf(const v1::Scope& scope,
                                       absl::string_view tenant,
                                       const TouchpointSuccessors& successors) {
  if (!scope.attributes().empty()) {
    return absl::InvalidArgumentError(
        "scope.attributes: not supported by themes (filter by journey, "
        "version, range, touchpoint, stage or channel)");
  }
  return ToScorecardQuery(scope, tenant, successors, "scope");
}

}  // namespace

LogOdds WeightedLogOdds(int64_t y_i, int64_t y_j, int64_t n_i, int64_t n_j,
                        double alpha0) {
  LogOdds out;
  const double n = static_cast<double>(n_i) + static_cast<double>(n_j);
  if (n <= 0) return out;
  const double alpha =
      alpha0 * (static_cast<double>(y_i) + static_cast<double>(y_j)) / n;
  const double a_i = static_cast<double>(y_i) + alpha;
  const double a_j = static_cast<double>(y_j) + alpha;
  const double b_i = static_cast<double>(n_i) + alpha0 - a_i;
  const double b_j = static_cast<double>(n_j) + alpha0 - a_j;
  if (a_i <= 0 || a_j <= 0 || b_i <= 0 || b_j <= 0) return out;
  out.delta = std::log(a_i / b_i) - std::log(a_j / b_j);
  out.variance = 1 / a_i + 1 / b_i + 1 / a_j + 1 / b_j;
  out.z = out.delta / std::sqrt(out.variance);
  return out;
}

std::string IsoWeek(int64_t day) {
  // The ISO year is the year of the week's Thursday.
  const int64_t thursday = WeekStart(day) + 3;
  const absl::CivilDay civil = absl::CivilDay(1970, 1, 1) + thursday;
  const int64_t day_of_year = civil - absl::CivilDay(civil.year(), 1, 1);
  return absl::StrFormat("%04d-W%02d", civil.year(), day_of_year / 7 + 1);
}

namespace {

// The checked numbers of a GetThemesRequest.
struct ThemeParams {
  ScorecardQuery query;
  int max_themes = kDefaultThemes;
  int64_t min_count = kDefaultMinCount;
  double emerging_alpha = kDefaultEmergingAlpha;
};

absl::StatusOr<ThemeParams> ParamsOf(absl::string_view tenant,
                                     const v1::GetThemesRequest& request,
                                     const TouchpointSuccessors& successors) {
  ThemeParams p;
  POLKU_ASSIGN_OR_RETURN(p.query, QueryOf(request.scope(), tenant, successors));
  if (request.max_themes() < 0 || request.max_themes() > kMaxThemes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_themes: must be 0 (", kDefaultThemes, ") or 1 to ", kMaxThemes));
  }
  if (request.min_count() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_count: must be 0 (", kDefaultMinCount, ") or at least 1"));
  }
  const double alpha = request.emerging_alpha();
  if (!(alpha >= 0 && alpha < 1)) {
    return absl::InvalidArgumentError(
        "emerging_alpha: must be 0 (0.01) or in (0, 1)");
  }
  if (request.max_themes() != 0) p.max_themes = request.max_themes();
  if (request.min_count() != 0) p.min_count = request.min_count();
  if (alpha != 0) p.emerging_alpha = alpha;
  return p;
}

// Whether the scope is whole weeks (at most ten years of them) of every
// version, stage and channel: then the index's weekly tallies answer it
// (ThemeView::Week) without walking the comments.
bool WholeWeeks(const ScorecardQuery& query) {
  return query.journey_version == 0 && query.stage.empty() &&
         query.channel.empty() && query.start_day != kFirstDay &&
         query.end_day != kLastDay && query.start_day < query.end_day &&
         WeekStart(query.start_day) == query.start_day &&
         WeekStart(query.end_day) == query.end_day &&
         query.end_day - query.start_day <= 7 * 522;
}

// The themes of the view's comments in `p`'s scope, into `out`. With
// `by_weeks` (only when WholeWeeks(p.query)) summed from the weekly
// tallies, the same numbers without walking the comments; else with
// `candidates`, only those comments are looked at (the caller picked every
// comment of the scope's touchpoints, in ledger order); without, all.
void ThemesOf(const ThemeView& view, const ThemeParams& p,
              const std::vector<const ThemeComment*>* candidates,
              bool by_weeks, v1::Themes& out) {
  const ScorecardQuery& query = p.query;
  const int max_themes = p.max_themes;
  const int64_t min_count = p.min_count;
  const double emerging_alpha = p.emerging_alpha;
  out.set_as_of_sequence(view.as_of());
  const ScopeFilter filter(query, view.names());
  const size_t vocabulary = view.terms().size();
  std::vector<int64_t> low(vocabulary, 0), all(vocabulary, 0);
  std::vector<const ThemeComment*> selected;
  int64_t first_week = std::numeric_limits<int64_t>::max();
  int64_t last_week = std::numeric_limits<int64_t>::min();
  const auto count = [&](const ThemeComment& c) {
    if (!filter.Matches(c)) return;
    selected.push_back(&c);
    const int64_t week = WeekStart(c.day);
    first_week = std::min(first_week, week);
    last_week = std::max(last_week, week);
    if (c.low) {
      for (const int32_t t : c.terms) ++low[t], ++all[t];
    } else {
      for (const int32_t t : c.terms) ++all[t];
    }
  };
  int64_t comments = 0;
  int64_t low_comments = 0;
  // By weeks: each (Monday, tally) in scope.
  std::vector<std::pair<int64_t, const WeekTally*>> tallies;
  if (by_weeks) {
    for (size_t t = 0; t < view.names().touchpoints.size(); ++t) {
      if (!filter.Touchpoint(t)) continue;
      for (int64_t monday = query.start_day; monday < query.end_day;
           monday += 7) {
        const WeekTally* tally = view.Week(static_cast<int32_t>(t), monday);
        if (tally == nullptr || tally->comments == 0) continue;
        tallies.emplace_back(monday, tally);
        first_week = std::min(first_week, monday);
        last_week = std::max(last_week, monday);
        comments += tally->comments;
        low_comments += tally->low_comments;
        for (const auto& [term, n] : tally->terms) {
          all[term] += n[0];
          low[term] += n[1];
        }
      }
    }
  } else {
    if (candidates == nullptr) {
      for (const ThemeComment& c : view.comments()) count(c);
    } else {
      for (const ThemeComment* c : *candidates) count(*c);
    }
    comments = static_cast<int64_t>(selected.size());
    for (const ThemeComment* c : selected) low_comments += c->low;
  }
  out.set_comments(comments);
  out.set_low_comments(low_comments);
  if (comments == 0) return;
  // Comments, not term occurrences: low-score comments are often longer,
  // and a term they mention as often as the rest must not look rarer.
  const int64_t n_i = low_comments;
  const int64_t n_j = comments - low_comments;

  struct Ranked {
    int32_t term;
    LogOdds odds;
  };
  std::vector<Ranked> ranked;
  for (size_t t = 0; t < vocabulary; ++t) {
    if (all[t] < min_count) continue;
    ranked.push_back({static_cast<int32_t>(t),
                      WeightedLogOdds(low[t], all[t] - low[t], n_i, n_j)});
  }
  const std::vector<std::string>& terms = view.terms();
  const auto better = [&](const Ranked& a, const Ranked& b) {
    if (a.odds.z != b.odds.z) return a.odds.z > b.odds.z;
    return terms[a.term] < terms[b.term];
  };
  const size_t kept = std::min<size_t>(ranked.size(), max_themes);
  std::partial_sort(ranked.begin(), ranked.begin() + kept, ranked.end(),
                    better);
  ranked.resize(kept);

  // Weekly counts of the themes kept, and of comments.
  const size_t weeks = static_cast<size_t>((last_week - first_week) / 7 + 1);
  std::vector<int32_t> theme_of(vocabulary, -1);
  for (size_t k = 0; k < kept; ++k) theme_of[ranked[k].term] = k;
  std::vector<int64_t> week_comments(weeks, 0);
  std::vector<int64_t> week_counts(weeks * kept, 0);
  for (const ThemeComment* c : selected) {
    const size_t w = static_cast<size_t>((WeekStart(c->day) - first_week) / 7);
    ++week_comments[w];
    for (const int32_t t : c->terms) {
      if (theme_of[t] >= 0) ++week_counts[theme_of[t] * weeks + w];
    }
  }
  for (const auto& [monday, tally] : tallies) {
    const size_t w = static_cast<size_t>((monday - first_week) / 7);
    week_comments[w] += tally->comments;
    for (size_t k = 0; k < kept; ++k) {
      const auto found = tally->terms.find(ranked[k].term);
      if (found != tally->terms.end()) {
        week_counts[k * weeks + w] += found->second[0];
      }
    }
  }
  std::vector<double> p_values(kept, 1.0), statistics(kept, 0.0);
  std::vector<bool> rose(kept, false);
  for (size_t k = 0; k < kept; ++k) {
    if (weeks < 2) break;
    stats::Proportion baseline, current;
    current.successes = week_counts[k * weeks + weeks - 1];
    current.n = week_comments[weeks - 1];
    for (size_t w = 0; w + 1 < weeks; ++w) {
      baseline.successes += week_counts[k * weeks + w];
      baseline.n += week_comments[w];
    }
    const stats::TestResult test =
        stats::TwoProportionZTest(baseline, current);
    if (test.valid) {
      p_values[k] = test.p_value;
      statistics[k] = test.statistic;
      rose[k] = test.effect > 0;
    }
  }
  const std::vector<double> adjusted = stats::HolmAdjust(p_values);
  const double scope_comments = static_cast<double>(comments);
  for (size_t k = 0; k < kept; ++k) {
    const Ranked& r = ranked[k];
    const std::string& term = terms[r.term];
    v1::Theme* theme = out.add_themes();
    theme->set_id(ThemeId(term));
    theme->set_term(term);
    theme->set_words(term.find(' ') == std::string::npos ? 1 : 2);
    theme->set_count(all[r.term]);
    theme->set_share(all[r.term] / scope_comments);
    theme->set_low_count(low[r.term]);
    theme->set_low_share(low_comments == 0
                             ? 0
                             : static_cast<double>(low[r.term]) /
                                   static_cast<double>(low_comments));
    theme->set_log_odds(r.odds.delta);
    theme->set_z(r.odds.z);
    for (size_t w = 0; w < weeks; ++w) {
      v1::ThemeWeek* week = theme->add_trend();
      week->set_week(IsoWeek(first_week + 7 * static_cast<int64_t>(w)));
      week->set_comments(week_comments[w]);
      week->set_count(week_counts[k * weeks + w]);
      week->set_share(week_comments[w] == 0
                          ? 0
                          : static_cast<double>(week_counts[k * weeks + w]) /
                                static_cast<double>(week_comments[w]));
    }
    theme->set_emerging_p_value(p_values[k]);
    theme->set_emerging_p_adjusted(adjusted[k]);
    theme->set_emerging_z(statistics[k]);
    theme->set_emerging(rose[k] && adjusted[k] < emerging_alpha);
  }
}

}  // namespace

absl::StatusOr<v1::Themes> ComputeThemes(
    ThemeIndex& index, absl::string_view tenant,
    const v1::GetThemesRequest& request,
    const TouchpointSuccessors& successors) {
  POLKU_ASSIGN_OR_RETURN(const ThemeParams p,
                         ParamsOf(tenant, request, successors));
  v1::Themes out;
  out.set_prior_weight(kThemePriorWeight);
  POLKU_RETURN_IF_ERROR(
      index.Read(std::string(tenant), p.query.journey,
                 [&](const ThemeView& view) {
                   ThemesOf(view, p, nullptr, /*by_weeks=*/false, out);
                 }));
  return out;
}

absl::StatusOr<std::vector<v1::Themes>> ComputeThemesEach(
    ThemeIndex& index, absl::string_view tenant,
    const std::vector<v1::GetThemesRequest>& requests,
    const TouchpointSuccessors& successors) {
  std::vector<ThemeParams> params;
  params.reserve(requests.size());
  for (const v1::GetThemesRequest& request : requests) {
    POLKU_ASSIGN_OR_RETURN(ThemeParams p, ParamsOf(tenant, request, successors));
    if (!params.empty() && p.query.journey != params[0].query.journey) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scope.journey: every request must name journey ",
          params[0].query.journey));
    }
    params.push_back(std::move(p));
  }
  std::vector<v1::Themes> out(requests.size());
  for (v1::Themes& themes : out) themes.set_prior_weight(kThemePriorWeight);
  if (requests.empty()) return out;
  POLKU_RETURN_IF_ERROR(index.Read(
      std::string(tenant), params[0].query.journey, [&](const ThemeView& view) {
        // A scope of whole weeks is summed from the weekly tallies. For the
        // rest one pass sorts the comments by recorded touchpoint; each
        // request then looks only at its touchpoints' comments, instead of
        // every request walking all of them.
        std::vector<std::vector<const ThemeComment*>> by_touchpoint;
        std::vector<const ThemeComment*> candidates;
        for (size_t r = 0; r < params.size(); ++r) {
          if (WholeWeeks(params[r].query)) {
            ThemesOf(view, params[r], nullptr, /*by_weeks=*/true, out[r]);
            continue;
          }
          if (by_touchpoint.empty()) {
            by_touchpoint.resize(view.names().touchpoints.size());
            for (const ThemeComment& c : view.comments()) {
              by_touchpoint[c.touchpoint].push_back(&c);
            }
          }
          const ScopeFilter filter(params[r].query, view.names());
          candidates.clear();
          int buckets = 0;
          for (size_t t = 0; t < by_touchpoint.size(); ++t) {
            if (!filter.Touchpoint(t) || by_touchpoint[t].empty()) continue;
            ++buckets;
            candidates.insert(candidates.end(), by_touchpoint[t].begin(),
                              by_touchpoint[t].end());
          }
          // Ledger order (the comments are one vector in that order).
          if (buckets > 1) std::sort(candidates.begin(), candidates.end());
          ThemesOf(view, params[r], &candidates, /*by_weeks=*/false, out[r]);
        }
      }));
  return out;
}

absl::StatusOr<v1::ListThemeExamplesResponse> ListThemeExamples(
    ThemeIndex& index, absl::string_view tenant,
    const v1::ListThemeExamplesRequest& request,
    const TouchpointSuccessors& successors) {
  POLKU_ASSIGN_OR_RETURN(const ScorecardQuery query,
                         QueryOf(request.scope(), tenant, successors));
  const std::string& id = request.theme_id();
  uint64_t hash = 0;
  if (id.size() != 19 || id.compare(0, 3, "th_") != 0 ||
      !absl::SimpleHexAtoi(absl::string_view(id).substr(3), &hash) ||
      id != absl::StrFormat("th_%016x", hash)) {
    return absl::InvalidArgumentError(
        "theme_id: required, a Theme.id (\"th_\" and 16 lower-case hex "
        "digits)");
  }
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size: must be 0 (", kDefaultPageSize, ") or 1 to ", kMaxPageSize));
  }
  const size_t page_size =
      request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  size_t offset = 0;
  if (!request.page_token().empty()) {
    uint64_t parsed = 0;
    if (request.page_token()[0] != 'o' ||
        !absl::SimpleAtoi(absl::string_view(request.page_token()).substr(1),
                          &parsed) ||
        parsed > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError(
          "page_token: not a token this service gave (use next_page_token)");
    }
    offset = static_cast<size_t>(parsed);
  }

  v1::ListThemeExamplesResponse out;
  // Copied out under the index's lock; their texts read from the ledger and
  // analysed again (for the spans) after it.
  std::vector<ThemeComment> page;
  std::vector<std::string> names[3];  // touchpoint, stage, channel of `page`
  POLKU_RETURN_IF_ERROR(index.Read(
      std::string(tenant), query.journey, [&](const ThemeView& view) {
        out.set_as_of_sequence(view.as_of());
        const int32_t term = view.TermOfHash(hash);
        if (term < 0) return;
        out.set_term(view.terms()[term]);
        const ScopeFilter filter(query, view.names());
        std::vector<const ThemeComment*> matching;
        for (const ThemeComment& c : view.comments()) {
          if (filter.Matches(c) &&
              std::binary_search(c.terms.begin(), c.terms.end(), term)) {
            matching.push_back(&c);
          }
        }
        const auto before = [](const ThemeComment* a, const ThemeComment* b) {
          if (a->low != b->low) return a->low;
          if (a->at != b->at) return a->at > b->at;
          return a->sequence > b->sequence;
        };
        const size_t end = std::min(matching.size(), offset + page_size);
        if (offset >= end) return;
        std::partial_sort(matching.begin(), matching.begin() + end,
                          matching.end(), before);
        for (size_t k = offset; k < end; ++k) {
          page.push_back(*matching[k]);
          names[0].push_back(view.names().touchpoints[matching[k]->touchpoint]);
          names[1].push_back(view.names().stages[matching[k]->stage]);
          names[2].push_back(view.names().channels[matching[k]->channel]);
        }
        if (end < matching.size()) out.set_next_page_token(absl::StrCat("o", end));
      }));
  std::vector<int64_t> sequences;
  for (const ThemeComment& c : page) sequences.push_back(c.sequence);
  POLKU_ASSIGN_OR_RETURN(
      const std::vector<CountedEvent> events,
      index.ledger().LedgerEvents(std::string(tenant), std::move(sequences)));
  absl::flat_hash_map<int64_t, const std::string*> texts;
  for (const CountedEvent& event : events) {
    texts[event.sequence] = &event.comment;
  }
  for (size_t k = 0; k < page.size(); ++k) {
    const ThemeComment& c = page[k];
    auto found = texts.find(c.sequence);
    // Erased since the index's read: the example is gone with its customer.
    if (found == texts.end()) continue;
    const std::string& comment = *found->second;
    POLKU_ASSIGN_OR_RETURN(const text::CommentAnalysis analysis,
                           index.analyzer().Analyze(comment, c.language));
    v1::ThemeExample* example = out.add_examples();
    example->set_comment(comment);
    for (const ThemeTerm& term : ThemeTerms(analysis, comment)) {
      if (term.term != out.term()) continue;
      v1::ByteSpan* span = example->add_spans();
      span->set_begin(static_cast<int32_t>(term.begin));
      span->set_end(static_cast<int32_t>(term.end));
    }
    example->mutable_occurred_at()->set_seconds(FloorDiv(c.at, 1'000'000));
    example->mutable_occurred_at()->set_nanos(
        static_cast<int32_t>((c.at - FloorDiv(c.at, 1'000'000) * 1'000'000) * 1000));
    example->set_touchpoint(names[0][k]);
    example->set_stage(names[1][k]);
    example->set_channel(names[2][k]);
    if (c.csat >= 0) example->set_csat(c.csat);
    if (c.nps >= 0) example->set_nps(c.nps);
    if (c.ces >= 0) example->set_ces(c.ces);
    example->set_low(c.low);
  }
  return out;
}

}  // namespace polku::insight
