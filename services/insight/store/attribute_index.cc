#include "services/insight/store/attribute_index.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "lib/base/status_macros.h"
#include "services/insight/store/attribute_chunk.pb.h"

namespace polku::insight {

int64_t AttributeKey(const std::string& tenant, const std::string& journey,
                     const std::string& name, const std::string& value) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (const std::string* part : {&tenant, &journey, &name, &value}) {
    // Each part ends with its length, so ("ab", "c") and ("a", "bc") differ.
    for (const char c : *part) {
      hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    }
    for (size_t n = part->size();; n >>= 8) {
      hash = (hash ^ (n & 0xff)) * 0x100000001b3ull;
      if (n < 256) break;
    }
  }
  return static_cast<int64_t>(hash);
}

namespace {

using google::protobuf::io::CodedOutputStream;

// Protobuf's wire format, written directly: a chunk is the feed's hot path,
// and a message built per event cost more than the chunk's write.
constexpr uint32_t kVarint = 0;
constexpr uint32_t kDelimited = 2;

void PutVarint(uint64_t value, std::string& out) {
  uint8_t bytes[10];
  const uint8_t* end = CodedOutputStream::WriteVarint64ToArray(value, bytes);
  out.append(reinterpret_cast<const char*>(bytes), end - bytes);
}
// Every field number here is below 16: its tag is one byte.
void PutTag(int field, uint32_t wire_type, std::string& out) {
  out.push_back(static_cast<char>((field << 3) | wire_type));
}
// int32 and int64 fields: a negative value as its 64-bit two's complement.
void PutInt(int field, int64_t value, std::string& out) {
  PutTag(field, kVarint, out);
  PutVarint(static_cast<uint64_t>(value), out);
}
void PutString(int field, absl::string_view value, std::string& out) {
  PutTag(field, kDelimited, out);
  PutVarint(value.size(), out);
  out.append(value.data(), value.size());
}

// `event` as a store::IndexedEvent.
std::string IndexedEventOf(const CountedEvent& event) {
  const auto& [tenant, journey, version, touchpoint, stage, channel, day] =
      event.key;
  std::string out;
  PutInt(1, event.sequence, out);
  PutString(2, tenant, out);
  PutString(3, journey, out);
  PutInt(4, version, out);
  PutString(5, touchpoint, out);
  PutString(6, stage, out);
  PutString(7, channel, out);
  PutInt(8, day, out);
  if (event.csat) PutInt(9, *event.csat, out);
  if (event.nps) PutInt(10, *event.nps, out);
  if (event.ces) PutInt(11, *event.ces, out);
  PutString(12, EncodePairs(event.attributes), out);
  PutString(13, EncodeMeasures(event.measures), out);
  return out;
}

}  // namespace

std::vector<AttributeChunkRow> ChunksOf(absl::Span<const CountedEvent> events) {
  // By key, so the rows are written in key order; `events` of each is a
  // store::AttributeChunk, one IndexedEvent (field 1) after another.
  std::map<int64_t, AttributeChunkRow> chunks;
  for (const CountedEvent& event : events) {
    if (event.attributes.empty()) continue;
    const std::string indexed = IndexedEventOf(event);
    for (const auto& [name, value] : event.attributes) {
      const int64_t attribute = AttributeKey(
          std::get<0>(event.key), std::get<1>(event.key), name, value);
      AttributeChunkRow& chunk = chunks[attribute];
      // Two of the event's attributes that share a key: once is enough.
      if (!chunk.events.empty() && chunk.last_sequence == event.sequence) {
        continue;
      }
      if (chunk.events.empty()) {
        chunk.attribute = attribute;
        chunk.first_sequence = event.sequence;
      }
      chunk.last_sequence = event.sequence;
      PutString(1, indexed, chunk.events);
    }
  }
  std::vector<AttributeChunkRow> rows;
  rows.reserve(chunks.size());
  for (auto& [attribute, chunk] : chunks) rows.push_back(std::move(chunk));
  return rows;
}

namespace {

absl::StatusOr<store::AttributeChunk> ParseChunk(absl::string_view chunk) {
  store::AttributeChunk message;
  if (!message.ParseFromArray(chunk.data(), static_cast<int>(chunk.size()))) {
    return absl::DataLossError(
        "a chunk of the attribute index (ledger_attribute_chunks) is "
        "unreadable; rebuild the index (docs/ingestion.md)");
  }
  return message;
}

}  // namespace

absl::Status DecodeChunk(absl::string_view chunk,
                         std::vector<CountedEvent>& events) {
  POLKU_ASSIGN_OR_RETURN(store::AttributeChunk message, ParseChunk(chunk));
  events.reserve(events.size() + message.events_size());
  for (store::IndexedEvent& indexed : *message.mutable_events()) {
    CountedEvent& event = events.emplace_back();
    event.sequence = indexed.sequence();
    event.key = RollupKey{std::move(*indexed.mutable_tenant()),
                          std::move(*indexed.mutable_journey()),
                          indexed.journey_version(),
                          std::move(*indexed.mutable_touchpoint()),
                          std::move(*indexed.mutable_stage()),
                          std::move(*indexed.mutable_channel()),
                          indexed.day()};
    if (indexed.has_csat()) event.csat = indexed.csat();
    if (indexed.has_nps()) event.nps = indexed.nps();
    if (indexed.has_ces()) event.ces = indexed.ces();
    event.attributes = DecodePairs(indexed.attributes());
    POLKU_ASSIGN_OR_RETURN(event.measures, DecodeMeasures(indexed.measures()));
    // Not in the index: the day is all that is known, as for events counted
    // before the ledger kept details.
    event.occurred_at_micros = MidnightMicros(indexed.day());
  }
  return absl::OkStatus();
}

absl::StatusOr<ErasedChunk> WithoutEvents(absl::string_view chunk,
                                          absl::Span<const int64_t> sequences) {
  POLKU_ASSIGN_OR_RETURN(store::AttributeChunk message, ParseChunk(chunk));
  auto* events = message.mutable_events();
  const int before = events->size();
  events->erase(std::remove_if(events->begin(), events->end(),
                               [&](const store::IndexedEvent& event) {
                                 return std::binary_search(sequences.begin(),
                                                           sequences.end(),
                                                           event.sequence());
                               }),
                events->end());
  return ErasedChunk{.events = message.SerializeAsString(),
                     .removed = before - events->size(),
                     .left = events->size()};
}

}  // namespace polku::insight
