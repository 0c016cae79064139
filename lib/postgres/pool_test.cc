#include "lib/postgres/pool.h"

#include <thread>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/postgres/testing/shared_server.h"
#include "lib/postgres/testing/test_server.h"

namespace polku::postgres {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

int64_t BackendPid(Connection& db) {
  auto pid = db.Execute("SELECT pg_backend_pid()");
  EXPECT_TRUE(pid.ok()) << pid.status();
  return pid.ok() ? pid->Int(0, 0) : -1;
}

// The URL with a password that must never show up in messages (the test
// server trusts local connections, so any password is accepted).
std::string WithPassword(const std::string& url) {
  return absl::StrReplaceAll(url, {{"postgresql:///", "postgresql://postgres:s3cret-pw@/"}});
}

TEST(DescribeServerTest, NamesHostPortAndDatabaseOnly) {
  EXPECT_EQ(DescribeServer("postgres://polku:pw@db.example:5433/feedback?sslmode=require"),
            "db.example:5433/feedback");
  EXPECT_EQ(DescribeServer("postgresql://db/journey"), "db/journey");
  EXPECT_EQ(DescribeServer("host=/run/pg dbname=insight password=pw"), "/run/pg/insight");
  EXPECT_THAT(DescribeServer("postgresql://u:pw@/feedback?host=/tmp/s"),
              Not(HasSubstr("pw")));
}

TEST(PoolTest, OpensLazilyAndReusesConnections) {
  auto url = testing::NewDatabase();
  ASSERT_TRUE(url.ok()) << url.status();
  int prepared = 0;
  Pool pool(*url, {.size = 2, .prepare = [&](Connection& db) {
                     ++prepared;
                     return db.Exec("SET synchronous_commit = on");
                   }});
  EXPECT_EQ(prepared, 0);
  int64_t first_pid;
  {
    auto lease = pool.Acquire(absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(lease.ok()) << lease.status();
    first_pid = BackendPid(**lease);
  }
  auto again = pool.Acquire(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(BackendPid(**again), first_pid);
  auto second = pool.Acquire(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(second.ok());
  EXPECT_NE(BackendPid(**second), first_pid);
  EXPECT_EQ(prepared, 2);
}

TEST(PoolTest, AcquireWaitsForAFreeConnectionUntilTheDeadline) {
  auto url = testing::NewDatabase();
  ASSERT_TRUE(url.ok()) << url.status();
  Pool pool(*url, {.size = 1});
  auto held = std::make_unique<Pool::Lease>(*pool.Acquire(absl::Now() + absl::Seconds(10)));
  auto busy = pool.Acquire(absl::Now() + absl::Milliseconds(100));
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(busy.status().message(), HasSubstr("stayed busy"));
  std::thread release([&] {
    absl::SleepFor(absl::Milliseconds(50));
    held.reset();
  });
  auto waited = pool.Acquire(absl::Now() + absl::Seconds(10));
  release.join();
  EXPECT_TRUE(waited.ok()) << waited.status();
}

// A server of its own: this test stops it.
TEST(PoolTest, WhileTheServerIsDownAcquireIsUnavailableAndThenRecovers) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->CreateDatabase("pool").ok());
  Pool pool(WithPassword((*server)->Url("pool")), {.size = 2});
  int64_t before;
  {
    auto lease = pool.Acquire(absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(lease.ok()) << lease.status();
    before = BackendPid(**lease);
  }
  ASSERT_TRUE((*server)->Kill().ok());
  for (int i = 0; i < 2; ++i) {  // the idle connection is found dead, then none opens
    auto down = pool.Acquire(absl::Now() + absl::Seconds(10));
    ASSERT_FALSE(down.ok());
    EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(down.status().message(), HasSubstr("PostgreSQL at "));
    EXPECT_THAT(down.status().message(), HasSubstr("/pool unreachable: "));
    EXPECT_THAT(down.status().message(), Not(HasSubstr("s3cret-pw")));
  }
  ASSERT_TRUE((*server)->Restart().ok());
  auto back = pool.Acquire(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_NE(BackendPid(**back), before);
}

TEST(WaitForServerTest, RetriesWithBackoffAndLogsEachAttempt) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->CreateDatabase("wait").ok());
  ASSERT_TRUE((*server)->Kill().ok());
  int ready_calls = 0;
  std::thread restart([&] {
    absl::SleepFor(absl::Milliseconds(700));
    EXPECT_TRUE((*server)->Restart().ok());
  });
  ::testing::internal::CaptureStderr();
  auto connection = WaitForServer(WithPassword((*server)->Url("wait")),
                                  {.first_backoff = absl::Milliseconds(100),
                                   .ready = [&](Connection& db) {
                                     ++ready_calls;
                                     return db.Exec("SELECT 1");
                                   }});
  const std::string log = ::testing::internal::GetCapturedStderr();
  restart.join();
  ASSERT_TRUE(connection.ok()) << connection.status();
  EXPECT_EQ(ready_calls, 1);
  EXPECT_THAT(log, HasSubstr("/wait unreachable: "));
  EXPECT_THAT(log, HasSubstr("retrying in 100ms"));
  EXPECT_THAT(log, HasSubstr("retrying in 200ms"));  // backing off
  EXPECT_THAT(log, Not(HasSubstr("s3cret-pw")));
}

TEST(WaitForServerTest, GivesUpAtTheDeadlineOrWhenCancelled) {
  const std::string nowhere = "postgresql:///x?host=/nonexistent-polku-dir";
  auto late = WaitForServer(nowhere, {.first_backoff = absl::Milliseconds(20),
                                      .deadline = absl::Now() + absl::Milliseconds(200)});
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(late.status().message(), HasSubstr("unreachable after"));

  absl::Notification cancelled;
  cancelled.Notify();
  auto stopped = WaitForServer(nowhere, {.cancelled = &cancelled});
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled);

  // Not a connectivity problem: no retry.
  auto server = testing::SharedServer();
  ASSERT_TRUE(server.ok());
  auto refused = WaitForServer((*server)->Url("postgres"), {
      .ready = [](Connection&) { return absl::FailedPreconditionError("schema too new"); }});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace polku::postgres
