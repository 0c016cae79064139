// WatchEvents pages encoded from stored rows (services/feedback/feed_page.h)
// whatever the rows hold: a page is either refused (DATA_LOSS, a row that is
// not whole protobuf fields) or exactly the rows it took, in order, each
// framed as a WatchEventsResponse entry with its sequence.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "google/protobuf/unknown_field_set.h"
#include "services/feedback/feed_page.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  polku::fuzz::FuzzInput input(data, size);
  // The first field: flags (which rows are erasures) and the page's size
  // bound; then one field per row's payload.
  const absl::string_view header = input.Next();
  std::vector<polku::feedback::FeedRecord> records;
  int64_t sequence = 1;
  while (!input.empty() && records.size() < 64) {
    const size_t i = records.size();
    const bool erasure = i < header.size() && (header[i] & 1);
    records.push_back({.sequence = sequence,
                       .erasure = erasure,
                       .payload = std::string(input.Next())});
    sequence +=
        1 +
        (i < header.size() ? static_cast<unsigned char>(header[i]) >> 4 : 0);
  }
  if (records.empty()) return 0;
  const size_t max_bytes =
      header.empty() ? 1 : static_cast<unsigned char>(header[0]) * 16;
  auto page = polku::feedback::EncodeFeedPage("feed-1", records, max_bytes);
  if (!page.ok()) {
    if (page.status().code() != absl::StatusCode::kDataLoss) std::abort();
    return 0;
  }
  // The page's framing, read without a schema: a payload whose own fields
  // are well-formed but mean nothing to StoredEvent is the reader's to
  // refuse (it stops at that sequence: the feed never skips a row).
  google::protobuf::UnknownFieldSet page_fields;
  if (!page_fields.ParseFromString(page->bytes)) std::abort();
  std::vector<std::string> entries;
  std::string feed_id;
  bool erasure_page = false;
  for (int i = 0; i < page_fields.field_count(); ++i) {
    const google::protobuf::UnknownField& field = page_fields.field(i);
    if (field.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED)
      std::abort();
    if (field.number() == 2) {
      feed_id = field.length_delimited();
    } else if (field.number() == 1 || field.number() == 3) {
      erasure_page |= field.number() == 3;
      entries.push_back(field.length_delimited());
    } else {
      std::abort();
    }
  }
  if (feed_id != "feed-1" || entries.empty() || entries.size() > records.size())
    std::abort();
  // An erasure is alone on its page; events stop before one.
  if (erasure_page && (entries.size() != 1 || !records[0].erasure))
    std::abort();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!erasure_page && records[i].erasure) std::abort();
    // Each entry is its row's payload with the sequence (field 1) appended.
    if (entries[i].compare(0, records[i].payload.size(), records[i].payload) !=
        0)
      std::abort();
    google::protobuf::UnknownFieldSet appended;
    if (!appended.ParseFromString(entries[i].substr(records[i].payload.size())))
      std::abort();
    if (appended.field_count() != 1 || appended.field(0).number() != 1 ||
        static_cast<int64_t>(appended.field(0).varint()) !=
            records[i].sequence) {
      std::abort();
    }
  }
  if (page->next_sequence != records[entries.size() - 1].sequence + 1)
    std::abort();
  return 0;
}
