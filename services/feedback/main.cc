// polku-feedback: serves polku.v1.FeedbackService from <data_dir>/feedback.db,
// validating against the touchpoint index streamed from polku-journey.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/flags/flag.h"
#include "lib/base/clock.h"
#include "lib/base/executor.h"
#include "lib/base/log.h"
#include "lib/rpc/flags.h"
#include "lib/rpc/server.h"
#include "lib/rpc/tls.h"
#include "services/feedback/customer_hasher.h"
#include "services/feedback/feedback_service.h"
#include "services/feedback/journey_watcher.h"
#include "services/feedback/sqlite_event_store.h"
#include "services/feedback/touchpoint_index.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7101",
          "host:port the gRPC server listens on");
ABSL_FLAG(std::string, data_dir, ".polku",
          "directory holding feedback.db and feedback-secret.key; created if "
          "missing");
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

namespace {

// Change-feed reads run here, never on gRPC threads.
constexpr int kFeedReaderThreads = 4;
// The first WatchJourneys message holds every tenant's journeys.
constexpr int kMaxJourneyMessageBytes = 64 * 1024 * 1024;

}  // namespace

int main(int argc, char** argv) {
  polku::rpc::ParseFlags(argc, argv,
                         "polku-feedback: stores touchpoint events and serves "
                         "their change feed");
  polku::log::SetServiceName("polku-feedback");

  const std::filesystem::path data_dir = absl::GetFlag(FLAGS_data_dir);
  std::error_code error;
  std::filesystem::create_directories(data_dir, error);
  if (error) {
    polku::log::Error(
        "cannot create data directory",
        {{"data_dir", data_dir.string()}, {"error", error.message()}});
    return 1;
  }

  const std::string secret_path = (data_dir / "feedback-secret.key").string();
  auto hasher = polku::feedback::CustomerHasher::LoadOrCreate(secret_path);
  if (!hasher.ok()) {
    polku::log::Error("cannot load the customer secret",
                      {{"path", secret_path},
                       {"error", std::string(hasher.status().message())}});
    return 1;
  }
  const std::string db_path = (data_dir / "feedback.db").string();
  polku::feedback::SqliteEventStoreOptions store_options;
  store_options.max_queued_events =
      static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_max_queued_events)));
  auto store = polku::feedback::SqliteEventStore::Open(
      db_path, *std::move(hasher), store_options);
  if (!store.ok()) {
    polku::log::Error(
        "cannot open feedback database",
        {{"path", db_path}, {"error", std::string(store.status().message())}});
    return 1;
  }

  polku::feedback::TouchpointIndex index;
  polku::Executor feed_readers(kFeedReaderThreads);
  polku::feedback::FeedbackServiceImpl service(
      **store, index, feed_readers, polku::Clock::Real(),
      {.max_streams = absl::GetFlag(FLAGS_max_streams),
       .max_unacknowledged_per_stream =
           absl::GetFlag(FLAGS_max_unacknowledged_per_stream)});
  auto server = polku::rpc::Server::Start({
      .name = "polku-feedback",
      .listen_address = absl::GetFlag(FLAGS_listen),
      .services = {&service},
      .tls = polku::rpc::TlsFromFlags(),
      // WatchEvents streams never end by themselves; the drain cancels them
      // after this long. Submissions commit in milliseconds.
      .drain_timeout = absl::Seconds(3),
      // Event streams answer what they took, then end UNAVAILABLE; their
      // clients re-send the rest elsewhere or after the restart.
      .on_drain = [&service] { service.EndStreams(); },
  });
  if (!server.ok()) {
    polku::log::Error("cannot start server",
                      {{"listen", absl::GetFlag(FLAGS_listen)},
                       {"error", std::string(server.status().message())}});
    return 1;
  }
  // Not ready until events can be validated.
  (*server)->SetServing(polku::feedback::kFeedbackServiceName, false);

  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(kMaxJourneyMessageBytes);
  polku::feedback::JourneyWatcher watcher(
      // The server started with the same TLS files, so they are usable.
      *polku::rpc::MakeChannel(absl::GetFlag(FLAGS_journey_address),
                               polku::rpc::TlsFromFlags(), channel_args),
      index, [server = server->get()] {
        server->SetServing(polku::feedback::kFeedbackServiceName, true);
      });
  watcher.Start();
  polku::log::Info("serving",
                   {{"port", (*server)->port()},
                    {"database", db_path},
                    {"journey_address", absl::GetFlag(FLAGS_journey_address)}});

  (*server)->WaitForShutdownSignal();
  // Every call has ended: commit what is queued, then stop following
  // journeys.
  (*store)->Stop();
  watcher.Stop();
  polku::log::Info("event store flushed");
  return 0;
}
