// Test support: a database per test on either backend, for the tests every
// JourneyStore implementation must pass (journey_store_conformance_test.cc)
// and the PostgreSQL replica tests (pg_journey_store_test.cc).
//
//   auto backend = MakeBackend("postgresql");  // or "sqlite"
//   auto first = (*backend)->Open(clock);      // two stores, one database:
//   auto second = (*backend)->Open(clock);     // two replicas
//
// PostgreSQL: the process's shared throwaway server
// (lib/postgres/testing/shared_server.h); each test gets a fresh database.
#ifndef POLKU_SERVICES_JOURNEY_STORE_TEST_BACKENDS_H_
#define POLKU_SERVICES_JOURNEY_STORE_TEST_BACKENDS_H_

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "lib/base/clock.h"
#include "lib/postgres/postgres.h"
#include "lib/postgres/testing/shared_server.h"
#include "lib/sqlite/sqlite.h"
#include "services/journey/journey_store.h"
#include "services/journey/pg_journey_store.h"
#include "services/journey/sqlite_journey_store.h"

namespace polku::journey::testing {

// Numbers this process's SQLite test databases.
inline int NextDatabaseNumber() {
  static std::atomic<int> next{1};
  return next++;
}

// One test's database.
class Backend {
 public:
  virtual ~Backend() = default;
  // A new store on this test's database (another replica, or a reopen).
  virtual absl::StatusOr<std::unique_ptr<JourneyStore>> Open(
      const Clock& clock) = 0;
  // Runs `sql` on the database directly, past any store.
  virtual absl::Status ExecSql(const std::string& sql) = 0;
};

class SqliteBackend : public Backend {
 public:
  SqliteBackend()
      : path_(absl::StrCat(::testing::TempDir(), "/journey-store-", ::getpid(),
                           "-", NextDatabaseNumber(), ".db")) {
    std::filesystem::remove(path_);
  }
  ~SqliteBackend() override {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::filesystem::remove(path_ + suffix, ignored);
    }
  }
  absl::StatusOr<std::unique_ptr<JourneyStore>> Open(
      const Clock& clock) override {
    sqlite::Database::Options options;
    options.durable = false;
    auto store = SqliteJourneyStore::Open(path_, clock, options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<JourneyStore>(*std::move(store));
  }
  absl::Status ExecSql(const std::string& sql) override {
    auto db = sqlite::Database::Open(path_);
    if (!db.ok()) return db.status();
    return (*db)->Exec(sql);
  }

 private:
  const std::string path_;
};

class PostgresBackend : public Backend {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresBackend>> Create() {
    absl::StatusOr<std::string> url = postgres::testing::NewDatabase();
    if (!url.ok()) return url.status();
    return std::unique_ptr<PostgresBackend>(new PostgresBackend(*url));
  }
  absl::StatusOr<std::unique_ptr<JourneyStore>> Open(
      const Clock& clock) override {
    auto store = PgJourneyStore::Open(url_, clock);
    if (!store.ok()) return store.status();
    return std::unique_ptr<JourneyStore>(*std::move(store));
  }
  absl::Status ExecSql(const std::string& sql) override {
    auto db = postgres::Connection::Open(url_, absl::Seconds(10));
    if (!db.ok()) return db.status();
    return (*db)->Exec(sql);
  }
  const std::string& url() const { return url_; }

 private:
  explicit PostgresBackend(std::string url) : url_(std::move(url)) {}
  const std::string url_;
};

inline absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(
    const std::string& name) {
  if (name == "sqlite") return std::make_unique<SqliteBackend>();
  auto backend = PostgresBackend::Create();
  if (!backend.ok()) return backend.status();
  return std::unique_ptr<Backend>(*std::move(backend));
}

}  // namespace polku::journey::testing

#endif  // POLKU_SERVICES_JOURNEY_STORE_TEST_BACKENDS_H_
