// The few cryptographic primitives Polku needs, on OpenSSL.
//
//   std::string key = RandomBytes(32);
//   std::string tag = HmacSha256Hex(key, "customer-42");
#ifndef POLKU_LIB_CRYPTO_CRYPTO_H_
#define POLKU_LIB_CRYPTO_CRYPTO_H_

#include <string>

#include "absl/strings/string_view.h"

namespace polku::crypto {

// `n` bytes from the operating system's CSPRNG. Aborts if none is available
// (there is no safe way to continue without randomness).
std::string RandomBytes(size_t n);

// Raw 32-byte SHA-256 digest, and its lowercase hex form.
std::string Sha256(absl::string_view data);
std::string Sha256Hex(absl::string_view data);

// Raw 32-byte HMAC-SHA-256, and its lowercase hex form.
std::string HmacSha256(absl::string_view key, absl::string_view data);
std::string HmacSha256Hex(absl::string_view key, absl::string_view data);

// Lowercase hex of arbitrary bytes.
std::string ToHex(absl::string_view bytes);

// Compares in time that depends only on the lengths.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace polku::crypto

#endif  // POLKU_LIB_CRYPTO_CRYPTO_H_
