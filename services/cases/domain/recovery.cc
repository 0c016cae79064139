#include "services/cases/domain/recovery.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "lib/stats/significance.h"

namespace polku::cases {
namespace {

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

struct Group {
  int64_t n = 0;
  double sum = 0;
  std::vector<double> values;
  double mean() const { return n == 0 ? 0 : sum / static_cast<double>(n); }
  double variance() const {
    if (n < 2) return 0;
    const double m = mean();
    double ss = 0;
    for (double v : values) ss += (v - m) * (v - m);
    return ss / static_cast<double>(n - 1);
  }
};

}  // namespace

std::optional<RecoverySubject> SubjectOf(const v1::Case& c,
                                         const std::string& customer_hash) {
  if (c.rule_id().empty() || customer_hash.empty()) return std::nullopt;
  const v1::CaseSlaStatus& sla = c.sla();
  if (sla.has_first_contact_time()) {
    if (!sla.has_resolution_time()) return std::nullopt;
    return RecoverySubject{.customer_hash = customer_hash,
                           .resolved = true,
                           .anchor = TimeOf(sla.resolution_time()),
                           .journey = c.event().journey()};
  }
  return RecoverySubject{.customer_hash = customer_hash,
                         .resolved = false,
                         .anchor = TimeOf(c.create_time()),
                         .journey = c.event().journey()};
}

RecoveryEstimate EstimateRecovery(const std::vector<RecoverySubject>& subjects,
                                  const std::vector<LaterAnswer>& answers,
                                  absl::Duration window) {
  // Per (journey, customer): the group and anchor that count.
  using Key = std::pair<std::string, std::string>;
  std::map<Key, RecoverySubject> customers;
  for (const RecoverySubject& s : subjects) {
    auto [it, inserted] = customers.emplace(Key(s.journey, s.customer_hash), s);
    if (inserted) continue;
    RecoverySubject& kept = it->second;
    if (s.resolved != kept.resolved) {
      if (s.resolved) kept = s;  // a resolved case outweighs the others
    } else if (s.anchor < kept.anchor) {
      kept.anchor = s.anchor;
    }
  }
  // Per (journey, customer): their first answer there in
  // (anchor, anchor + window].
  std::map<Key, const LaterAnswer*> first;
  for (const LaterAnswer& a : answers) {
    auto c = customers.find(Key(a.journey, a.customer_hash));
    if (c == customers.end()) continue;
    if (a.occurred_at <= c->second.anchor ||
        a.occurred_at > c->second.anchor + window) {
      continue;
    }
    const LaterAnswer*& best = first[c->first];
    if (best == nullptr || a.occurred_at < best->occurred_at) best = &a;
  }
  Group resolved, not_contacted;
  for (const auto& [key, answer] : first) {
    Group& g = customers.at(key).resolved ? resolved : not_contacted;
    ++g.n;
    g.sum += answer->score;
    g.values.push_back(answer->score);
  }
  RecoveryEstimate out;
  out.n_resolved = resolved.n;
  out.n_not_contacted = not_contacted.n;
  out.mean_resolved = resolved.mean();
  out.mean_not_contacted = not_contacted.mean();
  if (resolved.n == 0 || not_contacted.n == 0) return out;
  out.difference = out.mean_resolved - out.mean_not_contacted;
  if (resolved.n < 2 || not_contacted.n < 2) return out;
  const double a = resolved.variance() / static_cast<double>(resolved.n);
  const double b =
      not_contacted.variance() / static_cast<double>(not_contacted.n);
  const double se = std::sqrt(a + b);
  if (!(se > 0)) return out;
  const double df =
      (a + b) * (a + b) /
      (a * a / static_cast<double>(resolved.n - 1) +
       b * b / static_cast<double>(not_contacted.n - 1));
  const double t = StudentTQuantile(0.975, df);
  out.has_interval = true;
  out.low = out.difference - t * se;
  out.high = out.difference + t * se;
  return out;
}

double StudentTQuantile(double q, double degrees_of_freedom) {
  // The distribution function is increasing: bisect on [−1e4, 1e4], which
  // holds the 0.1 %–99.9 % quantiles for any ν ≥ 0.1; 200 halvings reach
  // double precision.
  double lo = -1e4, hi = 1e4;
  for (int i = 0; i < 200 && hi - lo > 1e-12; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (stats::StudentTCdf(mid, degrees_of_freedom) < q) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

}  // namespace polku::cases
