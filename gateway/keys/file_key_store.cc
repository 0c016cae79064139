#include "gateway/keys/file_key_store.h"

#include <google/protobuf/util/json_util.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/keys/files.h"
#include "gateway/keys/key_file.pb.h"

namespace polku::gateway::keys {
namespace {

bool IsLowerHex(absl::string_view text, size_t digits) {
  if (text.size() != digits) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsKnownScope(absl::string_view scope) {
  return scope == kScopeEventsWrite || scope == kScopeJourneysRead ||
         scope == kScopeJourneysWrite || scope == kScopeInsightsRead ||
         scope == kScopeAdmin;
}

}  // namespace

KeyEntry MakeKeyEntry(absl::string_view key, std::string tenant,
                      std::set<std::string> scopes, std::string channel) {
  KeyEntry entry;
  entry.sha256 = KeyHash(key);
  entry.principal.tenant = std::move(tenant);
  entry.principal.scopes = std::move(scopes);
  entry.principal.channel = std::move(channel);
  entry.principal.key_id = entry.sha256.substr(0, 8);
  return entry;
}

std::string KeyFileJson(const std::vector<KeyEntry>& entries) {
  KeyFile file;
  for (const KeyEntry& entry : entries) {
    KeyRecord* record = file.add_keys();
    record->set_id(entry.sha256.substr(0, 8));
    record->set_tenant(entry.principal.tenant);
    for (const std::string& scope : entry.principal.scopes) {
      record->add_scopes(scope);
    }
    record->set_channel(entry.principal.channel);
    record->set_sha256(entry.sha256);
  }
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  // Printing a message we just built cannot fail.
  (void)google::protobuf::util::MessageToJsonString(file, &json, options);
  return json;
}

absl::StatusOr<std::unique_ptr<FileKeyStore>> FileKeyStore::Load(
    const std::string& path) {
  absl::StatusOr<std::string> json = ReadFile(path);
  if (!json.ok()) return json.status();
  absl::StatusOr<std::unique_ptr<FileKeyStore>> store = Parse(*json);
  if (!store.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("key file ", path, ": ", store.status().message()));
  }
  return store;
}

absl::StatusOr<std::unique_ptr<FileKeyStore>> FileKeyStore::Parse(
    absl::string_view json) {
  KeyFile file;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &file, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a key file: ", std::string(parsed.message())));
  }
  std::vector<KeyEntry> entries;
  entries.reserve(file.keys_size());
  for (const KeyRecord& record : file.keys()) {
    KeyEntry entry;
    entry.sha256 = record.sha256();
    entry.principal.tenant = record.tenant();
    entry.principal.scopes.insert(record.scopes().begin(),
                                  record.scopes().end());
    entry.principal.channel = record.channel();
    entry.principal.key_id = record.id();
    entries.push_back(std::move(entry));
  }
  return FromEntries(std::move(entries));
}

absl::StatusOr<std::unique_ptr<FileKeyStore>> FileKeyStore::FromEntries(
    std::vector<KeyEntry> entries) {
  std::unique_ptr<FileKeyStore> store(new FileKeyStore());
  for (size_t i = 0; i < entries.size(); ++i) {
    KeyEntry& entry = entries[i];
    std::string where = absl::StrCat("keys[", i, "]");
    if (!IsLowerHex(entry.sha256, 64)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".sha256: must be 64 lowercase hex digits"));
    }
    if (entry.principal.tenant.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".tenant: missing"));
    }
    if (entry.principal.scopes.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".scopes: empty"));
    }
    for (const std::string& scope : entry.principal.scopes) {
      if (!IsKnownScope(scope)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".scopes: unknown scope \"", scope, "\""));
      }
    }
    // A channel key writes events as its channel; a key that can write
    // events without a channel would let the body choose it.
    bool writes_events = entry.principal.HasScope(kScopeEventsWrite);
    if (writes_events && entry.principal.channel.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where,
          ".channel: a key with events:write must be bound to a channel"));
    }
    if (!writes_events && !entry.principal.channel.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".channel: only keys with events:write have a channel"));
    }
    // The id is derived; a stale or missing one is not worth refusing.
    entry.principal.key_id = entry.sha256.substr(0, 8);
    if (!store->by_hash_.emplace(entry.sha256, std::move(entry.principal))
             .second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".sha256: duplicate key"));
    }
  }
  return store;
}

absl::StatusOr<Principal> FileKeyStore::Authenticate(
    absl::string_view key) const {
  if (!IsWellFormedKey(key)) {
    return absl::UnauthenticatedError("malformed API key");
  }
  auto it = by_hash_.find(KeyHash(key));
  if (it == by_hash_.end()) {
    return absl::UnauthenticatedError("unknown API key");
  }
  return it->second;
}

}  // namespace polku::gateway::keys
