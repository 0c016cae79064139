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

WatchEventsResponse Parse(const FeedPage& page) {
  WatchEventsResponse parsed;
  EXPECT_TRUE(parsed.ParseFromString(page.bytes));
  return parsed;
}

TEST(FeedPageTest, EventsParseAsTheMessagesTheyWereStoredFrom) {
  // Sequences of one to five varint bytes.
  std::vector<FeedRecord> records;
  WatchEventsResponse expected;
  expected.set_feed_id(kFeedId);
  for (int64_t sequence : {1LL, 300LL, 70'000LL, 1LL << 30, 1LL << 40}) {
    *expected.add_events() = Event(sequence);
    records.push_back(Record(Event(sequence)));
  }
  const FeedPage page = EncodeFeedPage(kFeedId, records, 1 << 20);
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

  const FeedPage page = EncodeFeedPage(kFeedId, records, 1 << 20);
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
  const FeedPage page = EncodeFeedPage(kFeedId, records, 1 << 20);
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

  const FeedPage two = EncodeFeedPage(kFeedId, records, 2 * one + 1);
  EXPECT_EQ(Parse(two).events_size(), 2);
  EXPECT_EQ(two.next_sequence, 3);

  // A single event larger than the bound still goes out, alone.
  const FeedPage alone = EncodeFeedPage(kFeedId, records, 1);
  ASSERT_EQ(Parse(alone).events_size(), 1);
  EXPECT_EQ(Parse(alone).events(0).sequence(), 1);
  EXPECT_EQ(alone.next_sequence, 2);
}

}  // namespace
}  // namespace polku::feedback
