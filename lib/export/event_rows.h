// The export format: one row per stored event, the same columns in CSV
// (RFC 4180, CRLF line ends, UTF-8, a header row) and in JSON Lines (one
// object per line, keys named as the columns). polku-export writes it, the
// gateway's GET /v1/events:export serves it, and polku-import reads it back
// without a mapping file (its default mapping uses these column names).
//
//   std::string out = CsvHeader();
//   for (const polku::v1::StoredEvent& e : page.events()) out += CsvRow(e);
//   std::string line = JsonLine(e);   // {"sequence":12,"event_id":…}\n
//
// Columns, in order: sequence, event_id, journey, journey_version, stage,
// touchpoint, channel, occurred_at, received_at (RFC 3339, UTC), customer_hash
// (never the customer reference), csat, nps, ces (empty / null when not
// given), comment (as stored: redacted), language, measures and attributes
// (JSON objects with sorted keys; in CSV as the text of that object).
#ifndef POLKU_LIB_EXPORT_EVENT_ROWS_H_
#define POLKU_LIB_EXPORT_EVENT_ROWS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "polku/v1/feedback.pb.h"

namespace polku::event_rows {

enum class Format { kCsv, kJsonLines };

// The column names, in order.
const std::vector<std::string>& Columns();

// "csv" → kCsv, "jsonl" / "ndjson" → kJsonLines; false otherwise.
bool ParseFormat(absl::string_view name, Format& format);

// The CSV header row, CRLF-terminated.
std::string CsvHeader();

// One row of `event`, terminated (CRLF for CSV, LF for JSON Lines).
std::string CsvRow(const polku::v1::StoredEvent& event);
std::string JsonLine(const polku::v1::StoredEvent& event);

// The prologue of a file in `format` (the CSV header; nothing for JSON
// Lines) and one row in it.
std::string Prologue(Format format);
std::string Row(Format format, const polku::v1::StoredEvent& event);

// `text` as a CSV field: quoted (with quotes doubled) if it holds a comma,
// quote, CR or LF, or starts or ends with a space; else as is.
std::string CsvField(absl::string_view text);

// `value` in the shortest form that reads back as the same double.
std::string FormatNumber(double value);

// `seconds`/`nanos` as RFC 3339 in UTC, e.g. 2024-05-01T10:15:00Z (a
// fraction only when there is one).
std::string FormatTimestamp(int64_t seconds, int32_t nanos);

}  // namespace polku::event_rows

#endif  // POLKU_LIB_EXPORT_EVENT_ROWS_H_
