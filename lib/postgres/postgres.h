// A thin RAII layer over libpq: a connection with parameterised queries,
// transactions and schema migrations that several replicas may run at once.
//
//   POLKU_ASSIGN_OR_RETURN(auto db, postgres::Connection::Open(
//       "postgresql://polku@db/feedback", absl::Seconds(5)));
//   POLKU_RETURN_IF_ERROR(
//       db->Migrate("feedback", {{1, "CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT)"}}));
//   postgres::Transaction txn(*db);
//   POLKU_RETURN_IF_ERROR(txn.Begin());
//   POLKU_ASSIGN_OR_RETURN(postgres::Result r, db->Execute(
//       "INSERT INTO t VALUES ($1, $2) RETURNING v", {Param::Text("a"), Param::Int(7)}));
//   POLKU_RETURN_IF_ERROR(txn.Commit());
//
// Errors are absl::Status with the most specific code SQLSTATE allows:
// unique_violation → ALREADY_EXISTS, other integrity violations →
// FAILED_PRECONDITION, serialization failures and deadlocks → ABORTED (retry
// the transaction), a lost or refused connection → UNAVAILABLE, data
// exceptions → INVALID_ARGUMENT, insufficient resources → RESOURCE_EXHAUSTED.
// A Connection is used by one thread at a time.
#ifndef POLKU_LIB_POSTGRES_POSTGRES_H_
#define POLKU_LIB_POSTGRES_POSTGRES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "absl/time/time.h"
#include "lib/base/migration.h"

struct pg_conn;
struct pg_result;

namespace polku::postgres {

// One query parameter: text (PostgreSQL converts it to the column's type),
// raw bytes for BYTEA, NULL, or a one-dimensional array without NULLs.
//
// Arrays travel in PostgreSQL's binary array format, element by element with
// its length, so no value needs quoting or escaping (and BYTEA elements are
// not hex-encoded). The statement must give the parameter its array type,
// e.g. `unnest($1::text[], $2::bytea[], $3::bigint[])`: the server checks
// the element type it receives against it.
//
// Text cannot hold NUL (PostgreSQL's text types cannot store it, and libpq
// would cut a text parameter short at it): Execute refuses a Text or
// TextArray parameter containing one with INVALID_ARGUMENT, sending nothing.
class Param {
 public:
  static Param Text(absl::string_view text) {
    return Param(std::string(text), false, HasNul(text));
  }
  static Param Int(int64_t value) { return Param(std::to_string(value), false, false); }
  static Param Bytes(absl::string_view bytes) { return Param(std::string(bytes), true, false); }
  static Param Null() { return Param(std::nullopt, false, false); }
  // TEXT[]: `$n::text[]`.
  static Param TextArray(absl::Span<const std::string> texts);
  // BYTEA[]: `$n::bytea[]`.
  static Param BytesArray(absl::Span<const std::string> bytes);
  // BIGINT[]: `$n::bigint[]`.
  static Param IntArray(absl::Span<const int64_t> values);

  const std::optional<std::string>& value() const { return value_; }
  bool binary() const { return binary_; }
  // A text value with a NUL byte, which Execute refuses.
  bool has_nul() const { return has_nul_; }

 private:
  Param(std::optional<std::string> value, bool binary, bool has_nul)
      : value_(std::move(value)), binary_(binary), has_nul_(has_nul) {}
  static bool HasNul(absl::string_view text) {
    return text.find('\0') != absl::string_view::npos;
  }
  std::optional<std::string> value_;
  bool binary_;
  bool has_nul_;
};

// The rows of a query, owned; columns in text format, except BYTEA columns
// read with Bytes() (they arrive as \x-hex text and are decoded).
class Result {
 public:
  Result(Result&&) noexcept;
  Result& operator=(Result&&) noexcept;
  ~Result();

  int rows() const;
  int columns() const;
  // Rows changed by INSERT/UPDATE/DELETE.
  int64_t affected() const;
  // The command tag, e.g. "COMMIT", or "ROLLBACK" for a COMMIT of a failed
  // transaction.
  std::string command() const;
  bool IsNull(int row, int column) const;
  std::string Text(int row, int column) const;
  int64_t Int(int row, int column) const;
  double Double(int row, int column) const;
  std::string Bytes(int row, int column) const;

 private:
  friend class Connection;
  explicit Result(pg_result* result) : result_(result) {}
  pg_result* result_;
};

class Connection {
 public:
  // Connects to `url` (a libpq URI or key=value string). UNAVAILABLE, with
  // libpq's reason, when the server cannot be reached within the timeout.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& url,
                                                          absl::Duration connect_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One statement with $1, $2, … parameters. INVALID_ARGUMENT, without
  // asking the server, if a text parameter holds NUL (see Param).
  absl::StatusOr<Result> Execute(absl::string_view sql, const std::vector<Param>& params = {});
  // One or more statements without parameters and without results.
  absl::Status Exec(absl::string_view sql);

  // Applies `component`'s migrations newer than its schema version in the
  // database, each in its own transaction, recording versions per component
  // (e.g. "feedback") in `schema_migrations`, so that several services may
  // share one database. An advisory lock serialises replicas that start at
  // the same moment: the second waits, then finds nothing left to do. Fails
  // if the database is newer than the code. Versions recorded before
  // components existed are taken over by the first component that migrates
  // (such a database served one component). A migration waits at most
  // `lock_timeout` for each lock it takes (an older replica's long read
  // during a rolling upgrade): meanwhile every other query of that table
  // would queue behind it. DEADLINE_EXCEEDED then, naming the migration;
  // nothing of it is applied (the process fails to start, and its next
  // start tries again, rather than queueing again at once).
  absl::Status Migrate(absl::string_view component, const std::vector<Migration>& migrations,
                       absl::Duration lock_timeout = absl::Seconds(10));
  absl::StatusOr<int> SchemaVersion(absl::string_view component);

  // False once the server has gone away; a new Connection is then needed.
  bool healthy() const;

  // Like healthy(), but first reads what the server sent meanwhile without
  // waiting, so an idle connection whose server restarted is found out
  // before a query fails on it.
  bool StillConnected();

  // A NOTIFY received on a channel this connection LISTENs to.
  struct Notification {
    std::string channel;
    std::string payload;
  };
  // Waits up to `timeout` for notifications (after `LISTEN channel`) and
  // returns those that arrived, possibly none. Returns early, with none, if
  // `wake_fd` (when >= 0) becomes readable. UNAVAILABLE if the connection
  // broke.
  absl::StatusOr<std::vector<Notification>> WaitForNotifications(
      absl::Duration timeout, int wake_fd = -1);

 private:
  explicit Connection(pg_conn* conn) : conn_(conn) {}
  absl::Status StatusOf(pg_result* result, absl::string_view sql);
  // Creates schema_migrations, or adds the component column to one from
  // before components.
  absl::Status KeyMigrationsByComponent(absl::string_view component);

  pg_conn* conn_;
  bool lost_ = false;
};

// "host:port/database" of a libpq URI or key=value string, for messages:
// never the password or any other parameter.
std::string DescribeServer(const std::string& url);

// BEGIN … COMMIT, rolled back on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& connection) : connection_(connection) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // `begin` may name an isolation level, e.g. "BEGIN ISOLATION LEVEL SERIALIZABLE".
  absl::Status Begin(absl::string_view begin = "BEGIN");
  absl::Status Commit();
  absl::Status Rollback();

 private:
  Connection& connection_;
  bool open_ = false;
};

}  // namespace polku::postgres

#endif  // POLKU_LIB_POSTGRES_POSTGRES_H_
