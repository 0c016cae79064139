#include "gateway/keys/demo_credentials.h"

#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "absl/strings/ascii.h"
#include "gateway/keys/files.h"
#include "gateway/keys/sqlite_key_store.h"

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

TEST(DemoCredentialsTest, IssuesKeysThroughTheKeyStore) {
  std::string dir = NewTempDir() + "/data/polku";  // Parents made too.
  ASSERT_TRUE(MakeDirectories(dir).ok());
  auto store = *SqliteKeyStore::Open(dir + "/gateway.db");
  auto result = InitDemoCredentials(*store, dir, "demo",
                                    {"shop", "phone", "web", "email"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->credentials_path, dir + "/credentials.json");
  EXPECT_EQ(FileMode(result->credentials_path), 0600u);

  auto credentials = ReadCredentials(result->credentials_path);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->tenant, "demo");
  ASSERT_EQ(credentials->channel_keys.size(), 4u);

  auto raw = ReadFile(result->credentials_path);
  ASSERT_TRUE(raw.ok());
  // The documented spelling, for tools that read it without our schema.
  EXPECT_THAT(*raw, HasSubstr("\"admin_key\""));
  EXPECT_THAT(*raw, HasSubstr("\"channel_keys\""));
  EXPECT_THAT(*raw, HasSubstr("\"insights_key\""));

  auto admin = store->Authenticate(credentials->admin_key);
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_EQ(admin->tenant, "demo");
  EXPECT_EQ(admin->channel, "");
  EXPECT_THAT(admin->scopes, testing::UnorderedElementsAre(
                                 kScopeAdmin, kScopeJourneysRead,
                                 kScopeJourneysWrite, kScopeInsightsRead));
  auto insights = store->Authenticate(credentials->insights_key);
  ASSERT_TRUE(insights.ok()) << insights.status();
  EXPECT_THAT(insights->scopes, testing::ElementsAre(kScopeInsightsRead));
  for (const auto& [channel, key] : credentials->channel_keys) {
    auto principal = store->Authenticate(key);
    ASSERT_TRUE(principal.ok()) << channel << ": " << principal.status();
    EXPECT_EQ(principal->tenant, "demo");
    EXPECT_EQ(principal->channel, channel);
    EXPECT_THAT(principal->scopes, testing::ElementsAre(kScopeEventsWrite));
  }
  // The keys outlive the process: a reopened store knows them.
  store.reset();
  auto reopened = *SqliteKeyStore::Open(dir + "/gateway.db");
  EXPECT_TRUE(reopened->Authenticate(credentials->admin_key).ok());
}

TEST(DemoCredentialsTest, SecondRunKeepsTheFileAndIssuesNothing) {
  std::string dir = NewTempDir();
  auto store = *SqliteKeyStore::Open(dir + "/gateway.db");
  auto first = InitDemoCredentials(*store, dir, "demo", {"shop"});
  ASSERT_TRUE(first.ok()) << first.status();
  auto before = ReadFile(first->credentials_path);
  size_t keys_before = store->size();

  auto second = InitDemoCredentials(*store, dir, "other", {"web", "email"});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(*ReadFile(first->credentials_path), *before);
  EXPECT_EQ(store->size(), keys_before);
}

TEST(DemoCredentialsTest, SuperAdminKeyIsWrittenOnceWithMode0600) {
  std::string dir = NewTempDir();
  auto store = *SqliteKeyStore::Open(dir + "/gateway.db");
  auto first = EnsureSuperAdminKey(*store, dir);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->second);
  EXPECT_EQ(FileMode(first->first), 0600u);
  std::string key(absl::StripAsciiWhitespace(*ReadFile(first->first)));
  EXPECT_TRUE(store->Authenticate(key)->IsSuperAdmin());
  auto second = EnsureSuperAdminKey(*store, dir);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->second);
}

TEST(DemoCredentialsTest, RejectsBadNamesBeforeWritingAnything) {
  std::string dir = NewTempDir();
  auto store = *SqliteKeyStore::Open(":memory:");
  for (const auto& [tenant, channels, field] : std::vector<
           std::tuple<std::string, std::vector<std::string>, std::string>>{
           {"", {"shop"}, "tenant"},
           {"Demo Tenant", {"shop"}, "tenant"},
           {"demo", {"shop", "shop"}, "listed twice"},
           {"demo", {"shop/../x"}, "channels"},
       }) {
    auto result = InitDemoCredentials(*store, dir, tenant, channels);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << tenant;
    EXPECT_THAT(result.status().message(), HasSubstr(field));
  }
  EXPECT_THAT(DirEntries(dir), testing::IsEmpty());
  EXPECT_EQ(store->size(), 0u);
}

}  // namespace
}  // namespace polku::gateway::keys
