// The conformance suite of CaseStore backends: the tests are in
// case_store_conformance.cc; each backend instantiates them with a factory.
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, CaseStoreConformance,
//       testing::Values(Backend{"sqlite", &MakeSqlite}));
#ifndef POLKU_SERVICES_CASES_TESTS_CASE_STORE_CONFORMANCE_H_
#define POLKU_SERVICES_CASES_TESTS_CASE_STORE_CONFORMANCE_H_

#include <memory>
#include <ostream>
#include <string>

#include "gtest/gtest.h"
#include "lib/base/clock.h"
#include "services/cases/store/case_store.h"

namespace polku::cases {

struct Backend {
  std::string name;
  // A store on the database named `database`: empty the first time a name
  // is used; the same name again gives a second store on the same data (a
  // restart, or a second replica) where the backend has shared data.
  std::unique_ptr<CaseStore> (*make)(CaseStore::Options options,
                                     const std::string& database);
  // False for the memory backend: each store has its own data.
  bool shared_database = true;
};

// ctest's test names show the backend's name, not the struct's bytes.
inline void PrintTo(const Backend& backend, std::ostream* os) {
  *os << backend.name;
}

class CaseStoreConformance : public testing::TestWithParam<Backend> {
 protected:
  CaseStoreConformance();

  CaseStore::Options Options();
  // Another store on this test's database (a restart or a replica).
  std::unique_ptr<CaseStore> Twin();

  FakeClock clock_;
  std::string database_;
  std::unique_ptr<CaseStore> store_;
};

// What a store opened on a database of schema version 2 (rule `r1` of
// tenant `acme` in it) must show: the rule kept, a business calendar stored
// and read back, and an empty change sequence.
void ExpectMigratedFromVersion2(CaseStore& store);

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_TESTS_CASE_STORE_CONFORMANCE_H_
