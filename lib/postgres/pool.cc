#include "lib/postgres/pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"

namespace polku::postgres {

Pool::Pool(std::string url, PoolOptions options)
    : url_(std::move(url)),
      server_(DescribeServer(url_)),
      options_(std::move(options)) {}

Pool::~Pool() {
  absl::MutexLock lock(&mu_);
  idle_.clear();
}

Pool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), connection_(std::move(other.connection_)) {}

Pool::Lease::~Lease() {
  if (connection_ != nullptr) pool_->Return(std::move(connection_));
}

bool Pool::CanAcquire() const {
  return !idle_.empty() || open_ < options_.size;
}

void Pool::Return(std::unique_ptr<Connection> connection) {
  absl::MutexLock lock(&mu_);
  if (connection->healthy()) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;  // dropped: the next Acquire opens a fresh one
  }
}

absl::StatusOr<Pool::Lease> Pool::Acquire(absl::Time deadline) {
  while (true) {
    std::unique_ptr<Connection> idle;
    {
      absl::MutexLock lock(&mu_);
      if (!mu_.AwaitWithDeadline(absl::Condition(this, &Pool::CanAcquire),
                                 deadline)) {
        return absl::DeadlineExceededError(absl::StrCat(
            "all ", options_.size, " connections to PostgreSQL at ", server_,
            " stayed busy"));
      }
      if (!idle_.empty()) {
        idle = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;
      }
    }
    if (idle != nullptr) {
      if (idle->StillConnected()) return Lease(this, std::move(idle));
      absl::MutexLock lock(&mu_);
      --open_;
      continue;  // the server went away meanwhile: try the next
    }
    // At least a second, so a nearly spent deadline still gets a real try.
    const absl::Duration timeout = std::max(
        absl::Seconds(1), std::min(deadline - absl::Now(), options_.connect_timeout));
    absl::StatusOr<std::unique_ptr<Connection>> opened =
        Connection::Open(url_, timeout);
    absl::Status status = opened.status();
    if (opened.ok() && options_.prepare) status = options_.prepare(**opened);
    if (!status.ok()) {
      absl::MutexLock lock(&mu_);
      --open_;
      return absl::Status(status.code(),
                          absl::StrCat("PostgreSQL at ", server_,
                                       " unreachable: ", status.message()));
    }
    return Lease(this, *std::move(opened));
  }
}

absl::StatusOr<std::unique_ptr<Connection>> WaitForServer(
    const std::string& url, const WaitOptions& options) {
  const std::string server = DescribeServer(url);
  absl::Duration backoff = options.first_backoff;
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::unique_ptr<Connection>> connection =
        Connection::Open(url, options.connect_timeout);
    absl::Status status = connection.status();
    if (connection.ok() && options.ready) status = options.ready(**connection);
    if (status.ok()) {
      if (attempt > 1) {
        log::Info("PostgreSQL is reachable",
                  {{"server", server}, {"attempts", attempt}});
      }
      return connection;
    }
    if (!absl::IsUnavailable(status)) return status;
    const absl::Time now = absl::Now();
    if (now + backoff > options.deadline) {
      return absl::UnavailableError(
          absl::StrCat("PostgreSQL at ", server, " unreachable after ",
                       attempt, " attempts: ", status.message()));
    }
    log::Warning(absl::StrFormat(
                     "PostgreSQL at %s unreachable: %s; retrying in %s",
                     server, status.message(), absl::FormatDuration(backoff)),
                 {{"server", server}, {"attempt", attempt}});
    if (options.cancelled != nullptr) {
      if (options.cancelled->WaitForNotificationWithTimeout(backoff)) {
        return absl::CancelledError(absl::StrCat(
            "stopped waiting for PostgreSQL at ", server));
      }
    } else {
      absl::SleepFor(backoff);
    }
    backoff = std::min(backoff * 2, options.max_backoff);
  }
}

namespace {

absl::Status Unreachable(absl::string_view database,
                         const absl::Status& status) {
  std::string reason(status.message());
  if (const size_t sql = reason.find(" in: "); sql != std::string::npos) {
    reason.resize(sql);
  }
  return absl::UnavailableError(
      absl::StrCat("the ", database, " database is unavailable: ", reason));
}

}  // namespace

absl::Status RunWithRetries(Pool& pool, absl::Duration connect_timeout,
                            absl::string_view database, bool transaction,
                            absl::FunctionRef<absl::Status(Connection&)> work,
                            int attempts) {
  absl::Status status;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    absl::StatusOr<Pool::Lease> db =
        pool.Acquire(absl::Now() + connect_timeout);
    if (!db.ok()) {
      return absl::IsUnavailable(db.status())
                 ? Unreachable(database, db.status())
                 : db.status();
    }
    status = [&]() -> absl::Status {
      if (!transaction) return work(**db);
      Transaction txn(**db);
      POLKU_RETURN_IF_ERROR(txn.Begin());
      POLKU_RETURN_IF_ERROR(work(**db));
      return txn.Commit();
    }();
    if (absl::IsUnavailable(status)) return Unreachable(database, status);
    if (!absl::IsAborted(status)) return status;
  }
  return status;
}

}  // namespace polku::postgres
