#include "tools/import/text_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

namespace polku::import {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string WriteFile(const std::string& content) {
  // Each test is its own process under ctest, and several run at once.
  static int counter = 0;
  std::string path = ::testing::TempDir() + "/text_source_" +
                     std::to_string(getpid()) + "_" +
                     std::to_string(counter++) + ".txt";
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::vector<RawRecord> ReadAll(const std::string& content, bool csv = true,
                               size_t expected_fields = 0) {
  auto file = TextFile::Open(WriteFile(content));
  EXPECT_TRUE(file.ok()) << file.status();
  std::vector<RawRecord> records;
  CsvReader csv_reader(**file);
  csv_reader.set_expected_fields(expected_fields);
  LineReader line_reader(**file);
  RecordReader& reader =
      csv ? static_cast<RecordReader&>(csv_reader) : line_reader;
  RawRecord record;
  for (int i = 0; i < 100000 && reader.Next(record); ++i) {
    records.push_back(record);
  }
  EXPECT_EQ(reader.consumed(), static_cast<int64_t>(content.size()));
  return records;
}

TEST(CsvReaderTest, ReadsRfc4180) {
  std::vector<RawRecord> records = ReadAll(
      "\xEF\xBB\xBFid,comment,score\r\n"
      "1,plain,4\r\n"
      "2,\"with, comma and \"\"quotes\"\"\",5\r\n"
      "3,\"two\nlines\",\n"
      "\n"
      "4,,\"\"");
  ASSERT_EQ(records.size(), 5u);
  EXPECT_THAT(records[0].fields, ElementsAre("id", "comment", "score"));
  EXPECT_EQ(records[0].line, 1);
  EXPECT_THAT(records[2].fields,
              ElementsAre("2", "with, comma and \"quotes\"", "5"));
  EXPECT_THAT(records[3].fields, ElementsAre("3", "two\nlines", ""));
  EXPECT_EQ(records[3].line, 4);
  EXPECT_EQ(records[3].text, "3,\"two\nlines\",");
  // The blank line 6 is skipped; the last record has no line end.
  EXPECT_EQ(records[4].line, 7);
  EXPECT_THAT(records[4].fields, ElementsAre("4", "", ""));
  for (const RawRecord& record : records) EXPECT_EQ(record.error, "");
}

TEST(CsvReaderTest, AMalformedRecordCostsOnlyItsLine) {
  std::vector<RawRecord> records = ReadAll(
      "a,b\n"
      "1,x\"y\n"
      "2,\"closed\"junk\n"
      "3,\"never closed\n"
      "4,fine\n"
      "5,also fine\n",
      true, 2);
  ASSERT_EQ(records.size(), 6u);
  EXPECT_EQ(records[1].line, 2);
  EXPECT_THAT(records[1].error, HasSubstr("field 2: a quote inside"));
  EXPECT_EQ(records[1].text, "1,x\"y");
  EXPECT_EQ(records[2].line, 3);
  EXPECT_THAT(records[2].error, HasSubstr("text after the closing quote"));
  EXPECT_EQ(records[3].line, 4);
  EXPECT_THAT(records[3].error, HasSubstr("never closed"));
  // What the open quote ran over is read again.
  EXPECT_EQ(records[4].line, 5);
  EXPECT_THAT(records[4].fields, ElementsAre("4", "fine"));
  EXPECT_EQ(records[5].line, 6);
  EXPECT_EQ(records[5].error, "");
}

TEST(CsvReaderTest, AQuoteClosedLinesLaterIsCaughtByTheWidth) {
  std::vector<RawRecord> records = ReadAll(
      "a,b,c\n"
      "1,\"oops\n"
      "2,y\"\n"
      "3,q,w\n",
      true, 3);
  // Line 2 opens a quote that line 3 closes: 2 fields, not 3. Line 3 is
  // then read on its own (and has a stray quote).
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].line, 2);
  EXPECT_THAT(records[1].error, HasSubstr("2 fields; the header has 3"));
  EXPECT_EQ(records[2].line, 3);
  EXPECT_THAT(records[2].error, HasSubstr("a quote inside"));
  EXPECT_THAT(records[3].fields, ElementsAre("3", "q", "w"));
  // A short single-line record is an error of its own.
  records = ReadAll("a,b,c\n1,2\n3,4,5\n", true, 3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_THAT(records[1].error, HasSubstr("2 fields; the header has 3"));
  EXPECT_EQ(records[2].line, 3);
}

TEST(CsvReaderTest, BadEncodingNamesTheLineAndByte) {
  std::vector<RawRecord> records =
      ReadAll("a,b\n1,ok\n2,\"Myyj\xE4\nsanoi\"\n3,\xC3\xA4\n", true, 2);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[2].line, 3);
  EXPECT_EQ(records[2].error,
            "not valid UTF-8 (byte 0xE4 at line 3, byte 8 of the line); save "
            "the file as UTF-8");
  EXPECT_EQ(records[3].error, "");
  EXPECT_THAT(records[3].fields, ElementsAre("3", "ä"));
}

