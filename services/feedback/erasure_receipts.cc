#include "services/feedback/erasure_receipts.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/base/thread.h"
#include "services/feedback/group_commit_store.h"

namespace polku::feedback {

ErasureReceipts::ErasureReceipts(std::vector<std::string> required,
                                 std::function<std::string()> feed_id,
                                 const Clock& clock)
    : required_(std::move(required)),
      feed_id_(std::move(feed_id)),
      clock_(clock) {}

ErasureReceipts::~ErasureReceipts() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (timer_.joinable()) timer_.join();
  ExpireAll();
}

absl::Status ErasureReceipts::Report(absl::string_view reader,
                                     absl::string_view feed_id,
                                     int64_t applied_sequence) {
  if (reader.empty()) {
    return absl::InvalidArgumentError("reader: must not be empty");
  }
  if (applied_sequence < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "applied_sequence: must be >= 0, got ", applied_sequence));
  }
  const std::string own_feed = feed_id_();
  if (own_feed.empty()) {
    return absl::UnavailableError(
        "polku-feedback has not reached its database yet; report again");
  }
  if (feed_id != own_feed) {
    // Its checkpoint counts another feed's sequences: they say nothing
    // about this feed's erasures.
    return absl::FailedPreconditionError(
        absl::StrCat("feed_id: the reader follows feed \"", feed_id,
                     "\", this server's is \"", own_feed, "\""));
  }
  std::vector<std::pair<Done, polku::v1::ErasureReceipt>> answered;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    if (!AddStepLocked(reader, applied_sequence, now, now)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "reader: at most ", kMaxReaders, " distinct readers report"));
    }
    answered = TakeWaiters(Answer::kComplete, now);
  }
  for (auto& [done, receipt] : answered) done(std::move(receipt));
  return absl::OkStatus();
}

bool ErasureReceipts::AddStepLocked(absl::string_view reader,
                                    int64_t sequence, absl::Time at,
                                    absl::Time reported_at) {
  auto it = steps_.find(reader);
  if (it == steps_.end()) {
    if (steps_.size() >= kMaxReaders) return false;
    it = steps_.emplace(std::string(reader), std::deque<Step>()).first;
  }
  absl::Time& last = reported_at_[it->first];
  last = std::max(last, reported_at);
  std::deque<Step>& steps = it->second;
  if (steps.empty() || sequence > steps.back().sequence) {
    steps.push_back({sequence, at});
    if (steps.size() > kStepsPerReader) steps.pop_front();
  }
  return true;
}

void ErasureReceipts::SetProgressSource(ProgressSource source,
                                        absl::Duration poll) {
  source_ = std::move(source);
  poll_ = poll;
}

absl::Status ErasureReceipts::Refresh() {
  if (!source_) return absl::OkStatus();
  absl::StatusOr<std::vector<ReaderProgress>> progress = source_();
  {
    absl::MutexLock lock(&mu_);
    if (progress.ok() == !source_failing_) {
      // No change: nothing to log.
    } else if (!progress.ok()) {
      log::Warning("cannot read the readers' stored progress; receipts "
                   "count only reports to this replica until it can",
                   {{"error", progress.status().ToString()}});
    }
    source_failing_ = !progress.ok();
  }
  if (!progress.ok()) return progress.status();
  Merge(*progress);
  return absl::OkStatus();
}

void ErasureReceipts::Merge(const std::vector<ReaderProgress>& progress) {
  std::vector<std::pair<Done, polku::v1::ErasureReceipt>> answered;
  {
    absl::MutexLock lock(&mu_);
    for (const ReaderProgress& p : progress) {
      // Beyond kMaxReaders a stored reader is left out, as its report was.
      AddStepLocked(p.reader, p.applied_sequence,
                    absl::FromUnixMicros(p.advanced_at),
                    absl::FromUnixMicros(p.reported_at));
    }
    answered = TakeWaiters(Answer::kComplete, clock_.Now());
  }
  for (auto& [done, receipt] : answered) done(std::move(receipt));
}

polku::v1::ErasureReceipt ErasureReceipts::Receipt(int64_t sequence) const {
  absl::MutexLock lock(&mu_);
  return ReceiptLocked(sequence);
}

