// What changed between two versions of a journey map: what an analyst reads
// to know whether a trend line crosses a map change.
//
//   polku::v1::JourneyDiff diff = DiffJourneys(version_1, version_2);
//   for (const auto& change : diff.changes()) std::cout <<
//   change.description();
//
// Touchpoints are matched by key, and across a rename by the chain of keys
// the newer one declares (`replaces`, `former_keys`), so a renamed touchpoint
// is one TOUCHPOINT_RENAMED change, not a removal plus an addition. A pure
// function: no store, no clock.
#ifndef POLKU_SERVICES_JOURNEY_JOURNEY_DIFF_H_
#define POLKU_SERVICES_JOURNEY_JOURNEY_DIFF_H_

#include "polku/v1/journey.pb.h"

namespace polku::journey {

// Changes from `from` to `to`, ordered as JourneyDiff documents; key and
// versions are taken from the arguments.
polku::v1::JourneyDiff DiffJourneys(const polku::v1::Journey& from,
                                    const polku::v1::Journey& to);

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_JOURNEY_DIFF_H_
