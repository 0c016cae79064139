#include "gateway/keys/keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polku::gateway::keys {
namespace {

TEST(KeysTest, GeneratedKeysHaveTheKeyFormatAndDiffer) {
  std::string a = GenerateKey();
  std::string b = GenerateKey();
  EXPECT_THAT(a, testing::MatchesRegex("polku_[0-9a-f]{64}"));
  EXPECT_TRUE(IsWellFormedKey(a));
  EXPECT_NE(a, b);
}

TEST(KeysTest, RejectsAnythingButPrefixAnd64LowercaseHexDigits) {
  std::string hex(64, 'a');
  EXPECT_TRUE(IsWellFormedKey("polku_" + hex));
  EXPECT_FALSE(IsWellFormedKey(""));
  EXPECT_FALSE(IsWellFormedKey(hex));
  EXPECT_FALSE(IsWellFormedKey("polku_" + hex.substr(1)));
  EXPECT_FALSE(IsWellFormedKey("polku_" + hex + "0"));
  EXPECT_FALSE(IsWellFormedKey("Polku_" + hex));
  EXPECT_FALSE(IsWellFormedKey("polku_" + std::string(64, 'A')));
  EXPECT_FALSE(IsWellFormedKey("polku_" + std::string(63, 'a') + "g"));
  EXPECT_FALSE(IsWellFormedKey("polku_" + std::string(63, 'a') + " "));
}

TEST(KeysTest, HashIsSha256HexAndIdItsFirstEightDigits) {
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(KeyHash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(KeyId("abc"), "ba7816bf");
}

TEST(PrincipalTest, HasScope) {
  Principal principal{
      .tenant = "demo", .scopes = {kScopeEventsWrite}, .channel = "shop"};
  EXPECT_TRUE(principal.HasScope(kScopeEventsWrite));
  EXPECT_FALSE(principal.HasScope(kScopeAdmin));
}

}  // namespace
}  // namespace polku::gateway::keys
