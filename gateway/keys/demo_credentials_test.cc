#include "gateway/keys/demo_credentials.h"

#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "gateway/keys/file_key_store.h"
#include "gateway/keys/files.h"

namespace polku::gateway::keys {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string NewTempDir() {
  std::string pattern = testing::TempDir() + "/polku_keys_XXXXXX";
  char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return pattern;
}

mode_t FileMode(const std::string& path) {
  struct stat info;
  EXPECT_EQ(stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 0777;
}

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  return names;
}

TEST(DemoCredentialsTest, IssuesAdminAndChannelKeysTheGatewayAccepts) {
  std::string dir = NewTempDir() + "/data/polku";  // Parents made too.
  auto result =
      InitDemoCredentials(dir, "demo", {"shop", "phone", "web", "email"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->credentials_path, dir + "/credentials.json");
  EXPECT_EQ(result->key_file_path, dir + "/gateway-keys.json");
  EXPECT_EQ(FileMode(result->credentials_path), 0600u);
  EXPECT_EQ(FileMode(result->key_file_path), 0600u);
  EXPECT_THAT(DirEntries(dir), testing::UnorderedElementsAre(
                                   "credentials.json", "gateway-keys.json"));

  auto credentials = ReadCredentials(result->credentials_path);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->tenant, "demo");
  EXPECT_TRUE(IsWellFormedKey(credentials->admin_key));
  ASSERT_EQ(credentials->channel_keys.size(), 4u);

  auto raw = ReadFile(result->credentials_path);
  ASSERT_TRUE(raw.ok());
  // The documented spelling, for tools that read it without our schema.
  EXPECT_THAT(*raw, HasSubstr("\"admin_key\""));
  EXPECT_THAT(*raw, HasSubstr("\"channel_keys\""));

  auto store = FileKeyStore::Load(result->key_file_path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto admin = (*store)->Authenticate(credentials->admin_key);
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_EQ(admin->tenant, "demo");
  EXPECT_EQ(admin->channel, "");
  EXPECT_THAT(admin->scopes, testing::UnorderedElementsAre(
                                 kScopeAdmin, kScopeJourneysRead,
                                 kScopeJourneysWrite, kScopeInsightsRead));
  for (const auto& [channel, key] : credentials->channel_keys) {
    auto principal = (*store)->Authenticate(key);
    ASSERT_TRUE(principal.ok()) << channel << ": " << principal.status();
    EXPECT_EQ(principal->tenant, "demo");
    EXPECT_EQ(principal->channel, channel);
    EXPECT_THAT(principal->scopes, testing::ElementsAre(kScopeEventsWrite));
  }

  // The gateway's file never holds a key, not even its secret digits.
  auto key_file = ReadFile(result->key_file_path);
  ASSERT_TRUE(key_file.ok());
  std::vector<std::string> all_keys = {credentials->admin_key};
  for (const auto& [channel, key] : credentials->channel_keys) {
    all_keys.push_back(key);
  }
  for (const std::string& key : all_keys) {
    EXPECT_THAT(*key_file, Not(HasSubstr(key.substr(6, 16))));
  }
}

TEST(DemoCredentialsTest, SecondRunKeepsBothFilesAsTheyAre) {
  std::string dir = NewTempDir();
  auto first = InitDemoCredentials(dir, "demo", {"shop"});
  ASSERT_TRUE(first.ok()) << first.status();
  auto credentials_before = ReadFile(first->credentials_path);
  auto keys_before = ReadFile(first->key_file_path);
  ASSERT_TRUE(credentials_before.ok() && keys_before.ok());

  auto second = InitDemoCredentials(dir, "other", {"web", "email"});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(*ReadFile(first->credentials_path), *credentials_before);
  EXPECT_EQ(*ReadFile(first->key_file_path), *keys_before);
}

TEST(DemoCredentialsTest, RejectsBadNamesBeforeWritingAnything) {
  std::string dir = NewTempDir();
  for (const auto& [tenant, channels, field] : std::vector<
           std::tuple<std::string, std::vector<std::string>, std::string>>{
           {"", {"shop"}, "tenant"},
           {"Demo Tenant", {"shop"}, "tenant"},
           {"demo", {"shop", "shop"}, "listed twice"},
           {"demo", {"shop/../x"}, "channels"},
       }) {
    auto result = InitDemoCredentials(dir, tenant, channels);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << tenant;
    EXPECT_THAT(result.status().message(), HasSubstr(field));
  }
  EXPECT_THAT(DirEntries(dir), testing::IsEmpty());
}

}  // namespace
}  // namespace polku::gateway::keys
