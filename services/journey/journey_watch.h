// Fan-out of published journey versions to WatchJourneys subscribers.
//
// Each subscriber is a gRPC write reactor, lib/rpc's PushStream (one write
// in flight, bounded backlog). The hub keeps the live ones; a reactor
// unregisters itself in OnDone, under the hub's lock, before deleting itself,
// so the hub never touches a reactor that is gone.
//
//   // handler (gRPC thread):
//   JourneyWatchHub::Subscription sub = hub.Subscribe(caller.tenant, false);
//   store_thread.Schedule([&, id = sub.id] { hub.SendSnapshot(id,
//   store.ListPublishedVersions()); }); return sub.reactor;
//   // after each publish (same store thread):
//   hub.Publish(tenant, published_journey);
//
// SendSnapshot and Publish must be called from one thread (or otherwise be
// serialized together with the store writes they report): a subscriber that
// registered before a publish but had not yet got its snapshot ignores that
// publish, which is right only if its snapshot is read after the publish.
#ifndef POLKU_SERVICES_JOURNEY_JOURNEY_WATCH_H_
#define POLKU_SERVICES_JOURNEY_JOURNEY_WATCH_H_

#include <grpcpp/support/server_callback.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "polku/v1/journey.pb.h"

namespace polku::journey {

class WatchReactor;

class JourneyWatchHub {
 public:
  // Subscribers more than `max_pending` messages behind are dropped with
  // RESOURCE_EXHAUSTED.
  explicit JourneyWatchHub(size_t max_pending);
  // Every stream must be done by now (the server was shut down first).
  ~JourneyWatchHub();

  JourneyWatchHub(const JourneyWatchHub&) = delete;
  JourneyWatchHub& operator=(const JourneyWatchHub&) = delete;

  struct Subscription {
    // For gRPC; deletes itself when the stream is done.
    grpc::ServerWriteReactor<polku::v1::WatchJourneysResponse>* reactor;
    uint64_t id;
  };

  // Registers a subscriber that sees `tenant`'s journeys, or every tenant's
  // if `tenant` is empty (a service-to-service caller); its snapshots hold
  // every published version if `all_versions`, else the latest of each
  // journey. It receives nothing until SendSnapshot.
  Subscription Subscribe(std::string tenant, bool all_versions);

  // Sends subscriber `id` (if still there) its first message: `versions`
  // (JourneyStore::ListPublishedVersions) filtered to what it may see, with
  // `reset` set; or, if `versions` is an error, finishes its stream with it.
  void SendSnapshot(
      uint64_t id,
      const absl::StatusOr<std::vector<polku::v1::PublishedJourney>>& versions);

  // Sends every subscriber that has had its snapshot a new one (`reset`
  // set), e.g. after a journey left the published set (ArchiveJourney); an
  // error finishes their streams with it (they reconnect).
  void SendSnapshotToAll(
      const absl::StatusOr<std::vector<polku::v1::PublishedJourney>>& versions);

  // Sends a newly published version of `tenant`'s journey to every
  // subscriber that sees it.
  void Publish(absl::string_view tenant, const polku::v1::Journey& journey);

  // Finishes every stream with `status`; later subscribers are finished with
  // it at once. For shutdown: a watch stream never ends by itself.
  void CloseAll(const absl::Status& status);

  // Live subscribers (including those still waiting for their snapshot).
  size_t subscriber_count() const;

 private:
  friend class WatchReactor;

  struct Subscriber {
    WatchReactor* reactor;
    std::string tenant;
    bool all_versions = false;
    bool snapshot_sent = false;
  };

  static polku::v1::WatchJourneysResponse SnapshotFor(
      const Subscriber& subscriber,
      const std::vector<polku::v1::PublishedJourney>& versions);

  // Called by the reactor in OnDone.
  void Remove(uint64_t id);

  const size_t max_pending_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Subscriber> subscribers_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> closed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_JOURNEY_WATCH_H_
