#include "lib/sqlite/sqlite.h"

#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"

namespace polku::sqlite {
namespace {

// How SQLite result codes become status codes. Callers branch on these, so
// the choice is part of the library's contract:
//   SQLITE_BUSY, SQLITE_LOCKED        → UNAVAILABLE: another connection holds
//                                       the lock past busy_timeout; retryable.
//   PRIMARY KEY / UNIQUE constraint   → ALREADY_EXISTS: the row is there.
//   other constraints (FOREIGN KEY,   → FAILED_PRECONDITION: the data the
//     CHECK, NOT NULL, …)               statement relies on is not as it must
//     be.
//   SQLITE_READONLY                   → FAILED_PRECONDITION (e.g. a read-only
//                                       handle was asked to write).
//   SQLITE_CANTOPEN                   → FAILED_PRECONDITION (missing directory,
//                                       permissions); the message names the
//                                       path.
//   SQLITE_CORRUPT, SQLITE_NOTADB     → DATA_LOSS.
//   SQLITE_FULL, SQLITE_NOMEM         → RESOURCE_EXHAUSTED.
//   SQLITE_RANGE, SQLITE_TOOBIG,      → INVALID_ARGUMENT (a bad bind index or
//     SQLITE_MISMATCH                   value).
//   SQLITE_INTERRUPT                  → CANCELLED.
//   anything else (syntax errors, I/O) → INTERNAL.
absl::StatusCode CodeFor(int rc) {
  switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
      return absl::StatusCode::kAlreadyExists;
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CONSTRAINT:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
      return absl::StatusCode::kInvalidArgument;
    case SQLITE_INTERRUPT:
      return absl::StatusCode::kCancelled;
    default:
      return absl::StatusCode::kInternal;
  }
}

// `rc` must be the code of the failed call; the connection's message is
// used when it describes that call (it usually does), else SQLite's generic
// text for the code.
absl::Status Error(sqlite3* db, int rc, absl::string_view sql) {
  const char* message = db != nullptr && sqlite3_extended_errcode(db) == rc
                            ? sqlite3_errmsg(db)
                            : sqlite3_errstr(rc);
  return absl::Status(
      CodeFor(rc), absl::StrCat("sqlite: ", message, " (", sqlite3_errstr(rc),
                                ") in: ", sql));
}

// Runs a pragma that returns one row and gives back its first column as text.
absl::StatusOr<std::string> PragmaText(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()),
                              &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(db, rc, sql);
  rc = sqlite3_step(stmt);
  std::string value;
  if (rc == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    if (text != nullptr) value = reinterpret_cast<const char*>(text);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  }
  absl::Status status = rc == SQLITE_OK ? absl::OkStatus() : Error(db, rc, sql);
  sqlite3_finalize(stmt);
  if (!status.ok()) return status;
  return value;
}

// An empty string_view may carry a null pointer, which SQLite would bind as
// NULL; an empty value must stay an empty value.
const char* NonNullData(absl::string_view s) {
  return s.data() != nullptr ? s.data() : "";
}


// Once per process, before SQLite's first use: no allocation statistics.
// SQLite otherwise counts every allocation and free under one process-wide
// mutex, whatever the connections' own mode. Nothing here reads the counts;
// in polku-store-bench's profile of a feed page, locking and unlocking
// mutexes took 7 % of the time, and with the statistics off none is left.
void ConfigureSqliteOnce() {
  static const bool configured = [] {
    // SQLITE_MISUSE if something else initialised SQLite first: then the
    // statistics stay on, which costs time and nothing else.
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return sqlite3_initialize() == SQLITE_OK;
  }();
  (void)configured;
}

}  // namespace

// ---------------------------------------------------------------------------
// Statement

Statement::Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql)
    : db_(db), stmt_(stmt), sql_(std::move(sql)) {}

Statement::~Statement() { sqlite3_finalize(stmt_); }

