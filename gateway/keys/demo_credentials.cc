#include "gateway/keys/demo_credentials.h"

#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "gateway/keys/file_key_store.h"
#include "gateway/keys/files.h"
#include "gateway/keys/key_file.pb.h"
#include "lib/base/status_macros.h"

namespace polku::gateway::keys {
namespace {

// Tenant and channel names travel in metadata and file names later; keep
// them to a safe alphabet.
bool IsValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

std::string JoinPath(const std::string& dir, const char* name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return absl::StrCat(dir, "/", name);
}

}  // namespace

absl::StatusOr<InitResult> InitDemoCredentials(
    const std::string& data_dir, const std::string& tenant,
    const std::vector<std::string>& channels) {
  if (!IsValidName(tenant)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tenant: \"", tenant, "\" must be 1-64 of a-z, 0-9, _ and -"));
  }
  std::set<std::string> seen;
  for (const std::string& channel : channels) {
    if (!IsValidName(channel)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "channels: \"", channel, "\" must be 1-64 of a-z, 0-9, _ and -"));
    }
    if (!seen.insert(channel).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("channels: \"", channel, "\" is listed twice"));
    }
  }

  InitResult result;
  result.credentials_path = JoinPath(data_dir, kCredentialsFileName);
  result.key_file_path = JoinPath(data_dir, kKeyFileName);
  POLKU_RETURN_IF_ERROR(MakeDirectories(data_dir));
  struct stat info;
  if (lstat(result.credentials_path.c_str(), &info) == 0) {
    result.created = false;
    return result;
  }

  Credentials credentials;
  credentials.set_tenant(tenant);
  credentials.set_admin_key(GenerateKey());
  std::vector<KeyEntry> entries;
  entries.push_back(MakeKeyEntry(credentials.admin_key(), tenant,
                                 {kScopeAdmin, kScopeJourneysRead,
                                  kScopeJourneysWrite, kScopeInsightsRead},
                                 ""));
  for (const std::string& channel : channels) {
    std::string key = GenerateKey();
    entries.push_back(MakeKeyEntry(key, tenant, {kScopeEventsWrite}, channel));
    (*credentials.mutable_channel_keys())[channel] = std::move(key);
  }

  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string credentials_json;
  (void)google::protobuf::util::MessageToJsonString(credentials,
                                                    &credentials_json, options);
  // The key file first: credentials.json marks completion, so a crash in
  // between just makes the next run issue fresh keys for both files.
  POLKU_RETURN_IF_ERROR(
      WriteFileAtomically(result.key_file_path, KeyFileJson(entries), 0600));
  POLKU_RETURN_IF_ERROR(
      WriteFileAtomically(result.credentials_path, credentials_json, 0600));
  result.created = true;
  return result;
}

absl::StatusOr<DemoCredentials> ReadCredentials(const std::string& path) {
  POLKU_ASSIGN_OR_RETURN(std::string json, ReadFile(path));
  Credentials credentials;
  google::protobuf::util::JsonParseOptions options;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json), &credentials, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "credentials file ", path, ": ", std::string(parsed.message())));
  }
  DemoCredentials result;
  result.tenant = credentials.tenant();
  result.admin_key = credentials.admin_key();
  result.channel_keys.insert(credentials.channel_keys().begin(),
                             credentials.channel_keys().end());
  return result;
}

}  // namespace polku::gateway::keys
