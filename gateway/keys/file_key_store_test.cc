#include "gateway/keys/file_key_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace polku::gateway::keys {
namespace {

using ::testing::HasSubstr;

class FileKeyStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    admin_key_ = GenerateKey();
    shop_key_ = GenerateKey();
    entries_ = {
        MakeKeyEntry(admin_key_, "demo",
                     {kScopeAdmin, kScopeJourneysRead, kScopeJourneysWrite,
                      kScopeInsightsRead},
                     ""),
        MakeKeyEntry(shop_key_, "demo", {kScopeEventsWrite}, "shop"),
    };
  }

  std::string admin_key_;
  std::string shop_key_;
  std::vector<KeyEntry> entries_;
};

TEST_F(FileKeyStoreTest, AuthenticatesIssuedKeysFromTheirFile) {
  auto store = FileKeyStore::Parse(KeyFileJson(entries_));
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->size(), 2u);

  absl::StatusOr<Principal> shop = (*store)->Authenticate(shop_key_);
  ASSERT_TRUE(shop.ok()) << shop.status();
  EXPECT_EQ(shop->tenant, "demo");
  EXPECT_EQ(shop->channel, "shop");
  EXPECT_THAT(shop->scopes, testing::ElementsAre(kScopeEventsWrite));
  EXPECT_EQ(shop->key_id, KeyId(shop_key_));

  absl::StatusOr<Principal> admin = (*store)->Authenticate(admin_key_);
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_EQ(admin->channel, "");
  EXPECT_TRUE(admin->HasScope(kScopeInsightsRead));
  EXPECT_FALSE(admin->HasScope(kScopeEventsWrite));
}

TEST_F(FileKeyStoreTest, FileHoldsOnlyHashes) {
  std::string json = KeyFileJson(entries_);
  for (const std::string& key : {admin_key_, shop_key_}) {
    EXPECT_THAT(json, Not(HasSubstr(key)));
    EXPECT_THAT(json, Not(HasSubstr(key.substr(6))));  // The secret digits.
    EXPECT_THAT(json, HasSubstr(KeyHash(key)));
  }
}

TEST_F(FileKeyStoreTest, UnknownAndMalformedKeysAreUnauthenticated) {
  auto store = FileKeyStore::FromEntries(entries_);
  ASSERT_TRUE(store.ok()) << store.status();

  absl::StatusOr<Principal> unknown = (*store)->Authenticate(GenerateKey());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(unknown.status().message(), "unknown API key");

  for (const std::string& bad :
       {std::string(""), std::string("polku_123"), shop_key_ + "0",
        absl::AsciiStrToUpper(shop_key_), "Bearer " + shop_key_}) {
    absl::StatusOr<Principal> malformed = (*store)->Authenticate(bad);
    EXPECT_EQ(malformed.status().code(), absl::StatusCode::kUnauthenticated)
        << bad;
    EXPECT_EQ(malformed.status().message(), "malformed API key") << bad;
  }
}

TEST_F(FileKeyStoreTest, InvalidFilesNameTheProblem) {
  struct Case {
    std::string json;
    std::string message;
  };
  std::string hash = KeyHash(shop_key_);
  std::vector<Case> cases = {
      {"not json", "not a key file"},
      {R"({"keys": [], "extra": 1})", "not a key file"},
      {R"({"keys": [{"tenant": "demo", "scopes": ["admin"], "sha256": "xyz"}]})",
       "keys[0].sha256"},
      {absl::StrCat(R"({"keys": [{"scopes": ["admin"], "sha256": ")", hash,
                    R"("}]})"),
       "keys[0].tenant"},
      {absl::StrCat(
           R"({"keys": [{"tenant": "demo", "scopes": ["root"], "sha256": ")",
           hash, R"("}]})"),
       "unknown scope \"root\""},
      {absl::StrCat(
           R"({"keys": [{"tenant": "demo", "scopes": ["events:write"], "sha256": ")",
           hash, R"("}]})"),
       "keys[0].channel"},
      {absl::StrCat(
           R"({"keys": [{"tenant": "demo", "scopes": ["admin"], "sha256": ")",
           hash, R"("}, {"tenant": "demo", "scopes": ["admin"], "sha256": ")",
           hash, R"("}]})"),
       "keys[1].sha256: duplicate"},
  };
  for (const Case& c : cases) {
    auto store = FileKeyStore::Parse(c.json);
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument)
        << c.json;
    EXPECT_THAT(store.status().message(), HasSubstr(c.message)) << c.json;
  }
}

TEST(FileKeyStoreLoadTest, MissingFileIsNotFound) {
  auto store = FileKeyStore::Load("/nonexistent/gateway-keys.json");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(store.status().message(),
              HasSubstr("/nonexistent/gateway-keys.json"));
}

}  // namespace
}  // namespace polku::gateway::keys
