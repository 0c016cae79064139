#include "services/feedback/customer_hasher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
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
  EXPECT_EQ(hasher.ForTenant("demo").Hash("customer-42"), hash);
  // The same customer reference in another tenant does not link.
  EXPECT_NE(hasher.Hash("other", "customer-42"), hash);
  EXPECT_NE(hasher.Hash("demo", "customer-43"), hash);
}

TEST(CustomerHasherTest, FingerprintsUnderAnotherPerTenantKey) {
  const std::string secret(32, 's');
  CustomerHasher hasher(secret);
  const std::string fingerprint = hasher.Fingerprint("demo", "event bytes");
  EXPECT_EQ(fingerprint,
            crypto::HmacSha256(crypto::HmacSha256(secret, "fingerprint:demo"),
                               "event bytes"));
  EXPECT_EQ(hasher.ForTenant("demo").Fingerprint("event bytes"), fingerprint);
  EXPECT_NE(hasher.Fingerprint("other", "event bytes"), fingerprint);
  EXPECT_EQ(
      hasher.Fingerprint("demo", ""),
      crypto::HmacSha256(crypto::HmacSha256(secret, "fingerprint:demo"), ""));
}

TEST(CustomerHasherTest, HashesFromManyThreadsAtOnce) {
  // The event store hashes on every submitting thread; tenants appear while
  // others are hashing.
  const std::string secret(32, 's');
  CustomerHasher hasher(secret);
  constexpr int kThreads = 8;
  std::vector<std::vector<std::string>> hashes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        hashes[t].push_back(hasher.Hash(absl::StrCat("tenant-", i % 10),
                                        absl::StrCat("customer-", i)));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < 200; ++i) {
    const std::string expected = crypto::HmacSha256Hex(
        crypto::HmacSha256(secret, absl::StrCat("tenant:tenant-", i % 10)),
        absl::StrCat("customer-", i));
    for (int t = 0; t < kThreads; ++t) ASSERT_EQ(hashes[t][i], expected);
  }
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
