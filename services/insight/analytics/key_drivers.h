// GetKeyDrivers' logic: which touchpoints (or stages) drive the journey's
// outcome, read from the ledger (LedgerReader::ScanLedger) or the touch
// index (touch_index.h) and the journey's definition. The method and how to
// read it: docs/drivers.md.
//
//   absl::StatusOr<v1::KeyDrivers> drivers =
//       ComputeKeyDrivers(store, "acme", request, journey, {}, &index);
//
// * The unit is a customer (the customer hash) with an answer at the outcome
//   touchpoint in the scope's range; the latest such answer is the outcome.
//   Only ratings given before it (occurred_at) in the range count, each
//   customer's mean per driver.
// * Per driver a group of two predictors {rated, rated × (rating − mean)};
//   importance is the group's LMG share of R² (relative_importance.h),
//   intervals from a bootstrap over customers (customers are dealt into at
//   most `max_blocks` blocks in customer-hash order, and blocks are
//   resampled; with fewer customers each block is one customer).
// * `journey` is the definition the drivers are listed from (stage order,
//   names, targets, outcomes); with scope.journey_version 0 its rename
//   chains map older keys to current ones.
#ifndef POLKU_SERVICES_INSIGHT_ANALYTICS_KEY_DRIVERS_H_
#define POLKU_SERVICES_INSIGHT_ANALYTICS_KEY_DRIVERS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "polku/v1/drivers.pb.h"
#include "polku/v1/journey.pb.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

struct KeyDriverOptions {
  // Used when the request leaves min_raters / bootstrap_replicates at 0.
  int default_min_raters = 100;
  int default_replicates = 200;
  int max_replicates = 2000;
  // Bootstrap blocks; more costs time per replicate, fewer coarsens the
  // resampling.
  int max_blocks = 2000;
};

class TouchIndex;

// With `index`, a request without attribute filters is answered from it
// (brought up to date first; the same answer as from the ledger, as_of
// included, without reading the whole ledger); with attribute filters, or
// without an index, the ledger is scanned.
absl::StatusOr<v1::KeyDrivers> ComputeKeyDrivers(
    LedgerReader& ledger, absl::string_view tenant,
    const v1::GetKeyDriversRequest& request, const v1::Journey& journey,
    const KeyDriverOptions& options = {}, TouchIndex* index = nullptr);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ANALYTICS_KEY_DRIVERS_H_
