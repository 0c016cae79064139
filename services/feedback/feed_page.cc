#include "services/feedback/feed_page.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "polku/v1/feedback.pb.h"

namespace polku::feedback {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;
using polku::v1::WatchEventsResponse;

// Protobuf wire types (the encoding's, fixed by its specification).
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed32 = 5;

constexpr uint32_t Tag(int field, uint32_t wire_type) {
  return (static_cast<uint32_t>(field) << 3) | wire_type;
}

constexpr int kSequenceField = polku::v1::StoredEvent::kSequenceFieldNumber;
static_assert(int{polku::v1::Erasure::kSequenceFieldNumber} == kSequenceField);
constexpr uint32_t kSequenceTag = Tag(kSequenceField, kVarint);

// Whether `payload` is a sequence of whole fields, so that the sequence
// appended to it is read as the message's own field. Nested messages are
// skipped by their length, not checked: this costs a walk over the tags,
// not a parse.
bool IsWholeFields(const std::string& payload) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(payload.data()),
                      static_cast<int>(payload.size()));
  while (true) {
    const uint32_t tag = in.ReadTag();
    // 0: the end, or a tag cut short (then not a legitimate end).
    if (tag == 0) return in.ConsumedEntireMessage();
    uint64_t varint;
    uint32_t length;
    switch (tag & 7) {
      case kVarint:
        if (!in.ReadVarint64(&varint)) return false;
        break;
      case kFixed64:
        if (!in.Skip(8)) return false;
        break;
      case kLengthDelimited:
        if (!in.ReadVarint32(&length) || !in.Skip(static_cast<int>(length))) {
          return false;
        }
        break;
      case kFixed32:
        if (!in.Skip(4)) return false;
        break;
      default:  // groups: no Polku message has them
        return false;
    }
  }
}

// Field `field` of the page: the record's message, sequence appended.
void WriteRecord(int field, const FeedRecord& record, CodedOutputStream& out) {
  const auto sequence = static_cast<uint64_t>(record.sequence);
  const size_t size = record.payload.size() +
                      CodedOutputStream::VarintSize32(kSequenceTag) +
                      CodedOutputStream::VarintSize64(sequence);
  out.WriteTag(Tag(field, kLengthDelimited));
  out.WriteVarint32(static_cast<uint32_t>(size));
  out.WriteRaw(record.payload.data(), static_cast<int>(record.payload.size()));
  out.WriteTag(kSequenceTag);
  out.WriteVarint64(sequence);
}

}  // namespace

absl::StatusOr<FeedPage> EncodeExportPage(
    const std::vector<FeedRecord>& records, size_t max_bytes) {
  static_assert(int{polku::v1::ExportEventsResponse::kEventsFieldNumber} ==
                int{WatchEventsResponse::kEventsFieldNumber});
  FeedPage page;
  {
    google::protobuf::io::StringOutputStream stream(&page.bytes);
    CodedOutputStream out(&stream);
    size_t bytes = 0;
    for (const FeedRecord& record : records) {
      if (record.erasure) {
        return absl::InternalError(absl::StrCat(
            "feed entry ", record.sequence, " is an erasure, not an event"));
      }
      if (page.next_sequence > 0 && bytes + record.payload.size() > max_bytes) {
        break;  // the rest comes in the next page
      }
      if (!IsWholeFields(record.payload)) {
        return absl::DataLossError(
            absl::StrCat("feed entry ", record.sequence, " is corrupt"));
      }
      WriteRecord(polku::v1::ExportEventsResponse::kEventsFieldNumber, record,
                  out);
      page.next_sequence = record.sequence + 1;
      bytes += record.payload.size();
    }
  }  // `out` flushes into page.bytes here
  return page;
}

absl::StatusOr<FeedPage> EncodeFeedPage(const std::string& feed_id,
                                        const std::vector<FeedRecord>& records,
                                        size_t max_bytes) {
  FeedPage page;
  {
    google::protobuf::io::StringOutputStream stream(&page.bytes);
    CodedOutputStream out(&stream);
    out.WriteTag(
        Tag(WatchEventsResponse::kFeedIdFieldNumber, kLengthDelimited));
    out.WriteVarint32(static_cast<uint32_t>(feed_id.size()));
    out.WriteString(feed_id);
    size_t bytes = 0;
    int events = 0;
    for (const FeedRecord& record : records) {
      // An erasure is a page of its own: alone, or in the next page.
      if (record.erasure && events > 0) break;
      if (events > 0 && bytes + record.payload.size() > max_bytes) {
        break;  // the rest comes in the next page
      }
      if (!IsWholeFields(record.payload)) {
        return absl::DataLossError(
            absl::StrCat("feed entry ", record.sequence, " is corrupt"));
      }
      WriteRecord(record.erasure ? WatchEventsResponse::kErasureFieldNumber
                                 : WatchEventsResponse::kEventsFieldNumber,
                  record, out);
      page.next_sequence = record.sequence + 1;
      if (record.erasure) break;
      bytes += record.payload.size();
      ++events;
    }
  }  // `out` flushes into page.bytes here
  return page;
}

}  // namespace polku::feedback
