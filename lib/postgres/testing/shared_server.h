// One throwaway PostgreSQL server per test process, shared by every test in
// it: started on first use, stopped when the process exits. Each test takes
// a database of its own, so tests never see each other's rows.
//
//   TEST(MyStoreTest, Works) {
//     absl::StatusOr<std::string> url = postgres::testing::NewDatabase();
//     ASSERT_TRUE(url.ok()) << url.status();
//     auto store = MyStore::Open(*url);
//   }
//
// ctest runs every test case in a process of its own, so "per process" is
// usually "per test"; running the binary directly shares one server.
#ifndef POLKU_LIB_POSTGRES_TESTING_SHARED_SERVER_H_
#define POLKU_LIB_POSTGRES_TESTING_SHARED_SERVER_H_

#include <string>

#include "absl/status/statusor.h"
#include "lib/postgres/testing/test_server.h"

namespace polku::postgres::testing {

// The process's server, started (non-durable: fsync off) on first call.
absl::StatusOr<TestServer*> SharedServer();

// Creates a database with a name no other call in this process used
// (derived from the running GoogleTest's name when there is one) on the
// shared server and returns its libpq URL.
absl::StatusOr<std::string> NewDatabase();

}  // namespace polku::postgres::testing

#endif  // POLKU_LIB_POSTGRES_TESTING_SHARED_SERVER_H_
