// Connections to one PostgreSQL database for a service: a small pool that
// opens connections when first needed and replaces broken ones, and a
// start-up wait that keeps trying, with backoff, until the server answers.
//
//   POLKU_ASSIGN_OR_RETURN(auto first, postgres::WaitForServer(url, {}));
//   postgres::Pool pool(url, {.size = 4});
//   POLKU_ASSIGN_OR_RETURN(postgres::Pool::Lease db,
//                          pool.Acquire(absl::Now() + absl::Seconds(5)));
//   POLKU_ASSIGN_OR_RETURN(auto rows, db->Execute("SELECT 1"));
//   // the lease returns the connection when it goes out of scope
//
// While the server is down every Acquire fails UNAVAILABLE ("PostgreSQL at
// host:5432/feedback unreachable: …"); once it is back the next Acquire
// opens a fresh connection, so callers recover without being restarted.
// Messages name the server and database, never the password.
#ifndef POLKU_LIB_POSTGRES_POOL_H_
#define POLKU_LIB_POSTGRES_POOL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "lib/postgres/postgres.h"

namespace polku::postgres {

struct PoolOptions {
  // Connections open at most.
  int size = 4;
  absl::Duration connect_timeout = absl::Seconds(5);
  // Runs on every new connection before first use (e.g. session settings);
  // a failure discards the connection and fails that Acquire.
  std::function<absl::Status(Connection&)> prepare;
};

class Pool {
 public:
  Pool(std::string url, PoolOptions options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A connection for one user at a time; returned to the pool on
  // destruction, or dropped if it broke meanwhile.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    Pool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  // An idle connection that is still connected, else a new one if fewer
  // than `size` are open, else waits for one until `deadline`.
  // UNAVAILABLE when the server cannot be reached, DEADLINE_EXCEEDED when
  // every connection stayed busy.
  absl::StatusOr<Lease> Acquire(absl::Time deadline);

  // "host:port/database", for messages.
  const std::string& server() const { return server_; }

 private:
  void Return(std::unique_ptr<Connection> connection);
  bool CanAcquire() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string url_;
  const std::string server_;
  const PoolOptions options_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  // Idle plus leased plus being opened.
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

struct WaitOptions {
  absl::Duration first_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
  // Give up then; InfiniteFuture = keep trying until `cancelled`.
  absl::Time deadline = absl::InfiniteFuture();
  absl::Duration connect_timeout = absl::Seconds(5);
  // Runs on each new connection (e.g. migrations). UNAVAILABLE counts as
  // the server being unreachable and is retried; another error ends the
  // wait with that error.
  std::function<absl::Status(Connection&)> ready;
  // When notified, the wait ends (CANCELLED) instead of sleeping again.
  absl::Notification* cancelled = nullptr;
};

// Connects to `url`, logging every failed attempt as a warning
// ("PostgreSQL at db:5432/feedback unreachable: <reason>; retrying in 2s")
// and retrying with exponential backoff until it succeeds, the deadline
// passes (UNAVAILABLE with the last reason) or `cancelled` is notified.
absl::StatusOr<std::unique_ptr<Connection>> WaitForServer(
    const std::string& url, const WaitOptions& options);

// Runs `work` on a connection from `pool` (within one transaction if
// `transaction`), again while it loses a deadlock or serialization race
// (ABORTED), `attempts` times in all. The database out of reach (the pool,
// or the connection during `work`) is UNAVAILABLE "the <database> database
// is unavailable: <reason>", without the SQL the connection layer appends
// for logs; a broken connection goes back to the pool, which drops it.
absl::Status RunWithRetries(Pool& pool, absl::Duration connect_timeout,
                            absl::string_view database, bool transaction,
                            absl::FunctionRef<absl::Status(Connection&)> work,
                            int attempts = 3);

}  // namespace polku::postgres

#endif  // POLKU_LIB_POSTGRES_POOL_H_
