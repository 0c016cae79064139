#include "lib/postgres/postgres.h"

#include <libpq-fe.h>

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/escaping.h"
#include "lib/base/log.h"

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

// Element types of the binary array format (pg_type.oid, fixed since
// PostgreSQL's first releases).
constexpr uint32_t kTextOid = 25;
constexpr uint32_t kByteaOid = 17;
constexpr uint32_t kInt8Oid = 20;

// The binary protocol's integers are big-endian.
void AppendInt32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

// array_send's layout: dimensions, a has-NULLs flag, the element type, each
// dimension's size and lower bound, then every element as length + bytes.
// An empty array has no dimensions.
std::string ArrayHeader(uint32_t element_oid, size_t size) {
  std::string out;
  AppendInt32(out, size == 0 ? 0 : 1);
  AppendInt32(out, 0);
  AppendInt32(out, element_oid);
  if (size > 0) {
    AppendInt32(out, static_cast<uint32_t>(size));
    AppendInt32(out, 1);
  }
  return out;
}

std::string BinaryArray(uint32_t element_oid, absl::Span<const std::string> elements) {
  size_t bytes = 20;
  for (const std::string& element : elements) bytes += 4 + element.size();
  std::string out = ArrayHeader(element_oid, elements.size());
  out.reserve(bytes);
  for (const std::string& element : elements) {
    AppendInt32(out, static_cast<uint32_t>(element.size()));
    out.append(element);
  }
  return out;
}

}  // namespace

Param Param::TextArray(absl::Span<const std::string> texts) {
  const bool has_nul = std::any_of(texts.begin(), texts.end(),
                                   [](const std::string& text) { return HasNul(text); });
  return Param(BinaryArray(kTextOid, texts), true, has_nul);
}

Param Param::BytesArray(absl::Span<const std::string> bytes) {
  return Param(BinaryArray(kByteaOid, bytes), true, false);
}

Param Param::IntArray(absl::Span<const int64_t> values) {
  std::string out = ArrayHeader(kInt8Oid, values.size());
  out.reserve(out.size() + values.size() * 12);
  for (const int64_t value : values) {
    AppendInt32(out, 8);
    const uint64_t bits = static_cast<uint64_t>(value);
    AppendInt32(out, static_cast<uint32_t>(bits >> 32));
    AppendInt32(out, static_cast<uint32_t>(bits));
  }
  return Param(std::move(out), true, false);
}

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
  // libpq would print the server's notices (e.g. "relation already exists,
  // skipping", or a shutdown's farewell) to stderr as plain text; they go
  // to the structured log instead.
  PQsetNoticeProcessor(
      conn,
      [](void*, const char* message) {
        log::Info("PostgreSQL notice", {{"message", FirstLine(message)}});
      },
      nullptr);
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
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].has_nul()) {
      // Caused by a caller's value, so the message is for them: no SQL.
      return absl::InvalidArgumentError(absl::StrCat(
          "a text value (parameter $", i + 1,
          ") holds a NUL byte, which PostgreSQL text cannot store"));
    }
  }
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

absl::StatusOr<int> Connection::SchemaVersion(absl::string_view component) {
  absl::StatusOr<Result> result = Execute(
      "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = $1",
      {Param::Text(component)});
  if (!result.ok()) return result.status();
  return static_cast<int>(result->Int(0, 0));
}

absl::Status Connection::KeyMigrationsByComponent(absl::string_view component) {
  if (absl::Status s = Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " component TEXT NOT NULL,"
                            " version INTEGER NOT NULL,"
                            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
                            " PRIMARY KEY (component, version))");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<Result> keyed = Execute(
      "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
      " AND table_name = 'schema_migrations' AND column_name = 'component'");
  if (!keyed.ok()) return keyed.status();
  if (keyed->rows() == 0) {
    // A table from before components: its versions are marked '' below.
    Transaction txn(*this);
    if (absl::Status s = txn.Begin(); !s.ok()) return s;
    if (absl::Status s = Exec(
            "ALTER TABLE schema_migrations ADD COLUMN component TEXT NOT NULL DEFAULT '';"
            "ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey;"
            "ALTER TABLE schema_migrations ADD PRIMARY KEY (component, version);"
            "ALTER TABLE schema_migrations ALTER COLUMN component DROP DEFAULT");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = txn.Commit(); !s.ok()) return s;
  }
  // Versions recorded without a component come from the time when a
  // database served one component only: the first that migrates now is it.
  return Execute("UPDATE schema_migrations SET component = $1 WHERE component = ''",
                 {Param::Text(component)})
      .status();
}

