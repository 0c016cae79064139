// polku-feedback: serves polku.v1.FeedbackService from <data_dir>/feedback.db
// or, with --database_url, from PostgreSQL (several replicas may share it),
// validating against the touchpoint index streamed from polku-journey.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "lib/base/clock.h"
#include "lib/base/executor.h"
#include "lib/base/log.h"
#include "lib/base/thread.h"
#include "lib/postgres/postgres.h"
#include "lib/rpc/flags.h"
#include "lib/rpc/server.h"
#include "lib/rpc/tls.h"
#include "lib/rpc/trust.h"
#include "services/feedback/customer_hasher.h"
#include "services/feedback/customer_key_service.h"
#include "services/feedback/erasure_receipts.h"
#include "services/feedback/feed_reader_service.h"
#include "services/feedback/feedback_service.h"
#include "services/feedback/journey_watcher.h"
#include "services/feedback/pg_event_store.h"
#include "services/feedback/sqlite_event_store.h"
#include "services/feedback/touchpoint_index.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7101",
          "host:port the gRPC server listens on");
ABSL_FLAG(std::string, data_dir, ".polku",
          "directory holding feedback.db and feedback-secret.key; created if "
          "missing");
ABSL_FLAG(std::string, database_url, "",
          "postgres://user:password@host:5432/db (or postgresql://…) stores "
          "events in PostgreSQL, which several replicas may share; empty = "
          "SQLite at <data_dir>/feedback.db");
ABSL_FLAG(std::string, secret_file, "",
          "the customer-hashing secret (32 bytes, created if missing); "
          "default <data_dir>/feedback-secret.key. Replicas sharing a "
          "database need the same file");
ABSL_FLAG(std::string, journey_address, "127.0.0.1:7102",
          "host:port of polku-journey, whose published journeys events are "
          "validated against");
ABSL_FLAG(int, max_streams, 64,
          "open StreamEvents calls at most; one more is answered "
          "RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_unacknowledged_per_stream, 2000,
          "events of one stream read but not yet answered; at the bound the "
          "server stops reading that stream");
ABSL_FLAG(int, max_queued_events, 50000,
          "events waiting for the writer at most; beyond that submissions "
          "are answered RESOURCE_EXHAUSTED with a retry hint");
ABSL_FLAG(int, writer_nice, 0,
          "nice value (-20..19) of the thread that commits events, 0 to "
          "keep the process's own; below the process's (needs "
          "CAP_SYS_NICE) it takes a core ahead of other busy processes on "
          "the same machine");

ABSL_FLAG(std::vector<std::string>, erasure_readers, {},
          "comma-separated readers of the change feed that hold customer "
          "data and must apply an erasure before its receipt is complete: "
          "the ones deployed of polku-insight and polku-cases; empty: no "
          "receipts, EraseCustomer answers as soon as it is committed");
ABSL_FLAG(int, erasure_receipt_wait_seconds, 30,
          "how long EraseCustomer waits at most for the readers to apply "
          "an erasure before answering with the receipt as it stands");

namespace {

// Change-feed reads run here, never on gRPC threads.
constexpr int kFeedReaderThreads = 4;
// The first WatchJourneys message holds every tenant's journeys.
constexpr int kMaxJourneyMessageBytes = 64 * 1024 * 1024;

// FeedbackService is SERVING once both conditions hold.
class Readiness {
 public:
  Readiness(polku::rpc::Server& server, bool database_connected)
      : server_(server), database_connected_(database_connected) {
    server_.SetServing(polku::feedback::kFeedbackServiceName, false);
  }
  void JourneysLoaded() {
    absl::MutexLock lock(&mu_);
    journeys_loaded_ = true;
    Update();
  }
  void DatabaseConnected() {
    absl::MutexLock lock(&mu_);
    database_connected_ = true;
    Update();
  }

