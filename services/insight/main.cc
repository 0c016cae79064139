// polku-insight: tails polku-feedback's change feed into daily rollups and
// answers InsightService.GetScorecard. Wiring only; the logic is in the
// libraries beside this file.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "absl/flags/flag.h"
#include "lib/base/executor.h"
#include "lib/base/log.h"
#include "lib/rpc/flags.h"
#include "lib/rpc/server.h"
#include "lib/rpc/tls.h"
#include "services/insight/feed_tailer.h"
#include "services/insight/insight_service.h"
#include "services/insight/journey_lineage.h"
#include "services/insight/sqlite_rollup_store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7103", "gRPC listen address");
ABSL_FLAG(std::string, data_dir, ".polku",
          "Directory of the databases; insight.db lives here");
ABSL_FLAG(std::string, feedback_address, "127.0.0.1:7101",
          "polku-feedback address, whose change feed is tailed");
ABSL_FLAG(std::string, journey_address, "127.0.0.1:7102",
          "polku-journey address, asked for rename chains of journey maps");

namespace {
// Scorecard queries are short reads; a few threads keep one slow query from
// holding up the rest.
constexpr int kQueryThreads = 4;
}  // namespace

int main(int argc, char** argv) {
  polku::rpc::ParseFlags(
      argc, argv, "polku-insight: rollups of the feedback feed and scorecards");
  polku::log::SetServiceName("polku-insight");

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  std::error_code error;
  std::filesystem::create_directories(data_dir, error);
  if (error) {
    polku::log::Error("cannot create the data directory",
                      {{"data_dir", data_dir}, {"error", error.message()}});
    return 1;
  }
  const std::string path = (std::filesystem::path(data_dir) / "insight.db");
  auto store = polku::insight::SqliteRollupStore::Open(path);
  if (!store.ok()) {
    polku::log::Error("cannot open the rollup database",
                      {{"path", path}, {"error", store.status().ToString()}});
    return 1;
  }

  polku::insight::FeedTailer tailer(**store,
                                    polku::insight::MakeFeedbackChannel(
                                        absl::GetFlag(FLAGS_feedback_address),
                                        polku::rpc::TlsFromFlags()));
  tailer.Start();

  polku::Executor executor(kQueryThreads);
  polku::insight::GrpcJourneyLineage lineage(
      *polku::rpc::MakeChannel(absl::GetFlag(FLAGS_journey_address),
                               polku::rpc::TlsFromFlags()));
  polku::insight::InsightServiceImpl service(**store, executor, &lineage);
  auto server =
      polku::rpc::Server::Start({.name = "polku-insight",
                                 .listen_address = absl::GetFlag(FLAGS_listen),
                                 .services = {&service},
                                 .tls = polku::rpc::TlsFromFlags()});
  if (!server.ok()) {
    polku::log::Error("cannot start the server",
                      {{"error", server.status().ToString()}});
    return 1;
  }
  polku::log::Info("polku-insight started",
                   {{"listen", absl::GetFlag(FLAGS_listen)},
                    {"feedback_address", absl::GetFlag(FLAGS_feedback_address)},
                    {"checkpoint", (*store)->Checkpoint().value_or(0)}});
  (*server)->WaitForShutdownSignal();  // returns once in-flight calls drained
  tailer.Stop();
  polku::log::Info("polku-insight stopped");
  return 0;
}
