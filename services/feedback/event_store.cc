#include "services/feedback/event_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace polku::feedback {
namespace {

// The entry `record` holds, its sequence set.
absl::StatusOr<FeedEntry> ParseFeedRecord(const FeedRecord& record) {
  FeedEntry entry;
  bool parsed;
  if (record.erasure) {
    auto& erasure = entry.emplace<polku::v1::Erasure>();
    parsed = erasure.ParseFromString(record.payload);
    erasure.set_sequence(record.sequence);
  } else {
    auto& event = entry.emplace<polku::v1::StoredEvent>();
    parsed = event.ParseFromString(record.payload);
    event.set_sequence(record.sequence);
  }
  if (!parsed) {
    return absl::DataLossError(
        absl::StrCat("feed entry ", record.sequence, " cannot be parsed"));
  }
  return entry;
}

}  // namespace

absl::StatusOr<std::vector<FeedEntry>> EventStore::ReadFeed(
    absl::string_view tenant, int64_t from_sequence, int limit) {
  POLKU_ASSIGN_OR_RETURN(std::vector<FeedRecord> records,
                         ReadFeedRecords(tenant, from_sequence, limit));
  std::vector<FeedEntry> entries;
  entries.reserve(records.size());
  for (const FeedRecord& record : records) {
    POLKU_ASSIGN_OR_RETURN(FeedEntry entry, ParseFeedRecord(record));
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::Status EventStore::RecordReaderProgress(absl::string_view /*reader*/,
                                              int64_t /*applied_sequence*/,
                                              int64_t /*reported_at*/) {
  return absl::UnimplementedError("this store keeps no reader progress");
}

absl::StatusOr<std::vector<ReaderProgress>> EventStore::ReadReaderProgress() {
  return absl::UnimplementedError("this store keeps no reader progress");
}

}  // namespace polku::feedback
