// polku-journey: serves polku.v1.JourneyService from <data_dir>/journey.db,
// or from PostgreSQL when --database_url names one (then any number of
// replicas may share that database).
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "lib/base/clock.h"
#include "lib/base/log.h"
#include "lib/postgres/pool.h"
#include "lib/postgres/postgres.h"
#include "lib/rpc/flags.h"
#include "lib/rpc/server.h"
#include "lib/rpc/tls.h"
#include "services/journey/journey_service.h"
#include "services/journey/pg_journey_store.h"
#include "services/journey/sqlite_journey_store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7102",
          "host:port the gRPC server listens on");
ABSL_FLAG(std::string, data_dir, ".polku",
          "directory holding journey.db; created if missing");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL to keep journeys in (postgres://… or postgresql://…); "
          "empty: SQLite in --data_dir");

namespace {

// How often a replica on PostgreSQL looks for publishes made through the
// others: the most a watcher of this replica lags behind one of them.
constexpr absl::Duration kWatchPollInterval = absl::Milliseconds(250);

// Waits until the database answers and its schema is migrated (logging each
// failed attempt, with backoff: an orchestrator may start the database and
// the service together), then opens the store. Errors other than
// UNAVAILABLE (a schema newer than this build, bad credentials) end the
// process.
std::unique_ptr<polku::journey::PgJourneyStore> OpenPostgres(
    const std::string& url) {
  while (true) {
    polku::postgres::WaitOptions wait;
    wait.ready = &polku::journey::PgJourneyStore::Migrate;
    auto ready = polku::postgres::WaitForServer(url, wait);
    if (ready.ok()) {
      auto store =
          polku::journey::PgJourneyStore::Open(url, polku::Clock::Real());
      if (store.ok()) return *std::move(store);
      ready = store.status();
    }
    if (!absl::IsUnavailable(ready.status())) {
      polku::log::Error("cannot use the journey database",
                        {{"database", polku::postgres::DescribeServer(url)},
                         {"error", std::string(ready.status().message())}});
      return nullptr;
    }
    // Gone again between the wait and the open: wait again.
  }
}

}  // namespace

int main(int argc, char** argv) {
  polku::rpc::ParseFlags(argc, argv,
                         "polku-journey: journey maps, versions and channels");
  polku::log::SetServiceName("polku-journey");

  const std::string database_url = absl::GetFlag(FLAGS_database_url);
  std::unique_ptr<polku::journey::JourneyStore> store;
  std::string database;
  polku::journey::JourneyServiceImpl::Options options;
  if (!database_url.empty()) {
    if (!absl::StartsWith(database_url, "postgres://") &&
        !absl::StartsWith(database_url, "postgresql://")) {
      polku::log::Error(
          "--database_url must start with postgres:// or postgresql://",
          {{"database_url", polku::postgres::DescribeServer(database_url)}});
      return 1;
    }
    store = OpenPostgres(database_url);
    if (store == nullptr) return 1;
    database = polku::postgres::DescribeServer(database_url);
    options.watch_poll_interval = kWatchPollInterval;
  } else {
    const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
    std::error_code error;
    std::filesystem::create_directories(data_dir, error);
    if (error) {
      polku::log::Error("cannot create data directory",
                        {{"data_dir", data_dir}, {"error", error.message()}});
      return 1;
    }
    database = (std::filesystem::path(data_dir) / "journey.db").string();
    auto sqlite = polku::journey::SqliteJourneyStore::Open(
        database, polku::Clock::Real());
    if (!sqlite.ok()) {
      polku::log::Error("cannot open journey database",
                        {{"path", database},
                         {"error", std::string(sqlite.status().message())}});
      return 1;
    }
    store = *std::move(sqlite);
  }

  polku::journey::JourneyServiceImpl service(*store, options);
  auto server = polku::rpc::Server::Start(polku::rpc::WithBackendFlags({
      .name = "polku-journey",
      .listen_address = absl::GetFlag(FLAGS_listen),
      .services = {&service},
      // WatchJourneys streams never end by themselves: end them before the
      // drain, so that it waits only for short calls.
      .on_drain = [&service] { service.CloseWatchers(); },
  }));
  if (!server.ok()) {
    polku::log::Error("cannot start server",
                      {{"listen", absl::GetFlag(FLAGS_listen)},
                       {"error", std::string(server.status().message())}});
    return 1;
  }
  polku::log::Info("serving",
                   {{"port", (*server)->port()}, {"database", database}});
  (*server)->WaitForShutdownSignal();
  return 0;
}
