#include "lib/postgres/postgres.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/escaping.h"

namespace polku::postgres {
namespace {

// Every Polku schema takes this advisory lock while migrating.
constexpr int64_t kMigrationLock = 0x706f6c6b75;  // "polku"

// The status code a SQLSTATE class deserves (see the header).
absl::StatusCode CodeOf(absl::string_view sqlstate) {
  if (sqlstate == "23505") return absl::StatusCode::kAlreadyExists;
  if (sqlstate == "40001" || sqlstate == "40P01") return absl::StatusCode::kAborted;
  if (sqlstate == "57014") return absl::StatusCode::kCancelled;  // query_canceled
  if (absl::StartsWith(sqlstate, "23")) return absl::StatusCode::kFailedPrecondition;
  if (absl::StartsWith(sqlstate, "08") || absl::StartsWith(sqlstate, "57P")) {
    return absl::StatusCode::kUnavailable;  // connection lost, server shutting down
  }
  if (absl::StartsWith(sqlstate, "22")) return absl::StatusCode::kInvalidArgument;
  if (absl::StartsWith(sqlstate, "53")) return absl::StatusCode::kResourceExhausted;
  return absl::StatusCode::kInternal;
}

std::string FirstLine(absl::string_view text) {
  return std::string(text.substr(0, text.find('\n')));
}

}  // namespace

Result::Result(Result&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}
Result::~Result() {
  if (result_ != nullptr) PQclear(result_);
}

int Result::rows() const { return PQntuples(result_); }
int Result::columns() const { return PQnfields(result_); }
int64_t Result::affected() const {
  int64_t count = 0;
  return absl::SimpleAtoi(PQcmdTuples(result_), &count) ? count : 0;
}
std::string Result::command() const { return PQcmdStatus(result_); }
bool Result::IsNull(int row, int column) const { return PQgetisnull(result_, row, column); }
std::string Result::Text(int row, int column) const {
  return std::string(PQgetvalue(result_, row, column), PQgetlength(result_, row, column));
}
int64_t Result::Int(int row, int column) const {
  int64_t value = 0;
  (void)absl::SimpleAtoi(Text(row, column), &value);
  return value;
}
double Result::Double(int row, int column) const {
  double value = 0;
  (void)absl::SimpleAtod(Text(row, column), &value);
  return value;
}
std::string Result::Bytes(int row, int column) const {
  // BYTEA in text format is "\x" followed by hex digits.
  std::string text = Text(row, column);
  if (!absl::StartsWith(text, "\\x")) return text;
  return absl::HexStringToBytes(absl::string_view(text).substr(2));
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& url,
                                                             absl::Duration connect_timeout) {
  const std::string timeout =
      std::to_string(std::max<int64_t>(2, absl::ToInt64Seconds(connect_timeout)));
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {url.c_str(), timeout.c_str(), "polku", nullptr};
  // expand_dbname = 1: the first dbname is parsed as a URI or key=value list.
  pg_conn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string reason = FirstLine(PQerrorMessage(conn));
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL: ", reason));
  }
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::healthy() const { return !lost_ && PQstatus(conn_) == CONNECTION_OK; }

absl::Status Connection::StatusOf(pg_result* result, absl::string_view sql) {
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return absl::OkStatus();
  const char* sqlstate = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  // The server gives every error of its own a SQLSTATE; one without came
  // from libpq: the connection broke.
  if (sqlstate == nullptr) lost_ = true;
  absl::StatusCode code = sqlstate != nullptr ? CodeOf(sqlstate) : absl::StatusCode::kUnavailable;
  std::string message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
  return absl::Status(code, absl::StrCat(FirstLine(message), " [",
                                         sqlstate != nullptr ? sqlstate : "no sqlstate", "] in: ",
                                         sql.substr(0, 200)));
}

absl::StatusOr<Result> Connection::Execute(absl::string_view sql,
                                           const std::vector<Param>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& param : params) {
    values.push_back(param.value() ? param.value()->data() : nullptr);
    lengths.push_back(param.value() ? static_cast<int>(param.value()->size()) : 0);
    formats.push_back(param.binary() ? 1 : 0);
  }
  const std::string query(sql);
  Result result(PQexecParams(conn_, query.c_str(), static_cast<int>(params.size()),
                             /*paramTypes=*/nullptr, values.data(), lengths.data(),
                             formats.data(), /*resultFormat=*/0));
  if (absl::Status status = StatusOf(result.result_, sql); !status.ok()) return status;
  return result;
}

absl::Status Connection::Exec(absl::string_view sql) {
  const std::string query(sql);
  Result result(PQexec(conn_, query.c_str()));
  return StatusOf(result.result_, sql);
}

absl::StatusOr<int> Connection::SchemaVersion() {
  absl::StatusOr<Result> result = Execute(
      "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!result.ok()) return result.status();
  return static_cast<int>(result->Int(0, 0));
}

absl::Status Connection::Migrate(const std::vector<Migration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "migration versions must be 1, 2, 3, …; position ", i + 1, " has version ",
          migrations[i].version));
    }
  }
  // A session-level advisory lock: held across the per-migration
  // transactions, released below or when the connection ends.
  absl::StatusOr<Result> locked =
      Execute("SELECT pg_advisory_lock($1)", {Param::Int(kMigrationLock)});
  if (!locked.ok()) return locked.status();
  absl::Status status = [&]() -> absl::Status {
    if (absl::Status s = Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                              " version INTEGER PRIMARY KEY,"
                              " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
        !s.ok()) {
      return s;
    }
    absl::StatusOr<int> current = SchemaVersion();
    if (!current.ok()) return current.status();
    const int known = static_cast<int>(migrations.size());
    if (*current > known) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the database schema is at version ", *current, " but this build knows only up to ",
          known, ": run a newer build"));
    }
    for (int v = *current + 1; v <= known; ++v) {
      Transaction txn(*this);
      if (absl::Status s = txn.Begin(); !s.ok()) return s;
      if (absl::Status s = Exec(migrations[v - 1].sql); !s.ok()) return s;
      absl::StatusOr<Result> recorded =
          Execute("INSERT INTO schema_migrations (version) VALUES ($1)", {Param::Int(v)});
      if (!recorded.ok()) return recorded.status();
      if (absl::Status s = txn.Commit(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }();
  absl::StatusOr<Result> unlocked =
      Execute("SELECT pg_advisory_unlock($1)", {Param::Int(kMigrationLock)});
  if (status.ok() && !unlocked.ok()) return unlocked.status();
  return status;
}

Transaction::~Transaction() {
  if (open_) (void)Rollback();
}

absl::Status Transaction::Begin(absl::string_view begin) {
  absl::Status status = connection_.Exec(begin);
  open_ = status.ok();
  return status;
}

absl::Status Transaction::Commit() {
  open_ = false;
  absl::StatusOr<Result> result = connection_.Execute("COMMIT");
  if (!result.ok()) return result.status();
  // PostgreSQL answers COMMIT of a transaction that hit an error with a
  // successful "ROLLBACK": nothing was committed.
  if (result->command() != "COMMIT") {
    return absl::AbortedError("the transaction was rolled back because a statement in it failed");
  }
  return absl::OkStatus();
}

absl::Status Transaction::Rollback() {
  open_ = false;
  return connection_.Exec("ROLLBACK");
}

}  // namespace polku::postgres
