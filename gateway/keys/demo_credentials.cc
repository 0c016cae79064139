#include "gateway/keys/demo_credentials.h"

#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "gateway/keys/credentials.pb.h"
#include "gateway/keys/files.h"
#include "lib/base/status_macros.h"

namespace polku::gateway::keys {

std::string JoinPath(const std::string& dir, const char* name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return absl::StrCat(dir, "/", name);
}

absl::StatusOr<InitResult> InitDemoCredentials(
    TenantKeyStore& store, const std::string& data_dir,
    const std::string& tenant, const std::vector<std::string>& channels) {
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
  POLKU_RETURN_IF_ERROR(MakeDirectories(data_dir));
  struct stat info;
  if (lstat(result.credentials_path.c_str(), &info) == 0) {
    result.created = false;
    return result;
  }

  absl::StatusOr<TenantRecord> created = store.CreateTenant(tenant, tenant);
  if (!created.ok() && !absl::IsAlreadyExists(created.status())) {
    return created.status();
  }
  Credentials credentials;
  credentials.set_tenant(tenant);
  POLKU_ASSIGN_OR_RETURN(
      IssuedKey admin,
      store.CreateKey(tenant, "admin (polku-keys init)",
                      {kScopeAdmin, kScopeJourneysRead, kScopeJourneysWrite,
                       kScopeInsightsRead},
                      ""));
  credentials.set_admin_key(admin.key);
  POLKU_ASSIGN_OR_RETURN(IssuedKey insights,
                         store.CreateKey(tenant, "insights (polku-keys init)",
                                         {kScopeInsightsRead}, ""));
  credentials.set_insights_key(insights.key);
  for (const std::string& channel : channels) {
    POLKU_ASSIGN_OR_RETURN(
        IssuedKey key,
        store.CreateKey(tenant, absl::StrCat(channel, " (polku-keys init)"),
                        {kScopeEventsWrite}, channel));
    (*credentials.mutable_channel_keys())[channel] = key.key;
  }

  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(credentials, &json,
                                                    options);
  POLKU_RETURN_IF_ERROR(
      WriteFileAtomically(result.credentials_path, json, 0600));
  result.created = true;
  return result;
}

absl::StatusOr<std::pair<std::string, bool>> EnsureSuperAdminKey(
    TenantKeyStore& store, const std::string& data_dir) {
  std::string path = JoinPath(data_dir, kSuperAdminKeyFileName);
  POLKU_RETURN_IF_ERROR(MakeDirectories(data_dir));
  // One step in the store, so of gateways starting together on one
  // database exactly one issues the key.
  absl::StatusOr<IssuedKey> key = store.CreateSuperAdminKey();
  if (absl::IsAlreadyExists(key.status())) return std::make_pair(path, false);
  if (!key.ok()) return key.status();
  if (absl::Status written = WriteFileAtomically(path, key->key + "\n", 0600);
      !written.ok()) {
    // A key nobody can read would keep every later start from issuing one.
    (void)store.RevokeKey("", key->record.key_id);
    return written;
  }
  return std::make_pair(path, true);
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
  result.insights_key = credentials.insights_key();
  result.channel_keys.insert(credentials.channel_keys().begin(),
                             credentials.channel_keys().end());
  return result;
}

}  // namespace polku::gateway::keys
