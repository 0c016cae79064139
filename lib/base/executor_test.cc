#include "lib/base/executor.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace polku {
namespace {

TEST(ExecutorTest, RunsEveryTaskScheduledBeforeDestruction) {
  std::atomic<int> ran{0};
  {
    Executor executor(2);
    for (int i = 0; i < 1000; ++i) executor.Schedule([&ran] { ran++; });
  }
  EXPECT_EQ(ran.load(), 1000);
}

TEST(ExecutorTest, SingleThreadRunsTasksInOrder) {
  std::vector<int> order;
  {
    Executor executor(1);
    for (int i = 0; i < 100; ++i) executor.Schedule([&order, i] { order.push_back(i); });
  }
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(ExecutorTest, TasksRunOnWorkerThreadsConcurrently) {
  // Two tasks that each wait for the other can only finish on two threads.
  absl::Mutex mu;
  int arrived = 0;
  {
    Executor executor(2);
    for (int i = 0; i < 2; ++i) {
      executor.Schedule([&] {
        absl::MutexLock lock(&mu);
        ++arrived;
        mu.AwaitWithTimeout(absl::Condition(
                                +[](int* n) { return *n == 2; }, &arrived),
                            absl::Seconds(10));
      });
    }
  }
  EXPECT_EQ(arrived, 2);
}

}  // namespace
}  // namespace polku
