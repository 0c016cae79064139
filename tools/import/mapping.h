// How an import file's columns become TouchpointEvents: the mapping file (or
// --map / --set flags), and the conversion of one row.
//
// A mapping file is JSON:
//
//   {
//     "columns": {"event_id": "Response ID", "touchpoint": "Touchpoint",
//                 "customer": "Customer no", "occurred_at": "Answered",
//                 "csat": "Satisfaction", "comment": "Open answer",
//                 "measures.wait_seconds": "Queue time",
//                 "attributes.store_id": "Store"},
//     "constants": {"journey": "home-renovation", "language": "fi",
//                   "channel": "shop"},
//     "occurred_at_format": "%d.%m.%Y %H:%M",
//     "time_zone": "Europe/Helsinki"
//   }
//
// Fields: event_id, touchpoint, customer, occurred_at, csat, nps, ces,
// comment, language, journey, measures and attributes (a column holding a
// JSON object), measures.NAME and attributes.NAME (one column each), and
// channel (which channel key sends the row; not part of the event). A field
// the mapping does not name is read from a column of its own name if there
// is one (customer also from customer_hash), as are columns named
// measures.NAME and attributes.NAME: the export format (lib/export) imports
// without a mapping.
//
//   POLKU_ASSIGN_OR_RETURN(Mapping mapping, ParseMapping(json));
//   POLKU_ASSIGN_OR_RETURN(RowMapper mapper,
//                          RowMapper::Create(mapping, header, "survey.csv"));
//   MappedRow row = mapper.Map(CsvRow(columns, fields), /*line=*/12);
#ifndef POLKU_TOOLS_IMPORT_MAPPING_H_
#define POLKU_TOOLS_IMPORT_MAPPING_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "polku/v1/common.pb.h"

namespace polku::import {

struct Mapping {
  // field → column.
  std::map<std::string, std::string> columns;
  // field → the value every row gets.
  std::map<std::string, std::string> constants;
  // absl::ParseTime format of occurred_at; empty: RFC 3339 (also with a
  // space for the T, or a date alone).
  std::string occurred_at_format;
  // Where times without an offset are (IANA name).
  std::string time_zone = "UTC";
};

// The mapping file's JSON. INVALID_ARGUMENT naming the key at fault.
absl::StatusOr<Mapping> ParseMapping(absl::string_view json);

// "field=value" from --map (a column) or --set (a constant) into `mapping`.
absl::Status AddColumn(absl::string_view spec, Mapping& mapping);
absl::Status AddConstant(absl::string_view spec, Mapping& mapping);

// One row's values by column.
class Row {
 public:
  virtual ~Row() = default;
  // The value of `column`; nullopt if the row has none, or it is empty or
  // null. Numbers as written.
  virtual std::optional<std::string> Text(const std::string& column) const = 0;
  // The JSON object in `column`, if the row holds one as such (JSON Lines);
  // else nullptr (and Text has it as JSON text, if anything).
  virtual const google::protobuf::Struct* Object(
      const std::string& /*column*/) const {
    return nullptr;
  }
};

// A CSV record under its header.
class CsvRow : public Row {
 public:
  // `index` (column → position) must outlive the row.
  CsvRow(const absl::flat_hash_map<std::string, size_t>& index,
         const std::vector<std::string>& fields)
      : index_(index), fields_(fields) {}
  std::optional<std::string> Text(const std::string& column) const override;

 private:
  const absl::flat_hash_map<std::string, size_t>& index_;
  const std::vector<std::string>& fields_;
};

// A JSON Lines line: one object.
class JsonRow : public Row {
 public:
  // INVALID_ARGUMENT if `line` is not a JSON object.
  static absl::StatusOr<JsonRow> Parse(absl::string_view line);
  std::optional<std::string> Text(const std::string& column) const override;
  const google::protobuf::Struct* Object(
      const std::string& column) const override;
  const google::protobuf::Struct& object() const { return object_; }

 private:
  google::protobuf::Struct object_;
};

// A row as the import sends it, or why it cannot be sent.
struct MappedRow {
  polku::v1::TouchpointEvent event;
  // The channel whose key sends it; empty if the mapping gives none.
  std::string channel;
};
struct RowError {
  std::string field;
  std::string reason;
};

class RowMapper {
 public:
  // `mapping` resolved against `header` (a CSV file's columns; nullopt for
  // JSON Lines, whose rows are looked up by name one by one). Event ids
  // come from the event_id column, else from a polku_event_id column (a
  // file of rejected rows), else "<id_prefix>:<line>". INVALID_ARGUMENT for
  // an unknown field, a column not in the header, a bad time zone.
  static absl::StatusOr<RowMapper> Create(
      const Mapping& mapping,
      const std::optional<std::vector<std::string>>& header,
      std::string id_prefix);

  // The event of the row that starts on `line`, or the first value that
  // cannot be converted (a time, a number, a JSON object). Missing values
  // are left empty: the service names what it needs.
  std::variant<MappedRow, RowError> Map(const Row& row, int64_t line) const;

  // The columns the fields are read from, for messages ("field ← column").
  const std::map<std::string, std::string>& columns() const { return columns_; }

 private:
  RowMapper() = default;

  // The value of `field` in `row`: its column's, else its constant.
  std::optional<std::string> Value(const Row& row,
                                   const std::string& field) const;
  std::optional<RowError> ParseTime(const std::string& text,
                                    polku::v1::TouchpointEvent& event) const;

  std::map<std::string, std::string> columns_;
  std::map<std::string, std::string> constants_;
  // JSON Lines: fields tried by their own name in each row.
  bool by_name_ = false;
  std::string occurred_at_format_;
  absl::TimeZone time_zone_;
  std::string id_prefix_;
};

// The column name a rejected-rows file adds for the event id it used.
inline constexpr char kEventIdColumn[] = "polku_event_id";

}  // namespace polku::import

#endif  // POLKU_TOOLS_IMPORT_MAPPING_H_
