#include "services/feedback/customer_hasher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "lib/crypto/crypto.h"
#include "services/feedback/test_journeys.h"

namespace polku::feedback {
namespace {

TEST(CustomerHasherTest, CreatesAPrivate32ByteSecretOnFirstStart) {
  const std::string path = testing::ScratchDir() + "/feedback-secret.key";
  auto hasher = CustomerHasher::LoadOrCreate(path);
  ASSERT_TRUE(hasher.ok()) << hasher.status();

  EXPECT_EQ(std::filesystem::file_size(path), 32u);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  // No temporary file is left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(path).parent_path())) {
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(CustomerHasherTest, TheSameSecretIsUsedAfterARestart) {
  const std::string path = testing::ScratchDir() + "/feedback-secret.key";
  auto first = CustomerHasher::LoadOrCreate(path);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string hash = first->Hash("demo", "customer-42");

  auto second = CustomerHasher::LoadOrCreate(path);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->Hash("demo", "customer-42"), hash);
}

TEST(CustomerHasherTest, DifferentInstallationsHashDifferently) {
  auto a = CustomerHasher::LoadOrCreate(testing::ScratchDir() + "/s.key");
  auto b = CustomerHasher::LoadOrCreate(testing::ScratchDir() + "/s.key");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->Hash("demo", "customer-42"), b->Hash("demo", "customer-42"));
}

TEST(CustomerHasherTest, HashesUnderAPerTenantKey) {
  const std::string secret(32, 's');
  CustomerHasher hasher(secret);
  const std::string hash = hasher.Hash("demo", "customer-42");
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(hash,
            crypto::HmacSha256Hex(crypto::HmacSha256(secret, "tenant:demo"),
                                  "customer-42"));
  EXPECT_EQ(hasher.Hash("demo", "customer-42"), hash);
  // The same customer reference in another tenant does not link.
  EXPECT_NE(hasher.Hash("other", "customer-42"), hash);
  EXPECT_NE(hasher.Hash("demo", "customer-43"), hash);
}

TEST(CustomerHasherTest, ADamagedSecretIsAnErrorNotANewSecret) {
  const std::string path = testing::ScratchDir() + "/feedback-secret.key";
  std::ofstream(path) << "short";
  auto hasher = CustomerHasher::LoadOrCreate(path);
  EXPECT_EQ(hasher.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::filesystem::file_size(path), 5u);  // left for the operator
}

}  // namespace
}  // namespace polku::feedback
