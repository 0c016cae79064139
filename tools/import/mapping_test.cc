#include "tools/import/mapping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polku::import {
namespace {

using ::testing::HasSubstr;

// A CSV row: header and fields, kept alive with the row.
struct Csv {
  Csv(std::vector<std::string> header, std::vector<std::string> fields)
      : header(std::move(header)), fields(std::move(fields)) {
    for (size_t i = 0; i < this->header.size(); ++i) {
      index[this->header[i]] = i;
    }
  }
  CsvRow row() const { return CsvRow(index, fields); }

  std::vector<std::string> header;
  std::vector<std::string> fields;
  absl::flat_hash_map<std::string, size_t> index;
};

MappedRow MapOk(const RowMapper& mapper, const Row& row, int64_t line = 2) {
  auto mapped = mapper.Map(row, line);
  if (auto* error = std::get_if<RowError>(&mapped)) {
    ADD_FAILURE() << error->field << ": " << error->reason;
    return {};
  }
  return std::get<MappedRow>(mapped);
}

RowError MapError(const RowMapper& mapper, const Row& row) {
  auto mapped = mapper.Map(row, 2);
  if (auto* error = std::get_if<RowError>(&mapped)) return *error;
  ADD_FAILURE() << "mapped without error";
  return {};
}

TEST(MappingTest, AMappingFileRenamesColumnsAndSetsConstants) {
  absl::StatusOr<Mapping> mapping = ParseMapping(R"({
    "columns": {"event_id": "Response ID", "touchpoint": "Touchpoint",
                "customer": "Customer", "occurred_at": "Answered",
                "csat": "Satisfaction", "comment": "Open answer",
                "measures.wait_seconds": "Queue", "attributes.store_id": "Store"},
    "constants": {"journey": "home-renovation", "language": "fi", "channel": "shop"},
    "occurred_at_format": "%d.%m.%Y %H:%M",
    "time_zone": "Europe/Helsinki"})");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  Csv csv({"Response ID", "Touchpoint", "Customer", "Answered", "Satisfaction",
           "Open answer", "Queue", "Store", "Ignored"},
          {"r-1", "store_visit", "C-1", "01.05.2024 13:15", "4",
           "Kiva, \"hyvä\"", "42.5", "hki-01", "x"});
  auto mapper = RowMapper::Create(*mapping, csv.header, "survey.csv");
  ASSERT_TRUE(mapper.ok()) << mapper.status();
  MappedRow row = MapOk(*mapper, csv.row());
  EXPECT_EQ(row.channel, "shop");
  EXPECT_EQ(row.event.event_id(), "r-1");
  EXPECT_EQ(row.event.touchpoint(), "store_visit");
  EXPECT_EQ(row.event.customer(), "C-1");
  // 13:15 in Helsinki (UTC+3 in May) is 10:15Z.
  EXPECT_EQ(row.event.occurred_at().seconds(), 1'714'558'500);
  EXPECT_EQ(row.event.csat(), 4);
  EXPECT_FALSE(row.event.has_nps());
  EXPECT_EQ(row.event.comment(), "Kiva, \"hyvä\"");
  EXPECT_EQ(row.event.language(), "fi");
  EXPECT_EQ(row.event.journey(), "home-renovation");
  EXPECT_EQ(row.event.measures().at("wait_seconds"), 42.5);
  EXPECT_EQ(row.event.attributes().at("store_id"), "hki-01");
}

TEST(MappingTest, TheExportFormatNeedsNoMapping) {
  Csv csv(
      {"sequence", "event_id", "journey", "journey_version", "stage",
       "touchpoint", "channel", "occurred_at", "received_at", "customer_hash",
       "csat", "nps", "ces", "comment", "language", "measures", "attributes"},
      {"7", "till-1", "switching", "2", "purchase", "shop_in_shop_sales",
       "shop", "2024-05-01T10:15:00.25Z", "2024-05-01T10:40:00Z", "abc123", "",
       "9", "", "", "en", "{\"wait_seconds\":12}",
       "{\"store_id\":\"hki-01\"}"});
  auto mapper = RowMapper::Create({}, csv.header, "export.csv");
  ASSERT_TRUE(mapper.ok()) << mapper.status();
  MappedRow row = MapOk(*mapper, csv.row());
  EXPECT_EQ(row.channel, "shop");
  EXPECT_EQ(row.event.event_id(), "till-1");
  EXPECT_EQ(row.event.customer(), "abc123");
  EXPECT_EQ(row.event.journey(), "switching");
  EXPECT_EQ(row.event.occurred_at().nanos(), 250'000'000);
  EXPECT_FALSE(row.event.has_csat());
  EXPECT_EQ(row.event.nps(), 9);
  EXPECT_EQ(row.event.measures().at("wait_seconds"), 12);
  EXPECT_EQ(row.event.attributes().at("store_id"), "hki-01");
}

