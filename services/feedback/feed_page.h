// WatchEvents (and ExportEvents) pages encoded straight from the feed's
// stored records.
//
// A record's payload is the serialised StoredEvent (or Erasure) without its
// sequence; with the sequence field appended it is the serialised message
// (a protobuf parser takes fields in any order). So a page is the records'
// bytes framed as WatchEventsResponse fields: serving the feed parses and
// re-serialises nothing, which was most of the feed readers' CPU.
//
//   absl::StatusOr<FeedPage> page =
//       EncodeFeedPage(store.feed_id(), records, 1 << 20);
//   // page->bytes parses as a WatchEventsResponse; resume at
//   // page->next_sequence.
#ifndef POLKU_SERVICES_FEEDBACK_FEED_PAGE_H_
#define POLKU_SERVICES_FEEDBACK_FEED_PAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/feedback/event_store.h"

namespace polku::feedback {

struct FeedPage {
  // A serialised WatchEventsResponse.
  std::string bytes;
  // The sequence after the page's last entry.
  int64_t next_sequence = 0;
};

// The next page of `records` (in sequence order, not empty): the erasure
// alone if the first record is one, else the events up to the next erasure
// or until their payloads reach `max_bytes` (at least one event), with
// `feed_id`. DATA_LOSS naming the sequence if a record's payload is not
// whole protobuf fields (a corrupt row must not reach a reader as a page
// that misparses).
absl::StatusOr<FeedPage> EncodeFeedPage(const std::string& feed_id,
                                        const std::vector<FeedRecord>& records,
                                        size_t max_bytes);

// An ExportEventsResponse of `records` (stored events, never erasures; not
// empty), cut where their payloads would pass `max_bytes` (at least one).
// `next_sequence` is the one after the last event taken. DATA_LOSS as
// EncodeFeedPage.
absl::StatusOr<FeedPage> EncodeExportPage(
    const std::vector<FeedRecord>& records, size_t max_bytes);

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_FEED_PAGE_H_