// Records cross the reader's 64 KiB chunks at every possible place.
TEST(CsvReaderTest, RecordsAcrossChunkBoundariesReadWhole) {
  std::string content = "id,text\r\n";
  std::vector<std::string> texts;
  for (int i = 0; i < 6000; ++i) {
    std::string text(i % 97, 'x');
    if (i % 3 == 0) text += "\"q\", \r\nnext";
    texts.push_back(text);
    std::string quoted = "\"";
    for (char c : text)
      quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    content += std::to_string(i) + "," + quoted + "\"\r\n";
  }
  ASSERT_GT(content.size(), 4u << 16);
  std::vector<RawRecord> records = ReadAll(content, true, 2);
  ASSERT_EQ(records.size(), 6001u);
  int64_t line = 2;
  for (int i = 0; i < 6000; ++i) {
    const RawRecord& record = records[i + 1];
    ASSERT_EQ(record.error, "") << i;
    ASSERT_EQ(record.fields[1], texts[i]) << i;
    ASSERT_EQ(record.line, line) << i;
    line += 1 + (i % 3 == 0 ? 1 : 0);
  }
}

TEST(LineReaderTest, ReadsLinesWithTheirNumbers) {
  std::vector<RawRecord> records =
      ReadAll("{\"a\":1}\r\n\n{\"a\":\"\xFF\"}\n{\"a\":3}", false);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].text, "{\"a\":1}");
  EXPECT_EQ(records[1].line, 3);
  EXPECT_THAT(records[1].error, HasSubstr("byte 0xFF at line 3"));
  EXPECT_EQ(records[2].line, 4);
  EXPECT_EQ(records[2].text, "{\"a\":3}");
}

// A line longer than kMaxRecordBytes costs only itself: it is reported on
// its line, and reading goes on after it, in both formats.
TEST(LineReaderTest, AnOverlongLineCostsOnlyItsLine) {
  const std::string huge(kMaxRecordBytes + 100000, 'x');
  std::vector<RawRecord> lines =
      ReadAll("{\"a\":1}\n" + huge + "\n{\"a\":3}\n", false);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[1].error, HasSubstr("longer than"));
  EXPECT_EQ(lines[2].line, 3);
  EXPECT_EQ(lines[2].text, "{\"a\":3}");

  std::vector<RawRecord> records =
      ReadAll("a,b\n\"" + huge + "\n1,2\n", true, 2);
  ASSERT_FALSE(records.empty());
  EXPECT_FALSE(records[1].error.empty());
  EXPECT_EQ(records.back().line, 3);
  EXPECT_THAT(records.back().fields, ElementsAre("1", "2"));
}

TEST(Utf8Test, FindsTheFirstInvalidSequence) {
  EXPECT_FALSE(FirstInvalidUtf8("äöå € 𝄞").has_value());
  EXPECT_EQ(FirstInvalidUtf8("ab\xC0\xAF"), 2u);    // overlong
  EXPECT_EQ(FirstInvalidUtf8("\xED\xA0\x80"), 0u);  // surrogate
  EXPECT_EQ(FirstInvalidUtf8("x\xE2\x82"), 1u);     // cut short
  EXPECT_EQ(FirstInvalidUtf8("\x80"), 0u);
}

}  // namespace
}  // namespace polku::import
