#include "services/feedback/customer_hasher.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/crypto/crypto.h"

namespace polku::feedback {
namespace {

// OpenSSL failing to compute an HMAC means it is broken: there is no safe
// way to go on storing events, so stop loudly with OpenSSL's reason.
[[noreturn]] void Die(const char* what) {
  char reason[256] = "unknown error";
  const unsigned long code = ERR_get_error();
  if (code != 0) ERR_error_string_n(code, reason, sizeof(reason));
  std::fprintf(stderr, "polku customer hasher: %s failed: %s\n", what, reason);
  std::abort();
}

const unsigned char* Bytes(absl::string_view s) {
  // Never null, even for an empty view: OpenSSL may reject null input.
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

// Fetched once: fetching by name takes a global lock and a lookup.
EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* const hmac = [] {
    EVP_MAC* fetched = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
    if (fetched == nullptr) Die("EVP_MAC_fetch(HMAC)");
    return fetched;
  }();
  return hmac;
}

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

void HmacSha256Key::Free::operator()(EVP_MAC_CTX* ctx) const {
  EVP_MAC_CTX_free(ctx);
}

HmacSha256Key::HmacSha256Key(absl::string_view key)
    : initialised_(EVP_MAC_CTX_new(HmacAlgorithm())) {
  if (initialised_ == nullptr) Die("EVP_MAC_CTX_new");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(initialised_.get(), Bytes(key), key.size(), params) != 1) {
    Die("EVP_MAC_init");
  }
}

std::string HmacSha256Key::Tag(absl::string_view data) const {
  std::unique_ptr<EVP_MAC_CTX, Free> ctx(EVP_MAC_CTX_dup(initialised_.get()));
  if (ctx == nullptr) Die("EVP_MAC_CTX_dup");
  std::string tag(32, '\0');
  size_t size = 0;
  if (EVP_MAC_update(ctx.get(), Bytes(data), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(tag.data()),
                    &size, tag.size()) != 1 ||
      size != tag.size()) {
    Die("HMAC-SHA-256");
  }
  return tag;
}

TenantHasher::TenantHasher(absl::string_view master_secret,
                           absl::string_view tenant)
    : customer_key_(
          crypto::HmacSha256(master_secret, absl::StrCat("tenant:", tenant))),
      fingerprint_key_(crypto::HmacSha256(
          master_secret, absl::StrCat("fingerprint:", tenant))) {}

std::string TenantHasher::Hash(absl::string_view customer) const {
  return crypto::ToHex(customer_key_.Tag(customer));
}

std::string TenantHasher::Fingerprint(absl::string_view bytes) const {
  return fingerprint_key_.Tag(bytes);
}

CustomerHasher::CustomerHasher(std::string master_secret)
    : master_secret_(std::move(master_secret)),
      cache_(std::make_unique<TenantCache>()) {}

const TenantHasher& CustomerHasher::ForTenant(absl::string_view tenant) const {
  {
    absl::ReaderMutexLock lock(&cache_->mu);
    if (auto it = cache_->tenants.find(tenant); it != cache_->tenants.end()) {
      return *it->second;
    }
  }
  auto derived = std::make_unique<const TenantHasher>(master_secret_, tenant);
  absl::MutexLock lock(&cache_->mu);
  // Another thread may have derived the same keys meanwhile: keep the first,
  // as callers may already hold it.
  return *cache_->tenants.try_emplace(std::string(tenant), std::move(derived))
              .first->second;
}

std::string CustomerHasher::Hash(absl::string_view tenant,
                                 absl::string_view customer) const {
  return ForTenant(tenant).Hash(customer);
}

std::string CustomerHasher::Fingerprint(absl::string_view tenant,
                                        absl::string_view bytes) const {
  return ForTenant(tenant).Fingerprint(bytes);
}

}  // namespace polku::feedback
