// The ledger's attribute index: for each attribute value of a tenant's
// journey, the counted events that carry it, so that a scan filtered by an
// attribute ("how is store 12 doing") reads those and not the journey's
// whole ledger.
//
// It is kept in chunks: one row per attribute value and feed page (or
// catch-up step), holding that page's events of the value packed
// (attribute_chunk.proto), keyed by (attribute, first sequence). A page of
// 1000 events over 50 stores writes 50 rows, not 1000: the feed pays per
// row inserted far more than per byte (bench/README.md). One value's
// chunks are one contiguous range of the key, read in sequence order; an
// erasure rewrites the chunks that held the customer's events.
//
// The algorithms are here, written once; backends store and find chunks
// (ProjectionStorage, RollupStore::Snapshot).
#ifndef POLKU_SERVICES_INSIGHT_STORE_ATTRIBUTE_INDEX_H_
#define POLKU_SERVICES_INSIGHT_STORE_ATTRIBUTE_INDEX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "services/insight/store/rollup_math.h"

namespace polku::insight {

// An attribute of a tenant's journey as the index keys it: a 64-bit hash
// (FNV-1a) of the four, the same on every backend and in every process. Two
// values that share a hash share chunks; a scan's attribute check drops the
// other's events.
int64_t AttributeKey(const std::string& tenant, const std::string& journey,
                     const std::string& name, const std::string& value);

// One stored chunk. Chunks of one attribute never overlap: each holds
// events of one page, and pages do not overlap. The bounds stay as written
// when an erasure takes events out.
struct AttributeChunkRow {
  int64_t attribute = 0;       // AttributeKey
  int64_t first_sequence = 0;  // of the events it was written with
  int64_t last_sequence = 0;
  std::string events;  // a serialized store::AttributeChunk
};

// The chunks of a page's `events` (in sequence order): one per attribute
// key that any of them carries.
std::vector<AttributeChunkRow> ChunksOf(absl::Span<const CountedEvent> events);

// Appends a chunk's events to `events` as a ledger scan without details and
// customer reads them (occurred_at at the day's midnight). DATA_LOSS if
// `chunk` is not one.
absl::Status DecodeChunk(absl::string_view chunk,
                         std::vector<CountedEvent>& events);

// `chunk` without the events whose sequence is in `sequences` (ascending).
struct ErasedChunk {
  std::string events;  // the chunk as it is to be stored
  int removed = 0;     // events taken out
  int left = 0;        // events kept (none: delete the chunk)
};
absl::StatusOr<ErasedChunk> WithoutEvents(absl::string_view chunk,
                                          absl::Span<const int64_t> sequences);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_STORE_ATTRIBUTE_INDEX_H_
