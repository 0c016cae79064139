#include "tools/import/ledger.h"

namespace polku::import {
namespace {

void Count(ImportLedger::Outcome outcome, ImportCounts& counts, int delta) {
  switch (outcome) {
    case ImportLedger::Outcome::kAccepted:
      counts.accepted += delta;
      break;
    case ImportLedger::Outcome::kDuplicate:
      counts.duplicates += delta;
      break;
    case ImportLedger::Outcome::kRejected:
      counts.rejected += delta;
      break;
  }
}

}  // namespace

ImportLedger::ImportLedger(ImportCounts counts, int64_t through_line)
    : settled_(counts), through_(through_line), last_begun_(through_line) {}

void ImportLedger::Begin(int64_t line) {
  absl::MutexLock lock(&mu_);
  open_.insert(line);
  last_begun_ = std::max(last_begun_, line);
}

void ImportLedger::Finish(int64_t line, Outcome outcome,
                          std::string reject_row) {
  absl::MutexLock lock(&mu_);
  if (open_.erase(line) == 0) return;  // not begun, or answered already
  Count(outcome, unsettled_, 1);
  finished_.emplace(line, std::make_pair(outcome, std::move(reject_row)));
}

ImportLedger::Settled ImportLedger::TakeSettled() {
  absl::MutexLock lock(&mu_);
  const int64_t through = open_.empty() ? last_begun_ : *open_.begin() - 1;
  Settled settled;
  auto end = finished_.upper_bound(through);
  for (auto it = finished_.begin(); it != end; ++it) {
    auto& [outcome, row] = it->second;
    Count(outcome, unsettled_, -1);
    Count(outcome, settled_, 1);
    if (outcome == Outcome::kRejected) {
      settled.rejects.push_back(std::move(row));
    }
  }
  finished_.erase(finished_.begin(), end);
  through_ = std::max(through_, through);
  settled.through = through_;
  settled.counts = settled_;
  return settled;
}

ImportCounts ImportLedger::Seen() const {
  absl::MutexLock lock(&mu_);
  ImportCounts seen = settled_;
  seen.accepted += unsettled_.accepted;
  seen.duplicates += unsettled_.duplicates;
  seen.rejected += unsettled_.rejected;
  return seen;
}

size_t ImportLedger::unanswered() const {
  absl::MutexLock lock(&mu_);
  return open_.size();
}

}  // namespace polku::import
