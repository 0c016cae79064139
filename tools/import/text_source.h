// Reading an import file: RFC 4180 CSV records or JSON Lines lines, with the
// line each starts on, checked for UTF-8, and one bad record never costing
// the ones after it.
//
//   auto file = OpenTextFile("survey-2023.csv");
//   CsvReader csv(**file);
//   RawRecord record;
//   while (csv.Next(record)) {
//     if (!record.error.empty()) { … record.line, record.error … }
//     else { … record.fields … }
//   }
//
// A record the reader cannot take apart (a quote where none may be, an
// unclosed quote, more than kMaxRecordBytes, bytes that are not UTF-8) is
// returned with `error` set and reading resumes on the line after the one
// it started on, so that an unclosed quote swallows nothing: the lines it ran
// over are read again as records of their own.
#ifndef POLKU_TOOLS_IMPORT_TEXT_SOURCE_H_
#define POLKU_TOOLS_IMPORT_TEXT_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polku::import {

// A record longer than this is taken to be an unclosed quote.
inline constexpr size_t kMaxRecordBytes = 1 << 20;

// A whole file read in chunks, with the bytes consumed so far (for the
// progress bar's ETA).
class TextFile {
 public:
  // NOT_FOUND or an error naming `path`.
  static absl::StatusOr<std::unique_ptr<TextFile>> Open(
      const std::string& path);
  ~TextFile();

  TextFile(const TextFile&) = delete;
  TextFile& operator=(const TextFile&) = delete;

  // Appends up to `max` more bytes to `buffer`; false at the end (or on a
  // read error, see status()).
  bool ReadMore(std::string& buffer, size_t max);
  const absl::Status& status() const { return status_; }
  int64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  TextFile(std::string path, std::FILE* file, int64_t size)
      : path_(std::move(path)), file_(file), size_(size) {}

  const std::string path_;
  std::FILE* file_;
  const int64_t size_;
  absl::Status status_;
};

// The byte offset of the first invalid UTF-8 sequence in `text`, if any.
std::optional<size_t> FirstInvalidUtf8(absl::string_view text);

// What the readers hand out.
struct RawRecord {
  // 1-based line of the file the record starts on.
  int64_t line = 0;
  // Its text as in the file (without the final line end).
  std::string text;
  // The CSV fields (JSON Lines: unused).
  std::vector<std::string> fields;
  // Why the record could not be read; empty if it was.
  std::string error;
};

// The records (or lines) of a file, in order. Not thread-safe.
class RecordReader {
 public:
  explicit RecordReader(TextFile& file) : file_(file) {}
  virtual ~RecordReader() = default;

  // The next record into `record`; false at the end of the file.
  virtual bool Next(RawRecord& record) = 0;

  // Bytes of the file consumed so far; safe to read from any thread (the
  // progress bar).
  int64_t consumed() const { return consumed_bytes_.load(); }
  // An error reading the file (not a bad record), once Next returned false.
  const absl::Status& status() const { return file_.status(); }

 protected:
  // Makes sure `buffer_` holds at least `bytes` from `pos_` unless the file
  // ends first; false if it could not.
  bool Fill(size_t bytes);
  // Drops what is buffered and reads on to just past the next line end: the
  // rest of a line too long to keep.
  void DropRestOfLine();
  // Sets `record.error` if its text is not UTF-8 (naming the line and byte).
  static void CheckUtf8(RawRecord& record);

  TextFile& file_;
  std::string buffer_;
  size_t pos_ = 0;
  int64_t line_ = 1;
  std::atomic<int64_t> consumed_bytes_{0};
  bool at_start_ = true;
};

// RFC 4180: fields separated by commas, records by CRLF or LF; a field in
// double quotes may hold commas, quotes (doubled) and line ends. A UTF-8
// byte order mark at the start is skipped. Blank lines are skipped.
//
// Once set_expected_fields is called (with the header's width), a record
// with another number of fields is an error too; if it spans lines (a quote
// closed somewhere later), reading resumes on its second line as above.
class CsvReader : public RecordReader {
 public:
  using RecordReader::RecordReader;
  bool Next(RawRecord& record) override;
  void set_expected_fields(size_t fields) { expected_fields_ = fields; }

 private:
  size_t expected_fields_ = 0;
};

// One record per line (LF or CRLF); blank lines are skipped. The text is
// not parsed here.
class LineReader : public RecordReader {
 public:
  using RecordReader::RecordReader;
  bool Next(RawRecord& record) override;
};

}  // namespace polku::import

#endif  // POLKU_TOOLS_IMPORT_TEXT_SOURCE_H_
