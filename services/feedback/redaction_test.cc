#include "services/feedback/redaction.h"

#include <gtest/gtest.h>

namespace polku::feedback {
namespace {

TEST(RedactCommentTest, EmailAddresses) {
  EXPECT_EQ(RedactComment("Write to matti.meikalainen@example.fi."),
            "Write to [email].");
  EXPECT_EQ(RedactComment("a+b_c@sub.mail-host.co.uk, x@y.se"),
            "[email], [email]");
  EXPECT_EQ(RedactComment("<anna-1990@firma.com>"), "<[email]>");
}

TEST(RedactCommentTest, FinnishPhoneNumbers) {
  EXPECT_EQ(RedactComment("Soita 040 123 4567 kiitos"), "Soita [phone] kiitos");
  EXPECT_EQ(RedactComment("numero 0401234567"), "numero [phone]");
  EXPECT_EQ(RedactComment("puh. 040-1234567"), "puh. [phone]");
  EXPECT_EQ(RedactComment("09 1234 5678"), "[phone]");
  EXPECT_EQ(RedactComment("+358 40 1234567"), "[phone]");
  EXPECT_EQ(RedactComment("+358401234567."), "[phone].");
  EXPECT_EQ(RedactComment("(+358 50 123 4567)"), "([phone])");
}

TEST(RedactCommentTest, SwedishPhoneNumbers) {
  EXPECT_EQ(RedactComment("Ring 070-123 45 67!"), "Ring [phone]!");
  EXPECT_EQ(RedactComment("08-123 456 78"), "[phone]");
  EXPECT_EQ(RedactComment("+46 70 123 45 67"), "[phone]");
  EXPECT_EQ(RedactComment("+46701234567"), "[phone]");
}

TEST(RedactCommentTest, InternationalPhoneNumbers) {
  EXPECT_EQ(RedactComment("call +1 415 555 0100 now"), "call [phone] now");
  EXPECT_EQ(RedactComment("+44-20-7946-0958"), "[phone]");
}

TEST(RedactCommentTest, CardNumbersOnlyWhenLuhnValid) {
  EXPECT_EQ(RedactComment("card 4111 1111 1111 1111 thanks"),
            "card [card] thanks");
  EXPECT_EQ(RedactComment("4111-1111-1111-1111"), "[card]");
  EXPECT_EQ(RedactComment("5555555555554444"), "[card]");
  EXPECT_EQ(RedactComment("378282246310005"), "[card]");  // 15 digits
  // One digit off: not a card, and not redacted.
  EXPECT_EQ(RedactComment("4111 1111 1111 1112"), "4111 1111 1111 1112");
  EXPECT_EQ(RedactComment("1234567890123456"), "1234567890123456");
}

TEST(RedactCommentTest, OrdinaryNumbersStay) {
  for (const char* text : {
           "order 12345 arrived late",
           "tilaus 123456789 saapui",
           "on 2024-05-01 at 14:30",
           "01.05.2024 klo 9.15",
           "päivä 01-05-2024",
           "hinta 1 299,00 € tai 19.90",
           "1 000 000 euroa",
           "waited 45 minutes, 3 times",
           "ticket #0012345",
           "koodi ABC0401234567",
           "version 1.2.3",
           "room 0-12",
           "ratings 0 5 10",
           "+5 points",
       }) {
    EXPECT_EQ(RedactComment(text), text) << text;
  }
}

TEST(RedactCommentTest, MixedTextKeepsEverythingElse) {
  EXPECT_EQ(RedactComment("Tilaus 12345: soita 040 123 4567 tai "
                          "maija@example.fi, kortti 4111111111111111."),
            "Tilaus 12345: soita [phone] tai [email], kortti [card].");
  EXPECT_EQ(RedactComment("Hyvä palvelu 😀 — kiitos!"),
            "Hyvä palvelu 😀 — kiitos!");
  EXPECT_EQ(RedactComment(""), "");
  EXPECT_EQ(RedactComment("@ @@ a@b no@tld.x"), "@ @@ a@b no@tld.x");
}

// Found by tests/fuzz/redaction_fuzzer.cc: the second number, glued to the
// first, was left in the stored comment, and redacting that comment again
// removed it.
TEST(RedactCommentTest, NothingRedactableIsLeftBehind) {
  const std::string once =
      RedactComment("Soita +46 70 1 45 02+358 45 02+358 415- kiitos");
  EXPECT_EQ(once, "Soita [phone][phone]+358 415- kiitos");
  EXPECT_EQ(RedactComment(once), once);
}

TEST(LuhnValidTest, KnownNumbers) {
  EXPECT_TRUE(LuhnValid("79927398713"));
  EXPECT_FALSE(LuhnValid("79927398710"));
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_FALSE(LuhnValid("12a4"));
}

}  // namespace
}  // namespace polku::feedback
