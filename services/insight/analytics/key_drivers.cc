#include "services/insight/analytics/key_drivers.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "lib/base/status_macros.h"
#include "lib/stats/scores.h"
#include "services/insight/analytics/relative_importance.h"
#include "services/insight/analytics/scope.h"
#include "services/insight/analytics/scorecard.h"
#include "services/insight/analytics/touch_index.h"

namespace polku::insight {
namespace {

enum Scale : int8_t { kCsat = 0, kNps = 1, kCes = 2 };
constexpr int kScales = 3;
constexpr const char* kScaleNames[kScales] = {"CSAT", "NPS", "CES"};
// Lowest score, highest score and the first top-2-box score of each scale.
constexpr int kLow[kScales] = {1, 0, 1};
constexpr int kHigh[kScales] = {5, 10, 7};
constexpr int kTopFrom[kScales] = {4, 9, 5};

constexpr double kHighCorrelation = 0.8;
// Pairs with fewer co-raters are not tested for correlation.
constexpr int64_t kMinPairForCorrelation = 10;

double Rescaled(Scale scale, int value) {
  return 100.0 * (value - kLow[scale]) / (kHigh[scale] - kLow[scale]);
}

int64_t MicrosOf(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000 + t.nanos() / 1000;
}

struct Rating {
  int32_t customer;
  int16_t touchpoint;  // index into the touchpoint list
  int8_t scale;
  int8_t value;
  int64_t at;
};

struct Outcome {
  int64_t at = std::numeric_limits<int64_t>::min();
  int64_t sequence = 0;
  int value = 0;
  bool present = false;
};

// One driver's performance: its ratings (before the outcome, of customers in
// the model) by scale and score.
struct Performance {
  std::array<std::array<int64_t, 11>, kScales> counts{};
  int64_t ratings = 0;
  int64_t top = 0;
  double sum = 0;  // of the driver's own values (rescaled for a stage)
};

struct DriverDef {
  std::string key;
  std::string name;
  std::string stage;
  std::string channel;
  const v1::Touchpoint* touchpoint = nullptr;
  // Touchpoint level: the chosen scale; stage level: -1 (rescaled).
  int scale = -1;
};

// The 2.5 and 97.5 percentiles (linear interpolation between order
// statistics) of `values`, sorted in place.
v1::Interval Percentiles(std::vector<double>& values) {
  v1::Interval out;
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  const auto at = [&](double q) {
    const double h = q * (values.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(h));
    const size_t hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (h - lo) * (values[hi] - values[lo]);
  };
  out.set_low(at(0.025));
  out.set_high(at(0.975));
  return out;
}

v1::Interval Of(stats::Interval in) {
  v1::Interval out;
  out.set_low(in.low);
  out.set_high(in.high);
  return out;
}

uint64_t NextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Sums over one block of customers of z = (d_1, dr_1, …, d_G, dr_G, y):
// the count, Σ z and Σ z z' (full q×q).
struct Moments {
  explicit Moments(int q) : q(q), sum(q, 0), cross(static_cast<size_t>(q) * q, 0) {}
  int q;
  double n = 0;
  std::vector<double> sum;
  std::vector<double> cross;
};

// Centred cross-products of the moments' predictors (all but the last
// column) and outcome (the last).
CrossProducts Centre(const Moments& m) {
  const int p = m.q - 1;
  CrossProducts cp;
  cp.columns = p;
  cp.xx.assign(static_cast<size_t>(p) * p, 0);
  cp.xy.assign(p, 0);
  cp.raw_squares.assign(p, 0);
  if (m.n <= 0) return cp;
  const auto centred = [&](int i, int j) {
    return m.cross[static_cast<size_t>(i) * m.q + j] - m.sum[i] * m.sum[j] / m.n;
  };
  for (int i = 0; i < p; ++i) {
    for (int j = 0; j < p; ++j) cp.xx[static_cast<size_t>(i) * p + j] = centred(i, j);
    cp.xy[i] = centred(i, p);
    cp.raw_squares[i] = m.cross[static_cast<size_t>(i) * m.q + i];
  }
  cp.yy = std::max(0.0, centred(p, p));
  return cp;
}

struct Replicate {
  double r_squared = 0;
  std::vector<double> lmg;
  std::vector<std::optional<double>> effect;
};

std::string Fixed(double v, int digits = 2) {
  return absl::StrFormat("%.*f", digits, v);
}

}  // namespace

absl::StatusOr<v1::KeyDrivers> ComputeKeyDrivers(
    LedgerReader& ledger, absl::string_view tenant,
    const v1::GetKeyDriversRequest& request, const v1::Journey& journey,
    const KeyDriverOptions& options, TouchIndex* index) {
  // --- The request.
  if (request.min_raters() < 0 || request.min_raters() == 1) {
    return absl::InvalidArgumentError(
        "min_raters: must be 0 (the default, 100) or at least 2");
  }
  if (request.bootstrap_replicates() < 0 ||
      request.bootstrap_replicates() > options.max_replicates) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bootstrap_replicates: must be 0 (the default, ",
        options.default_replicates, ") to ", options.max_replicates));
  }
  const int min_raters = request.min_raters() == 0 ? options.default_min_raters
                                                   : request.min_raters();
  const int replicates = request.bootstrap_replicates() == 0
                             ? options.default_replicates
                             : request.bootstrap_replicates();
  const v1::DriverLevel level =
      request.level() == v1::DRIVER_LEVEL_STAGE ? v1::DRIVER_LEVEL_STAGE
                                                : v1::DRIVER_LEVEL_TOUCHPOINT;
  const TouchpointSuccessors successors =
      request.scope().journey_version() == 0 ? SuccessorsOf(journey)
                                             : TouchpointSuccessors{};
  v1::Scope scope = request.scope();
  if (request.has_range()) *scope.mutable_range() = request.range();
  POLKU_ASSIGN_OR_RETURN(ScorecardQuery filter,
                         ToScorecardQuery(scope, tenant, successors, "scope"));

  // --- The outcome.
  v1::DriverOutcome outcome = request.outcome();
  const v1::Outcomes& declared = journey.outcomes();
  if (outcome == v1::DRIVER_OUTCOME_UNSPECIFIED) {
    outcome = !declared.relationship_nps_touchpoint().empty()
                  ? v1::RELATIONSHIP_NPS
                  : v1::OVERALL_SATISFACTION;
  }
  std::string outcome_touchpoint =
      outcome == v1::RELATIONSHIP_NPS ? declared.relationship_nps_touchpoint()
                                      : declared.overall_satisfaction_touchpoint();
  std::string outcome_note;
  if (outcome_touchpoint.empty() &&
      request.outcome() == v1::DRIVER_OUTCOME_UNSPECIFIED) {
    // Nothing declared: the journey's first OUTCOME touchpoint's NPS.
    for (const v1::Touchpoint& t : journey.touchpoints()) {
      if (t.kind() != v1::OUTCOME) continue;
      outcome_touchpoint = t.key();
      outcome = v1::RELATIONSHIP_NPS;
      outcome_note = absl::StrCat(
          "the journey declares no outcomes: the NPS answers at its OUTCOME "
          "touchpoint ", t.key(), " are taken as the relationship NPS");
      break;
    }
  }
  if (outcome_touchpoint.empty() &&
      request.outcome() == v1::DRIVER_OUTCOME_UNSPECIFIED) {
    // Nothing to explain; asked for no particular outcome, this is an
    // answer (the journey map asks every journey), not an error.
    v1::KeyDrivers none;
    none.set_journey(journey.key());
    none.set_level(request.level() == v1::DRIVER_LEVEL_STAGE ? v1::DRIVER_LEVEL_STAGE
                                                             : v1::DRIVER_LEVEL_TOUCHPOINT);
    none.mutable_model()->add_warnings(absl::StrCat(
        "journey \"", journey.key(),
        "\" has no outcome (Journey.outcomes, or an OUTCOME touchpoint): nothing to explain"));
    return none;
  }
  if (outcome_touchpoint.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "outcome: journey \"", journey.key(), "\" declares no ",
        outcome == v1::RELATIONSHIP_NPS ? "outcomes.relationship_nps_touchpoint"
                                        : "outcomes.overall_satisfaction_touchpoint"));
  }
  const bool nps_outcome = outcome == v1::RELATIONSHIP_NPS;

  // --- The drivers: interaction touchpoints (or their stages) the scope's
  // filters admit, in journey order.
  std::vector<std::string> wanted_touchpoints;
  if (!request.scope().touchpoint().empty()) {
    wanted_touchpoints.push_back(request.scope().touchpoint());
  }
  for (const std::string& t : request.scope().touchpoints()) {
    wanted_touchpoints.push_back(t);
  }
  std::vector<const v1::Touchpoint*> touchpoints;
  absl::flat_hash_map<std::string, int> touchpoint_index;
  for (const v1::Stage& stage : journey.stages()) {
    for (const v1::Touchpoint& t : journey.touchpoints()) {
      if (t.stage() != stage.key() || t.kind() == v1::OUTCOME ||
          t.key() == outcome_touchpoint ||
          t.key() == declared.relationship_nps_touchpoint() ||
          t.key() == declared.overall_satisfaction_touchpoint()) {
        continue;
      }
      if (!request.scope().stage().empty() && t.stage() != request.scope().stage()) continue;
      if (!request.scope().channel().empty() &&
          t.channel() != request.scope().channel()) {
        continue;
      }
      if (!wanted_touchpoints.empty() &&
          std::find(wanted_touchpoints.begin(), wanted_touchpoints.end(),
                    t.key()) == wanted_touchpoints.end()) {
        continue;
      }
      touchpoint_index[t.key()] = static_cast<int>(touchpoints.size());
      touchpoints.push_back(&t);
    }
  }
  if (touchpoints.size() > static_cast<size_t>(std::numeric_limits<int16_t>::max())) {
    return absl::InvalidArgumentError("scope: too many touchpoints");
  }

  // --- Outcome answers and ratings: one pass over the ledger, or over the
  // touch index (which holds no attributes). Both give each customer's
  // ratings in (time, sequence) order and the customers with an outcome in
  // customer-hash order, so the two answers are the same to the bit.
  int64_t start_micros = std::numeric_limits<int64_t>::min();
  int64_t end_micros = std::numeric_limits<int64_t>::max();
  if (scope.has_range()) {
    if (scope.range().has_start()) start_micros = MicrosOf(scope.range().start());
    if (scope.range().has_end()) end_micros = MicrosOf(scope.range().end());
  }
  std::vector<Outcome> outcomes;
  std::vector<Rating> ratings;
  // Customers with an outcome, in customer-hash order, so that the
  // bootstrap's blocks do not depend on the order events arrived in.
  std::vector<int32_t> model_customers;
  int64_t as_of = 0;
  if (index != nullptr && filter.attributes.empty()) {
    POLKU_RETURN_IF_ERROR(index->Read(
        filter.tenant, filter.journey, [&](const TouchView& view) {
          const TouchNames& names = view.names();
          // Per touchpoint as recorded: kOutcome, a driver touchpoint's
          // index, or kNeither.
          constexpr int kOutcome = -2, kNeither = -1;
          std::vector<int> role(names.touchpoints.size(), kNeither);
          for (size_t t = 0; t < names.touchpoints.size(); ++t) {
            const std::string& recorded = names.touchpoints[t];
            const auto successor = successors.find(recorded);
            const std::string& key =
                successor == successors.end() ? recorded : successor->second;
            if (key == outcome_touchpoint) {
              role[t] = kOutcome;
            } else if (const auto found = touchpoint_index.find(key);
                       found != touchpoint_index.end()) {
              role[t] = found->second;
            }
          }
          std::vector<bool> stage_ok(names.stages.size(), true);
          for (size_t i = 0; i < names.stages.size(); ++i) {
            stage_ok[i] = filter.stage.empty() || names.stages[i] == filter.stage;
          }
          std::vector<bool> channel_ok(names.channels.size(), true);
          for (size_t i = 0; i < names.channels.size(); ++i) {
            channel_ok[i] =
                filter.channel.empty() || names.channels[i] == filter.channel;
          }
          std::vector<uint32_t> hash_rank;  // by customer id here
          for (size_t c = 0; c < view.customers(); ++c) {
            int32_t id = -1;
            const auto customer = [&] {
              if (id < 0) {
                id = static_cast<int32_t>(hash_rank.size());
                hash_rank.push_back(view.hash_rank(c));
                outcomes.emplace_back();
              }
              return id;
            };
            for (const Touch& t : view.touches(c)) {
              if (t.at < start_micros || t.at >= end_micros) continue;
              if (filter.journey_version != 0 &&
                  t.version != filter.journey_version) {
                continue;
              }
              const int r = role[t.touchpoint];
              if (r == kNeither) continue;
              if (r == kOutcome) {
                const int8_t answer = nps_outcome ? t.nps : t.csat;
                if (answer < 0) continue;
                // Touches come in (time, sequence) order: the last is the
                // latest answer.
                outcomes[customer()] = {t.at, 0, answer, true};
                continue;
              }
              if (!stage_ok[t.stage] || !channel_ok[t.channel]) continue;
              const int8_t scores[kScales] = {t.csat, t.nps, t.ces};
              for (int s = 0; s < kScales; ++s) {
                if (scores[s] < 0) continue;
                ratings.push_back({customer(), static_cast<int16_t>(r),
                                   static_cast<int8_t>(s), scores[s], t.at});
              }
            }
          }
          for (int32_t c = 0; c < static_cast<int32_t>(outcomes.size()); ++c) {
            if (outcomes[c].present) model_customers.push_back(c);
          }
          std::sort(model_customers.begin(), model_customers.end(),
                    [&](int32_t a, int32_t b) { return hash_rank[a] < hash_rank[b]; });
          as_of = view.as_of();
        }));
  } else {
    ScorecardQuery scan = filter;
    scan.touchpoints.clear();
    scan.stage.clear();
    scan.channel.clear();
    scan.attributes.clear();
    absl::flat_hash_map<std::string, int32_t> customer_ids;
    std::vector<std::string> customer_hashes;
    const auto customer_of = [&](const std::string& hash) {
      auto [it, added] = customer_ids.try_emplace(hash, static_cast<int32_t>(customer_hashes.size()));
      if (added) {
        customer_hashes.push_back(hash);
        outcomes.emplace_back();
      }
      return it->second;
    };
    POLKU_ASSIGN_OR_RETURN(
        as_of,
        ledger.ScanLedger(scan, [&](const CountedEvent& event) -> absl::Status {
          if (event.customer_hash.empty()) return absl::OkStatus();
          if (event.occurred_at_micros < start_micros ||
              event.occurred_at_micros >= end_micros) {
            return absl::OkStatus();
          }
          const std::string& recorded = std::get<3>(event.key);
          const auto successor = successors.find(recorded);
          const std::string& key =
              successor == successors.end() ? recorded : successor->second;
          if (key == outcome_touchpoint) {
            const std::optional<int>& answer = nps_outcome ? event.nps : event.csat;
            if (!answer) return absl::OkStatus();
            Outcome& o = outcomes[customer_of(event.customer_hash)];
            if (!o.present || event.occurred_at_micros > o.at ||
                (event.occurred_at_micros == o.at && event.sequence > o.sequence)) {
              o = {event.occurred_at_micros, event.sequence, *answer, true};
            }
            return absl::OkStatus();
          }
          const auto index = touchpoint_index.find(key);
          if (index == touchpoint_index.end()) return absl::OkStatus();
          if ((!filter.stage.empty() && std::get<4>(event.key) != filter.stage) ||
              (!filter.channel.empty() && std::get<5>(event.key) != filter.channel) ||
              !HasAttributes(event.attributes, filter.attributes)) {
            return absl::OkStatus();
          }
          const std::optional<int>* scores[kScales] = {&event.csat, &event.nps, &event.ces};
          for (int s = 0; s < kScales; ++s) {
            if (!*scores[s]) continue;
            const int32_t customer = customer_of(event.customer_hash);
            ratings.push_back({customer, static_cast<int16_t>(index->second),
                               static_cast<int8_t>(s),
                               static_cast<int8_t>(**scores[s]),
                               event.occurred_at_micros});
          }
          return absl::OkStatus();
        }));
    for (int32_t c = 0; c < static_cast<int32_t>(outcomes.size()); ++c) {
      if (outcomes[c].present) model_customers.push_back(c);
    }
    std::sort(model_customers.begin(), model_customers.end(),
              [&](int32_t a, int32_t b) { return customer_hashes[a] < customer_hashes[b]; });
  }

  // --- The drivers' definitions and scales.
  std::vector<DriverDef> drivers;
  std::vector<int> driver_of_touchpoint(touchpoints.size(), -1);
  if (level == v1::DRIVER_LEVEL_TOUCHPOINT) {
    std::vector<std::array<int64_t, kScales>> answers(touchpoints.size(), {0, 0, 0});
    for (const Rating& r : ratings) ++answers[r.touchpoint][r.scale];
    for (size_t t = 0; t < touchpoints.size(); ++t) {
      int scale = 0;
      for (int s = 1; s < kScales; ++s) {
        if (answers[t][s] > answers[t][scale]) scale = s;
      }
      driver_of_touchpoint[t] = static_cast<int>(drivers.size());
      drivers.push_back({touchpoints[t]->key(), touchpoints[t]->name(),
                         touchpoints[t]->stage(), touchpoints[t]->channel(),
                         touchpoints[t], scale});
    }
  } else {
    for (const v1::Stage& stage : journey.stages()) {
      int index = -1;
      for (size_t t = 0; t < touchpoints.size(); ++t) {
        if (touchpoints[t]->stage() != stage.key()) continue;
        if (index < 0) {
          index = static_cast<int>(drivers.size());
          drivers.push_back({stage.key(), stage.name(), "", "", nullptr, -1});
        }
        driver_of_touchpoint[t] = index;
      }
    }
  }
  const int driver_count = static_cast<int>(drivers.size());

  // --- Per customer with an outcome: each driver's mean rating before it.
  const int64_t customers = static_cast<int64_t>(model_customers.size());
  // Ratings grouped by customer (counting sort).
  std::vector<int64_t> first(outcomes.size() + 1, 0);
  for (const Rating& r : ratings) ++first[r.customer + 1];
  for (size_t c = 1; c < first.size(); ++c) first[c] += first[c - 1];
  std::vector<int64_t> order(ratings.size());
  {
    std::vector<int64_t> next(first.begin(), first.end() - 1);
    for (int64_t i = 0; i < static_cast<int64_t>(ratings.size()); ++i) {
      order[next[ratings[i].customer]++] = i;
    }
  }
  // Each customer's in (time, sequence) order (the ledger's are in sequence
  // order), so that their sums add up in the same order on both paths.
  for (size_t c = 0; c + 1 < first.size(); ++c) {
    const auto by_time = [&](int64_t a, int64_t b) { return ratings[a].at < ratings[b].at; };
    if (!std::is_sorted(order.begin() + first[c], order.begin() + first[c + 1], by_time)) {
      std::stable_sort(order.begin() + first[c], order.begin() + first[c + 1], by_time);
    }
  }
  // Customer rows: (driver, value) pairs, flattened.
  struct Entry {
    int driver;
    double value;
  };
  std::vector<int64_t> row_start(customers + 1, 0);
  std::vector<Entry> entries;
  std::vector<double> y(customers, 0);
  std::vector<Performance> performance(driver_count);
  std::vector<int64_t> raters(driver_count, 0);
  {
    std::vector<double> sum(driver_count, 0);
    std::vector<int> count(driver_count, 0);
    std::vector<int> touched;
    for (int64_t i = 0; i < customers; ++i) {
      const int32_t c = model_customers[i];
      const Outcome& o = outcomes[c];
      y[i] = o.value;
      touched.clear();
      for (int64_t k = first[c]; k < first[c + 1]; ++k) {
        const Rating& r = ratings[order[k]];
        if (r.at >= o.at) continue;  // after the answer: cannot have caused it
        const int d = driver_of_touchpoint[r.touchpoint];
        if (d < 0) continue;
        double value;
        if (drivers[d].scale >= 0) {
          if (r.scale != drivers[d].scale) continue;
          value = r.value;
        } else {
          value = Rescaled(static_cast<Scale>(r.scale), r.value);
        }
        if (count[d] == 0) touched.push_back(d);
        sum[d] += value;
        ++count[d];
        Performance& p = performance[d];
        ++p.counts[r.scale][r.value];
        ++p.ratings;
        p.sum += value;
        if (r.value >= kTopFrom[r.scale]) ++p.top;
      }
      std::sort(touched.begin(), touched.end());
      for (int d : touched) {
        entries.push_back({d, sum[d] / count[d]});
        ++raters[d];
        sum[d] = 0;
        count[d] = 0;
      }
      row_start[i + 1] = static_cast<int64_t>(entries.size());
    }
  }

  // --- The model: drivers with enough raters, one group each.
  std::vector<int> group_of_driver(driver_count, -1);
  std::vector<int> driver_of_group;
  for (int d = 0; d < driver_count; ++d) {
    if (raters[d] >= min_raters) {
      group_of_driver[d] = static_cast<int>(driver_of_group.size());
      driver_of_group.push_back(d);
    }
  }
  const int groups = static_cast<int>(driver_of_group.size());
  const int p = 2 * groups;
  const int q = p + 1;
  std::vector<double> rating_mean(groups, 0);
  double y_mean = 0;
  for (int64_t i = 0; i < customers; ++i) y_mean += y[i];
  if (customers > 0) y_mean /= customers;
  for (const Entry& e : entries) {
    if (group_of_driver[e.driver] >= 0) rating_mean[group_of_driver[e.driver]] += e.value;
  }
  for (int g = 0; g < groups; ++g) rating_mean[g] /= raters[driver_of_group[g]];

  // Block moments, and the co-rating sums for pairs of groups.
  const int blocks = static_cast<int>(std::max<int64_t>(
      1, std::min<int64_t>(customers, options.max_blocks)));
  std::vector<Moments> block(blocks, Moments(q));
  struct PairSums {
    int64_t n = 0;
    double a = 0, b = 0, aa = 0, bb = 0, ab = 0;
  };
  std::vector<PairSums> pairs(static_cast<size_t>(groups) * groups);
  int64_t complete_cases = 0;
  // With one customer per block, a replicate is summed from the customers'
  // few nonzero predictors rather than from full q×q blocks: kept here,
  // (column, value) per customer from sparse_start[i].
  const bool per_customer = blocks == customers;
  std::vector<std::pair<int, double>> sparse;
  std::vector<int64_t> sparse_start;
  {
    std::vector<std::pair<int, double>> nonzero;  // (column, value)
    std::vector<std::pair<int, double>> rated;    // (group, centred value)
    for (int64_t i = 0; i < customers; ++i) {
      Moments& m = block[i % blocks];
      nonzero.clear();
      rated.clear();
      for (int64_t k = row_start[i]; k < row_start[i + 1]; ++k) {
        const int g = group_of_driver[entries[k].driver];
        if (g < 0) continue;
        const double centred = entries[k].value - rating_mean[g];
        nonzero.push_back({2 * g, 1.0});
        nonzero.push_back({2 * g + 1, centred});
        rated.push_back({g, entries[k].value});
      }
      if (groups > 0 && static_cast<int>(rated.size()) == groups) ++complete_cases;
      nonzero.push_back({p, y[i] - y_mean});
      if (per_customer) {
        sparse_start.push_back(static_cast<int64_t>(sparse.size()));
        sparse.insert(sparse.end(), nonzero.begin(), nonzero.end());
      }
      m.n += 1;
      for (const auto& [a, va] : nonzero) {
        m.sum[a] += va;
        for (const auto& [b, vb] : nonzero) {
          m.cross[static_cast<size_t>(a) * q + b] += va * vb;
        }
      }
      for (const auto& [ga, va] : rated) {
        for (const auto& [gb, vb] : rated) {
          if (gb <= ga) continue;
          PairSums& s = pairs[static_cast<size_t>(ga) * groups + gb];
          ++s.n;
          s.a += va;
          s.b += vb;
          s.aa += va * va;
          s.bb += vb * vb;
          s.ab += va * vb;
        }
      }
    }
  }

  ImportanceOptions importance_options;
  importance_options.groups = groups;
  importance_options.seed = request.seed() == 0 ? 20240301 : request.seed();
  for (int g = 0; g < groups; ++g) {
    importance_options.group_of_column.push_back(g);
    importance_options.group_of_column.push_back(g);
    importance_options.coefficient_columns.push_back(2 * g + 1);
  }
  if (per_customer) sparse_start.push_back(static_cast<int64_t>(sparse.size()));
  const auto fit = [&](const std::vector<double>& weight, bool relative_weights,
                       int permutations) {
    Moments total(q);
    if (per_customer && !weight.empty()) {
      for (int64_t i = 0; i < customers; ++i) {
        const double w = weight[i];
        if (w == 0) continue;
        total.n += w;
        for (int64_t a = sparse_start[i]; a < sparse_start[i + 1]; ++a) {
          const auto& [ca, va] = sparse[a];
          total.sum[ca] += w * va;
          for (int64_t b = sparse_start[i]; b < sparse_start[i + 1]; ++b) {
            total.cross[static_cast<size_t>(ca) * q + sparse[b].first] += w * va * sparse[b].second;
          }
        }
      }
    }
    for (int b = 0; b < blocks && !(per_customer && !weight.empty()); ++b) {
      const double w = weight.empty() ? 1.0 : weight[b];
      if (w == 0) continue;
      total.n += w * block[b].n;
      for (int i = 0; i < q; ++i) total.sum[i] += w * block[b].sum[i];
      for (size_t i = 0; i < total.cross.size(); ++i) total.cross[i] += w * block[b].cross[i];
    }
    ImportanceOptions o = importance_options;
    o.permutations = permutations;
    Importance result = ComputeImportance(Centre(total), o);
    if (!relative_weights) result.relative_weight.clear();
    return result;
  };
  const Importance point = fit({}, true, 2000);

  // --- The bootstrap over customers (blocks of them).
  std::vector<Replicate> boot;
  if (groups > 0 && customers >= 2) {
    uint64_t state = importance_options.seed;
    std::vector<double> weight(blocks);
    boot.reserve(replicates);
    for (int r = 0; r < replicates; ++r) {
      std::fill(weight.begin(), weight.end(), 0);
      for (int b = 0; b < blocks; ++b) weight[NextRandom(state) % blocks] += 1;
      Importance rep = fit(weight, false, 200);
      boot.push_back({rep.r_squared, std::move(rep.lmg), std::move(rep.coefficients)});
    }
  }

  // --- The answer.
  v1::KeyDrivers out;
  out.set_journey(journey.key());
  out.set_outcome(outcome);
  out.set_outcome_touchpoint(outcome_touchpoint);
  out.set_outcome_scale(nps_outcome ? "NPS 0–10" : "CSAT 1–5");
  out.set_level(level);
  out.set_outcome_mean(y_mean);
  out.set_as_of_sequence(as_of);
  v1::DriverModel& model = *out.mutable_model();
  model.set_customers(customers);
  model.set_r_squared(point.r_squared);
  model.set_complete_cases(complete_cases);
  model.set_groups(groups);
  model.set_lmg_error_bound(point.lmg_error_bound);
  model.set_bootstrap_replicates(static_cast<int32_t>(boot.size()));
  model.set_min_raters(min_raters);
  model.set_method(absl::StrCat(
      "LMG (Shapley value of R²) over groups {rated, rated × (rating − mean)} "
      "per driver, ",
      groups <= kMaxExactGroups
          ? "exact over all subsets"
          : "estimated from 2000 random orderings (lmg_error_bound)",
      "; Johnson's relative weights beside it; ", boot.size(),
      " bootstrap replicates over customers", blocks < customers ? " (in blocks)" : "",
      "; ratings before the outcome answer only"));
  {
    std::vector<double> r2s;
    for (const Replicate& r : boot) r2s.push_back(r.r_squared);
    if (!r2s.empty()) *model.mutable_r_squared_ci95() = Percentiles(r2s);
  }
  const int64_t dof = customers - point.rank - 1;
  if (dof > 0 && customers > 1) {
    model.set_adjusted_r_squared(1 - (1 - point.r_squared) * (customers - 1) /
                                         static_cast<double>(dof));
  }

  // Warnings.
  if (!outcome_note.empty()) model.add_warnings(outcome_note);
  if (customers == 0) {
    model.add_warnings(absl::StrCat("no customer answered the outcome (",
                                    outcome_touchpoint, ") in the scope"));
  }
  if (groups == 0 && customers > 0) {
    model.add_warnings(absl::StrCat("no driver has ", min_raters,
                                    " raters: nothing is in the model"));
  }
  {
    std::vector<std::string> dependent;
    for (int column : point.dependent_columns) {
      const std::string& key = drivers[driver_of_group[column / 2]].key;
      if (dependent.empty() || dependent.back() != key) dependent.push_back(key);
    }
    if (!dependent.empty()) {
      model.add_warnings(absl::StrCat(
          "rank-deficient design: what ", absl::StrJoin(dependent, ", "),
          " add is already spanned by the drivers before them (for example "
          "alternatives in one stage of which every customer uses exactly "
          "one); R² and importances use what the drivers span, and effects "
          "the data cannot tell apart are left unset"));
    }
  }
  int64_t min_pair = -1;
  std::string min_pair_keys;
  for (int a = 0; a < groups; ++a) {
    for (int b = a + 1; b < groups; ++b) {
      const PairSums& s = pairs[static_cast<size_t>(a) * groups + b];
      const std::string& ka = drivers[driver_of_group[a]].key;
      const std::string& kb = drivers[driver_of_group[b]].key;
      if (min_pair < 0 || s.n < min_pair) {
        min_pair = s.n;
        min_pair_keys = absl::StrCat(ka, ",", kb);
      }
      if (s.n >= kMinPairForCorrelation) {
        const double va = s.aa - s.a * s.a / s.n;
        const double vb = s.bb - s.b * s.b / s.n;
        const double cov = s.ab - s.a * s.b / s.n;
        if (va > 0 && vb > 0) {
          const double r = cov / std::sqrt(va * vb);
          if (std::fabs(r) > kHighCorrelation) {
            model.add_warnings(absl::StrCat(
                "the ratings of ", ka, " and ", kb, " are correlated ", Fixed(r),
                " among the ", s.n,
                " customers who rated both: their importances are hard to "
                "tell apart"));
          }
        }
      }
    }
  }
  if (min_pair >= 0) {
    model.set_min_pair_raters(min_pair);
    model.set_min_pair(min_pair_keys);
  }
  {
    // Correlation of the rated indicators of two drivers above 0.8: they are
    // (almost) always rated together, or are alternatives.
    Moments total(q);
    for (int b = 0; b < blocks; ++b) {
      total.n += block[b].n;
      for (int i = 0; i < q; ++i) total.sum[i] += block[b].sum[i];
      for (size_t i = 0; i < total.cross.size(); ++i) total.cross[i] += block[b].cross[i];
    }
    const CrossProducts cp = Centre(total);
    if (cp.yy == 0 && customers > 1) {
      model.add_warnings("the outcome does not vary: nothing to explain");
    }
    for (int a = 0; a < groups; ++a) {
      for (int b = a + 1; b < groups; ++b) {
        const double va = cp.xx[static_cast<size_t>(2 * a) * p + 2 * a];
        const double vb = cp.xx[static_cast<size_t>(2 * b) * p + 2 * b];
        if (!(va > 1e-9 * customers) || !(vb > 1e-9 * customers)) continue;
        const double r = cp.xx[static_cast<size_t>(2 * a) * p + 2 * b] / std::sqrt(va * vb);
        if (std::fabs(r) > kHighCorrelation) {
          model.add_warnings(absl::StrCat(
              "whether a customer rated ", drivers[driver_of_group[a]].key,
              " and whether they rated ", drivers[driver_of_group[b]].key,
              " are correlated ", Fixed(r),
              r > 0 ? " (mostly rated together)" : " (alternatives)",
              ": their importances are hard to tell apart"));
        }
      }
    }
  }
  if (groups > kMaxExactGroups) {
    model.add_warnings(absl::StrCat(
        groups, " drivers: LMG is estimated from random orderings (exact up to ",
        kMaxExactGroups, "), each share within ±",
        Fixed(point.lmg_error_bound, 6), " (95 %)"));
  }

  // Per driver.
  std::vector<v1::Driver> in_model(groups);
  std::vector<v1::Driver> insufficient;
  std::vector<int> rank(groups);
  {
    std::vector<int> by_importance(groups);
    for (int g = 0; g < groups; ++g) by_importance[g] = g;
    std::stable_sort(by_importance.begin(), by_importance.end(),
                     [&](int a, int b) { return point.lmg[a] > point.lmg[b]; });
    for (int i = 0; i < groups; ++i) rank[by_importance[i]] = i + 1;
  }
  std::vector<std::vector<double>> boot_ranks(groups);
  for (const Replicate& rep : boot) {
    std::vector<int> by_importance(groups);
    for (int g = 0; g < groups; ++g) by_importance[g] = g;
    std::stable_sort(by_importance.begin(), by_importance.end(),
                     [&](int a, int b) { return rep.lmg[a] > rep.lmg[b]; });
    for (int i = 0; i < groups; ++i) boot_ranks[by_importance[i]].push_back(i + 1);
  }
  double importance_sum = 0, performance_sum = 0;
  for (int d = 0; d < driver_count; ++d) {
    const DriverDef& def = drivers[d];
    v1::Driver driver;
    driver.set_key(def.key);
    driver.set_name(def.name);
    driver.set_stage(def.stage);
    driver.set_channel(def.channel);
    driver.set_raters(raters[d]);
    driver.set_scale(def.scale >= 0 ? kScaleNames[def.scale] : "SCALED_0_100");
    const Performance& perf = performance[d];
    driver.set_ratings(perf.ratings);
    if (perf.ratings > 0) {
      driver.set_mean(perf.sum / perf.ratings);
      driver.set_top2_box(static_cast<double>(perf.top) / perf.ratings);
      *driver.mutable_top2_box_ci95() = Of(stats::Wilson(perf.top, perf.ratings));
    }
    const int g = group_of_driver[d];
    if (g < 0) {
      driver.set_status(v1::INSUFFICIENT);
      driver.set_note(absl::StrCat("INSUFFICIENT: ", raters[d],
                                   " raters, at least ", min_raters, " needed"));
      insufficient.push_back(std::move(driver));
      continue;
    }
    driver.set_status(v1::DRIVER_OK);
    const double importance = point.lmg[g];
    driver.set_importance(importance);
    driver.set_importance_percent(point.r_squared > 0 ? 100 * importance / point.r_squared : 0);
    driver.set_relative_weight(point.relative_weight[g]);
    driver.set_rank(rank[g]);
    if (point.coefficients[g]) driver.set_effect(*point.coefficients[g]);
    std::vector<double> lmgs, percents, effects;
    for (const Replicate& rep : boot) {
      lmgs.push_back(rep.lmg[g]);
      percents.push_back(rep.r_squared > 0 ? 100 * rep.lmg[g] / rep.r_squared : 0);
      if (rep.effect[g]) effects.push_back(*rep.effect[g]);
    }
    if (!boot.empty()) {
      *driver.mutable_importance_ci95() = Percentiles(lmgs);
      *driver.mutable_importance_percent_ci95() = Percentiles(percents);
      v1::Interval ranks = Percentiles(boot_ranks[g]);
      driver.set_rank_low(static_cast<int32_t>(std::floor(ranks.low())));
      driver.set_rank_high(static_cast<int32_t>(std::ceil(ranks.high())));
      if (driver.has_effect() && effects.size() * 2 >= boot.size()) {
        *driver.mutable_effect_ci95() = Percentiles(effects);
      }
    } else {
      driver.set_rank_low(rank[g]);
      driver.set_rank_high(rank[g]);
    }
    importance_sum += driver.importance_percent();
    performance_sum += driver.top2_box();

    // Opportunity: reaching the target on the driver's own scale.
    if (def.touchpoint != nullptr && def.touchpoint->has_target() &&
        driver.has_effect()) {
      const v1::Target& target = def.touchpoint->target();
      const auto& counts = perf.counts[def.scale];
      int64_t n = 0, top = 0, detractors = 0;
      double sum = 0, top_sum = 0;
      for (int v = kLow[def.scale]; v <= kHigh[def.scale]; ++v) {
        n += counts[v];
        sum += static_cast<double>(counts[v]) * v;
        if (v >= kTopFrom[def.scale]) {
          top += counts[v];
          top_sum += static_cast<double>(counts[v]) * v;
        }
        if (def.scale == kNps && v <= 6) detractors += counts[v];
      }
      const int64_t rest = n - top;
      // Each rater moved from the non-top mean to the top mean raises the
      // mean rating by this much / n.
      const double top_mean = top > 0 ? top_sum / top : (kTopFrom[def.scale] + kHigh[def.scale]) / 2.0;
      const double rest_mean = rest > 0 ? (sum - top_sum) / rest : top_mean;
      std::optional<double> current, goal;
      std::string metric;
      double rating_change = 0;
      if (n > 0 && def.scale == kCsat && target.has_csat_top2_box()) {
        metric = "CSAT_TOP2_BOX";
        current = static_cast<double>(top) / n;
        goal = target.csat_top2_box();
        if (*goal > *current) rating_change = (*goal - *current) * (top_mean - rest_mean);
      } else if (n > 0 && def.scale == kNps && target.has_nps()) {
        metric = "NPS";
        current = 100.0 * (top - detractors) / n;
        goal = target.nps();
        if (*goal > *current && rest > 0) {
          // Moving a share s of raters from the non-promoters (their mix of
          // detractors and passives) to promoters raises NPS by
          // 100·s·(1 + detractors/non-promoters).
          const double per_share = 100.0 * (1 + static_cast<double>(detractors) / rest);
          const double share = std::min((*goal - *current) / per_share,
                                        static_cast<double>(rest) / n);
          rating_change = share * (top_mean - rest_mean);
        }
      } else if (n > 0 && def.scale == kCes && target.has_ces_mean()) {
        metric = "CES_MEAN";
        current = sum / n;
        goal = target.ces_mean();
        if (*goal > *current) rating_change = *goal - *current;
      }
      if (current) {
        v1::Opportunity& o = *driver.mutable_opportunity();
        o.set_metric(metric);
        o.set_current(*current);
        o.set_target(*goal);
        o.set_target_met(*current >= *goal);
        o.set_rating_change(rating_change);
        const double reach = customers > 0 ? static_cast<double>(raters[d]) / customers : 0;
        o.set_outcome_change(driver.effect() * rating_change * reach);
        if (driver.has_effect_ci95()) {
          const double lo = driver.effect_ci95().low() * rating_change * reach;
          const double hi = driver.effect_ci95().high() * rating_change * reach;
          o.mutable_outcome_change_ci95()->set_low(std::min(lo, hi));
          o.mutable_outcome_change_ci95()->set_high(std::max(lo, hi));
        }
      }
    }
    in_model[g] = std::move(driver);
  }
  if (groups > 0) {
    model.set_importance_crosshair(importance_sum / groups);
    model.set_performance_crosshair(performance_sum / groups);
  }
  for (v1::Driver& driver : in_model) {
    const bool important = driver.importance_percent() >= model.importance_crosshair();
    const bool performing = driver.top2_box() >= model.performance_crosshair();
    driver.set_critical(important);
    driver.set_quadrant(important ? (performing ? v1::KEEP_UP_THE_GOOD_WORK : v1::CONCENTRATE_HERE)
                                  : (performing ? v1::POSSIBLE_OVERKILL : v1::LOW_PRIORITY));
  }
  std::stable_sort(in_model.begin(), in_model.end(),
                   [](const v1::Driver& a, const v1::Driver& b) { return a.rank() < b.rank(); });
  std::stable_sort(insufficient.begin(), insufficient.end(),
                   [](const v1::Driver& a, const v1::Driver& b) { return a.raters() > b.raters(); });
  for (v1::Driver& driver : in_model) *out.add_drivers() = std::move(driver);
  for (v1::Driver& driver : insufficient) *out.add_drivers() = std::move(driver);
  return out;
}

}  // namespace polku::insight
