#include "gateway/caller_auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace polku::gateway {
namespace {

keys::Principal KeyNamed(std::string display_name) {
  keys::Principal principal;
  principal.tenant = "demo";
  principal.key_id = "0123abcd";
  principal.display_name = std::move(display_name);
  principal.scopes = {std::string(keys::kScopeActAs)};
  return principal;
}

// A name that plain gRPC metadata may carry: bytes 0x20-0x7E only.
bool IsPrintableAscii(const std::string& value) {
  for (char c : value) {
    if (c < ' ' || c > '~') return false;
  }
  return true;
}

// A key may be issued under any name; the actor header may carry only
// printable ASCII (or the backend call is refused and grpc++ aborts).
TEST(ActorOfTest, AKeyNameOutsidePrintableAsciiIsMadePrintable) {
  keys::Principal principal = KeyNamed("Asiakaspalvelu H\xC3\xA4meenlinna "
                                       "\xE2\x80\x93 y\xC3\xB6\n");
  absl::StatusOr<std::string> actor = ActorOf(principal, absl::nullopt);
  ASSERT_TRUE(actor.ok()) << actor.status();
  EXPECT_EQ(*actor, "Asiakaspalvelu H?meenlinna ? y? (key 0123abcd)");

  actor = ActorOf(principal, "alice@example.com");
  ASSERT_TRUE(actor.ok()) << actor.status();
  EXPECT_EQ(*actor,
            "alice@example.com via Asiakaspalvelu H?meenlinna ? y? "
            "(key 0123abcd)");

  // Control characters inside, and a stray continuation byte.
  actor = ActorOf(KeyNamed("a\tb\rc\x7F" "d\x80"), absl::nullopt);
  ASSERT_TRUE(actor.ok());
  EXPECT_EQ(*actor, "a?b?c?d? (key 0123abcd)");
}

TEST(ActorOfTest, ALongKeyNameIsCut) {
  absl::StatusOr<std::string> actor =
      ActorOf(KeyNamed(std::string(500, 'x') + "\xC3\xA4"), absl::nullopt);
  ASSERT_TRUE(actor.ok());
  EXPECT_EQ(*actor,
            std::string(kMaxKeyNameLength - 3, 'x') + "... (key 0123abcd)");
  EXPECT_TRUE(IsPrintableAscii(*actor));
  EXPECT_EQ(PrintableKeyName(std::string(kMaxKeyNameLength, 'y')),
            std::string(kMaxKeyNameLength, 'y'));
}

TEST(ActorOfTest, ANameOfNothingPrintableFallsBackToTheKeyId) {
  EXPECT_EQ(*ActorOf(KeyNamed(""), absl::nullopt), "key 0123abcd");
  EXPECT_EQ(*ActorOf(KeyNamed(" \n\t "), absl::nullopt), "key 0123abcd");
  EXPECT_EQ(*ActorOf(KeyNamed("helpdesk"), absl::nullopt),
            "helpdesk (key 0123abcd)");
}

}  // namespace
}  // namespace polku::gateway
