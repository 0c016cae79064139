// The conformance suite on PostgreSQL: a real server started by the test
// (lib/postgres/testing), a database per test, and for the replica and
// restart tests a second store on the same database.
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "lib/postgres/postgres.h"
#include "lib/postgres/testing/shared_server.h"
#include "services/cases/postgres/pg_case_store.h"
#include "services/cases/tests/case_store_conformance.h"

namespace polku::cases {
namespace {

std::unique_ptr<CaseStore> MakePostgres(CaseStore::Options options,
                                        const std::string& database) {
  static auto* urls = new std::map<std::string, std::string>;
  auto it = urls->find(database);
  if (it == urls->end()) {
    absl::StatusOr<std::string> url = postgres::testing::NewDatabase();
    EXPECT_TRUE(url.ok()) << url.status();
    if (!url.ok()) return nullptr;
    it = urls->emplace(database, *url).first;
  }
  auto store = PgCaseStore::Open(it->second, std::move(options));
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return nullptr;
  return *std::move(store);
}

INSTANTIATE_TEST_SUITE_P(
    Postgres, CaseStoreConformance,
    testing::Values(Backend{"postgres", &MakePostgres}),
    [](const testing::TestParamInfo<Backend>& info) { return info.param.name; });

// A database of version 2 (before business calendars) gains them when the
// store opens it, and the change sequence; what it held stays.
TEST(CaseStorePgMigrationTest, ADatabaseOfVersion2GainsBusinessCalendars) {
  absl::StatusOr<std::string> url = postgres::testing::NewDatabase();
  ASSERT_TRUE(url.ok()) << url.status();
  {
    auto db = postgres::Connection::Open(*url, absl::Seconds(10));
    ASSERT_TRUE(db.ok()) << db.status();
    std::vector<Migration> v2(PgCaseStore::Migrations().begin(),
                              PgCaseStore::Migrations().begin() + 2);
    ASSERT_TRUE((*db)->Migrate("cases", v2).ok());
    ASSERT_TRUE(
        (*db)->Exec("INSERT INTO case_rules VALUES ('acme', 'r1', '')").ok());
  }
  auto store = PgCaseStore::Open(*url, {});
  ASSERT_TRUE(store.ok()) << store.status();
  ExpectMigratedFromVersion2(**store);
}

}  // namespace
// An erasure waits for a write to one of the customer's cases that is in
// flight (its change row written, not committed) and then empties that
// change too: nothing of the customer stays in case_changes. (Removing
// before locking the cases missed such rows.)
TEST(CaseStorePgErasureTest, AChangeCommittedDuringTheErasureIsEmptiedToo) {
  absl::StatusOr<std::string> url = postgres::testing::NewDatabase();
  ASSERT_TRUE(url.ok()) << url.status();
  auto store = PgCaseStore::Open(*url, {});
  ASSERT_TRUE(store.ok()) << store.status();
  v1::CaseRule rule;
  rule.set_journey("switching");
  rule.set_name("Detractors");
  rule.mutable_conditions()->set_max_nps(6);
  rule.set_priority(v1::HIGH);
  rule.set_fallback_queue("customer-care");
  ASSERT_TRUE((*store)->CreateRule("acme", "anna", rule).ok());
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  v1::StoredEvent& e = *page.Add();
  e.set_sequence(1);
  e.set_tenant("acme");
  e.set_channel("phone");
  e.set_journey("switching");
  e.set_journey_version(1);
  e.set_stage("support");
  e.set_customer_hash("hash-gone");
  e.mutable_received_at()->set_seconds(1780000000);
  e.mutable_event()->set_event_id("ev1");
  e.mutable_event()->set_touchpoint("support_call");
  e.mutable_event()->mutable_occurred_at()->set_seconds(1780000000);
  e.mutable_event()->set_nps(2);
  ASSERT_TRUE((*store)->Apply(page).ok());

  auto writer = postgres::Connection::Open(*url, absl::Seconds(10));
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Exec("BEGIN").ok());
  auto locked = (*writer)->Execute(
      "SELECT case_id FROM cases WHERE tenant = 'acme' AND "
      "customer_hash = 'hash-gone' FOR UPDATE");
  ASSERT_TRUE(locked.ok()) << locked.status();
  ASSERT_EQ(locked->rows(), 1);
  ASSERT_TRUE((*writer)
                  ->Execute("INSERT INTO case_changes (sequence, tenant, "
                            "case_id, body) VALUES (1000000, 'acme', $1, $2)",
                            {postgres::Param::Text(locked->Text(0, 0)),
                             postgres::Param::Bytes("the customer's case")})
                  .ok());
  v1::Erasure erasure;
  erasure.set_sequence(2);
  erasure.set_tenant("acme");
  erasure.set_customer_hash("hash-gone");
  absl::Status erased;
  std::thread eraser([&] { erased = (*store)->ApplyErasure(erasure); });
  absl::SleepFor(absl::Milliseconds(500));  // the erasure meets the lock
  ASSERT_TRUE((*writer)->Exec("COMMIT").ok());
  eraser.join();
  ASSERT_TRUE(erased.ok()) << erased;
  auto body = (*writer)->Execute(
      "SELECT length(body) FROM case_changes WHERE sequence = 1000000");
  ASSERT_TRUE(body.ok()) << body.status();
  ASSERT_EQ(body->rows(), 1);
  EXPECT_EQ(body->Int(0, 0), 0);
}

}  // namespace polku::cases
