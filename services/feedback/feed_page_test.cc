#include "services/feedback/feed_page.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "polku/v1/feedback.pb.h"

namespace polku::feedback {
namespace {

using google::protobuf::util::MessageDifferencer;
using polku::v1::Erasure;
using polku::v1::StoredEvent;
using polku::v1::WatchEventsResponse;

const std::string kFeedId = "0123456789abcdef0123456789abcdef";

StoredEvent Event(int64_t sequence) {
  StoredEvent event;
  event.set_sequence(sequence);
  event.set_tenant("demo");
  event.set_channel("shop");
  event.set_journey("switching");
  event.set_journey_version(2);
  event.set_stage("purchase");
  event.set_customer_hash(std::string(64, 'a'));
  event.mutable_received_at()->set_seconds(1'714'557'600 + sequence);
  event.mutable_event()->set_event_id(absl::StrCat("e-", sequence));
  event.mutable_event()->set_touchpoint("shop_in_shop_sales");
  event.mutable_event()->set_csat(4);
  event.mutable_event()->set_comment(std::string(200, 'x'));  // > 127 bytes
  (*event.mutable_event()->mutable_attributes())["store_id"] = "helsinki-1";
  return event;
}

// As the stores keep it: serialised without its sequence.
FeedRecord Record(StoredEvent event) {
  FeedRecord record{.sequence = event.sequence(), .erasure = false};
  event.clear_sequence();
  record.payload = event.SerializeAsString();
  return record;
}
FeedRecord Record(Erasure erasure) {
  FeedRecord record{.sequence = erasure.sequence(), .erasure = true};
  erasure.clear_sequence();
  record.payload = erasure.SerializeAsString();
  return record;
}

FeedPage Encode(const std::vector<FeedRecord>& records,
               size_t max_bytes = 1 << 20) {
  absl::StatusOr<FeedPage> page = EncodeFeedPage(kFeedId, records, max_bytes);
  EXPECT_TRUE(page.ok()) << page.status();
  return page.ok() ? *std::move(page) : FeedPage();
}

WatchEventsResponse Parse(const FeedPage& page) {
  WatchEventsResponse parsed;
  EXPECT_TRUE(parsed.ParseFromString(page.bytes));
  return parsed;
}

TEST(FeedPageTest, EventsParseAsTheMessagesTheyWereStoredFrom) {
  // Sequences of 1, 2, 3, 4, 5 and 6 varint bytes.
  std::vector<FeedRecord> records;
  WatchEventsResponse expected;
  expected.set_feed_id(kFeedId);
  for (int64_t sequence :
       {1LL, 300LL, 70'000LL, 1LL << 21, 1LL << 30, 1LL << 40}) {
    *expected.add_events() = Event(sequence);
    records.push_back(Record(Event(sequence)));
  }
  const FeedPage page = Encode(records);
  EXPECT_TRUE(MessageDifferencer::Equals(Parse(page), expected))
      << Parse(page).DebugString();
  EXPECT_EQ(page.next_sequence, (1LL << 40) + 1);
}

TEST(FeedPageTest, AnErasureIsAPageOfItsOwn) {
  Erasure erasure;
  erasure.set_sequence(7);
  erasure.set_tenant("demo");
  erasure.set_customer_hash(std::string(64, 'b'));
  erasure.set_erased_events(3);
  erasure.set_suppressed(true);
  const std::vector<FeedRecord> records = {Record(erasure), Record(Event(8))};

  const FeedPage page = Encode(records);
  WatchEventsResponse expected;
  expected.set_feed_id(kFeedId);
  *expected.mutable_erasure() = erasure;
  EXPECT_TRUE(MessageDifferencer::Equals(Parse(page), expected))
      << Parse(page).DebugString();
  EXPECT_EQ(page.next_sequence, 8);
}

TEST(FeedPageTest, EventsStopBeforeAnErasure) {
  Erasure erasure;
  erasure.set_sequence(3);
  const std::vector<FeedRecord> records = {Record(Event(1)), Record(Event(2)),
                                           Record(erasure), Record(Event(4))};
  const FeedPage page = Encode(records);
  const WatchEventsResponse parsed = Parse(page);
  ASSERT_EQ(parsed.events_size(), 2);
  EXPECT_EQ(parsed.events(1).sequence(), 2);
  EXPECT_FALSE(parsed.has_erasure());
  EXPECT_EQ(page.next_sequence, 3);
}

TEST(FeedPageTest, ThePageEndsAtTheByteBoundButNeverEmpty) {
  const std::vector<FeedRecord> records = {Record(Event(1)), Record(Event(2)),
                                           Record(Event(3))};
  const size_t one = records[0].payload.size();

  const FeedPage two = Encode(records, 2 * one + 1);
  EXPECT_EQ(Parse(two).events_size(), 2);
  EXPECT_EQ(two.next_sequence, 3);

  // A single event larger than the bound still goes out, alone.
  const FeedPage alone = Encode(records, 1);
  ASSERT_EQ(Parse(alone).events_size(), 1);
  EXPECT_EQ(Parse(alone).events(0).sequence(), 1);
  EXPECT_EQ(alone.next_sequence, 2);
}

TEST(FeedPageTest, AnErasureAfterACutPageComesAloneInTheNext) {
  Erasure erasure;
  erasure.set_sequence(3);
  const std::vector<FeedRecord> records = {Record(Event(1)), Record(Event(2)),
                                           Record(erasure)};
  const FeedPage first = Encode(records, 1);
  EXPECT_EQ(Parse(first).events_size(), 1);
  EXPECT_EQ(first.next_sequence, 2);
  const FeedPage erasure_page =
      Encode({records.begin() + 2, records.end()}, 1);
  EXPECT_EQ(Parse(erasure_page).events_size(), 0);
  EXPECT_EQ(Parse(erasure_page).erasure().sequence(), 3);
  EXPECT_EQ(erasure_page.next_sequence, 4);
}

TEST(FeedPageTest, ACorruptRecordIsDataLossNamingItsSequence) {
  const FeedRecord whole = Record(Event(5));
  // The last field's value cut short, so that the appended sequence would
  // be read as part of it; a tag cut short; a field number 0.
  FeedRecord cut = whole;
  cut.payload.resize(cut.payload.size() - 3);
  FeedRecord cut_tag = whole;
  cut_tag.payload += "\x80";
  FeedRecord field_zero = whole;
  field_zero.payload += std::string("\x00\x01", 2);
  for (const FeedRecord& corrupt : {cut, cut_tag, field_zero}) {
    absl::StatusOr<FeedPage> page =
        EncodeFeedPage(kFeedId, {Record(Event(4)), corrupt}, 1 << 20);
    EXPECT_EQ(page.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(page.status().message(), "feed entry 5 is corrupt");
  }
}

TEST(ExportPageTest, IsTheEventsAsAnExportEventsResponseCutAtTheBound) {
  std::vector<FeedRecord> records = {Record(Event(3)), Record(Event(5)),
                                     Record(Event(8))};
  // Room for two payloads.
  absl::StatusOr<FeedPage> page =
      EncodeExportPage(records, 2 * records[0].payload.size() + 10);
  ASSERT_TRUE(page.ok()) << page.status();
  polku::v1::ExportEventsResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(page->bytes));
  ASSERT_EQ(parsed.events_size(), 2);
  EXPECT_TRUE(MessageDifferencer::Equals(parsed.events(0), Event(3)));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed.events(1), Event(5)));
  EXPECT_EQ(page->next_sequence, 6);
  // At least one event, however small the bound.
  page = EncodeExportPage(records, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_TRUE(parsed.ParseFromString(page->bytes));
  EXPECT_EQ(parsed.events_size(), 1);
  EXPECT_EQ(page->next_sequence, 4);
  // An erasure is never exported; a corrupt row is refused.
  Erasure erasure;
  erasure.set_sequence(9);
  EXPECT_FALSE(EncodeExportPage({Record(erasure)}, 1 << 20).ok());
  // Field 1, 5 bytes long, holding 2.
  FeedRecord corrupt{.sequence = 10,
                     .payload = std::string("\x0a\x05"
                                            "ab")};
  EXPECT_EQ(EncodeExportPage({corrupt}, 1 << 20).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace polku::feedback
