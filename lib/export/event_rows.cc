#include "lib/export/event_rows.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "lib/base/log.h"

namespace polku::event_rows {
namespace {

// One row's values, before they are written in a format.
struct Values {
  // Column order; `null` marks a value not given (empty CSV field, JSON
  // null). `json` holds values that are written bare in JSON (numbers,
  // objects).
  struct Value {
    std::string text;
    bool null = false;
    bool json = false;
  };
  std::vector<Value> values;

  void Text(std::string text) { values.push_back({std::move(text)}); }
  void Number(std::string text) {
    values.push_back({std::move(text), false, true});
  }
  void Null() { values.push_back({"", true, false}); }
  void Object(std::string json) {
    values.push_back({std::move(json), false, true});
  }
};

template <typename Map, typename Append>
std::string JsonObject(const Map& map, Append append_value) {
  std::vector<std::pair<std::string, const typename Map::mapped_type*>> sorted;
  for (const auto& [key, value] : map) sorted.emplace_back(key, &value);
  std::sort(sorted.begin(), sorted.end());
  std::string json = "{";
  for (const auto& [key, value] : sorted) {
    if (json.size() > 1) json += ",";
    log::AppendJsonString(key, json);
    json += ":";
    append_value(*value, json);
  }
  json += "}";
  return json;
}

Values ValuesOf(const polku::v1::StoredEvent& stored) {
  const polku::v1::TouchpointEvent& event = stored.event();
  Values row;
  row.values.reserve(Columns().size());
  row.Number(absl::StrCat(stored.sequence()));
  row.Text(event.event_id());
  row.Text(stored.journey());
  row.Number(absl::StrCat(stored.journey_version()));
  row.Text(stored.stage());
  row.Text(event.touchpoint());
  row.Text(stored.channel());
  row.Text(FormatTimestamp(event.occurred_at().seconds(),
                           event.occurred_at().nanos()));
  row.Text(FormatTimestamp(stored.received_at().seconds(),
                           stored.received_at().nanos()));
  row.Text(stored.customer_hash());
  for (auto [has, value] : {std::pair{event.has_csat(), event.csat()},
                            std::pair{event.has_nps(), event.nps()},
                            std::pair{event.has_ces(), event.ces()}}) {
    if (has) {
      row.Number(absl::StrCat(value));
    } else {
      row.Null();
    }
  }
  row.Text(event.comment());
  row.Text(event.language());
  row.Object(JsonObject(event.measures(), [](double value, std::string& out) {
    out += FormatNumber(value);
  }));
  row.Object(JsonObject(event.attributes(),
                        [](const std::string& value, std::string& out) {
                          log::AppendJsonString(value, out);
                        }));
  return row;
}

}  // namespace

const std::vector<std::string>& Columns() {
  static const auto* columns = new std::vector<std::string>{
      "sequence",    "event_id",      "journey",  "journey_version",
      "stage",       "touchpoint",    "channel",  "occurred_at",
      "received_at", "customer_hash", "csat",     "nps",
      "ces",         "comment",       "language", "measures",
      "attributes"};
  return *columns;
}

bool ParseFormat(absl::string_view name, Format& format) {
  if (name == "csv") {
    format = Format::kCsv;
    return true;
  }
  if (name == "jsonl" || name == "ndjson") {
    format = Format::kJsonLines;
    return true;
  }
  return false;
}

std::string CsvField(absl::string_view text) {
  const bool quote =
      text.find_first_of(",\"\r\n") != absl::string_view::npos ||
      (!text.empty() && (text.front() == ' ' || text.back() == ' '));
  if (!quote) return std::string(text);
  std::string field = "\"";
  for (char c : text) {
    if (c == '"') field += '"';
    field += c;
  }
  field += '"';
  return field;
}

std::string CsvHeader() {
  return absl::StrCat(absl::StrJoin(Columns(), ","), "\r\n");
}

std::string CsvRow(const polku::v1::StoredEvent& event) {
  std::string row;
  for (const Values::Value& value : ValuesOf(event).values) {
    if (!row.empty()) row += ",";
    row += CsvField(value.text);
  }
  row += "\r\n";
  return row;
}

std::string JsonLine(const polku::v1::StoredEvent& event) {
  const std::vector<std::string>& columns = Columns();
  const Values row = ValuesOf(event);
  std::string line = "{";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) line += ",";
    log::AppendJsonString(columns[i], line);
    line += ":";
    const Values::Value& value = row.values[i];
    if (value.null) {
      line += "null";
    } else if (value.json) {
      line += value.text;
    } else {
      log::AppendJsonString(value.text, line);
    }
  }
  line += "}\n";
  return line;
}

std::string Prologue(Format format) {
  return format == Format::kCsv ? CsvHeader() : std::string();
}

std::string Row(Format format, const polku::v1::StoredEvent& event) {
  return format == Format::kCsv ? CsvRow(event) : JsonLine(event);
}

std::string FormatNumber(double value) {
  // Measures are finite (validated); JSON has no other numbers.
  if (!std::isfinite(value)) return "null";
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (error != std::errc()) return absl::StrCat(value);
  return std::string(buffer, end);
}

std::string FormatTimestamp(int64_t seconds, int32_t nanos) {
  return absl::FormatTime(
      "%Y-%m-%d%ET%H:%M:%E*SZ",
      absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos),
      absl::UTCTimeZone());
}

}  // namespace polku::event_rows
