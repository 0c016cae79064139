// What has become of an import's rows, and how far it may resume from.
//
// Rows are numbered by the line they start on. Every row read is begun, and
// finished once its fate is known (accepted, duplicate or rejected; by the
// service, or here when it could not be read). Answers come back out of
// order, so the resume point is the line before the first row still
// unanswered: every row up to it is settled, and only those are counted in
// the progress file and written to the rejected-rows file (in line order),
// so that a resumed run neither skips nor repeats anything. A row whose
// events the client gave up on stays unanswered, holding the resume point
// there.
//
//   ImportLedger ledger(resumed_counts, resumed_through_line);
//   ledger.Begin(12);
//   ledger.Finish(12, Outcome::kRejected, "…the row as the rejects file has
//   it…"); ImportLedger::Settled settled = ledger.TakeSettled();
//   // write settled.rejects, then record settled.through and .counts
#ifndef POLKU_TOOLS_IMPORT_LEDGER_H_
#define POLKU_TOOLS_IMPORT_LEDGER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace polku::import {

struct ImportCounts {
  int64_t accepted = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;

  int64_t rows() const { return accepted + duplicates + rejected; }
};

class ImportLedger {
 public:
  enum class Outcome { kAccepted, kDuplicate, kRejected };

  // Resuming: `counts` of the rows up to `through_line`, already settled.
  explicit ImportLedger(ImportCounts counts = {}, int64_t through_line = 0);

  // The row starting on `line` (greater than every line before) was read.
  void Begin(int64_t line);
  // Its fate; `reject_row` is its row for the rejected-rows file (kRejected).
  void Finish(int64_t line, Outcome outcome, std::string reject_row = "");

  struct Settled {
    // Every row starting on a line up to this one is settled.
    int64_t through = 0;
    // Their counts (from the start of the import, resumed runs included).
    ImportCounts counts;
    // Rejected rows newly settled, in line order.
    std::vector<std::string> rejects;
  };
  // Settles what can be and hands over the rejected rows newly settled.
  Settled TakeSettled();

  // Every row with a known fate so far, settled or not (for the display).
  ImportCounts Seen() const;
  // Rows begun and not finished.
  size_t unanswered() const;

 private:
  mutable absl::Mutex mu_;
  ImportCounts settled_ ABSL_GUARDED_BY(mu_);
  int64_t through_ ABSL_GUARDED_BY(mu_);
  int64_t last_begun_ ABSL_GUARDED_BY(mu_);
  std::set<int64_t> open_ ABSL_GUARDED_BY(mu_);
  // Finished rows after `through_`, by line.
  std::map<int64_t, std::pair<Outcome, std::string>> finished_
      ABSL_GUARDED_BY(mu_);
  ImportCounts unsettled_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::import

#endif  // POLKU_TOOLS_IMPORT_LEDGER_H_
