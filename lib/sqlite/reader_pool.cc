#include "lib/sqlite/reader_pool.h"

#include <utility>

#include "lib/base/status_macros.h"

namespace polku::sqlite {

absl::StatusOr<std::unique_ptr<Database>> ReaderPool::Take() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Database> reader = std::move(idle_.back());
      idle_.pop_back();
      return reader;
    }
  }
  Database::Options options;  // the default, small page cache
  options.durable = durable_;
  options.read_only = true;
  return Database::Open(path_, options);
}

void ReaderPool::Return(std::unique_ptr<Database> reader) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(reader));
}

size_t ReaderPool::idle() const {
  absl::MutexLock lock(&mu_);
  return idle_.size();
}

absl::Status ReaderPool::WithReader(
    absl::FunctionRef<absl::Status(Database&)> read) {
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<Database> reader, Take());
  absl::Status status = read(*reader);
  Return(std::move(reader));
  return status;
}

absl::Status ReaderPool::Snapshot(
    absl::FunctionRef<absl::Status(Database&)> read) {
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<Database> reader, Take());
  absl::Status status = reader->Exec("BEGIN");
  if (status.ok()) {
    status = read(*reader);
    absl::Status end = reader->Exec(status.ok() ? "COMMIT" : "ROLLBACK");
    if (status.ok()) status = end;
  }
  if (status.ok()) Return(std::move(reader));
  return status;
}

}  // namespace polku::sqlite
