// The API key as it arrives: the authorization header's parsing
// (gateway/caller_auth.h), the key format with its check digits
// (gateway/keys/keys.h) and the request id a caller may send. No input
// crashes them; what reaches the key store is the header's key exactly; a
// well-formed key has the one spelling the format allows; a request id the
// gateway logs is printable ASCII.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "gateway/caller_auth.h"
#include "gateway/keys/keys.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// Remembers the key it was asked about; knows none.
class RecordingKeyStore : public polku::gateway::keys::KeyStore {
 public:
  absl::StatusOr<polku::gateway::keys::Principal> Authenticate(
      absl::string_view key) const override {
    asked_ = std::string(key);
    return absl::UnauthenticatedError("unknown or revoked API key");
  }
  mutable std::string asked_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  polku::fuzz::FuzzInput input(data, size);
  const std::string header(input.Next());
  const std::string request_id(input.Next());

  RecordingKeyStore store;
  store.asked_ = "\xFF(not asked)";
  auto principal = polku::gateway::AuthenticateBearer(store, header);
  if (principal.ok() ||
      principal.status().code() != absl::StatusCode::kUnauthenticated) {
    std::abort();
  }
  if (store.asked_ != "\xFF(not asked)") {
    // The store sees the header's value after "Bearer " and the spaces
    // around it, nothing more and nothing less.
    absl::string_view value = absl::StripAsciiWhitespace(header);
    if (!absl::StartsWithIgnoreCase(value, "bearer ")) std::abort();
    value.remove_prefix(7);
    if (absl::StripLeadingAsciiWhitespace(value) != store.asked_) std::abort();
  }

  const std::string key(input.Next());
  if (polku::gateway::keys::IsWellFormedKey(key)) {
    if (!absl::StartsWith(key, "polku_") || key.size() != 6 + 64 + 8)
      std::abort();
    for (char c : key.substr(6)) {
      if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) std::abort();
    }
  }
  if (polku::gateway::keys::KeyId(key).size() != 8) std::abort();

  const std::string id = polku::gateway::RequestIdOrNew(request_id);
  if (id.empty() || id.size() > 128) std::abort();
  for (char c : id) {
    if (c < '!' || c > '~') std::abort();
  }
  return 0;
}
