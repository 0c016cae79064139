#include "gateway/keys/files.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace polku::gateway::keys {
namespace {

absl::Status ErrnoStatus(int error, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", strerror(error));
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("cannot open ", path));
  std::string contents;
  char buffer[8192];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      close(fd);
      return ErrnoStatus(error, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return contents;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents, mode_t mode) {
  std::string temp = absl::StrCat(path, ".tmp.", getpid());
  // O_EXCL after unlink: never write through a file or link someone else
  // left under the temporary name.
  unlink(temp.c_str());
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("cannot create ", temp));
  auto fail = [&](absl::string_view what) {
    int error = errno;
    close(fd);
    unlink(temp.c_str());
    return ErrnoStatus(error, absl::StrCat(what, " ", temp));
  };
  // The umask may have narrowed `mode`, never widened it; make it exact.
  if (fchmod(fd, mode) != 0) return fail("cannot chmod");
  while (!contents.empty()) {
    ssize_t n = write(fd, contents.data(), contents.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    contents.remove_prefix(static_cast<size_t>(n));
  }
  if (fsync(fd) != 0) return fail("cannot sync");
  if (close(fd) != 0) {
    int error = errno;
    unlink(temp.c_str());
    return ErrnoStatus(error, absl::StrCat("cannot close ", temp));
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    int error = errno;
    unlink(temp.c_str());
    return ErrnoStatus(error, absl::StrCat("cannot rename to ", path));
  }
  return absl::OkStatus();
}

absl::Status MakeDirectories(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    std::string prefix = dir.substr(0, slash);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno,
                         absl::StrCat("cannot create directory ", prefix));
    }
    if (slash == std::string::npos) break;
  }
  struct stat info;
  if (stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " exists and is not a directory"));
  }
  return absl::OkStatus();
}

}  // namespace polku::gateway::keys
