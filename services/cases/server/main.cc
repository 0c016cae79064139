// polku-cases: follow-up cases (closing the loop). Tails polku-feedback's
// change feed, opens cases by the tenants' rules exactly once, raises SLA
// reminders and breaches, and answers CaseService. Wiring only; the logic
// is in the libraries beside this file (docs/cases.md).
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "lib/base/clock.h"
#include "lib/base/executor.h"
#include "lib/base/log.h"
#include "lib/feed/feed_tailer.h"
#include "lib/rpc/flags.h"
#include "lib/rpc/server.h"
#include "lib/rpc/tls.h"
#include "lib/rpc/trust.h"
#include "services/cases/server/case_service.h"
#include "services/cases/server/case_store_factory.h"
#include "services/cases/server/customer_keys.h"
#include "services/cases/server/event_source.h"
#include "services/cases/server/owner_teams.h"
#include "services/cases/server/sla_timer.h"
#include "services/cases/store/change_follower.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7104", "gRPC listen address");
ABSL_FLAG(std::string, data_dir, ".polku",
          "Directory of the databases; cases.db lives here");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL database of the cases (postgres://…), shared by every "
          "replica; empty = SQLite at <data_dir>/cases.db");
ABSL_FLAG(std::string, feedback_address, "127.0.0.1:7101",
          "polku-feedback address, whose change feed is tailed and whose "
          "events cases are opened for");
ABSL_FLAG(std::string, journey_address, "127.0.0.1:7102",
          "polku-journey address, asked for the owner teams of touchpoints");
ABSL_FLAG(int, sla_interval_seconds, 60,
          "how often SLA reminders and breaches are looked for");
ABSL_FLAG(int, watch_poll_ms, 500,
          "the longest WatchCases waits before it reads changes other "
          "replicas committed, when no notification (PostgreSQL NOTIFY) "
          "comes sooner; 10 to 60000");

namespace {
constexpr int kWorkerThreads = 4;
}  // namespace

int main(int argc, char** argv) {
  polku::rpc::ParseFlags(argc, argv,
                         "polku-cases: follow-up cases, rules and SLAs");
  polku::log::SetServiceName("polku-cases");
  if (absl::GetFlag(FLAGS_sla_interval_seconds) < 1) {
    polku::log::Error("--sla_interval_seconds must be at least 1");
    return 2;
  }
  const int watch_poll_ms = absl::GetFlag(FLAGS_watch_poll_ms);
  if (watch_poll_ms < 10 || watch_poll_ms > 60000) {
    polku::log::Error("--watch_poll_ms must be from 10 to 60000");
    return 2;
  }

  absl::StatusOr<std::shared_ptr<grpc::Channel>> journey_channel =
      polku::rpc::MakeChannel(absl::GetFlag(FLAGS_journey_address),
                              polku::rpc::TlsFromFlags());
  if (!journey_channel.ok()) {
    polku::log::Error("cannot reach polku-journey",
                      {{"error", journey_channel.status().ToString()}});
    return 1;
  }
  polku::cases::OwnerTeams owner_teams(
      polku::cases::OwnerTeams::FromJourneyService(*journey_channel));
  auto store = polku::cases::OpenCaseStore(
      absl::GetFlag(FLAGS_database_url), absl::GetFlag(FLAGS_data_dir),
      {.clock = &polku::Clock::Real(),
       .owner_team = [&owner_teams](const polku::v1::StoredEvent& event) {
         return owner_teams.Of(event);
       }});
  if (!store.ok()) {
    polku::log::Error("cannot open the case store",
                      {{"error", store.status().ToString()}});
    return 1;
  }

  auto executor = std::make_unique<polku::Executor>(kWorkerThreads);
  std::shared_ptr<grpc::Channel> feedback_channel =
      polku::feed::MakeFeedbackChannel(absl::GetFlag(FLAGS_feedback_address),
                                       polku::rpc::TlsFromFlags());
  polku::cases::GrpcEventSource events(feedback_channel);
  polku::cases::GrpcCustomerKeys customer_keys(feedback_channel);
  polku::cases::CaseServiceImpl service(
      **store, *executor, {.events = &events, .customer_keys = &customer_keys});
  // WatchCases sends every replica's changes, read back from the store.
  polku::cases::ChangeFollower follower(
      **store,
      [&service](const polku::cases::CaseChange& c) { service.CaseChanged(c); },
      [&service] { service.ResetStreams(); },
      {.poll_interval = absl::Milliseconds(watch_poll_ms)});
  follower.Start();
  // Reports its progress, for polku-feedback's erasure receipts.
  polku::feed::FeedTailer::Options tailer_options;
  tailer_options.reader = polku::rpc::kCasesIdentity;
  polku::feed::FeedTailer tailer(**store, feedback_channel, tailer_options);
  polku::cases::SlaTimer sla_timer(
      **store,
      {.interval = absl::Seconds(absl::GetFlag(FLAGS_sla_interval_seconds)),
       .on_raised = [](const polku::cases::SlaAlertRaised& alert) {
         polku::log::Info("SLA alert", {{"tenant", alert.tenant},
                                        {"case_id", alert.case_id},
                                        {"kind", alert.kind}});
       }});
  tailer.Start();
  sla_timer.Start();

  auto server = polku::rpc::Server::Start(polku::rpc::WithBackendFlags(
      {.name = "polku-cases",
       .listen_address = absl::GetFlag(FLAGS_listen),
       .services = {&service},
       .on_drain = [&service] { service.EndStreams(); }}));
  if (!server.ok()) {
    polku::log::Error("cannot start the server",
                      {{"error", server.status().ToString()}});
    return 1;
  }
  polku::log::Info("polku-cases started",
                   {{"listen", absl::GetFlag(FLAGS_listen)},
                    {"feedback_address", absl::GetFlag(FLAGS_feedback_address)},
                    {"checkpoint", (*store)->Checkpoint().value_or(0)}});
  (*server)->WaitForShutdownSignal();  // returns once in-flight calls drained
  sla_timer.Stop();
  tailer.Stop();
  follower.Stop();  // the service goes before the store
  executor.reset();  // runs what is queued while the service still exists
  polku::log::Info("polku-cases stopped");
  return 0;
}
