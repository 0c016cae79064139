#include "gateway/caller_auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/crypto/crypto.h"
#include "lib/rpc/metadata.h"

namespace polku::gateway {

absl::StatusOr<keys::Principal> AuthenticateBearer(
    const keys::KeyStore& key_store,
    absl::optional<absl::string_view> authorization) {
  if (!authorization.has_value()) {
    return absl::UnauthenticatedError(
        "missing API key: send the header \"authorization: Bearer <key>\"");
  }
  absl::string_view value = absl::StripAsciiWhitespace(*authorization);
  // The scheme name is case-insensitive (RFC 6750 via RFC 7235).
  constexpr absl::string_view kScheme = "bearer ";
  if (!absl::StartsWithIgnoreCase(value, kScheme)) {
    return absl::UnauthenticatedError(
        "the authorization header must be \"Bearer <key>\"");
  }
  value.remove_prefix(kScheme.size());
  return key_store.Authenticate(absl::StripLeadingAsciiWhitespace(value));
}

std::string RequestIdOrNew(absl::string_view given) {
  bool usable = !given.empty() && given.size() <= 128;
  for (char c : given) {
    if (c < '!' || c > '~') usable = false;
  }
  if (usable) return std::string(given);
  return crypto::ToHex(crypto::RandomBytes(8));
}

std::string PrintableKeyName(absl::string_view display_name) {
  absl::string_view name = absl::StripAsciiWhitespace(display_name);
  std::string printable;
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c >= ' ' && c <= '~') {
      printable += static_cast<char>(c);
      continue;
    }
    printable += '?';
    // One '?' per UTF-8 character, not per byte: skip its continuation
    // bytes (10xxxxxx).
    if (c >= 0xC0) {
      while (i + 1 < name.size() &&
             (static_cast<unsigned char>(name[i + 1]) & 0xC0) == 0x80) {
        ++i;
      }
    }
  }
  if (printable.size() > kMaxKeyNameLength) {
    printable.resize(kMaxKeyNameLength - 3);
    printable += "...";
  }
  return printable;
}

absl::StatusOr<std::string> ActorOf(const keys::Principal& principal,
                                    absl::optional<absl::string_view> person) {
  // The display name is whatever the key was issued under; plain gRPC
  // metadata must be printable ASCII, or the backend call fails.
  const std::string key_name = PrintableKeyName(principal.display_name);
  std::string key =
      key_name.empty()
          ? absl::StrCat("key ", principal.key_id)
          : absl::StrCat(key_name, " (key ", principal.key_id, ")");
  if (!person.has_value()) return key;
  if (!principal.HasScope(keys::kScopeActAs)) {
    return absl::PermissionDeniedError(
        absl::StrCat(kActorHeader, ": the API key lacks the scope \"",
                     keys::kScopeActAs, "\" to name who acts"));
  }
  absl::string_view name = absl::StripAsciiWhitespace(*person);
  bool printable = !name.empty() && name.size() <= kMaxActorLength;
  for (char c : name) {
    if (c < ' ' || c > '~') printable = false;
  }
  if (!printable) {
    return absl::InvalidArgumentError(
        absl::StrCat(kActorHeader, ": 1-", kMaxActorLength,
                     " printable ASCII characters"));
  }
  return absl::StrCat(name, " via ", key);
}

void AttachTrustedMetadata(const keys::Principal& principal,
                           const std::string& request_id,
                           const std::string& actor,
                           grpc::ClientContext& context) {
  rpc::Caller caller;
  caller.tenant = principal.tenant;
  caller.channel = principal.channel;
  caller.request_id = request_id;
  rpc::AttachCaller(caller, context);
  if (!actor.empty()) context.AddMetadata(kActorHeader, actor);
}

}  // namespace polku::gateway
