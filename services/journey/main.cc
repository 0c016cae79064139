// polku-journey: serves polku.v1.JourneyService from <data_dir>/journey.db.
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/flags/flag.h"
#include "lib/base/clock.h"
#include "lib/base/log.h"
#include "lib/rpc/flags.h"
#include "lib/rpc/server.h"
#include "lib/rpc/tls.h"
#include "services/journey/journey_service.h"
#include "services/journey/sqlite_journey_store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7102",
          "host:port the gRPC server listens on");
ABSL_FLAG(std::string, data_dir, ".polku",
          "directory holding journey.db; created if missing");

int main(int argc, char** argv) {
  polku::rpc::ParseFlags(argc, argv,
                         "polku-journey: journey maps, versions and channels");
  polku::log::SetServiceName("polku-journey");

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  std::error_code error;
  std::filesystem::create_directories(data_dir, error);
  if (error) {
    polku::log::Error("cannot create data directory",
                      {{"data_dir", data_dir}, {"error", error.message()}});
    return 1;
  }
  const std::string db_path =
      (std::filesystem::path(data_dir) / "journey.db").string();
  auto store =
      polku::journey::SqliteJourneyStore::Open(db_path, polku::Clock::Real());
  if (!store.ok()) {
    polku::log::Error(
        "cannot open journey database",
        {{"path", db_path}, {"error", std::string(store.status().message())}});
    return 1;
  }

  polku::journey::JourneyServiceImpl service(**store);
  auto server = polku::rpc::Server::Start({
      .name = "polku-journey",
      .listen_address = absl::GetFlag(FLAGS_listen),
      .services = {&service},
      .tls = polku::rpc::TlsFromFlags(),
      // WatchJourneys streams never end by themselves: end them before the
      // drain, so that it waits only for short calls.
      .on_drain = [&service] { service.CloseWatchers(); },
  });
  if (!server.ok()) {
    polku::log::Error("cannot start server",
                      {{"listen", absl::GetFlag(FLAGS_listen)},
                       {"error", std::string(server.status().message())}});
    return 1;
  }
  polku::log::Info("serving",
                   {{"port", (*server)->port()}, {"database", db_path}});
  (*server)->WaitForShutdownSignal();
  return 0;
}
