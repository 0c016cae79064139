// An in-memory RollupStore for tests of the service side: it keeps the fed
// events and answers every query by scanning them, so its numbers are right
// by construction (filters, day grouping, measures, attributes) and tests do
// not depend on the SQLite schema.
//
//   FakeRollupStore store;
//   store.Add(MakeEvent({.sequence = 1, .csat = 5}));
//   GroupedRollups rollups = *store.Scorecard({.tenant = "acme", …});
#ifndef POLKU_SERVICES_INSIGHT_FAKE_ROLLUP_STORE_H_
#define POLKU_SERVICES_INSIGHT_FAKE_ROLLUP_STORE_H_

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "services/insight/rollup_store.h"

namespace polku::insight::testing {

class FakeRollupStore : public RollupStore {
 public:
  // Counts one event (as Apply would), whatever its sequence.
  void Add(const v1::StoredEvent& event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
    checkpoint_ = std::max(checkpoint_, event.sequence());
  }

  absl::Status Apply(const google::protobuf::RepeatedPtrField<v1::StoredEvent>&
                         events) override {
    absl::MutexLock lock(&mu_);
    for (const v1::StoredEvent& event : events) {
      if (event.sequence() <= checkpoint_) continue;
      events_.push_back(event);
      checkpoint_ = event.sequence();
    }
    return absl::OkStatus();
  }

  absl::Status ApplyErasure(const v1::Erasure& erasure) override {
    absl::MutexLock lock(&mu_);
    if (erasure.sequence() <= checkpoint_) return absl::OkStatus();
    events_.erase(
        std::remove_if(events_.begin(), events_.end(),
                       [&](const v1::StoredEvent& event) {
                         return event.tenant() == erasure.tenant() &&
                                event.customer_hash() == erasure.customer_hash();
                       }),
        events_.end());
    checkpoint_ = erasure.sequence();
    return absl::OkStatus();
  }

  absl::Status CheckFeed(const std::string&) override {
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Checkpoint() override {
    absl::MutexLock lock(&mu_);
    return checkpoint_;
  }

  absl::StatusOr<GroupedRollups> Scorecard(
      const ScorecardQuery& query) override {
    absl::MutexLock lock(&mu_);
    ++queries_;
    std::map<std::string, GroupRollup> groups;
    for (const v1::StoredEvent& stored : events_) {
      const v1::TouchpointEvent& event = stored.event();
      const Day day =
          DayOf(absl::FromUnixSeconds(event.occurred_at().seconds()));
      if (stored.tenant() != query.tenant ||
          stored.journey() != query.journey ||
          (query.journey_version != 0 &&
           stored.journey_version() != query.journey_version) ||
          day < query.start_day || day >= query.end_day ||
          (!query.touchpoints.empty() &&
           std::find(query.touchpoints.begin(), query.touchpoints.end(),
                     event.touchpoint()) == query.touchpoints.end()) ||
          (!query.stage.empty() && stored.stage() != query.stage) ||
          (!query.channel.empty() && stored.channel() != query.channel)) {
        continue;
      }
      bool attributes_match = true;
      for (const auto& [name, value] : query.attributes) {
        auto found = event.attributes().find(name);
        if (found == event.attributes().end() || found->second != value) {
          attributes_match = false;
        }
      }
      if (!attributes_match) continue;

      std::string key;
      switch (query.group_by) {
        case Grouping::kTouchpoint:
          key = event.touchpoint();
          break;
        case Grouping::kStage:
          key = stored.stage();
          break;
        case Grouping::kChannel:
          key = stored.channel();
          break;
        case Grouping::kDay:
          key = absl::FormatCivilTime(absl::CivilDay(1970, 1, 1) + day);
          break;
      }
      GroupRollup& group = groups[key];
      group.group = key;
      if (query.group_by == Grouping::kDay) group.day = day;
      ++group.events;
      if (event.has_csat()) ++group.csat[event.csat() - 1];
      if (event.has_nps()) ++group.nps[event.nps()];
      if (event.has_ces()) ++group.ces[event.ces() - 1];
      for (const auto& [name, value] : event.measures()) {
        const int64_t milli = std::llround(value * 1000);
        MeasureSum& sum = group.measures[name];
        ++sum.n;
        sum.sum_milli += milli;
        sum.sum_squares_milli2 += static_cast<__int128>(milli) * milli;
      }
    }
    GroupedRollups result;
    for (auto& [key, group] : groups) result.groups.push_back(std::move(group));
    result.as_of_sequence = checkpoint_;
    return result;
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  JourneysWithEvents() override {
    absl::MutexLock lock(&mu_);
    std::set<std::pair<std::string, std::string>> journeys;
    for (const v1::StoredEvent& event : events_) {
      journeys.emplace(event.tenant(), event.journey());
    }
    return std::vector<std::pair<std::string, std::string>>(journeys.begin(),
                                                            journeys.end());
  }

  absl::Status SaveAlerts(const std::string& tenant,
                          const std::vector<v1::Alert>& alerts) override {
    absl::MutexLock lock(&mu_);
    ++saves_;
    for (const v1::Alert& alert : alerts) alerts_[{tenant, alert.id()}] = alert;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<v1::Alert>> LoadAlerts(
      const std::string& tenant, const std::string& journey,
      bool include_cleared) override {
    absl::MutexLock lock(&mu_);
    std::vector<v1::Alert> result;
    for (const auto& [key, alert] : alerts_) {
      if (key.first != tenant) continue;
      if (!journey.empty() && alert.journey() != journey) continue;
      if (!include_cleared && alert.state() != v1::OPEN) continue;
      result.push_back(alert);
    }
    std::stable_sort(result.begin(), result.end(),
                     [](const v1::Alert& a, const v1::Alert& b) {
                       return std::make_pair(a.first_seen().seconds(),
                                             a.first_seen().nanos()) >
                              std::make_pair(b.first_seen().seconds(),
                                             b.first_seen().nanos());
                     });
    return result;
  }

  // Scorecard calls so far.
  int queries() const {
    absl::MutexLock lock(&mu_);
    return queries_;
  }
  // SaveAlerts calls so far.
  int saves() const {
    absl::MutexLock lock(&mu_);
    return saves_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::StoredEvent> events_ ABSL_GUARDED_BY(mu_);
  int64_t checkpoint_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::pair<std::string, std::string>, v1::Alert> alerts_
      ABSL_GUARDED_BY(mu_);
  int queries_ ABSL_GUARDED_BY(mu_) = 0;
  int saves_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace polku::insight::testing

#endif  // POLKU_SERVICES_INSIGHT_FAKE_ROLLUP_STORE_H_
