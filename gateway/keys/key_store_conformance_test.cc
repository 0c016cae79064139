// What every key store must do, run on SQLite and on a real PostgreSQL
// (a throwaway server, lib/postgres/testing). Two stores opened on one
// database stand for two gateway replicas.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "gateway/keys/key_store.h"
#include "gateway/keys/pg_key_store.h"
#include "gateway/keys/sqlite_key_store.h"
#include "lib/base/clock.h"
#include "lib/postgres/testing/shared_server.h"

namespace polku::gateway::keys {
namespace {

using ::testing::HasSubstr;

// One test's database, on either backend.
class Backend {
 public:
  virtual ~Backend() = default;
  // Another store on this test's database: another replica, or a reopen.
  virtual absl::StatusOr<std::unique_ptr<CachingKeyStore>> Open(
      const Clock& clock) = 0;
  absl::StatusOr<std::unique_ptr<CachingKeyStore>> Open() {
    return Open(Clock::Real());
  }
};

class SqliteBackend : public Backend {
 public:
  SqliteBackend() {
    static std::atomic<int> next{1};
    dir_ = absl::StrCat(::testing::TempDir(), "/key-store-", ::getpid(), "-",
                        next++);
    std::filesystem::remove_all(dir_);
  }
  ~SqliteBackend() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  absl::StatusOr<std::unique_ptr<CachingKeyStore>> Open(
      const Clock& clock) override {
    return OpenKeyStore("", dir_, {.clock = &clock});
  }

 private:
  std::string dir_;
};

class PostgresBackend : public Backend {
 public:
  explicit PostgresBackend(std::string url) : url_(std::move(url)) {}
  absl::StatusOr<std::unique_ptr<CachingKeyStore>> Open(
      const Clock& clock) override {
    return OpenKeyStore(
        url_, "",
        {.deadline = absl::Now() + absl::Seconds(30), .clock = &clock});
  }

 private:
  std::string url_;
};

class KeyStoreConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      backend_ = std::make_unique<SqliteBackend>();
    } else {
      absl::StatusOr<std::string> url = postgres::testing::NewDatabase();
      ASSERT_TRUE(url.ok()) << url.status();
      backend_ = std::make_unique<PostgresBackend>(*url);
    }
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->CreateTenant("demo", "Demo").ok());
  }

  std::unique_ptr<CachingKeyStore> OpenStore(
      const Clock& clock = Clock::Real()) {
    auto store = backend_->Open(clock);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<CachingKeyStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, KeyStoreConformanceTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) {
                           return info.param == "sqlite" ? "SQLite"
                                                         : "PostgreSQL";
                         });

TEST_P(KeyStoreConformanceTest, IssuedKeyAuthenticatesAsItsPrincipal) {
  auto issued = store_->CreateKey("demo", "till", {kScopeEventsWrite}, "shop");
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_TRUE(IsWellFormedKey(issued->key));
  EXPECT_EQ(issued->record.key_id, KeyId(issued->key));
  auto who = store_->Authenticate(issued->key);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->tenant, "demo");
  EXPECT_EQ(who->channel, "shop");
  EXPECT_EQ(who->key_id, issued->record.key_id);
  EXPECT_TRUE(who->HasScope(kScopeEventsWrite));
}

TEST_P(KeyStoreConformanceTest, MalformedAndUnknownKeysAreUnauthenticated) {
  EXPECT_THAT(store_->Authenticate("polku_nope").status().message(),
              HasSubstr("malformed"));
  auto unknown = store_->Authenticate(GenerateKey());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown"));
}

TEST_P(KeyStoreConformanceTest, RevocationTakesEffectAtOnceAndSurvivesReopen) {
  auto issued = *store_->CreateKey("demo", "", {kScopeInsightsRead}, "");
  ASSERT_TRUE(store_->Authenticate(issued.key).ok());
  auto revoked = store_->RevokeKey("demo", issued.record.key_id);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_TRUE(revoked->revoke_time.has_value());
  EXPECT_EQ(store_->Authenticate(issued.key).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Revoking again changes nothing.
  auto again = store_->RevokeKey("demo", issued.record.key_id);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->revoke_time, revoked->revoke_time);

  store_.reset();
  auto reopened = OpenStore();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->Authenticate(issued.key).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(reopened->size(), 0u);
}