polku::v1::ErasureReceipt ErasureReceipts::ReceiptLocked(
    int64_t sequence) const {
  polku::v1::ErasureReceipt receipt;
  receipt.set_sequence(sequence);
  bool complete = true;
  for (const std::string& reader : required_) {
    polku::v1::ReaderReceipt* part = receipt.add_readers();
    part->set_reader(reader);
    bool applied = false;
    if (auto it = steps_.find(reader); it != steps_.end() && !it->second.empty()) {
      const std::deque<Step>& steps = it->second;
      part->set_applied_sequence(steps.back().sequence);
      // The first report at or past the erasure.
      auto first = std::lower_bound(
          steps.begin(), steps.end(), sequence,
          [](const Step& step, int64_t s) { return step.sequence < s; });
      if (first != steps.end()) {
        applied = true;
        *part->mutable_confirmed_at() = ToTimestamp(first->at);
      }
    }
    if (auto it = reported_at_.find(reader); it != reported_at_.end()) {
      *part->mutable_reported_at() = ToTimestamp(it->second);
    }
    part->set_applied(applied);
    complete = complete && applied;
  }
  receipt.set_complete(complete);
  return receipt;
}

std::vector<std::pair<ErasureReceipts::Done, polku::v1::ErasureReceipt>>
ErasureReceipts::TakeWaiters(Answer answer, absl::Time now) {
  std::vector<std::pair<Done, polku::v1::ErasureReceipt>> taken;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    polku::v1::ErasureReceipt receipt = ReceiptLocked(it->second.sequence);
    const bool take = answer == Answer::kAll ||
                      (answer == Answer::kDue && it->second.deadline <= now) ||
                      (answer == Answer::kComplete && receipt.complete());
    if (take) {
      taken.emplace_back(std::move(it->second.done), std::move(receipt));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

void ErasureReceipts::Wait(int64_t sequence, absl::Time deadline, Done done) {
  polku::v1::ErasureReceipt now_receipt;
  {
    absl::MutexLock lock(&mu_);
    now_receipt = ReceiptLocked(sequence);
    if (!now_receipt.complete() && !draining_ && deadline > clock_.Now()) {
      const bool earliest =
          std::none_of(waiters_.begin(), waiters_.end(), [&](const auto& w) {
            return w.second.deadline <= deadline;
          });
      waiters_.emplace(next_waiter_++,
                       Waiter{sequence, deadline, std::move(done)});
      if (earliest) wake_ = true;
      return;
    }
  }
  done(std::move(now_receipt));
}

void ErasureReceipts::ExpireDue(absl::Time now) {
  std::vector<std::pair<Done, polku::v1::ErasureReceipt>> answered;
  {
    absl::MutexLock lock(&mu_);
    answered = TakeWaiters(Answer::kDue, now);
  }
  for (auto& [done, receipt] : answered) done(std::move(receipt));
}

void ErasureReceipts::ExpireAll() {
  std::vector<std::pair<Done, polku::v1::ErasureReceipt>> answered;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    answered = TakeWaiters(Answer::kAll, absl::InfinitePast());
  }
  for (auto& [done, receipt] : answered) done(std::move(receipt));
}

int ErasureReceipts::waiting() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(waiters_.size());
}

void ErasureReceipts::StartTimer() {
  timer_ = std::thread([this] { RunTimer(); });
}

void ErasureReceipts::RunTimer() {
  NameThisThread("polku-receipts");
  while (true) {
    bool poll = false;
    {
      absl::MutexLock lock(&mu_);
      absl::Time next = absl::InfiniteFuture();
      for (const auto& [id, waiter] : waiters_) {
        next = std::min(next, waiter.deadline);
      }
      // Other replicas' reports are read only while someone waits.
      if (source_ && !waiters_.empty()) next = std::min(next, absl::Now() + poll_);
      // Sleeps until the earliest deadline, the next read of the store, a
      // wait with an earlier deadline, or the destructor.
      mu_.AwaitWithDeadline(
          absl::Condition(this, &ErasureReceipts::TimerShouldWake), next);
      wake_ = false;
      if (stopping_) return;
      poll = source_ && !waiters_.empty();
    }
    // Waits already due are answered before the read, which may be slow
    // when the database is (a failure is logged by Refresh; deadlines still
    // answer the waits).
    ExpireDue(clock_.Now());
    if (poll) Refresh().IgnoreError();
    ExpireDue(clock_.Now());
  }
}

}  // namespace polku::feedback
