// What the feed tailer writes to: pages of the change feed, erasures, the
// feed's identity, and the checkpoint to resume from. The tailer depends on
// this alone (lib/feed/feed_tailer.h); polku-insight's RollupStore and
// polku-cases' CaseStore implement it.
//
//   POLKU_RETURN_IF_ERROR(sink.CheckFeed(page.feed_id()));
//   POLKU_RETURN_IF_ERROR(page.has_erasure() ?
//   sink.ApplyErasure(page.erasure())
//                                            : sink.Apply(page.events()));
#ifndef POLKU_LIB_FEED_FEED_SINK_H_
#define POLKU_LIB_FEED_FEED_SINK_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "polku/v1/feedback.pb.h"

namespace polku::feed {

class FeedSink {
 public:
  virtual ~FeedSink() = default;

  // Hands each event to every projection, and advances the checkpoints,
  // atomically: after a crash either the whole page counts or none of it
  // does. Events at or below a projection's checkpoint were applied already
  // and are skipped, so re-delivering a page is harmless.
  virtual absl::Status Apply(
      const google::protobuf::RepeatedPtrField<v1::StoredEvent>& events) = 0;

  // Forgets an erased customer in every projection (erasure.tenant(),
  // erasure.customer_hash()) and advances the checkpoints to the erasure's
  // sequence, atomically. An erasure at or below the checkpoint was applied
  // already and is ignored.
  virtual absl::Status ApplyErasure(const v1::Erasure& erasure) = 0;

  // Checks that pages come from the feed the checkpoint belongs to
  // (WatchEventsResponse.feed_id), binding the store to `feed_id` on first
  // use. FAILED_PRECONDITION for another feed: its sequences do not continue
  // this checkpoint, so nothing of it may be applied.
  virtual absl::Status CheckFeed(const std::string& feed_id) = 0;

  // The last applied feed sequence, from which the feed is read on; 0
  // before the first event.
  virtual absl::StatusOr<int64_t> Checkpoint() = 0;
};

}  // namespace polku::feed

#endif  // POLKU_LIB_FEED_FEED_SINK_H_
