#include "services/feedback/feed_page.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "polku/v1/feedback.pb.h"

namespace polku::feedback {
namespace {

using google::protobuf::internal::WireFormatLite;
using polku::v1::WatchEventsResponse;

// Erasure and StoredEvent number their sequence alike.
constexpr int kSequenceField = polku::v1::StoredEvent::kSequenceFieldNumber;
static_assert(int{polku::v1::Erasure::kSequenceFieldNumber} == kSequenceField);

size_t SequenceSize(int64_t sequence) {
  return WireFormatLite::TagSize(kSequenceField, WireFormatLite::TYPE_INT64) +
         WireFormatLite::Int64Size(sequence);
}

// Field `field` of the page: the record's message, sequence appended.
void WriteRecord(int field, const FeedRecord& record,
                 google::protobuf::io::CodedOutputStream& out) {
  WireFormatLite::WriteTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED,
                           &out);
  out.WriteVarint32(static_cast<uint32_t>(record.payload.size() +
                                          SequenceSize(record.sequence)));
  out.WriteRaw(record.payload.data(), static_cast<int>(record.payload.size()));
  WireFormatLite::WriteInt64(kSequenceField, record.sequence, &out);
}

}  // namespace

FeedPage EncodeFeedPage(const std::string& feed_id,
                        const std::vector<FeedRecord>& records,
                        size_t max_bytes) {
  FeedPage page;
  {
    google::protobuf::io::StringOutputStream stream(&page.bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    WireFormatLite::WriteString(WatchEventsResponse::kFeedIdFieldNumber,
                                feed_id, &out);
    if (records.front().erasure) {
      // An erasure is a page of its own.
      WriteRecord(WatchEventsResponse::kErasureFieldNumber, records.front(),
                  out);
      page.next_sequence = records.front().sequence + 1;
    } else {
      size_t bytes = 0;
      int events = 0;
      for (const FeedRecord& record : records) {
        if (record.erasure) break;  // the erasure comes in the next page
        const size_t size = record.payload.size();
        if (events > 0 && bytes + size > max_bytes) {
          break;  // the rest comes in the next page
        }
        bytes += size;
        ++events;
        WriteRecord(WatchEventsResponse::kEventsFieldNumber, record, out);
        page.next_sequence = record.sequence + 1;
      }
    }
  }  // `out` flushes into page.bytes here
  return page;
}

}  // namespace polku::feedback
