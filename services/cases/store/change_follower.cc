#include "services/cases/store/change_follower.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "lib/base/log.h"
#include "lib/base/status_macros.h"

namespace polku::cases {

ChangeFollower::ChangeFollower(CaseStore& store, CaseChangeListener on_change,
                               std::function<void()> on_lost, Options options)
    : store_(store),
      on_change_(std::move(on_change)),
      on_lost_(std::move(on_lost)),
      options_(Clamped(options)) {}

ChangeFollower::Options ChangeFollower::Clamped(Options options) {
  // A page of none would never end a catch-up (a short page ends it).
  options.page_size = std::clamp(options.page_size, 1, 1000);
  return options;
}

ChangeFollower::~ChangeFollower() { Stop(); }

void ChangeFollower::Start() {
  {
    absl::MutexLock lock(&follow_mu_);
    if (position_ < 0) {
      // Read here when the database answers, so a change committed right
      // after Start returns is not taken for one from before; else the
      // thread reads it.
      absl::StatusOr<int64_t> last = store_.LastChangeSequence();
      if (last.ok()) position_ = *last;
    }
  }
  store_.SetCommitObserver([this] { Wake(); });
  thread_ = std::thread([this] { Loop(); });
  listener_ = std::thread([this] {
    store_.ListenForCommits(stop_listening_, [this] { Wake(); });
  });
}

void ChangeFollower::Stop() {
  {
    absl::MutexLock lock(&wake_mu_);
    stopping_ = true;
  }
  if (!stop_listening_.HasBeenNotified()) stop_listening_.Notify();
  if (thread_.joinable()) {
    thread_.join();
    store_.SetCommitObserver(nullptr);
  }
  if (listener_.joinable()) listener_.join();
}

void ChangeFollower::StartAfter(int64_t sequence) {
  absl::MutexLock lock(&follow_mu_);
  position_ = sequence;
}

int64_t ChangeFollower::position() {
  absl::MutexLock lock(&follow_mu_);
  return position_;
}

void ChangeFollower::Wake() {
  absl::MutexLock lock(&wake_mu_);
  woken_ = true;
}

absl::StatusOr<int> ChangeFollower::CatchUp() {
  absl::MutexLock lock(&follow_mu_);
  if (position_ < 0) {
    POLKU_ASSIGN_OR_RETURN(position_, store_.LastChangeSequence());
  }
  int handed = 0;
  while (true) {
    POLKU_ASSIGN_OR_RETURN(std::vector<SequencedChange> page,
                           store_.ChangesAfter(position_, options_.page_size));
    for (SequencedChange& change : page) {
      if (change.sequence != position_ + 1) {
        // Sequences have no holes: these were pruned before we read them.
        log::Warning("WatchCases fell behind the change sequence; changes "
                     "were lost and the watches end",
                     {{"after", position_}, {"next", change.sequence}});
        if (on_lost_) on_lost_();
      }
      position_ = change.sequence;
      if (change.erased) continue;
      on_change_(change.change);
      ++handed;
    }
    if (static_cast<int>(page.size()) < options_.page_size) return handed;
    absl::MutexLock wake(&wake_mu_);
    if (stopping_) return handed;
  }
}

void ChangeFollower::Loop() {
  bool failing = false;
  while (true) {
    {
      absl::MutexLock lock(&wake_mu_);
      if (stopping_) return;
      woken_ = false;
    }
    absl::StatusOr<int> read = CatchUp();
    if (!read.ok() && !failing) {
      log::Warning("cannot read the change sequence; retrying",
                   {{"error", read.status().ToString()}});
    } else if (read.ok() && failing) {
      log::Info("reading the change sequence again");
    }
    failing = !read.ok();
    absl::MutexLock lock(&wake_mu_);
    const auto woken_or_stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                       wake_mu_) {
      return woken_ || stopping_;
    };
    wake_mu_.AwaitWithTimeout(absl::Condition(&woken_or_stopping),
                              options_.poll_interval);
  }
}

}  // namespace polku::cases
