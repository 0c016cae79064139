// A thin RAII layer over SQLite: a database handle with cached prepared
// statements, transactions and schema migrations by version number.
//
//   POLKU_ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(path));
//   POLKU_RETURN_IF_ERROR(db->Migrate({{1, "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"}}));
//   sqlite::Transaction txn(*db);
//   POLKU_RETURN_IF_ERROR(txn.Begin());
//   POLKU_ASSIGN_OR_RETURN(sqlite::Statement* insert, db->Prepare("INSERT INTO t VALUES (?1, ?2)"));
//   POLKU_RETURN_IF_ERROR(insert->Bind(1, "a").Bind(2, int64_t{7}).Run());
//   POLKU_RETURN_IF_ERROR(txn.Commit());
//
// A Database is not thread-safe: each one is used by one thread at a time
// (Polku gives every database one writer thread; readers open their own
// handle, which WAL mode lets run beside the writer).
#ifndef POLKU_LIB_SQLITE_SQLITE_H_
#define POLKU_LIB_SQLITE_SQLITE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/base/migration.h"

struct sqlite3;
struct sqlite3_stmt;

namespace polku::sqlite {

// Applied versions are recorded in `PRAGMA user_version`.
using Migration = ::polku::Migration;

// A prepared statement owned by its Database. Bind* return *this so calls
// chain; a bind error is remembered and reported by Step/Run.
// Parameter and column indices follow SQLite: parameters from 1, columns from 0.
class Statement {
 public:
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, int64_t{value}); }
  Statement& Bind(int index, double value);
  Statement& Bind(int index, absl::string_view text);
  Statement& Bind(int index, const char* text) { return Bind(index, absl::string_view(text)); }
  Statement& Bind(int index, const std::string& text) { return Bind(index, absl::string_view(text)); }
  // Binds `text` without copying it (SQLite copies what Bind binds): for
  // the feed's hot paths. `text` must stay alive and unchanged until the
  // statement is reset, which Run and ForEachRow do before they return, so
  // `statement.BindUnowned(1, event.comment).Run()` is safe.
  Statement& BindUnowned(int index, absl::string_view text);
  Statement& BindBlob(int index, absl::string_view bytes);
  Statement& BindNull(int index);

  // Advances to the next row: true if a row is available, false when done.
  // Errors carry SQLite's message and the SQL text.
  absl::StatusOr<bool> Step();
  // Steps until done (for statements that return no rows), then resets.
  absl::Status Run();
  // Calls `row` for each row, in order, until the statement is done or a step
  // or `row` fails; returns that first error. Resets on every exit, so the
  // statement is ready to be bound again and, outside a transaction, its
  // read ends (a held read would keep the WAL from being checkpointed).
  //
  //   POLKU_RETURN_IF_ERROR(select->Bind(1, tenant).ForEachRow(
  //       [&](const sqlite::Statement& row) {
  //         names.push_back(row.ColumnText(0));
  //         return absl::OkStatus();
  //       }));
  absl::Status ForEachRow(
      absl::FunctionRef<absl::Status(const Statement&)> row);
  // Clears bindings and rewinds; done automatically by Database::Prepare.
  void Reset();

  bool IsNull(int column) const;
  int64_t ColumnInt(int column) const;
  double ColumnDouble(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql);
  // The result code `rc` of binding parameter `index`, noted.
  Statement& Bound(int index, int rc);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
  absl::Status bind_status_;
};

class Database {
 public:
  struct Options {
    // WAL journal, synchronous=FULL: a committed transaction survives power
    // loss. Tests may turn durability down; production never does.
    bool durable = true;
    bool read_only = false;
    // How long a statement waits for another connection's lock.
    int busy_timeout_ms = 5000;
    // This connection's page cache, in MiB (SQLite's default is about 2).
    // A busy writer wants its transaction's dirty pages and the hot index
    // pages to fit: otherwise SQLite spills pages to the WAL in the middle
    // of the transaction and reads pages back from the file.
    int cache_mib = 2;
    // Copy committed WAL pages back into the database file on a thread of
    // its own (with its own connection) rather than inside the commit that
    // crossed the threshold. Writers only. The writer itself copies just the
    // short tail the thread leaves behind, so that the WAL can start over,
    // and everything only if the thread falls far behind. (A reader that
    // holds an old snapshot keeps the WAL from starting over, as always.)
    bool background_checkpoints = false;
  };

  // Opens (creating if needed, unless read_only) the database at `path`;
  // ":memory:" gives a private in-memory database.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        const Options& options);
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path) {
    return Open(path, Options());
  }
  ~Database();

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements that return no rows.
  absl::Status Exec(absl::string_view sql);

  // A prepared statement for `sql`, reset and ready for binding. Statements
  // are cached by text, so hot paths prepare once. The pointer stays valid
  // for the Database's lifetime.
  absl::StatusOr<Statement*> Prepare(absl::string_view sql);

  // Applies, in one transaction each, the migrations newer than the
  // database's version. Fails if the database is newer than the code.
  absl::Status Migrate(const std::vector<Migration>& migrations);

  // The schema version (`PRAGMA user_version`).
  absl::StatusOr<int> SchemaVersion();

  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int Changes() const;

  sqlite3* raw() const { return db_; }

  // Checkpoints run by the background checkpointer (0 without one).
  int64_t background_checkpoints_run() const;

 private:
  class Checkpointer;
  explicit Database(sqlite3* db);

  sqlite3* db_;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> statements_;
  std::unique_ptr<Checkpointer> checkpointer_;
};

// BEGIN IMMEDIATE … COMMIT, rolled back on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  absl::Status Begin();
  absl::Status Commit();
  absl::Status Rollback();

 private:
  Database& db_;
  bool open_ = false;
};

}  // namespace polku::sqlite

#endif  // POLKU_LIB_SQLITE_SQLITE_H_
