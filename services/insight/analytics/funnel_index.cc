#include "services/insight/analytics/funnel_index.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace polku::insight {
namespace {

// Reads of the ledger and the rollups before the two agree: each round
// reads what arrived in between, so this is only reached under a flood.
constexpr int kRounds = 8;

}  // namespace

// The journey's touches as one call selects them. Built and used while the
// journey's lock is held (Use).
class FunnelIndex::Source final : public FunnelSource {
 public:
  Source(const Journey& journey, const FunnelIndexQuery& query)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(journey.mu)
      : customers_(&journey.customers), query_(query) {
    names_ = journey.names;
    names_.groups.clear();
    channel_ = -1;
    if (!query.channel.empty()) {
      auto found = journey.channel_index.find(query.channel);
      channel_ = found == journey.channel_index.end() ? -2 : found->second;
    }
    switch (query.group_by) {
      case GroupBy::kEntryChannel:
        names_.groups = names_.channels;
        break;
      case GroupBy::kJourneyVersion: {
        std::set<int16_t> versions;
        for (const auto& touches : journey.customers) {
          for (const Touch& t : touches) versions.insert(t.version);
        }
        version_group_.assign(versions.empty() ? 1 : *versions.rbegin() + 1, 0);
        for (int16_t v : versions) {
          version_group_[v] = static_cast<int32_t>(names_.groups.size());
          names_.groups.push_back(absl::StrCat(v));
        }
        break;
      }
      default:
        names_.groups = {""};
        break;
    }
  }

  const FunnelNames& Names() const override { return names_; }
  size_t customers() const override { return customers_->size(); }
  void Touches(size_t c, std::vector<FunnelTouch>& out) const override {
    out.clear();
    for (const Touch& t : (*customers_)[c]) {
      if (t.at < query_.start || t.at >= query_.end) continue;
      if (channel_ != -1 && t.channel != channel_) continue;
      if (query_.journey_version != 0 && t.version != query_.journey_version) {
        continue;
      }
      FunnelTouch touch;
      touch.at = t.at;
      touch.stage = t.stage;
      touch.channel = t.channel;
      touch.touchpoint = t.touchpoint;
      touch.rated = t.rated;
      touch.csat = t.csat;
      touch.nps = t.nps;
      touch.ces = t.ces;
      if (query_.group_by == GroupBy::kEntryChannel) touch.group = t.channel;
      if (query_.group_by == GroupBy::kJourneyVersion) {
        touch.group = version_group_[t.version];
      }
      out.push_back(touch);
    }
  }

 private:
  const std::vector<std::vector<Touch>>* customers_;
  const FunnelIndexQuery query_;
  FunnelNames names_;
  int32_t channel_ = -1;
  std::vector<int32_t> version_group_;
};

int32_t FunnelIndex::Intern(absl::flat_hash_map<std::string, int32_t>& index,
                            std::vector<std::string>& names,
                            const std::string& key) {
  auto [it, added] = index.emplace(key, static_cast<int32_t>(names.size()));
  if (added) names.push_back(key);
  return it->second;
}

void FunnelIndex::Clear(Journey& journey) {
  journey.as_of = 0;
  journey.counted = 0;
  journey.names = FunnelNames();
  journey.stage_index.clear();
  journey.channel_index.clear();
  journey.touchpoint_index.clear();
  journey.customer_index.clear();
  journey.customers.clear();
}

