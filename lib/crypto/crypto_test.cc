#include "lib/crypto/crypto.h"

#include <string>

#include "gtest/gtest.h"

namespace polku::crypto {
namespace {

// Published test vectors: FIPS 180-2 (SHA-256 of "abc") and RFC 4231
// (HMAC-SHA-256 test cases 1, 2 and 6).

TEST(Sha256Test, KnownDigests) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256("abc").size(), 32u);
  EXPECT_EQ(ToHex(Sha256("abc")), Sha256Hex("abc"));
}

TEST(HmacSha256Test, Rfc4231Case1) {
  const std::string key(20, '\x0b');
  EXPECT_EQ(HmacSha256Hex(key, "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacSha256Test, Rfc4231Case2) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256Test, Rfc4231Case6KeyLongerThanBlock) {
  const std::string key(131, '\xaa');
  EXPECT_EQ(HmacSha256Hex(
                key, "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256Test, RawTagIs32BytesAndKeyed) {
  const std::string tag = HmacSha256("secret", "customer-42");
  EXPECT_EQ(tag.size(), 32u);
  EXPECT_EQ(ToHex(tag), HmacSha256Hex("secret", "customer-42"));
  EXPECT_NE(tag, HmacSha256("other secret", "customer-42"));
  // Keys and data with NUL bytes are used in full, not up to the first NUL.
  EXPECT_NE(HmacSha256(std::string("k\0a", 3), "x"),
            HmacSha256(std::string("k\0b", 3), "x"));
}

TEST(ToHexTest, LowercaseTwoDigitsPerByte) {
  EXPECT_EQ(ToHex(std::string("\x00\x01\x7f\x80\xab\xff", 6)), "00017f80abff");
  EXPECT_EQ(ToHex(""), "");
}

TEST(RandomBytesTest, LengthAndVariety) {
  EXPECT_EQ(RandomBytes(0), "");
  const std::string a = RandomBytes(32);
  const std::string b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  // Two equal 256-bit draws would mean the generator is broken.
  EXPECT_NE(a, b);
  EXPECT_NE(a, std::string(32, '\0'));
}

TEST(ConstantTimeEqualsTest, ComparesContentsAndLengths) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("same key", "same key"));
  EXPECT_FALSE(ConstantTimeEquals("same key", "same kez"));
  EXPECT_FALSE(ConstantTimeEquals("xame key", "same key"));
  EXPECT_FALSE(ConstantTimeEquals("short", "shorter"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(
      ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace polku::crypto
