#include "services/feedback/feed_notifier.h"

#include <utility>
#include <vector>

namespace polku::feedback {

int64_t FeedNotifier::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

void FeedNotifier::Publish(int64_t sequence) {
  std::vector<std::function<void()>> due;
  {
    absl::MutexLock lock(&mu_);
    if (sequence <= last_sequence_) return;
    last_sequence_ = sequence;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.after < sequence) {
        due.push_back(std::move(it->second.callback));
        waiters_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  // Outside the lock: callbacks take their owners' locks, which may be held
  // by someone calling Subscribe or Unsubscribe.
  for (auto& callback : due) callback();
}

uint64_t FeedNotifier::Subscribe(int64_t after,
                                 std::function<void()> callback) {
  absl::MutexLock lock(&mu_);
  if (closed_ || last_sequence_ > after) return 0;
  const uint64_t id = next_id_++;
  waiters_.emplace(id, Waiter{after, std::move(callback)});
  return id;
}

bool FeedNotifier::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&mu_);
  return waiters_.erase(id) > 0;
}

void FeedNotifier::Close() {
  std::vector<std::function<void()>> due;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (auto& [id, waiter] : waiters_) due.push_back(std::move(waiter.callback));
    waiters_.clear();
  }
  for (auto& callback : due) callback();
}

size_t FeedNotifier::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

}  // namespace polku::feedback
