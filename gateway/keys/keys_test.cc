#include "gateway/keys/keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polku::gateway::keys {
namespace {

TEST(KeysTest, GeneratedKeysHaveTheKeyFormatAndDiffer) {
  std::string a = GenerateKey();
  std::string b = GenerateKey();
  EXPECT_THAT(a, testing::MatchesRegex("polku_[0-9a-f]{72}"));
  EXPECT_TRUE(IsWellFormedKey(a));
  EXPECT_NE(a, b);
}

TEST(KeysTest, AnyMistypedCharacterIsCaughtByTheCheckDigits) {
  std::string key = GenerateKey();
  for (size_t i = 6; i < key.size(); ++i) {
    std::string typo = key;
    typo[i] = typo[i] == '0' ? '1' : '0';
    EXPECT_FALSE(IsWellFormedKey(typo)) << "typo at " << i;
  }
  // Swapped neighbours.
  for (size_t i = 6; i + 1 < key.size(); ++i) {
    if (key[i] == key[i + 1]) continue;
    std::string swapped = key;
    std::swap(swapped[i], swapped[i + 1]);
    EXPECT_FALSE(IsWellFormedKey(swapped)) << "swap at " << i;
  }
}

TEST(KeysTest, RejectsAnythingButPrefixAndLowercaseHex) {
  std::string key = GenerateKey();
  std::string body = key.substr(6);
  EXPECT_FALSE(IsWellFormedKey(""));
  EXPECT_FALSE(IsWellFormedKey(body));
  EXPECT_FALSE(IsWellFormedKey("Polku_" + body));
  EXPECT_FALSE(IsWellFormedKey(key.substr(0, key.size() - 1)));
  EXPECT_FALSE(IsWellFormedKey(key + "0"));
  std::string upper = key;
  for (size_t i = 6; i < upper.size(); ++i) upper[i] = toupper(upper[i]);
  if (upper != key) {
    EXPECT_FALSE(IsWellFormedKey(upper));
  }
  // The old format (no check digits) is refused.
  EXPECT_FALSE(IsWellFormedKey("polku_" + std::string(64, 'a')));
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
  EXPECT_FALSE(principal.IsSuperAdmin());
}

}  // namespace
}  // namespace polku::gateway::keys
