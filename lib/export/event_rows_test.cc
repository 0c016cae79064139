#include "lib/export/event_rows.h"

#include <gtest/gtest.h>

#include "absl/strings/str_split.h"

namespace polku::event_rows {
namespace {

polku::v1::StoredEvent Stored() {
  polku::v1::StoredEvent stored;
  stored.set_sequence(42);
  stored.set_tenant("demo");
  stored.set_channel("shop");
  stored.set_journey("switching");
  stored.set_journey_version(2);
  stored.set_stage("purchase");
  stored.set_customer_hash(std::string(64, 'a'));
  stored.mutable_received_at()->set_seconds(1'714'560'000);  // 10:40Z
  polku::v1::TouchpointEvent& event = *stored.mutable_event();
  event.set_event_id("till-7-000123");
  event.set_touchpoint("shop_in_shop_sales");
  event.mutable_occurred_at()->set_seconds(1'714'558'500);  // 10:15Z
  event.mutable_occurred_at()->set_nanos(250'000'000);
  event.set_csat(4);
  event.set_ces(6);
  event.set_comment("Myyjä sanoi \"hei\", ja [phone]\nsoitti");
  event.set_language("fi");
  (*event.mutable_measures())["wait_seconds"] = 0.1;
  (*event.mutable_measures())["handle_seconds"] = 300;
  (*event.mutable_attributes())["store_id"] = "hki-01";
  return stored;
}

TEST(EventRowsTest, CsvHasTheHeaderAndQuotesWhatItMust) {
  EXPECT_EQ(CsvHeader(),
            "sequence,event_id,journey,journey_version,stage,touchpoint,"
            "channel,occurred_at,received_at,customer_hash,csat,nps,ces,"
            "comment,language,measures,attributes\r\n");
  EXPECT_EQ(CsvRow(Stored()),
            "42,till-7-000123,switching,2,purchase,shop_in_shop_sales,shop,"
            "2024-05-01T10:15:00.25Z,2024-05-01T10:40:00Z," +
                std::string(64, 'a') +
                ",4,,6,\"Myyjä sanoi \"\"hei\"\", ja [phone]\nsoitti\",fi,"
                "\"{\"\"handle_seconds\"\":300,\"\"wait_seconds\"\":0.1}\","
                "\"{\"\"store_id\"\":\"\"hki-01\"\"}\"\r\n");
}

TEST(EventRowsTest, JsonLinesNameEveryColumnWithNullsForMissingScores) {
  EXPECT_EQ(JsonLine(Stored()),
            "{\"sequence\":42,\"event_id\":\"till-7-000123\","
            "\"journey\":\"switching\",\"journey_version\":2,"
            "\"stage\":\"purchase\",\"touchpoint\":\"shop_in_shop_sales\","
            "\"channel\":\"shop\",\"occurred_at\":\"2024-05-01T10:15:00.25Z\","
            "\"received_at\":\"2024-05-01T10:40:00Z\",\"customer_hash\":\"" +
                std::string(64, 'a') +
                "\",\"csat\":4,\"nps\":null,\"ces\":6,"
                "\"comment\":\"Myyjä sanoi \\\"hei\\\", ja [phone]\\nsoitti\","
                "\"language\":\"fi\","
                "\"measures\":{\"handle_seconds\":300,\"wait_seconds\":0.1},"
                "\"attributes\":{\"store_id\":\"hki-01\"}}\n");
}

TEST(EventRowsTest, FieldsAndNumbers) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField(" padded"), "\" padded\"");
  EXPECT_EQ(CsvField("line\r\nbreak"), "\"line\r\nbreak\"");
  EXPECT_EQ(FormatNumber(0.1), "0.1");
  EXPECT_EQ(FormatNumber(1e21), "1e+21");
  EXPECT_EQ(FormatNumber(12), "12");
  Format format;
  EXPECT_TRUE(ParseFormat("csv", format));
  EXPECT_EQ(format, Format::kCsv);
  EXPECT_TRUE(ParseFormat("ndjson", format));
  EXPECT_EQ(format, Format::kJsonLines);
  EXPECT_FALSE(ParseFormat("xml", format));
}

}  // namespace
}  // namespace polku::event_rows
