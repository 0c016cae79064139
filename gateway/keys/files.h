// Small file helpers for the key files: whole-file reads, and writes that
// either land completely or not at all.
//
//   POLKU_RETURN_IF_ERROR(WriteFileAtomically(path, json, 0600));
#ifndef POLKU_GATEWAY_KEYS_FILES_H_
#define POLKU_GATEWAY_KEYS_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polku::gateway::keys {

// The whole file. NOT_FOUND if it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `contents` to a temporary file beside `path` created with `mode`,
// syncs it, and renames it over `path`: readers see the old file or the new
// one, never a partial one, and the secret never exists with wider
// permissions.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents, mode_t mode);

// Creates `dir` and its missing parents (mode 0700 for new ones).
absl::Status MakeDirectories(const std::string& dir);

}  // namespace polku::gateway::keys

#endif  // POLKU_GATEWAY_KEYS_FILES_H_