absl::StatusOr<int64_t> FunnelIndex::ReadAfter(const std::string& tenant,
                                               const std::string& key,
                                               Journey& journey) {
  ScorecardQuery query;
  query.tenant = tenant;
  query.journey = key;
  query.after_sequence = journey.as_of;
  // (customer, touch, sequence) of what is new, merged in afterwards.
  struct New {
    uint32_t customer;
    int64_t sequence;
    Touch touch;
  };
  std::vector<New> fresh;
  int64_t counted = 0;
  // Taken under the lock: the scan's callback (a function of its own to
  // the thread-safety analysis) uses them.
  FunnelNames* names = &journey.names;
  auto* stage_index = &journey.stage_index;
  auto* channel_index = &journey.channel_index;
  auto* touchpoint_index = &journey.touchpoint_index;
  auto* customer_index = &journey.customer_index;
  std::vector<std::vector<Touch>>* customers = &journey.customers;
  POLKU_ASSIGN_OR_RETURN(
      const int64_t as_of,
      ledger_.ScanLedger(query, [&](const CountedEvent& event) -> absl::Status {
        ++counted;
        if (event.customer_hash.empty()) return absl::OkStatus();
        const int32_t version = std::get<2>(event.key);
        Touch touch;
        touch.at = event.occurred_at_micros;
        touch.stage = static_cast<int16_t>(
            Intern(*stage_index, names->stages, std::get<4>(event.key)));
        touch.channel = static_cast<int16_t>(
            Intern(*channel_index, names->channels, std::get<5>(event.key)));
        touch.touchpoint = Intern(*touchpoint_index, names->touchpoints,
                                  std::get<3>(event.key));
        touch.version = static_cast<int16_t>(version);
        touch.rated = event.csat || event.nps || event.ces;
        if (event.csat) touch.csat = static_cast<int8_t>(*event.csat);
        if (event.nps) touch.nps = static_cast<int8_t>(*event.nps);
        if (event.ces) touch.ces = static_cast<int8_t>(*event.ces);
        auto [it, added] = customer_index->emplace(
            event.customer_hash, static_cast<uint32_t>(customers->size()));
        if (added) customers->emplace_back();
        fresh.push_back({it->second, event.sequence, touch});
        return absl::OkStatus();
      }));
  std::sort(fresh.begin(), fresh.end(), [](const New& a, const New& b) {
    if (a.customer != b.customer) return a.customer < b.customer;
    if (a.touch.at != b.touch.at) return a.touch.at < b.touch.at;
    return a.sequence < b.sequence;
  });
  const auto by_time = [](const Touch& a, const Touch& b) { return a.at < b.at; };
  std::vector<Touch> added, merged;
  for (size_t i = 0; i < fresh.size();) {
    const uint32_t customer = fresh[i].customer;
    added.clear();
    for (; i < fresh.size() && fresh[i].customer == customer; ++i) {
      added.push_back(fresh[i].touch);
    }
    std::vector<Touch>& touches = journey.customers[customer];
    // What is new has greater sequences: at equal times it comes after.
    if (touches.empty() || !by_time(added.front(), touches.back())) {
      touches.insert(touches.end(), added.begin(), added.end());
    } else {
      merged.clear();
      std::merge(touches.begin(), touches.end(), added.begin(), added.end(),
                 std::back_inserter(merged), by_time);
      touches.swap(merged);
    }
  }
  journey.counted += counted;
  events_ += static_cast<int64_t>(fresh.size());
  return as_of;
}

absl::Status FunnelIndex::Use(
    const std::string& tenant, const v1::Journey& definition,
    const FunnelIndexQuery& query,
    absl::FunctionRef<void(const FunnelSource& source, int64_t as_of)> use) {
  Journey* journey = nullptr;
  {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<Journey>& slot = journeys_[{tenant, definition.key()}];
    if (slot == nullptr) slot = std::make_unique<Journey>();
    journey = slot.get();
  }
  absl::MutexLock lock(&journey->mu);
  if (journey->as_of < 0) Clear(*journey);
  bool agreed = false;
  for (int round = 0; round < kRounds && !agreed; ++round) {
    POLKU_ASSIGN_OR_RETURN(const int64_t read,
                           ReadAfter(tenant, definition.key(), *journey));
    journey->as_of = std::max(journey->as_of, read);
    ScorecardQuery count;
    count.tenant = tenant;
    count.journey = definition.key();
    count.group_by = Grouping::kStage;
    POLKU_ASSIGN_OR_RETURN(const GroupedRollups rollups,
                           rollups_.Scorecard(count));
    if (rollups.as_of_sequence != journey->as_of) continue;  // moved on
    int64_t events = 0;
    for (const GroupRollup& group : rollups.groups) events += group.events;
    if (events == journey->counted) {
      agreed = true;
    } else {
      // Fewer events than read: an erasure took some. Read it all again.
      int64_t held = 0;
      for (const auto& touches : journey->customers) held += touches.size();
      events_ -= held;
      Clear(*journey);
    }
  }
  if (!agreed) {
    return absl::UnavailableError(absl::StrCat(
        "the funnel index of journey ", definition.key(),
        " could not catch up with the ledger; try again"));
  }
  for (const v1::Stage& stage : definition.stages()) {
    Intern(journey->stage_index, journey->names.stages, stage.key());
  }
  const Source source(*journey, query);
  use(source, journey->as_of);
  return absl::OkStatus();
}

int64_t FunnelIndex::events() const { return events_.load(); }

}  // namespace polku::insight
