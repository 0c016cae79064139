#include "services/journey/watch_queue.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace polku::journey {

WatchQueue::Action WatchQueue::Push(polku::v1::WatchJourneysResponse message) {
  if (closing()) return {};
  if (pending_.size() >= max_pending_) {
    pending_.clear();
    return Close(absl::ResourceExhaustedError(absl::StrCat(
        "subscriber fell more than ", max_pending_,
        " messages behind; reconnect to receive a fresh snapshot")));
  }
  pending_.push_back(std::move(message));
  if (writing_) return {};
  return StartNextWrite();
}

WatchQueue::Action WatchQueue::WriteDone(bool ok) {
  writing_ = false;
  if (deferred_finish_.has_value()) {
    finished_ = true;
    Action action;
    action.finish = *std::move(deferred_finish_);
    deferred_finish_.reset();
    return action;
  }
  if (finished_) return {};
  if (!ok) {
    // The client is gone; the stream still needs its Finish.
    pending_.clear();
    finished_ = true;
    Action action;
    action.finish = absl::CancelledError("write to the subscriber failed");
    return action;
  }
  if (pending_.empty()) return {};
  return StartNextWrite();
}

WatchQueue::Action WatchQueue::Close(absl::Status status) {
  if (closing()) return {};
  pending_.clear();
  if (writing_) {
    deferred_finish_ = std::move(status);
    return {};
  }
  finished_ = true;
  Action action;
  action.finish = std::move(status);
  return action;
}

WatchQueue::Action WatchQueue::StartNextWrite() {
  in_flight_ = std::move(pending_.front());
  pending_.pop_front();
  writing_ = true;
  Action action;
  action.write = &in_flight_;
  return action;
}

}  // namespace polku::journey
