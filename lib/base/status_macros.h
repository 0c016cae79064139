// Early-return helpers for absl::Status and absl::StatusOr.
//
//   POLKU_RETURN_IF_ERROR(db.Exec("…"));
//   POLKU_ASSIGN_OR_RETURN(auto stmt, db.Prepare("…"));
#ifndef POLKU_LIB_BASE_STATUS_MACROS_H_
#define POLKU_LIB_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define POLKU_RETURN_IF_ERROR(expr)                  \
  do {                                               \
    if (::absl::Status _polku_status = (expr);       \
        !_polku_status.ok()) {                       \
      return _polku_status;                          \
    }                                                \
  } while (false)

#define POLKU_STATUS_CONCAT_INNER(a, b) a##b
#define POLKU_STATUS_CONCAT(a, b) POLKU_STATUS_CONCAT_INNER(a, b)

#define POLKU_ASSIGN_OR_RETURN(lhs, expr) \
  POLKU_ASSIGN_OR_RETURN_IMPL(POLKU_STATUS_CONCAT(_polku_statusor_, __LINE__), lhs, expr)

#define POLKU_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return statusor.status();          \
  lhs = *std::move(statusor)

#endif  // POLKU_LIB_BASE_STATUS_MACROS_H_