namespace {
absl::Status BindError(sqlite3* db, int rc, int index, absl::string_view sql) {
  absl::Status error = Error(db, rc, sql);
  return absl::Status(error.code(), absl::StrCat("binding parameter ", index,
                                                 ": ", error.message()));
}
}  // namespace

Statement& Statement::Bound(int index, int rc) {
  // The first failure is kept for Step to return.
  if (rc != SQLITE_OK && bind_status_.ok()) {
    bind_status_ = BindError(db_, rc, index, sql_);
  }
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  return Bound(index, sqlite3_bind_int64(stmt_, index, value));
}

Statement& Statement::Bind(int index, double value) {
  return Bound(index, sqlite3_bind_double(stmt_, index, value));
}

Statement& Statement::Bind(int index, absl::string_view text) {
  return Bound(index,
               sqlite3_bind_text64(stmt_, index, NonNullData(text), text.size(),
                                   SQLITE_TRANSIENT, SQLITE_UTF8));
}

Statement& Statement::BindUnowned(int index, absl::string_view text) {
  return Bound(index,
               sqlite3_bind_text64(stmt_, index, NonNullData(text), text.size(),
                                   SQLITE_STATIC, SQLITE_UTF8));
}

Statement& Statement::BindBlob(int index, absl::string_view bytes) {
  return Bound(index, sqlite3_bind_blob64(stmt_, index, NonNullData(bytes),
                                          bytes.size(), SQLITE_TRANSIENT));
}

Statement& Statement::BindNull(int index) {
  return Bound(index, sqlite3_bind_null(stmt_, index));
}

absl::StatusOr<bool> Statement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  absl::Status error = Error(db_, rc, sql_);
  // Rewind (keeping bindings) so a failed statement holds no locks and can
  // be stepped again, e.g. after SQLITE_BUSY.
  sqlite3_reset(stmt_);
  return error;
}

absl::Status Statement::Run() {
  return ForEachRow([](const Statement&) { return absl::OkStatus(); });
}

