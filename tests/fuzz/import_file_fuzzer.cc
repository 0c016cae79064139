// A file polku-import reads (tools/import): the mapping file's JSON, then
// the CSV (RFC 4180) or JSON Lines records read in chunks, each mapped onto
// a TouchpointEvent. No input crashes them; records come in file order, each
// starting on a later line than the one before; a CSV record read without
// error has the header's width; a row maps to an event with an id, or to an
// error that says why; reading is deterministic.
//
// Input: "csv" or "jsonl" 0xFF <mapping JSON or empty> 0xFF <file bytes>.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "tests/fuzz/fuzz_input.h"
#include "tools/import/mapping.h"
#include "tools/import/text_source.h"

namespace {

using polku::import::CsvReader;
using polku::import::CsvRow;
using polku::import::JsonRow;
using polku::import::LineReader;
using polku::import::MappedRow;
using polku::import::Mapping;
using polku::import::RawRecord;
using polku::import::RecordReader;
using polku::import::Row;
using polku::import::RowError;
using polku::import::RowMapper;
using polku::import::TextFile;

// The readers read files: the input goes to one of this process's own.
const std::string& FilePath() {
  static const std::string* path = new std::string(
      absl::StrCat("/tmp/polku-import-fuzz-", getpid(), ".txt"));
  return *path;
}

// Every record's line, error, fields and mapped event (or error), as text.
std::string ReadAll(bool csv, const Mapping& mapping) {
  auto file = TextFile::Open(FilePath());
  if (!file.ok()) std::abort();
  std::string trace;
  std::unique_ptr<RecordReader> reader;
  std::optional<std::vector<std::string>> header;
  absl::flat_hash_map<std::string, size_t> columns;
  int64_t last_line = 0;
  if (csv) {
    auto csv_reader = std::make_unique<CsvReader>(**file);
    RawRecord first;
    if (!csv_reader->Next(first) || !first.error.empty()) return "no header";
    last_line = first.line;
    csv_reader->set_expected_fields(first.fields.size());
    header = first.fields;
    for (size_t i = 0; i < header->size(); ++i) columns[(*header)[i]] = i;
    reader = std::move(csv_reader);
  } else {
    reader = std::make_unique<LineReader>(**file);
  }
  auto mapper = RowMapper::Create(mapping, header, "fuzz.csv");
  if (!mapper.ok()) {
    if (mapper.status().message().empty()) std::abort();
    return "no mapper";
  }
  RawRecord record;
  while (reader->Next(record)) {
    if (record.line <= last_line) std::abort();  // in file order
    last_line = record.line;
    absl::StrAppend(&trace, record.line, "|", record.error, "|");
    if (!record.error.empty()) continue;
    std::optional<JsonRow> json;
    std::optional<CsvRow> row;
    if (csv) {
      if (record.fields.size() != header->size()) std::abort();
      row.emplace(columns, record.fields);
    } else {
      auto parsed = JsonRow::Parse(record.text);
      if (!parsed.ok()) {
        if (parsed.status().message().empty()) std::abort();
        continue;
      }
      json = *std::move(parsed);
    }
    const Row& any = json.has_value() ? static_cast<const Row&>(*json) : *row;
    auto mapped = mapper->Map(any, record.line);
    if (auto* error = std::get_if<RowError>(&mapped)) {
      if (error->reason.empty()) std::abort();
      absl::StrAppend(&trace, error->field, ":", error->reason, "\n");
    } else {
      const MappedRow& event = std::get<MappedRow>(mapped);
      if (event.event.event_id().empty()) std::abort();
      // Text format: map entries in key order (serialized bytes are not).
      absl::StrAppend(&trace, event.event.ShortDebugString(), "\n");
    }
  }
  if (!reader->status().ok()) std::abort();  // a file we wrote reads
  return trace;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  polku::fuzz::FuzzInput input(data, size);
  const absl::string_view format = input.Next();
  const absl::string_view mapping_json = input.Next();
  const absl::string_view content = input.Next();
  const bool csv = format != "jsonl";

  // Without a mapping file, fields are read from columns of their names.
  Mapping mapping;
  if (!mapping_json.empty()) {
    auto parsed = polku::import::ParseMapping(mapping_json);
    if (!parsed.ok()) {
      if (parsed.status().code() != absl::StatusCode::kInvalidArgument ||
          parsed.status().message().empty()) {
        std::abort();
      }
      return 0;
    }
    mapping = *std::move(parsed);
  }

  std::FILE* file = std::fopen(FilePath().c_str(), "wb");
  if (file == nullptr) std::abort();
  if (!content.empty() &&
      std::fwrite(content.data(), 1, content.size(), file) != content.size()) {
    std::abort();
  }
  std::fclose(file);
  if (ReadAll(csv, mapping) != ReadAll(csv, mapping)) std::abort();
  return 0;
}
