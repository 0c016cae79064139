#include "lib/postgres/testing/test_server.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
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

// An initdb'ed data directory to copy: initdb takes a second, a copy a
// fraction of that, and ctest starts a server for every test case. Built
// once per machine and user; a complete directory appears atomically
// (rename), so concurrent first runs are safe: one rename wins.
absl::StatusOr<std::string> DataTemplate() {
  const std::string path = absl::StrCat("/tmp/polku-pg15-template-", geteuid());
  if (std::filesystem::exists(path + "/PG_VERSION")) return path;
  char pattern[] = "/tmp/polku-pg-initdb-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return absl::InternalError("mkdtemp failed");
  const std::string scratch = pattern;
  if (geteuid() == 0) {
    struct passwd* postgres = getpwnam("postgres");
    if (postgres == nullptr) {
      return absl::FailedPreconditionError("running as root needs the `postgres` user");
    }
    if (chown(pattern, postgres->pw_uid, postgres->pw_gid) != 0) {
      return absl::InternalError(absl::StrCat("cannot chown ", pattern));
    }
  }
  absl::Status status = Run(absl::StrCat(kBinDir, "/initdb --no-sync -A trust -U postgres -D ",
                                         scratch, "/data > ", scratch, "/initdb.log 2>&1"));
  if (status.ok() && std::rename((scratch + "/data").c_str(), path.c_str()) != 0 &&
      !std::filesystem::exists(path + "/PG_VERSION")) {
    status = absl::InternalError(absl::StrCat("cannot create ", path));
  }
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  if (!status.ok()) return status;
  return path;
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
  if (absl::Status s = server->StartWatchdog(); !s.ok()) return s;
  const std::string data = server->directory_ + "/data";
  absl::StatusOr<std::string> initialised = DataTemplate();
  if (!initialised.ok()) return initialised.status();
  if (absl::Status s = Run(absl::StrCat("cp -a ", *initialised, " ", data)); !s.ok()) return s;
  // Only a socket in our own directory: nothing listens on the network.
  if (absl::Status s = server->PgCtl("start"); !s.ok()) return s;
  return server;
}

absl::Status TestServer::StartWatchdog() {
  // Built before fork: the child only calls async-signal-safe functions.
  const std::string cleanup = absl::StrCat(
      "read _; ", geteuid() == 0 ? "runuser -u postgres -- " : "", kBinDir, "/pg_ctl -D ",
      directory_, "/data -m immediate stop > /dev/null 2>&1; rm -rf ", directory_);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    // Its own session: a Ctrl-C meant for the tests does not end it first.
    setsid();
    dup2(fds[0], STDIN_FILENO);  // the write end closes with exec
    execl("/bin/sh", "sh", "-c", cleanup.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[0]);
  watchdog_ = pid;
  watchdog_pipe_ = fds[1];
  return absl::OkStatus();
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
  if (watchdog_ > 0) {
    // Nothing left for it to clean up.
    kill(watchdog_, SIGKILL);
    waitpid(watchdog_, nullptr, 0);
    close(watchdog_pipe_);
  }
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