absl::Status Statement::ForEachRow(
    absl::FunctionRef<absl::Status(const Statement&)> row) {
  absl::Status status;
  while (status.ok()) {
    absl::StatusOr<bool> has_row = Step();
    if (!has_row.ok()) {
      status = has_row.status();
    } else if (!*has_row) {
      break;
    } else {
      status = row(*this);
    }
  }
  Reset();
  return status;
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_status_ = absl::OkStatus();
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::ColumnInt(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::ColumnDouble(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string Statement::ColumnText(int column) const {
  // Pointer first, then size: that order is what SQLite documents as safe.
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Statement::ColumnBlob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  if (blob == nullptr) return std::string();
  return std::string(static_cast<const char*>(blob),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

// ---------------------------------------------------------------------------
// Database::Checkpointer

// Copies committed WAL frames into the database on its own thread and
// connection, so that a busy writer does not do it inside its commits.
//
// SQLite starts the WAL over (instead of appending to it) only when a write
// transaction begins after every frame was copied. A PASSIVE checkpoint on
// another thread copies the frames that existed when it began, while the
// writer keeps appending, so under steady load it never catches up by
// itself. Hence the division of work: once the WAL holds kBackgroundPages
// frames, the thread copies, again and again, until what is left uncopied is
// a short tail; the writer then copies that tail after its commit, which
// leaves nothing uncopied, and its next transaction starts the WAL over. The
// tail is kTailPages frames, or a quarter of the WAL when that is more: on a
// loaded machine a round can take several commits, and the thread's lag then
// stays above kTailPages; the writer takes it over once the WAL is four times
// the lag, rather than letting it grow to the backstop. Past kWriterPages
// (the thread fell far behind, or a long reader held it back) the writer
// copies whatever it can itself.
class Database::Checkpointer {
 public:
  // SQLite's own autocheckpoint threshold; a quarter of it; 16 times it.
  static constexpr int kBackgroundPages = 1000;
  static constexpr int kTailPages = kBackgroundPages / 4;
  static constexpr int kWriterPages = 16 * kBackgroundPages;

  static absl::StatusOr<std::unique_ptr<Checkpointer>> Start(
      const std::string& path, const Options& options, sqlite3* writer) {
    Options own = options;
    own.background_checkpoints = false;
    own.cache_mib = 2;  // checkpoints read WAL frames, not the cache
    POLKU_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Open(path, own));
    std::unique_ptr<Checkpointer> checkpointer(
        new Checkpointer(std::move(db), writer));
    // Replaces SQLite's autocheckpoint hook on the writer.
    sqlite3_wal_hook(writer, &Checkpointer::OnCommit, checkpointer.get());
    checkpointer->thread_ = std::thread([c = checkpointer.get()] { c->Run(); });
    return checkpointer;
  }

  ~Checkpointer() {
    sqlite3_wal_hook(writer_, nullptr, nullptr);
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }

  int64_t runs() const {
    absl::MutexLock lock(&mu_);
    return runs_;
  }

 private:
  Checkpointer(std::unique_ptr<Database> db, sqlite3* writer)
      : db_(std::move(db)), writer_(writer) {}

  // On the writer's thread, after each commit, with the WAL's frame count.
  static int OnCommit(void* self, sqlite3* writer, const char* schema,
                      int wal_pages) {
    auto* checkpointer = static_cast<Checkpointer*>(self);
    absl::MutexLock lock(&checkpointer->mu_);
    // Fewer frames than after the last commit: the WAL started over.
    if (wal_pages < checkpointer->wal_pages_) {
      checkpointer->copied_ = 0;
      ++checkpointer->generation_;
    }
    checkpointer->wal_pages_ = wal_pages;
    const int uncopied = wal_pages - checkpointer->copied_;
    if (wal_pages >= kWriterPages) {
      // The backstop: wait for the thread's round, then copy here.
      checkpointer->mu_.Await(absl::Condition(
          +[](bool* copying) { return !*copying; }, &checkpointer->copying_));
    } else if (checkpointer->copying_ || wal_pages < kBackgroundPages ||
               uncopied > std::max(kTailPages, wal_pages / 4)) {
      return SQLITE_OK;
    }
    checkpointer->Copy(writer, schema);
    return SQLITE_OK;
  }

  // At most one round per commit: a reader's old snapshot can stop a round
  // short of the tail, and only a new commit can change that.
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ ||
           (!copying_ && wal_pages_ >= kBackgroundPages &&
            wal_pages_ - copied_ > kTailPages &&
            (wal_pages_ != tried_at_ || generation_ != tried_generation_));
  }

  void Run() {
    absl::MutexLock lock(&mu_);
    while (true) {
      mu_.Await(absl::Condition(this, &Checkpointer::HasWork));
      if (stopping_) return;
      tried_at_ = wal_pages_;
      tried_generation_ = generation_;
      Copy(db_->raw(), nullptr);
    }
  }

  // A PASSIVE checkpoint on `db` (the writer's connection or the thread's),
  // run with mu_ released and copying_ set.
  void Copy(sqlite3* db, const char* schema)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    copying_ = true;
    const int64_t generation = generation_;
    mu_.Unlock();
    int copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(
        db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, &copied);
    mu_.Lock();
    copying_ = false;
    ++runs_;
    if (rc == SQLITE_OK) {
      // Unless the WAL started over meanwhile: then nothing of it is copied.
      if (generation == generation_) copied_ = copied;
    } else if ((rc & 0xff) != SQLITE_BUSY &&
               absl::Now() - last_warning_ > absl::Minutes(1)) {
      last_warning_ = absl::Now();
      log::Warning("a WAL checkpoint failed", {{"error", sqlite3_errstr(rc)}});
    }
  }

  const std::unique_ptr<Database> db_;
  sqlite3* const writer_;
  mutable absl::Mutex mu_;
  // Frames in the WAL after the last commit, and how many of them were
  // copied into the database.
  int wal_pages_ ABSL_GUARDED_BY(mu_) = 0;
  int copied_ ABSL_GUARDED_BY(mu_) = 0;
  // Times the WAL started over, as the writer's commits showed it.
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // wal_pages_ and generation_ when the thread last tried.
  int tried_at_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t tried_generation_ ABSL_GUARDED_BY(mu_) = -1;
  bool copying_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t runs_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_warning_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// Database

Database::Database(sqlite3* db) : db_(db) {}

int64_t Database::background_checkpoints_run() const {
  return checkpointer_ == nullptr ? 0 : checkpointer_->runs();
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(
    const std::string& path, const Options& options) {
  // NOMUTEX: a handle is used by one thread at a time (see the header), so
  // SQLite's per-connection mutex would only cost time.
  ConfigureSqliteOnce();
  int flags = SQLITE_OPEN_NOMUTEX;
  flags |= options.read_only ? SQLITE_OPEN_READONLY
                             : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message =
        raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    std::string hint;
    if ((rc & 0xff) == SQLITE_CANTOPEN) {
      hint = options.read_only
                 ? " (does the file exist?)"
                 : " (does its directory exist and is it writable?)";
    }
    return absl::Status(CodeFor(rc),
                        absl::StrCat("cannot open SQLite database \"", path,
                                     "\": ", message, hint));
  }
  // From here the Database owns the handle and closes it on every path.
  std::unique_ptr<Database> db(new Database(raw));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);

  auto with_path = [&path](const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat("configuring SQLite database \"", path,
                                     "\": ", status.message()));
  };
  if (absl::Status s = db->Exec("PRAGMA foreign_keys = ON"); !s.ok())
    return with_path(s);
  if (absl::Status s = db->Exec(
          absl::StrCat("PRAGMA cache_size = -", options.cache_mib * 1024));
      !s.ok()) {
    return with_path(s);
  }

  if (!options.read_only) {
    // WAL lets readers on their own handles run beside the one writer, in
    // tests too, so it is kept when durability is turned down; only the
    // fsyncs go (synchronous=OFF).
    absl::StatusOr<std::string> mode =
        PragmaText(raw, "PRAGMA journal_mode = WAL");
    if (!mode.ok()) return with_path(mode.status());
    // In-memory and temporary databases have no file name and cannot use
    // WAL; they are never durable anyway.
    const char* file = sqlite3_db_filename(raw, "main");
    bool has_file = file != nullptr && file[0] != '\0';
    if (has_file && *mode != "wal") {
      return absl::FailedPreconditionError(
          absl::StrCat("SQLite database \"", path,
                       "\" refused WAL journal mode (got \"", *mode, "\")"));
    }
    const char* synchronous = options.durable ? "PRAGMA synchronous = FULL"
                                              : "PRAGMA synchronous = OFF";
    if (absl::Status s = db->Exec(synchronous); !s.ok()) return with_path(s);
    if (options.background_checkpoints && has_file) {
      POLKU_ASSIGN_OR_RETURN(db->checkpointer_,
                             Checkpointer::Start(path, options, raw));
    }
  }
  return db;
}

Database::~Database() {
  // Stopped before the writer it watches closes.
  checkpointer_.reset();
  // Statements must be finalized before the connection can close.
  statements_.clear();
  sqlite3_close_v2(db_);
}

absl::Status Database::Exec(absl::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return absl::OkStatus();
  absl::Status status(
      CodeFor(rc),
      absl::StrCat(
          "sqlite: ", message != nullptr ? message : sqlite3_errstr(rc), " (",
          sqlite3_errstr(rc), ") in: ", text));
  sqlite3_free(message);
  return status;
}

absl::StatusOr<Statement*> Database::Prepare(absl::string_view sql) {
  std::string text(sql);
  auto it = statements_.find(text);
  if (it != statements_.end()) {
    it->second->Reset();
    return it->second.get();
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, text.data(), static_cast<int>(text.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(db_, rc, text);
  }
  if (stmt == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no SQL statement in: \"", text, "\""));
  }
  // A second statement after the first would be silently ignored. Preparing
  // the rest yields no statement when it holds only spaces and comments.
  if (tail != nullptr && *tail != '\0') {
    sqlite3_stmt* extra = nullptr;
    rc = sqlite3_prepare_v2(db_, tail, -1, &extra, nullptr);
    bool more = rc != SQLITE_OK || extra != nullptr;
    sqlite3_finalize(extra);
    if (more) {
      sqlite3_finalize(stmt);
      return absl::InvalidArgumentError(absl::StrCat(
          "Prepare takes one statement; use Exec for several: ", text));
    }
  }
  auto statement = std::unique_ptr<Statement>(new Statement(db_, stmt, text));
  Statement* result = statement.get();
  statements_.emplace(std::move(text), std::move(statement));
  return result;
}

