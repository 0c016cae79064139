// polku.v1.JourneyService: journey maps, their versions, the channel
// catalogue, and the WatchJourneys stream other services keep their
// touchpoint index from.
//
//   auto store = SqliteJourneyStore::Open(data_dir + "/journey.db",
//   Clock::Real()); JourneyServiceImpl service(**store); auto server =
//   rpc::Server::Start({.name = "polku-journey",
//                                     .listen_address = "127.0.0.1:7102",
//                                     .services = {&service}});
//
// Handlers never block: store work runs on one store thread, which finishes
// the call. Running every store call on that one thread also orders each
// watch snapshot against publishes, so a subscriber misses none.
//
// Several replicas on one database (PostgreSQL): a publish made through
// another replica reaches this one's watchers because the service polls
// JourneyStore::PublishedGeneration every `watch_poll_interval` and, when it
// moved, re-reads the published set and sends what changed (PublishedIndex).
//
// The tenant comes only from trusted metadata (rpc::CallerFrom): without one
// every method answers UNAUTHENTICATED, except WatchJourneys, where a
// service-to-service caller sees every tenant's journeys.
#ifndef POLKU_SERVICES_JOURNEY_JOURNEY_SERVICE_H_
#define POLKU_SERVICES_JOURNEY_JOURNEY_SERVICE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/base/executor.h"
#include "polku/v1/journey.grpc.pb.h"
#include "services/journey/journey_store.h"
#include "services/journey/journey_watch.h"
#include "services/journey/published_index.h"

namespace polku::journey {

class JourneyServiceImpl final
    : public polku::v1::JourneyService::CallbackService {
 public:
  struct Options {
    // A WatchJourneys subscriber this many messages behind is finished with
    // RESOURCE_EXHAUSTED (it reconnects and gets a fresh snapshot).
    size_t max_pending_watch_messages = 1000;
    // How often to look for publishes and archives made through other
    // replicas sharing the database; zero when this process is the only
    // writer (SQLite). Bounds how late a remote change reaches watchers.
    absl::Duration watch_poll_interval = absl::ZeroDuration();
  };

  // `store` must outlive the service; the service must outlive the server.
  explicit JourneyServiceImpl(JourneyStore& store);
  JourneyServiceImpl(JourneyStore& store, Options options);
  ~JourneyServiceImpl() override;

  // Ends every WatchJourneys stream with UNAVAILABLE, and any later one at
  // once. Wire it to rpc::ServerConfig::on_drain: watch streams never end by
  // themselves, so a graceful drain would otherwise wait its full timeout.
  void CloseWatchers();

  // Live WatchJourneys subscribers.
  size_t watcher_count() const { return watchers_.subscriber_count(); }

  grpc::ServerUnaryReactor* CreateJourney(
      grpc::CallbackServerContext* context,
      const polku::v1::CreateJourneyRequest* request,
      polku::v1::Journey* response) override;
  grpc::ServerUnaryReactor* GetJourney(
      grpc::CallbackServerContext* context,
      const polku::v1::GetJourneyRequest* request,
      polku::v1::Journey* response) override;
  grpc::ServerUnaryReactor* ListJourneys(
      grpc::CallbackServerContext* context,
      const polku::v1::ListJourneysRequest* request,
      polku::v1::ListJourneysResponse* response) override;
  grpc::ServerUnaryReactor* PublishJourney(
      grpc::CallbackServerContext* context,
      const polku::v1::PublishJourneyRequest* request,
      polku::v1::Journey* response) override;
  grpc::ServerUnaryReactor* CreateDraft(
      grpc::CallbackServerContext* context,
      const polku::v1::CreateDraftRequest* request,
      polku::v1::Journey* response) override;
  grpc::ServerUnaryReactor* UpdateDraft(
      grpc::CallbackServerContext* context,
      const polku::v1::UpdateDraftRequest* request,
      polku::v1::Journey* response) override;
  grpc::ServerUnaryReactor* GetJourneyVersion(
      grpc::CallbackServerContext* context,
      const polku::v1::GetJourneyVersionRequest* request,
      polku::v1::Journey* response) override;
  grpc::ServerUnaryReactor* ListJourneyVersions(
      grpc::CallbackServerContext* context,
      const polku::v1::ListJourneyVersionsRequest* request,
      polku::v1::ListJourneyVersionsResponse* response) override;
  grpc::ServerUnaryReactor* DiffJourneyVersions(
      grpc::CallbackServerContext* context,
      const polku::v1::DiffJourneyVersionsRequest* request,
      polku::v1::JourneyDiff* response) override;
  grpc::ServerUnaryReactor* ArchiveJourney(
      grpc::CallbackServerContext* context,
      const polku::v1::ArchiveJourneyRequest* request,
      polku::v1::Journey* response) override;
  grpc::ServerUnaryReactor* ListChannels(
      grpc::CallbackServerContext* context,
      const polku::v1::ListChannelsRequest* request,
      polku::v1::ListChannelsResponse* response) override;
  grpc::ServerUnaryReactor* CreateChannel(
      grpc::CallbackServerContext* context,
      const polku::v1::CreateChannelRequest* request,
      polku::v1::Channel* response) override;
  grpc::ServerWriteReactor<polku::v1::WatchJourneysResponse>* WatchJourneys(
      grpc::CallbackServerContext* context,
      const polku::v1::WatchJourneysRequest* request) override;

 private:
  // Runs `work` (→ absl::StatusOr<Response>) on the store thread for a
  // caller with a tenant, and finishes the call with its result.
  template <typename Response, typename Work>
  grpc::ServerUnaryReactor* OnStoreThread(grpc::CallbackServerContext* context,
                                          Response* response, Work work);

  // `journey` checked against every rule, with the tenant's channels (store
  // thread only).
  absl::Status Validate(const std::string& tenant,
                        const polku::v1::Journey& journey);
  absl::StatusOr<absl::flat_hash_set<std::string>> RegisteredChannels(
      const std::string& tenant);
  static absl::Status ValidateWith(
      const absl::flat_hash_set<std::string>& registered,
      const polku::v1::Journey& journey);

  // Brings watchers up to date with `versions` (ListPublishedVersions;
  // store thread only).
  void Announce(const std::vector<polku::v1::PublishedJourney>& versions);
  // The poller's loop, and what it queues on the store thread.
  void PollForChanges(absl::Duration interval);
  void CheckForChanges();
  void PollFailed(const absl::Status& status);

  JourneyStore& store_;
  JourneyWatchHub watchers_;
  // Store thread only.
  PublishedIndex published_;
  std::optional<int64_t> generation_;
  bool poll_failing_ = false;

  absl::Mutex poll_mu_;
  bool stopping_ ABSL_GUARDED_BY(poll_mu_) = false;
  // A check is queued on the store thread and has not finished: a slow
  // database gets no pile of them.
  bool check_queued_ ABSL_GUARDED_BY(poll_mu_) = false;
  std::thread poller_;
  // Declared last: destroyed first, running what is still queued while the
  // store and hub are alive.
  Executor store_thread_{1};
};

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_JOURNEY_SERVICE_H_
