#include "services/insight/analytics/touch_index.h"

#include <algorithm>
#include <iterator>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace polku::insight {
namespace {

// Reads of the ledger and the rollups before the two agree: each round
// reads what arrived in between, so this is only reached under a flood.
constexpr int kRounds = 8;

}  // namespace

int32_t TouchIndex::Intern(absl::flat_hash_map<std::string, int32_t>& index,
                           std::vector<std::string>& names,
                           const std::string& key) {
  auto [it, added] = index.emplace(key, static_cast<int32_t>(names.size()));
  if (added) names.push_back(key);
  return it->second;
}

void TouchIndex::Clear(Journey& journey) {
  int64_t held = 0;
  for (const auto& touches : journey.customers) held += touches.size();
  events_ -= held;
  journey.as_of = 0;
  journey.agreed = false;
  journey.counted = 0;
  journey.names = TouchNames();
  journey.stage_index.clear();
  journey.channel_index.clear();
  journey.touchpoint_index.clear();
  journey.customer_index.clear();
  journey.customers.clear();
  journey.hash_rank.clear();
}

void TouchIndex::RankByHash(Journey& journey) {
  std::vector<const std::string*> hash_of(journey.customers.size(), nullptr);
  for (const auto& [hash, customer] : journey.customer_index) {
    hash_of[customer] = &hash;
  }
  std::vector<uint32_t> order(hash_of.size());
  for (uint32_t c = 0; c < order.size(); ++c) order[c] = c;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return *hash_of[a] < *hash_of[b]; });
  journey.hash_rank.assign(order.size(), 0);
  for (uint32_t i = 0; i < order.size(); ++i) journey.hash_rank[order[i]] = i;
}

TouchIndex::Journey& TouchIndex::JourneyOf(const std::string& tenant,
                                           const std::string& key) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Journey>& slot = journeys_[{tenant, key}];
  if (slot == nullptr) slot = std::make_unique<Journey>();
  return *slot;
}

absl::StatusOr<int64_t> TouchIndex::ReadAfter(const std::string& tenant,
                                              const std::string& key,
                                              Journey& journey,
                                              const std::atomic<bool>* stop) {
  ScorecardQuery query;
  query.tenant = tenant;
  query.journey = key;
  query.after_sequence = journey.as_of;
  query.fields.pairs = false;  // customers, times and scores only
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
  TouchNames* names = &journey.names;
  auto* stage_index = &journey.stage_index;
  auto* channel_index = &journey.channel_index;
  auto* touchpoint_index = &journey.touchpoint_index;
  auto* customer_index = &journey.customer_index;
  std::vector<std::vector<Touch>>* customers = &journey.customers;
  // A scan ended early leaves customers numbered but without the new
  // touches, and as_of where it was: the next read finds them again.
  POLKU_ASSIGN_OR_RETURN(
      const int64_t as_of,
      ledger_.ScanLedger(query, [&](const CountedEvent& event) -> absl::Status {
        if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
          return absl::CancelledError("the touch index's load was stopped");
        }
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
    // What is new has greater sequences: at equal times it comes after
    // (std::merge takes the first range's element first on ties).
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

absl::StatusOr<std::pair<int64_t, int64_t>> TouchIndex::CountedInRollups(
    const std::string& tenant, const std::string& key) {
  ScorecardQuery count;
  count.tenant = tenant;
  count.journey = key;
  count.group_by = Grouping::kStage;
  POLKU_ASSIGN_OR_RETURN(const GroupedRollups rollups,
                         rollups_.Scorecard(count));
  int64_t events = 0;
  for (const GroupRollup& group : rollups.groups) events += group.events;
  return std::make_pair(events, rollups.as_of_sequence);
}

absl::StatusOr<int64_t> TouchIndex::CatchUp(const std::string& tenant,
                                            const std::string& key,
                                            Journey& journey,
                                            const std::atomic<bool>* stop) {
  journey.agreed = false;
  if (journey.as_of < 0) Clear(journey);
  for (int round = 0; round < kRounds; ++round) {
    POLKU_ASSIGN_OR_RETURN(const int64_t read,
                           ReadAfter(tenant, key, journey, stop));
    journey.as_of = std::max(journey.as_of, read);
    POLKU_ASSIGN_OR_RETURN(const auto counted, CountedInRollups(tenant, key));
    if (counted.second != journey.as_of) continue;  // moved on
    if (counted.first == journey.counted) {
      // Only new customers change the order (customers are only added).
      if (journey.hash_rank.size() != journey.customers.size()) {
        RankByHash(journey);
      }
      journey.agreed = true;
      return journey.as_of;
    }
    // Fewer events than read: an erasure took some. Read it all again.
    Clear(journey);
  }
  return absl::UnavailableError(
      absl::StrCat("the touch index of journey ", key,
                   " could not catch up with the ledger; try again"));
}

absl::StatusOr<std::optional<int64_t>> TouchIndex::Check(
    const std::string& tenant, const std::string& key, const Journey& journey) {
  ScorecardQuery query;
  query.tenant = tenant;
  query.journey = key;
  query.after_sequence = journey.as_of;
  query.fields = {.details = false, .customer = false, .pairs = false};
  bool gained = false;
  const absl::StatusOr<int64_t> scanned =
      ledger_.ScanLedger(query, [&](const CountedEvent&) {
        gained = true;
        return absl::CancelledError("the ledger gained events");
      });
  if (gained) return std::nullopt;
  if (!scanned.ok()) return scanned.status();
  POLKU_ASSIGN_OR_RETURN(const auto counted, CountedInRollups(tenant, key));
  if (counted.second != *scanned || counted.first != journey.counted) {
    return std::nullopt;
  }
  return *scanned;
}

absl::Status TouchIndex::Read(
    const std::string& tenant, const std::string& key,
    absl::FunctionRef<void(const TouchView& view)> read) {
  Journey& journey = JourneyOf(tenant, key);
  // The checkpoint this call brought the journey up to, once it had to.
  int64_t caught_up = -1;
  for (int round = 0; round < kRounds; ++round) {
    {
      // Most calls find nothing new: checked and read under the shared
      // lock, side by side with other reads of the journey.
      absl::ReaderMutexLock lock(&journey.mu);
      if (journey.agreed) {
        std::optional<int64_t> as_of;
        if (caught_up >= 0 && journey.as_of >= caught_up) {
          as_of = journey.as_of;  // brought up to date during this call
        } else {
          POLKU_ASSIGN_OR_RETURN(as_of, Check(tenant, key, journey));
        }
        if (as_of) {
          read(TouchView(&journey.names, &journey.customers,
                         &journey.hash_rank, *as_of));
          return absl::OkStatus();
        }
      }
    }
    absl::WriterMutexLock lock(&journey.mu);
    POLKU_ASSIGN_OR_RETURN(caught_up, CatchUp(tenant, key, journey, nullptr));
  }
  return absl::UnavailableError(
      absl::StrCat("the touch index of journey ", key,
                   " could not catch up with the ledger; try again"));
}

absl::Status TouchIndex::Load(const std::string& tenant,
                              const std::string& key,
                              const std::atomic<bool>* stop) {
  Journey& journey = JourneyOf(tenant, key);
  absl::WriterMutexLock lock(&journey.mu);
  return CatchUp(tenant, key, journey, stop).status();
}

int64_t TouchIndex::events() const { return events_.load(); }

}  // namespace polku::insight
