#include "services/feedback/customer_hasher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/crypto/crypto.h"

namespace polku::feedback {
namespace {

absl::Status FileError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Reads an existing secret; NOT_FOUND if there is none.
absl::StatusOr<std::string> ReadSecret(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(path);
    return FileError("cannot open", path);
  }
  struct stat st;
  if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
    log::Warning(
        "customer secret is readable by others",
        {{"path", path}, {"mode", static_cast<int>(st.st_mode & 0777)}});
  }
  std::string secret(kMasterSecretBytes + 1, '\0');
  size_t got = 0;
  while (got < secret.size()) {
    const ssize_t n = ::read(fd, secret.data() + got, secret.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return FileError("cannot read", path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != kMasterSecretBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " must hold exactly ", kMasterSecretBytes,
                     " bytes; it is damaged (restore it from a backup)"));
  }
  secret.resize(kMasterSecretBytes);
  return secret;
}

// Writes a new secret so that `path` either does not exist or holds all 32
// bytes: a crash mid-write must not leave a short secret behind.
absl::Status CreateSecret(const std::string& path) {
  const std::string temp = absl::StrCat(path, ".tmp.", ::getpid());
  ::unlink(temp.c_str());
  const int fd =
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return FileError("cannot create", temp);
  const std::string secret = crypto::RandomBytes(kMasterSecretBytes);
  size_t written = 0;
  while (written < secret.size()) {
    const ssize_t n =
        ::write(fd, secret.data() + written, secret.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      ::unlink(temp.c_str());
      return FileError("cannot write", temp);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    ::unlink(temp.c_str());
    return FileError("cannot sync", temp);
  }
  ::close(fd);
  // link() fails if `path` exists: a concurrent first start keeps the
  // secret that won, and both then read the same one.
  const bool linked = ::link(temp.c_str(), path.c_str()) == 0;
  const int link_errno = errno;
  ::unlink(temp.c_str());
  if (!linked && link_errno != EEXIST) {
    errno = link_errno;
    return FileError("cannot create", path);
  }
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CustomerHasher> CustomerHasher::LoadOrCreate(
    const std::string& path) {
  absl::StatusOr<std::string> secret = ReadSecret(path);
  if (absl::IsNotFound(secret.status())) {
    if (absl::Status created = CreateSecret(path); !created.ok()) {
      return created;
    }
    log::Info("created customer secret", {{"path", path}});
    secret = ReadSecret(path);
  }
  if (!secret.ok()) return secret.status();
  return CustomerHasher(*std::move(secret));
}

std::string CustomerHasher::Hash(absl::string_view tenant,
                                 absl::string_view customer) {
  auto it = tenant_keys_.find(tenant);
  if (it == tenant_keys_.end()) {
    it = tenant_keys_
             .emplace(tenant,
                      crypto::HmacSha256(master_secret_,
                                         absl::StrCat("tenant:", tenant)))
             .first;
  }
  return crypto::HmacSha256Hex(it->second, customer);
}

std::string CustomerHasher::Fingerprint(absl::string_view tenant,
                                        absl::string_view bytes) {
  auto it = fingerprint_keys_.find(tenant);
  if (it == fingerprint_keys_.end()) {
    it = fingerprint_keys_
             .emplace(tenant,
                      crypto::HmacSha256(master_secret_,
                                         absl::StrCat("fingerprint:", tenant)))
             .first;
  }
  return crypto::HmacSha256(it->second, bytes);
}

}  // namespace polku::feedback
