#include "services/journey/journey_watch.h"

#include <utility>

#include "lib/base/log.h"
#include "lib/rpc/status.h"
#include "lib/rpc/push_stream.h"

namespace polku::journey {

using ::polku::v1::PublishedJourney;
using ::polku::v1::WatchJourneysResponse;

// One subscriber's stream: the suite's bounded push stream, leaving the
// hub when done. Lock order: the hub's mutex, then the stream's.
class WatchReactor : public rpc::PushStream<WatchJourneysResponse> {
 public:
  WatchReactor(JourneyWatchHub& hub, uint64_t id, size_t max_pending)
      : PushStream([&hub, id] { hub.Remove(id); }, max_pending) {}

  // Called with the hub's mutex held, which keeps this reactor alive: its
  // OnDone must take that mutex to unregister before deleting it.
  void Deliver(WatchJourneysResponse message) { Send(std::move(message)); }
  void Close(absl::Status status) { Abort(status); }
};

JourneyWatchHub::JourneyWatchHub(size_t max_pending)
    : max_pending_(max_pending) {}

JourneyWatchHub::~JourneyWatchHub() {
  absl::MutexLock lock(&mu_);
  if (!subscribers_.empty()) {
    // A reactor outliving the hub would call Remove on freed memory.
    log::Error("journey watch hub destroyed with live subscribers",
               {{"subscribers", subscribers_.size()}});
  }
}

JourneyWatchHub::Subscription JourneyWatchHub::Subscribe(std::string tenant) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  auto* reactor = new WatchReactor(*this, id, max_pending_);
  subscribers_.emplace(
      id, Subscriber{.reactor = reactor, .tenant = std::move(tenant)});
  if (closed_.has_value()) reactor->Close(*closed_);
  return {.reactor = reactor, .id = id};
}

void JourneyWatchHub::SendSnapshot(
    uint64_t id, const absl::StatusOr<std::vector<PublishedJourney>>& latest) {
  absl::MutexLock lock(&mu_);
  auto it = subscribers_.find(id);
  if (it == subscribers_.end()) return;  // gone before its snapshot
  Subscriber& subscriber = it->second;
  if (!latest.ok()) {
    subscriber.reactor->Close(latest.status());
    return;
  }
  subscriber.snapshot_sent = true;
  subscriber.reactor->Deliver(SnapshotFor(subscriber.tenant, *latest));
}

void JourneyWatchHub::SendSnapshotToAll(
    const absl::StatusOr<std::vector<PublishedJourney>>& latest) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, subscriber] : subscribers_) {
    // Without a snapshot yet, its snapshot (read later) is current anyway.
    if (!subscriber.snapshot_sent) continue;
    if (!latest.ok()) {
      subscriber.reactor->Close(latest.status());
      continue;
    }
    subscriber.reactor->Deliver(SnapshotFor(subscriber.tenant, *latest));
  }
}

WatchJourneysResponse JourneyWatchHub::SnapshotFor(
    absl::string_view tenant, const std::vector<PublishedJourney>& latest) {
  WatchJourneysResponse snapshot;
  snapshot.set_reset(true);
  for (const PublishedJourney& published : latest) {
    if (tenant.empty() || published.tenant() == tenant) {
      *snapshot.add_journeys() = published;
    }
  }
  return snapshot;
}

void JourneyWatchHub::Publish(absl::string_view tenant,
                              const polku::v1::Journey& journey) {
  WatchJourneysResponse update;
  PublishedJourney* published = update.add_journeys();
  published->set_tenant(std::string(tenant));
  *published->mutable_journey() = journey;

  absl::MutexLock lock(&mu_);
  for (auto& [id, subscriber] : subscribers_) {
    // Without a snapshot yet, its snapshot (read later) includes this one.
    if (!subscriber.snapshot_sent) continue;
    if (!subscriber.tenant.empty() && subscriber.tenant != tenant) continue;
    subscriber.reactor->Deliver(update);
  }
}

void JourneyWatchHub::CloseAll(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  closed_ = status;
  for (auto& [id, subscriber] : subscribers_) subscriber.reactor->Close(status);
}

size_t JourneyWatchHub::subscriber_count() const {
  absl::MutexLock lock(&mu_);
  return subscribers_.size();
}

void JourneyWatchHub::Remove(uint64_t id) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(id);
}

}  // namespace polku::journey