absl::StatusOr<int> Database::SchemaVersion() {
  POLKU_ASSIGN_OR_RETURN(Statement * stmt, Prepare("PRAGMA user_version"));
  POLKU_ASSIGN_OR_RETURN(bool row, stmt->Step());
  int version = row ? static_cast<int>(stmt->ColumnInt(0)) : 0;
  stmt->Reset();
  return version;
}

absl::Status Database::Migrate(const std::vector<Migration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "migrations must be numbered 1, 2, 3, … in order; entry ", i,
          " has version ", migrations[i].version, ", expected ", i + 1));
    }
    if (migrations[i].sql == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("migration ", migrations[i].version, " has no SQL"));
    }
  }
  const int known = static_cast<int>(migrations.size());
  POLKU_ASSIGN_OR_RETURN(int current, SchemaVersion());
  if (current > known) {
    const char* file = sqlite3_db_filename(db_, "main");
    return absl::FailedPreconditionError(absl::StrCat(
        "database \"", file != nullptr ? file : "", "\" has schema version ",
        current, " but this program knows only up to version ", known,
        "; it was written by a newer Polku — upgrade the program instead"));
  }
  for (const Migration& migration : migrations) {
    if (migration.version <= current) continue;
    Transaction txn(*this);
    POLKU_RETURN_IF_ERROR(txn.Begin());
    if (absl::Status s = Exec(migration.sql); !s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("migration ", migration.version,
                                       " failed: ", s.message()));
    }
    // Inside the same transaction: the schema and its version commit together.
    POLKU_RETURN_IF_ERROR(
        Exec(absl::StrCat("PRAGMA user_version = ", migration.version)));
    POLKU_RETURN_IF_ERROR(txn.Commit());
  }
  return absl::OkStatus();
}

