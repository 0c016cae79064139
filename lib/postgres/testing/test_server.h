// A real PostgreSQL server for tests: a fresh data directory in a new
// temporary directory (copied from one initdb'ed once per machine, kept as
// /tmp/polku-pg15-template-<uid>), listening only on a Unix socket inside
// it, stopped and removed on destruction. No pre-existing server is used or
// needed. Should the test process die without destroying the server, a
// watchdog process stops the server and removes the directory.
//
//   POLKU_ASSIGN_OR_RETURN(auto server, postgres::TestServer::Start());
//   POLKU_RETURN_IF_ERROR(server->CreateDatabase("feedback"));
//   auto db = postgres::Connection::Open(server->Url("feedback"), absl::Seconds(5));
//
// PostgreSQL refuses to run as root, so under root the server runs as the
// `postgres` user (Debian's postgresql package creates it) via runuser.
#ifndef POLKU_LIB_POSTGRES_TESTING_TEST_SERVER_H_
#define POLKU_LIB_POSTGRES_TESTING_TEST_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace polku::postgres {

class TestServer {
 public:
  struct Options {
    // Crash tests need real fsyncs; functional tests run much faster
    // without (a CREATE DATABASE alone syncs thousands of files).
    bool durable = false;
  };

  // FAILED_PRECONDITION naming what is missing when the PostgreSQL binaries
  // are not installed (Debian: postgresql).
  static absl::StatusOr<std::unique_ptr<TestServer>> Start(const Options& options);
  static absl::StatusOr<std::unique_ptr<TestServer>> Start() { return Start(Options()); }
  ~TestServer();

  absl::Status CreateDatabase(const std::string& name);
  // A libpq URI for `database` over the server's socket.
  std::string Url(const std::string& database) const;
  // Stops the server abruptly (immediate shutdown: like a crash).
  absl::Status Kill();
  // Starts it again on the same data directory.
  absl::Status Restart();

 private:
  TestServer(std::string directory, Options options)
      : directory_(std::move(directory)), options_(options) {}
  absl::Status PgCtl(const std::string& arguments) const;
  // A shell that stops the server and removes its directory when this
  // process ends without the destructor running (a crash, a test timeout):
  // it waits for the end of a pipe only this process holds.
  absl::Status StartWatchdog();

  std::string directory_;
  Options options_;
  int watchdog_ = -1;  // its pid
  int watchdog_pipe_ = -1;
};

}  // namespace polku::postgres

#endif  // POLKU_LIB_POSTGRES_TESTING_TEST_SERVER_H_
