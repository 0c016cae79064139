#include "lib/crypto/crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace polku::crypto {
namespace {

constexpr size_t kSha256Size = 32;

// Failures here mean OpenSSL itself is broken (no randomness, no SHA-256):
// there is no way to continue safely, so stop loudly with OpenSSL's reason.
[[noreturn]] void Die(const char* what) {
  char reason[256] = "unknown error";
  unsigned long code = ERR_get_error();
  if (code != 0) ERR_error_string_n(code, reason, sizeof(reason));
  std::fprintf(stderr, "polku crypto: %s failed: %s\n", what, reason);
  std::abort();
}

const unsigned char* Bytes(absl::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.data() != nullptr ? reinterpret_cast<const unsigned char*>(s.data())
                             : &kEmpty;
}

}  // namespace

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  unsigned char* data = reinterpret_cast<unsigned char*>(out.data());
  // RAND_bytes takes an int length; large requests go in pieces.
  size_t done = 0;
  while (done < n) {
    size_t chunk = std::min<size_t>(n - done, INT_MAX);
    if (RAND_bytes(data + done, static_cast<int>(chunk)) != 1)
      Die("RAND_bytes");
    done += chunk;
  }
  return out;
}

std::string Sha256(absl::string_view data) {
  std::string digest(kSha256Size, '\0');
  unsigned int size = 0;
  if (EVP_Digest(Bytes(data), data.size(),
                 reinterpret_cast<unsigned char*>(digest.data()), &size,
                 EVP_sha256(), nullptr) != 1 ||
      size != kSha256Size) {
    Die("SHA-256");
  }
  return digest;
}

std::string Sha256Hex(absl::string_view data) { return ToHex(Sha256(data)); }

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  if (key.size() > INT_MAX) Die("HMAC-SHA-256 (key too long)");
  std::string tag(kSha256Size, '\0');
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), Bytes(key), static_cast<int>(key.size()), Bytes(data),
           data.size(), reinterpret_cast<unsigned char*>(tag.data()),
           &size) == nullptr ||
      size != kSha256Size) {
    Die("HMAC-SHA-256");
  }
  return tag;
}

std::string HmacSha256Hex(absl::string_view key, absl::string_view data) {
  return ToHex(HmacSha256(key, data));
}

std::string ToHex(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (char c : bytes) {
    unsigned char byte = static_cast<unsigned char>(c);
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0x0f]);
  }
  return hex;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // The lengths are not secret (a key's or tag's length is public); the
  // contents are compared without an early exit.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace polku::crypto
