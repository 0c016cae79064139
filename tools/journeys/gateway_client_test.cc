#include "tools/journeys/gateway_client.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polku::tools {
namespace {

using ::testing::HasSubstr;

TEST(ParseCredentials, ReadsTenantAdminKeyAndChannelKeys) {
  auto credentials = ParseCredentials(R"({"tenant": "demo", "admin_key": "a1",
      "channel_keys": {"shop": "s1", "phone": "p1"}})");
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->tenant, "demo");
  EXPECT_EQ(credentials->admin_key, "a1");
  EXPECT_EQ(credentials->channel_keys.size(), 2u);
  EXPECT_EQ(credentials->channel_keys.at("phone"), "p1");
}

TEST(ParseCredentials, NamesTheMissingField) {
  auto credentials = ParseCredentials(R"({"tenant": "demo"})");
  ASSERT_FALSE(credentials.ok());
  EXPECT_THAT(credentials.status().message(), HasSubstr("admin_key"));
}

TEST(ParseCredentials, NamesTheMistypedChannelKey) {
  auto credentials = ParseCredentials(
      R"({"tenant": "demo", "admin_key": "a", "channel_keys": {"web": 7}})");
  ASSERT_FALSE(credentials.ok());
  EXPECT_THAT(credentials.status().message(), HasSubstr("channel_keys.web"));
}

TEST(ReadCredentials, NamesTheFileThatCannotBeRead) {
  auto credentials = ReadCredentials("/nonexistent/credentials.json");
  ASSERT_FALSE(credentials.ok());
  EXPECT_THAT(credentials.status().message(), HasSubstr("/nonexistent/credentials.json"));
}

TEST(CallWithRetry, RetriesUnavailableOnly) {
  int calls = 0;
  grpc::Status status = CallWithRetry(
      [&] {
        ++calls;
        return calls < 3 ? grpc::Status(grpc::UNAVAILABLE, "starting")
                         : grpc::Status(grpc::NOT_FOUND, "no such journey");
      },
      {.max_attempts = 5, .initial_backoff = absl::Milliseconds(1)});
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  EXPECT_EQ(DescribeStatus(status), "NOT_FOUND: no such journey");
}

}  // namespace
}  // namespace polku::tools
