// The attribute index's chunks: what ChunksOf writes (protobuf's wire format,
// by hand) is what DecodeChunk and the generated message read back.
#include "services/insight/store/attribute_index.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/insight/store/attribute_chunk.pb.h"

namespace polku::insight {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

CountedEvent Event(int64_t sequence, std::string store) {
  CountedEvent event;
  event.sequence = sequence;
  event.key =
      RollupKey{"acme", "switching", 3, "web_site", "research", "web", 19'783};
  event.attributes = {{"store_id", std::move(store)}};
  return event;
}

TEST(AttributeIndexTest, AChunkHoldsItsValuesEventsOfThePageInOrder) {
  std::vector<CountedEvent> page = {Event(7, "hki-01"), Event(8, "tre-02"),
                                    Event(9, "hki-01"), Event(10, "")};
  page[3].attributes.clear();  // no attribute: in no chunk
  const std::vector<AttributeChunkRow> chunks = ChunksOf(page);
  ASSERT_EQ(chunks.size(), 2u);
  for (const AttributeChunkRow& chunk : chunks) {
    std::vector<CountedEvent> events;
    ASSERT_TRUE(DecodeChunk(chunk.events, events).ok());
    if (chunk.attribute ==
        AttributeKey("acme", "switching", "store_id", "hki-01")) {
      EXPECT_EQ(chunk.first_sequence, 7);
      EXPECT_EQ(chunk.last_sequence, 9);
      ASSERT_EQ(events.size(), 2u);
      EXPECT_EQ(events[0].sequence, 7);
      EXPECT_EQ(events[1].sequence, 9);
    } else {
      EXPECT_EQ(chunk.attribute,
                AttributeKey("acme", "switching", "store_id", "tre-02"));
      EXPECT_EQ(chunk.first_sequence, 8);
      EXPECT_EQ(chunk.last_sequence, 8);
      ASSERT_EQ(events.size(), 1u);
    }
  }
}

// Every field survives, negative numbers, zero scores, bytes that need
// escaping and NUL included; what the index does not hold reads as a scan
// without details and customer reads it.
TEST(AttributeIndexTest, EveryFieldRoundTrips) {
  CountedEvent event;
  event.sequence = (int64_t{1} << 40) + 5;
  event.customer_hash = "not in the index";
  event.key = RollupKey{
      "acme", std::string("jour\0ney", 8), -2, "täällä", "research", "web",
      -400};
  event.csat = 0;
  event.ces = 7;
  event.attributes = {{"note", "a=b&c%d"}, {"store_id", "hki-01"}};
  event.measures = {{"wait_seconds", -1500}, {"x", 0}};
  event.occurred_at_micros = 123;
  event.comment = "not in the index";
  const std::vector<AttributeChunkRow> chunks = ChunksOf({event});
  ASSERT_EQ(chunks.size(), 2u);  // one per attribute
  for (const AttributeChunkRow& chunk : chunks) {
    store::AttributeChunk message;
    ASSERT_TRUE(message.ParseFromString(chunk.events));
    ASSERT_EQ(message.events_size(), 1);
    EXPECT_EQ(message.events(0).journey_version(), -2);
    EXPECT_EQ(message.events(0).day(), -400);
    EXPECT_TRUE(message.events(0).has_csat());
    EXPECT_FALSE(message.events(0).has_nps());

    std::vector<CountedEvent> read;
    ASSERT_TRUE(DecodeChunk(chunk.events, read).ok());
    ASSERT_EQ(read.size(), 1u);
    EXPECT_EQ(read[0].sequence, event.sequence);
    EXPECT_EQ(read[0].key, event.key);
    EXPECT_EQ(read[0].csat, 0);
    EXPECT_EQ(read[0].nps, std::nullopt);
    EXPECT_EQ(read[0].ces, 7);
    EXPECT_EQ(read[0].attributes, event.attributes);
    EXPECT_THAT(read[0].measures,
                ElementsAre(Pair("wait_seconds", -1500), Pair("x", 0)));
    EXPECT_EQ(read[0].customer_hash, "");
    EXPECT_EQ(read[0].comment, "");
    EXPECT_EQ(read[0].occurred_at_micros, MidnightMicros(-400));
  }
}

TEST(AttributeIndexTest, AnErasureTakesOutOnlyTheEventsNamed) {
  const std::vector<AttributeChunkRow> chunks =
      ChunksOf({Event(1, "a"), Event(2, "a"), Event(3, "a")});
  ASSERT_EQ(chunks.size(), 1u);
  absl::StatusOr<ErasedChunk> rest = WithoutEvents(chunks[0].events, {1, 3, 4});
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->removed, 2);
  EXPECT_EQ(rest->left, 1);
  std::vector<CountedEvent> read;
  ASSERT_TRUE(DecodeChunk(rest->events, read).ok());
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].sequence, 2);
  rest = WithoutEvents(rest->events, {2});
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->removed, 1);
  EXPECT_EQ(rest->left, 0);  // the chunk is deleted
}

// Two of an event's attributes with one key (here the same pair twice; two
// values whose hashes collide alike): the event is in that chunk once.
TEST(AttributeIndexTest, AnEventIsInAChunkOnce) {
  CountedEvent event = Event(5, "hki-01");
  event.attributes.push_back(event.attributes.front());
  const std::vector<AttributeChunkRow> chunks =
      ChunksOf({Event(4, "hki-01"), event});
  ASSERT_EQ(chunks.size(), 1u);
  std::vector<CountedEvent> read;
  ASSERT_TRUE(DecodeChunk(chunks[0].events, read).ok());
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].sequence, 4);
  EXPECT_EQ(read[1].sequence, 5);
}

TEST(AttributeIndexTest, AnUnreadableChunkIsDataLossNamingTheTable) {
  std::vector<CountedEvent> read;
  const absl::Status decoded = DecodeChunk("\x0a\xff", read);
  EXPECT_EQ(decoded.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(decoded.message()),
              ::testing::HasSubstr("ledger_attribute_chunks"));
  EXPECT_EQ(WithoutEvents("\x0a\xff", {1}).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace polku::insight