TEST(MappingTest, JsonLinesRowsAreReadByName) {
  auto mapper = RowMapper::Create({}, std::nullopt, "feedback.jsonl");
  ASSERT_TRUE(mapper.ok());
  absl::StatusOr<JsonRow> row = JsonRow::Parse(
      R"({"touchpoint": "call", "customer": "C-9", "nps": 10.0,
          "occurred_at": "2024-05-01 10:15:00", "measures": {"wait_seconds": 3},
          "attributes": {"agent": 17}, "comment": null})");
  ASSERT_TRUE(row.ok()) << row.status();
  MappedRow mapped = MapOk(*mapper, *row, 41);
  // No id column: derived from the file and line.
  EXPECT_EQ(mapped.event.event_id(), "feedback.jsonl:41");
  EXPECT_EQ(mapped.event.nps(), 10);
  EXPECT_EQ(mapped.event.occurred_at().seconds(), 1'714'558'500);
  EXPECT_EQ(mapped.event.measures().at("wait_seconds"), 3);
  EXPECT_EQ(mapped.event.attributes().at("agent"), "17");
  EXPECT_EQ(mapped.event.comment(), "");
  EXPECT_FALSE(JsonRow::Parse("[1, 2]").ok());
  EXPECT_FALSE(JsonRow::Parse("{\"a\": ").ok());
}

TEST(MappingTest, ValuesThatCannotBeConvertedNameTheField) {
  Csv csv({"touchpoint", "customer", "occurred_at", "csat", "measures.wait"},
          {"t", "c", "01.05.2024", "4", "1"});
  auto mapper = RowMapper::Create({}, csv.header, "f.csv");
  ASSERT_TRUE(mapper.ok());
  RowError date = MapError(*mapper, csv.row());
  EXPECT_EQ(date.field, "occurred_at");
  EXPECT_THAT(date.reason, HasSubstr("'01.05.2024' is not an RFC 3339 time"));

  csv.fields = {"t", "c", "2024-05-01", "4.5", "1"};
  RowError score = MapError(*mapper, csv.row());
  EXPECT_EQ(score.field, "csat");
  EXPECT_EQ(score.reason, "csat: '4.5' is not a whole number");

  csv.fields = {"t", "c", "2024-05-01", "4", "soon"};
  EXPECT_EQ(MapError(*mapper, csv.row()).field, "measures.wait");
  // Out of range is the service's to say, in its words.
  csv.fields = {"t", "c", "2024-05-01", "9", "1"};
  EXPECT_EQ(MapOk(*mapper, csv.row()).event.csat(), 9);
}

TEST(MappingTest, MistakesInTheMappingAreCaughtBeforeAnyRow) {
  EXPECT_THAT(ParseMapping(R"({"columns": {"score": "x"}})").status().message(),
              HasSubstr("unknown field \"score\""));
  EXPECT_THAT(ParseMapping(R"({"colums": {}})").status().message(),
              HasSubstr("colums: unknown key"));
  EXPECT_FALSE(ParseMapping("not json").ok());
  Mapping mapping;
  ASSERT_TRUE(AddColumn("csat=Score", mapping).ok());
  EXPECT_THAT(
      RowMapper::Create(mapping, std::vector<std::string>{"a", "b"}, "f")
          .status()
          .message(),
      HasSubstr("reads csat from the column \"Score\", which the "
                "header does not have (it has: a, b)"));
  EXPECT_FALSE(AddColumn("csat", mapping).ok());
  mapping.time_zone = "Mars/Olympus";
  EXPECT_THAT(RowMapper::Create(mapping, std::nullopt, "f").status().message(),
              HasSubstr("unknown time zone"));
  ASSERT_TRUE(AddConstant("csat=5", mapping).ok());
  EXPECT_FALSE(mapping.columns.contains("csat"));
}

TEST(MappingTest, ARejectedRowsFileKeepsItsEventIds) {
  Csv csv(
      {"touchpoint", "customer", "occurred_at", "polku_line", "polku_event_id"},
      {"t", "c", "2024-05-01", "17", "survey.csv:17"});
  auto mapper = RowMapper::Create({}, csv.header, "survey.csv.rejected.csv");
  ASSERT_TRUE(mapper.ok());
  EXPECT_EQ(MapOk(*mapper, csv.row()).event.event_id(), "survey.csv:17");
}

}  // namespace
}  // namespace polku::import
