// Read-only connections to one database file, opened on demand and reused,
// so that reads run beside the writer (WAL mode) without opening a file per
// query. Thread-safe.
//
//   sqlite::ReaderPool readers(path, /*durable=*/true);
//   POLKU_RETURN_IF_ERROR(readers.Snapshot([&](sqlite::Database& db) {
//     …   // every statement here sees one snapshot
//     return absl::OkStatus();
//   }));
#ifndef POLKU_LIB_SQLITE_READER_POOL_H_
#define POLKU_LIB_SQLITE_READER_POOL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "lib/sqlite/sqlite.h"

namespace polku::sqlite {

class ReaderPool {
 public:
  // Connections open `path` read-only, with the writer's durability setting
  // (it decides the journal mode they expect).
  ReaderPool(std::string path, bool durable)
      : path_(std::move(path)), durable_(durable) {}

  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  // Runs `read` on an idle connection (or a new one). Each statement is its
  // own read unless `read` opens a transaction; the connection goes back to
  // the pool whatever `read` returns.
  absl::Status WithReader(absl::FunctionRef<absl::Status(Database&)> read);

  // Runs `read` inside one read transaction, so that every statement sees
  // the same snapshot. A connection whose `read` or COMMIT failed is closed
  // rather than reused: its state is unknown.
  absl::Status Snapshot(absl::FunctionRef<absl::Status(Database&)> read);

  // Connections waiting to be reused (tests).
  size_t idle() const;

 private:
  absl::StatusOr<std::unique_ptr<Database>> Take();
  void Return(std::unique_ptr<Database> reader);

  const std::string path_;
  const bool durable_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Database>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::sqlite

#endif  // POLKU_LIB_SQLITE_READER_POOL_H_