absl::Status Connection::Migrate(absl::string_view component,
                                 const std::vector<Migration>& migrations,
                                 absl::Duration lock_timeout) {
  if (component.empty()) {
    return absl::InvalidArgumentError("a migration needs the name of its component");
  }
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
    if (absl::Status s = KeyMigrationsByComponent(component); !s.ok()) return s;
    absl::StatusOr<int> current = SchemaVersion(component);
    if (!current.ok()) return current.status();
    const int known = static_cast<int>(migrations.size());
    if (*current > known) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the database schema of ", component, " is at version ", *current,
          " but this build knows only up to ", known, ": run a newer build"));
    }
    for (int v = *current + 1; v <= known; ++v) {
      Transaction txn(*this);
      if (absl::Status s = txn.Begin(); !s.ok()) return s;
      // In milliseconds; 0 would mean no limit at all.
      const int64_t timeout_ms = std::max<int64_t>(absl::ToInt64Milliseconds(lock_timeout), 1);
      if (absl::Status s = Exec(absl::StrCat("SET LOCAL lock_timeout = ", timeout_ms)); !s.ok()) {
        return s;
      }
      if (absl::Status s = Exec(migrations[v - 1].sql); !s.ok()) {
        if (!absl::StrContains(s.message(), "[55P03]")) return s;
        // Neither UNAVAILABLE nor ABORTED, which callers retry at once
        // (WaitForServer, RunWithRetries): each retry would queue for the
        // lock again and hold up the table's queries again.
        return absl::DeadlineExceededError(absl::StrCat(
            "migration ", v, " of ", component, " waited ", absl::FormatDuration(lock_timeout),
            " for a lock another connection holds (a long query or transaction on its table);"
            " nothing was changed and the next start tries again: ",
            s.message()));
      }
      absl::StatusOr<Result> recorded =
          Execute("INSERT INTO schema_migrations (component, version) VALUES ($1, $2)",
                  {Param::Text(component), Param::Int(v)});
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

bool Connection::StillConnected() {
  if (!healthy()) return false;
  // Never blocks: libpq's socket is non-blocking. At end of file (the
  // server went away) it fails and the status turns CONNECTION_BAD. Twice,
  // because a server that shuts down first sends a farewell message, and
  // the end of file is only noticed by the read after the one that got it.
  for (int read = 0; read < 2 && healthy(); ++read) {
    if (PQconsumeInput(conn_) == 0) lost_ = true;
  }
  return healthy();
}

absl::StatusOr<std::vector<Connection::Notification>>
Connection::WaitForNotifications(absl::Duration timeout, int wake_fd) {
  std::vector<Notification> notifications;
  const auto collect = [&] {
    while (PGnotify* notify = PQnotifies(conn_)) {
      notifications.push_back({notify->relname, notify->extra});
      PQfreemem(notify);
    }
  };
  const auto lost = [&](absl::string_view why) {
    lost_ = true;
    return absl::UnavailableError(absl::StrCat(
        "the connection to PostgreSQL broke: ", why,
        FirstLine(PQerrorMessage(conn_))));
  };
  // Notifications may already have arrived with an earlier result.
  if (PQconsumeInput(conn_) == 0) return lost("");
  collect();
  if (!notifications.empty()) return notifications;
  pollfd fds[2] = {{PQsocket(conn_), POLLIN, 0}, {wake_fd, POLLIN, 0}};
  const int nfds = wake_fd >= 0 ? 2 : 1;
  const int ms = static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(timeout), 1 << 30));
  const int ready = ::poll(fds, nfds, std::max(ms, 0));
  if (ready < 0 && errno != EINTR) return lost("poll failed; ");
  if (ready > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
    if (PQconsumeInput(conn_) == 0) return lost("");
    collect();
  }
  return notifications;
}

std::string DescribeServer(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    if (error != nullptr) PQfreemem(error);
    return "(an unparsable database URL)";
  }
  std::string host, port, dbname;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const absl::string_view key = o->keyword;
    if (key == "host" || (key == "hostaddr" && host.empty())) host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
  }
  PQconninfoFree(options);
  if (host.empty()) host = "localhost";
  return absl::StrCat(host, port.empty() ? "" : ":", port, "/",
                      dbname.empty() ? "(default database)" : dbname);
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
