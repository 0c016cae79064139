#include "lib/base/thread.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polku {
namespace {

using ::testing::HasSubstr;

// Takes CAP_SYS_NICE out of the calling thread's effective capabilities
// (they are per thread on Linux), as a process without it would be.
bool DropSysNice() {
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3,
                                  .pid = 0};
  __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) != 0) return false;
  data[CAP_SYS_NICE / 32].effective &= ~(1u << (CAP_SYS_NICE % 32));
  return syscall(SYS_capset, &header, data) == 0;
}

std::string ThisThreadName() {
  std::ifstream comm("/proc/thread-self/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

// Each test changes a thread of its own, never the test runner's.
TEST(ThreadTest, NamesTheCallingThreadKeepingFifteenBytes) {
  std::string short_name, long_name;
  std::thread([&] {
    NameThisThread("polku-writer");
    short_name = ThisThreadName();
    NameThisThread("a-name-longer-than-fifteen-bytes");
    long_name = ThisThreadName();
  }).join();
  EXPECT_EQ(short_name, "polku-writer");
  EXPECT_EQ(long_name, "a-name-longer-t");
}

TEST(ThreadTest, RaisingTheNiceValueChangesOnlyTheCallingThread) {
  const int before = ThisThreadNice();
  if (before + 3 > kMaxNice) GTEST_SKIP() << "already at nice " << before;
  absl::Status status;
  int inside = 0;
  std::thread([&] {
    status = SetThisThreadNice(before + 3);
    inside = ThisThreadNice();
  }).join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(inside, before + 3);
  EXPECT_EQ(ThisThreadNice(), before);
}

TEST(ThreadTest, ANiceValueOutsideLinuxsRangeIsRefusedNamingTheRange) {
  absl::Status status;
  std::thread([&] { status = SetThisThreadNice(20); }).join();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("nice 20 is outside -20..19"));
}

TEST(ThreadTest, LoweringTheNiceValueWithoutThePrivilegeIsPermissionDenied) {
  const int before = ThisThreadNice();
  if (before + 5 > kMaxNice) GTEST_SKIP() << "already at nice " << before;
  absl::Status raised, lowered;
  bool dropped = false;
  std::thread([&] {
    raised = SetThisThreadNice(before + 5);
    dropped = DropSysNice();
    lowered = SetThisThreadNice(before);
  }).join();
  ASSERT_TRUE(raised.ok()) << raised;
  if (!dropped) GTEST_SKIP() << "capset refused: cannot drop CAP_SYS_NICE";
  if (lowered.ok()) GTEST_SKIP() << "RLIMIT_NICE lets any thread lower it";
  EXPECT_EQ(lowered.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(lowered.message(), HasSubstr("needs CAP_SYS_NICE"));
}

}  // namespace
}  // namespace polku