 private:
  void Update() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (journeys_loaded_ && database_connected_) {
      server_.SetServing(polku::feedback::kFeedbackServiceName, true);
    }
  }
  polku::rpc::Server& server_;
  absl::Mutex mu_;
  bool journeys_loaded_ ABSL_GUARDED_BY(mu_) = false;
  bool database_connected_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

int main(int argc, char** argv) {
  polku::rpc::ParseFlags(argc, argv,
                         "polku-feedback: stores touchpoint events and serves "
                         "their change feed");
  polku::log::SetServiceName("polku-feedback");

  const int writer_nice = absl::GetFlag(FLAGS_writer_nice);
  if (absl::Status valid = polku::CheckNice(writer_nice); !valid.ok()) {
    polku::log::Error("--writer_nice is not a nice value",
                      {{"error", valid.ToString()}});
    return 1;
  }

  const std::vector<std::string> erasure_readers =
      absl::GetFlag(FLAGS_erasure_readers);
  for (const std::string& reader : erasure_readers) {
    if (reader != polku::rpc::kInsightIdentity &&
        reader != polku::rpc::kCasesIdentity) {
      polku::log::Error(
          "--erasure_readers: each must be polku-insight or polku-cases",
          {{"reader", reader}});
      return 1;
    }
  }
  if (absl::GetFlag(FLAGS_erasure_receipt_wait_seconds) < 0) {
    polku::log::Error("--erasure_receipt_wait_seconds: must be >= 0");
    return 1;
  }

  const std::filesystem::path data_dir = absl::GetFlag(FLAGS_data_dir);
  std::error_code error;
  std::filesystem::create_directories(data_dir, error);
  if (error) {
    polku::log::Error(
        "cannot create data directory",
        {{"data_dir", data_dir.string()}, {"error", error.message()}});
    return 1;
  }

  const std::string secret_path =
      absl::GetFlag(FLAGS_secret_file).empty()
          ? (data_dir / "feedback-secret.key").string()
          : absl::GetFlag(FLAGS_secret_file);
  auto hasher = polku::feedback::CustomerHasher::LoadOrCreate(secret_path);
  if (!hasher.ok()) {
    polku::log::Error("cannot load the customer secret",
                      {{"path", secret_path},
                       {"error", std::string(hasher.status().message())}});
    return 1;
  }
  // The same secret again, for CustomerKeyService (polku-cases'
  // SetContactConsent): the store owns the first.
  auto key_hasher = polku::feedback::CustomerHasher::LoadOrCreate(secret_path);
  if (!key_hasher.ok()) {
    polku::log::Error("cannot load the customer-hash secret",
                      {{"path", secret_path},
                       {"error", std::string(key_hasher.status().message())}});
    return 1;
  }
  const polku::feedback::GroupCommitOptions group_commit{
      .max_queued_events = static_cast<size_t>(
          std::max(1, absl::GetFlag(FLAGS_max_queued_events))),
      .writer_nice = writer_nice};
  const std::string database_url = absl::GetFlag(FLAGS_database_url);
  std::unique_ptr<polku::feedback::EventStore> store;
  // Set on PostgreSQL, which is connected to once the server runs.
  polku::feedback::PgEventStore* pg_store = nullptr;
  std::string database;  // for the log, never with a password
  if (database_url.empty()) {
    database = (data_dir / "feedback.db").string();
    polku::feedback::SqliteEventStoreOptions store_options;
    store_options.group_commit = group_commit;
    auto opened = polku::feedback::SqliteEventStore::Open(
        database, *std::move(hasher), store_options);
    if (!opened.ok()) {
      polku::log::Error("cannot open feedback database",
                        {{"path", database},
                         {"error", std::string(opened.status().message())}});
      return 1;
    }
    store = *std::move(opened);
  } else {
    if (!absl::StartsWith(database_url, "postgres://") &&
        !absl::StartsWith(database_url, "postgresql://")) {
      polku::log::Error(
          "--database_url must start with postgres:// or postgresql://");
      return 1;
    }
    database = polku::postgres::DescribeServer(database_url);
    auto created = polku::feedback::PgEventStore::Create(
        database_url, *std::move(hasher), {.group_commit = group_commit});
    pg_store = created.get();
    store = std::move(created);
  }

  polku::feedback::TouchpointIndex index;
  polku::Executor feed_readers(kFeedReaderThreads);
  // PostgreSQL's feed id is read by Connect, until which it is not known.
  polku::feedback::ErasureReceipts receipts(
      erasure_readers,
      [&store, pg_store]() -> std::string {
        if (pg_store != nullptr && !pg_store->connected()) return "";
        return store->feed_id();
      },
      polku::Clock::Real());
  // Every replica's reports, from the database they share.
  receipts.SetProgressSource([&store] { return store->ReadReaderProgress(); },
                             absl::Milliseconds(250));
  receipts.StartTimer();
  polku::feedback::FeedbackServiceImpl service(
      *store, index, feed_readers, polku::Clock::Real(),
      {.max_streams = absl::GetFlag(FLAGS_max_streams),
       .max_unacknowledged_per_stream =
           absl::GetFlag(FLAGS_max_unacknowledged_per_stream),
       .receipts = &receipts,
       .receipt_max_wait =
           absl::Seconds(absl::GetFlag(FLAGS_erasure_receipt_wait_seconds))});
  polku::feedback::CustomerKeyServiceImpl customer_keys(*key_hasher);
  polku::feedback::FeedReaderServiceImpl feed_reader_service(receipts, store.get(),
                                                            &feed_readers);
  auto server = polku::rpc::Server::Start(polku::rpc::WithBackendFlags({
      .name = "polku-feedback",
      .listen_address = absl::GetFlag(FLAGS_listen),
      .services = {&service, &customer_keys, &feed_reader_service},
      // WatchEvents streams never end by themselves; the drain cancels them
      // after this long. Submissions commit in milliseconds.
      .drain_timeout = absl::Seconds(3),
      // Event streams answer what they took, then end UNAVAILABLE; their
      // clients re-send the rest elsewhere or after the restart.
      .on_drain = [&service] { service.EndStreams(); },
  }));
  if (!server.ok()) {
    polku::log::Error("cannot start server",
                      {{"listen", absl::GetFlag(FLAGS_listen)},
                       {"error", std::string(server.status().message())}});
    return 1;
  }
  // Not ready until events can be validated and stored: the touchpoint
  // index is loaded and (on PostgreSQL) the database answered.
  Readiness readiness(**server, /*database_connected=*/pg_store == nullptr);

  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(kMaxJourneyMessageBytes);
  polku::feedback::JourneyWatcher watcher(
      // The server started with the same TLS files, so they are usable.
      *polku::rpc::MakeChannel(absl::GetFlag(FLAGS_journey_address),
                               polku::rpc::TlsFromFlags(), channel_args),
      index, [&readiness] { readiness.JourneysLoaded(); });
  watcher.Start();

  // Waits for PostgreSQL beside the running server, logging every failed
  // attempt, so an unreachable database is visible rather than a crash loop.
  absl::Notification stop_waiting;
  int exit_code = 0;
  std::thread connecting;
  if (pg_store != nullptr) {
    connecting = std::thread([&] {
      absl::Status connected = pg_store->Connect({.cancelled = &stop_waiting});
      if (connected.ok()) {
        readiness.DatabaseConnected();
      } else if (!absl::IsCancelled(connected)) {
        // Not a matter of waiting (e.g. a schema newer than this build).
        polku::log::Error("cannot use the feedback database",
                          {{"database", database},
                           {"error", std::string(connected.message())}});
        exit_code = 1;
        polku::rpc::Server::RequestShutdown();
      }
    });
  }
  polku::log::Info("serving",
                   {{"port", (*server)->port()},
                    {"database", database},
                    {"journey_address", absl::GetFlag(FLAGS_journey_address)},
                    {"erasure_readers", absl::StrJoin(erasure_readers, ",")}});

  (*server)->WaitForShutdownSignal();
  stop_waiting.Notify();
  if (connecting.joinable()) connecting.join();
  // Every call has ended: commit what is queued, then stop following
  // journeys.
  store->Stop();
  watcher.Stop();
  polku::log::Info("event store flushed");
  return exit_code;
}