int64_t Database::LastInsertRowId() const {
  return sqlite3_last_insert_rowid(db_);
}

int Database::Changes() const { return sqlite3_changes(db_); }

// ---------------------------------------------------------------------------
// Transaction

Transaction::~Transaction() {
  if (open_) {
    // Nothing to report to: a failed rollback leaves the connection in a
    // transaction, which the next Begin will surface.
    (void)Rollback();
  }
}

absl::Status Transaction::Begin() {
  if (open_) return absl::FailedPreconditionError("transaction already begun");
  // IMMEDIATE takes the write lock now, so a busy database shows up here
  // (and waits busy_timeout) rather than midway through the writes.
  POLKU_RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
  open_ = true;
  return absl::OkStatus();
}

absl::Status Transaction::Commit() {
  if (!open_)
    return absl::FailedPreconditionError("commit without an open transaction");
  absl::Status status = db_.Exec("COMMIT");
  // A COMMIT that fails with SQLITE_BUSY leaves the transaction open (it can
  // be retried or rolled back); other failures roll it back. SQLite knows
  // which.
  open_ = sqlite3_get_autocommit(db_.raw()) == 0;
  return status;
}

absl::Status Transaction::Rollback() {
  if (!open_)
    return absl::FailedPreconditionError(
        "rollback without an open transaction");
  absl::Status status = db_.Exec("ROLLBACK");
  open_ = sqlite3_get_autocommit(db_.raw()) == 0;
  return status;
}

}  // namespace polku::sqlite
