#include "lib/postgres/testing/test_server.h"

#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "lib/postgres/postgres.h"

namespace polku::postgres {
namespace {

constexpr char kBinDir[] = "/usr/lib/postgresql/15/bin";

// Runs a shell command as the server's user: `postgres` when we are root.
absl::Status Run(const std::string& command) {
  std::string full = geteuid() == 0 ? absl::StrCat("runuser -u postgres -- ", command) : command;
  int status = std::system(full.c_str());
  if (status != 0) {
    return absl::InternalError(absl::StrCat("`", full, "` failed with status ", status));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestServer>> TestServer::Start(const Options& options) {
  if (!std::filesystem::exists(absl::StrCat(kBinDir, "/initdb"))) {
    return absl::FailedPreconditionError(
        absl::StrCat(kBinDir, "/initdb is missing: install Debian's postgresql package"));
  }
  char pattern[] = "/tmp/polku-pg-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return absl::InternalError("mkdtemp failed");
  std::unique_ptr<TestServer> server(new TestServer(pattern, options));
  if (geteuid() == 0) {
    struct passwd* postgres = getpwnam("postgres");
    if (postgres == nullptr) {
      return absl::FailedPreconditionError("running as root needs the `postgres` user");
    }
    if (chown(pattern, postgres->pw_uid, postgres->pw_gid) != 0) {
      return absl::InternalError(absl::StrCat("cannot chown ", pattern));
    }
  }
  const std::string data = server->directory_ + "/data";
  if (absl::Status s = Run(absl::StrCat(kBinDir, "/initdb --no-sync -A trust -U postgres -D ",
                                        data, " > ", server->directory_, "/initdb.log 2>&1"));
      !s.ok()) {
    return s;
  }
  // Only a socket in our own directory: nothing listens on the network.
  if (absl::Status s = server->PgCtl("start"); !s.ok()) return s;
  return server;
}

absl::Status TestServer::PgCtl(const std::string& action) const {
  const std::string data = directory_ + "/data";
  std::string options =
      absl::StrCat("-k ", directory_, " -c listen_addresses='' -c synchronous_commit=on",
                   options_.durable ? "" : " -c fsync=off -c full_page_writes=off");
  if (action == "start") {
    return Run(absl::StrCat(kBinDir, "/pg_ctl -w -t 60 -D ", data, " -l ", directory_,
                            "/server.log -o \"", options, "\" start > /dev/null"));
  }
  return Run(absl::StrCat(kBinDir, "/pg_ctl -w -D ", data, " ", action, " > /dev/null"));
}

TestServer::~TestServer() {
  (void)PgCtl("-m immediate stop");
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

absl::Status TestServer::Kill() { return PgCtl("-m immediate stop"); }

absl::Status TestServer::Restart() { return PgCtl("start"); }

std::string TestServer::Url(const std::string& database) const {
  return absl::StrCat("postgresql:///", database, "?host=", directory_, "&user=postgres");
}

absl::Status TestServer::CreateDatabase(const std::string& name) {
  auto admin = Connection::Open(Url("postgres"), absl::Seconds(10));
  if (!admin.ok()) return admin.status();
  return (*admin)->Exec(absl::StrCat("CREATE DATABASE \"", name, "\""));
}

}  // namespace polku::postgres