TEST_P(KeyStoreConformanceTest, KeysAreRevokedOnlyByTheirOwnTenant) {
  ASSERT_TRUE(store_->CreateTenant("other", "").ok());
  auto issued = *store_->CreateKey("demo", "", {kScopeJourneysRead}, "");
  EXPECT_EQ(store_->RevokeKey("other", issued.record.key_id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->RevokeKey("demo", "00000000").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Authenticate(issued.key).ok());
}

TEST_P(KeyStoreConformanceTest, ScopeRulesNameTheField) {
  auto check = [&](std::set<std::string> scopes, std::string channel,
                   const char* field) {
    auto issued = store_->CreateKey("demo", "", scopes, channel);
    EXPECT_EQ(issued.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(issued.status().message(), HasSubstr(field));
  };
  check({}, "", "api_key.scopes");
  check({"root"}, "", "api_key.scopes");
  check({kScopeSuperAdmin}, "", "api_key.scopes");
  check({kScopeEventsWrite}, "", "api_key.channel");
  check({kScopeEventsWrite, kScopeJourneysRead}, "shop", "api_key.scopes");
  check({kScopeJourneysRead}, "shop", "api_key.channel");
  EXPECT_EQ(
      store_->CreateKey("nobody", "", {kScopeJourneysRead}, "").status().code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->CreateKey("", "", {kScopeJourneysRead}, "").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(KeyStoreConformanceTest, TenantsAreUniqueValidAndListedInOrder) {
  EXPECT_EQ(store_->CreateTenant("demo", "").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CreateTenant("Bad Name", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->CreateTenant("acme", "Acme").ok());
  ASSERT_TRUE(store_->CreateTenant("acme-2", "").ok());
  auto tenants = *store_->ListTenants("", 10);
  ASSERT_EQ(tenants.size(), 3u);
  EXPECT_EQ(tenants[0].id, "acme");
  EXPECT_EQ(tenants[0].display_name, "Acme");
  EXPECT_EQ(tenants[1].id, "acme-2");
  EXPECT_EQ(tenants[2].id, "demo");
  EXPECT_EQ(store_->ListTenants("acme", 10)->size(), 2u);
  EXPECT_EQ(store_->ListTenants("", 1)->size(), 1u);
}

TEST_P(KeyStoreConformanceTest, ListsKeysWithoutRevokedOnesUnlessAsked) {
  auto a = *store_->CreateKey("demo", "a", {kScopeJourneysRead}, "");
  auto b =
      *store_->CreateKey("demo", "b", {kScopeInsightsRead, kScopeAdmin}, "");
  ASSERT_TRUE(store_->RevokeKey("demo", a.record.key_id).ok());
  auto valid = *store_->ListKeys("demo", "", 10, false);
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].key_id, b.record.key_id);
  EXPECT_EQ(valid[0].display_name, "b");
  EXPECT_EQ(valid[0].scopes, b.record.scopes);
  EXPECT_EQ(valid[0].create_time, b.record.create_time);
  EXPECT_FALSE(valid[0].revoke_time.has_value());
  EXPECT_EQ(store_->ListKeys("demo", "", 10, true)->size(), 2u);
  EXPECT_EQ(store_->ListKeys("other", "", 10, true)->size(), 0u);
}

TEST_P(KeyStoreConformanceTest, SuperAdminHasNoTenantAndIsIssuedOnce) {
  EXPECT_FALSE(*store_->HasSuperAdminKey());
  auto issued = store_->CreateSuperAdminKey();
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_TRUE(*store_->HasSuperAdminKey());
  auto who = *store_->Authenticate(issued->key);
  EXPECT_TRUE(who.IsSuperAdmin());
  EXPECT_EQ(who.tenant, "");
  EXPECT_EQ(store_->CreateSuperAdminKey().status().code(),
            absl::StatusCode::kAlreadyExists);
  // Once revoked, a new one may be issued.
  ASSERT_TRUE(store_->RevokeKey("", issued->record.key_id).ok());
  EXPECT_FALSE(*store_->HasSuperAdminKey());
  EXPECT_TRUE(store_->CreateSuperAdminKey().ok());
}

// Gateways starting together on one database: one super-admin key.
TEST_P(KeyStoreConformanceTest, ReplicasBootstrappingTogetherIssueOneKey) {
  constexpr int kReplicas = 4;
  std::vector<std::unique_ptr<CachingKeyStore>> replicas;
  for (int i = 0; i < kReplicas; ++i) {
    replicas.push_back(OpenStore());
    ASSERT_NE(replicas.back(), nullptr);
  }
  absl::Barrier barrier(kReplicas);
  std::atomic<int> issued{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (auto& replica : replicas) {
    threads.emplace_back([&, store = replica.get()] {
      barrier.Block();
      auto key = store->CreateSuperAdminKey();
      if (key.ok()) ++issued;
      if (absl::IsAlreadyExists(key.status())) ++refused;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(issued.load(), 1);
  EXPECT_EQ(refused.load(), kReplicas - 1);
}

TEST_P(KeyStoreConformanceTest, AnotherReplicaRefusesARevokedKeyOnceRefreshed) {
  auto other = OpenStore();
  ASSERT_NE(other, nullptr);
  auto issued = *store_->CreateKey("demo", "", {kScopeInsightsRead}, "");
  ASSERT_TRUE(other->Refresh().ok());
  ASSERT_TRUE(other->Authenticate(issued.key).ok());
  ASSERT_TRUE(store_->RevokeKey("demo", issued.record.key_id).ok());
  // Until it reads the change, the other replica answers from memory.
  EXPECT_TRUE(other->Authenticate(issued.key).ok());
  ASSERT_TRUE(other->Refresh().ok());
  EXPECT_EQ(other->Authenticate(issued.key).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(other->size(), 0u);
}

TEST_P(KeyStoreConformanceTest, AnotherReplicaAcceptsANewKeyOnceRefreshed) {
  auto other = OpenStore();
  ASSERT_NE(other, nullptr);
  auto issued = *store_->CreateKey("demo", "", {kScopeEventsWrite}, "web");
  EXPECT_EQ(other->Authenticate(issued.key).status().code(),
            absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(other->Refresh().ok());
  auto who = other->Authenticate(issued.key);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->channel, "web");
  EXPECT_EQ(who->tenant, "demo");
}

// Two replicas issue and revoke keys at the same time while a third
// refreshes over and over: in the end it knows exactly the valid keys,
// whatever order the changes committed and were read in.
TEST_P(KeyStoreConformanceTest, RefreshMissesNoChangeOfConcurrentWriters) {
  auto writer_a = OpenStore();
  auto writer_b = OpenStore();
  auto reader = OpenStore();
  ASSERT_NE(writer_a, nullptr);
  ASSERT_NE(writer_b, nullptr);
  ASSERT_NE(reader, nullptr);
  constexpr int kKeysEach = 30;
  std::atomic<bool> writing{true};
  std::thread refresher([&] {
    while (writing.load()) EXPECT_TRUE(reader->Refresh().ok());
  });
  std::vector<std::string> valid;
  std::vector<std::string> revoked;
  absl::Mutex mu;
  auto write = [&](CachingKeyStore& store) {
    for (int i = 0; i < kKeysEach; ++i) {
      auto issued = store.CreateKey("demo", "", {kScopeJourneysRead}, "");
      ASSERT_TRUE(issued.ok()) << issued.status();
      absl::MutexLock lock(&mu);
      if (i % 3 == 0) {
        ASSERT_TRUE(store.RevokeKey("demo", issued->record.key_id).ok());
        revoked.push_back(issued->key);
      } else {
        valid.push_back(issued->key);
      }
    }
  };
  std::thread a([&] { write(*writer_a); });
  std::thread b([&] { write(*writer_b); });
  a.join();
  b.join();
  writing = false;
  refresher.join();
  ASSERT_TRUE(reader->Refresh().ok());
  for (const std::string& key : valid) {
    EXPECT_TRUE(reader->Authenticate(key).ok());
  }
  for (const std::string& key : revoked) {
    EXPECT_FALSE(reader->Authenticate(key).ok());
  }
  EXPECT_EQ(reader->size(), valid.size());
}

// A store that cannot refresh stops trusting its memory: a key revoked
// elsewhere meanwhile must not pass beyond the staleness bound.
TEST_P(KeyStoreConformanceTest, AStaleStoreRefusesEveryKeyUntilRefreshed) {
  FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  auto store = OpenStore(clock);
  ASSERT_NE(store, nullptr);
  auto issued = *store->CreateKey("demo", "", {kScopeInsightsRead}, "");
  // The thread's own refreshes are an hour apart (real time): this test
  // refreshes by hand.
  store->StartRefreshing(absl::Hours(1), absl::Seconds(10));
  clock.Advance(absl::Seconds(9));
  EXPECT_TRUE(store->Authenticate(issued.key).ok());
  clock.Advance(absl::Seconds(2));
  auto stale = store->Authenticate(issued.key);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(stale.status().message(), HasSubstr("last read 11s ago"));
  ASSERT_TRUE(store->Refresh().ok());
  EXPECT_TRUE(store->Authenticate(issued.key).ok());
}

// Only PostgreSQL has replicas (a SQLite file has one gateway), so this is
// not a conformance test.
TEST(PgKeyStoreTest, ReplicasStartingTogetherMigrateOnce) {
  // A database of its own, which nothing has migrated yet.
  absl::StatusOr<std::string> url = postgres::testing::NewDatabase();
  ASSERT_TRUE(url.ok()) << url.status();
  std::unique_ptr<Backend> fresh = std::make_unique<PostgresBackend>(*url);
  constexpr int kReplicas = 4;
  absl::Barrier barrier(kReplicas);
  std::vector<absl::Status> opened(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      barrier.Block();
      opened[i] = fresh->Open().status();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& status : opened) EXPECT_TRUE(status.ok()) << status;
}

TEST(OpenKeyStoreTest, RefusesAnUrlOfAnotherDatabaseWithoutShowingIt) {
  auto store = OpenKeyStore("mysql://root:hunter2@db/keys", "");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("database_url"));
  EXPECT_THAT(store.status().message(), HasSubstr("\"mysql:\""));
  EXPECT_THAT(store.status().message(), ::testing::Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace polku::gateway::keys
