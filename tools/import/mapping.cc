#include "tools/import/mapping.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"

namespace polku::import {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Fields a mapping may name, besides measures.NAME and attributes.NAME.
const std::set<std::string>& Fields() {
  static const auto* fields = new std::set<std::string>{
      "event_id", "touchpoint", "customer",  "occurred_at", "csat",
      "nps",      "ces",        "comment",   "language",    "journey",
      "channel",  "measures",   "attributes"};
  return *fields;
}

bool IsPrefixed(absl::string_view field, absl::string_view prefix) {
  return absl::StartsWith(field, prefix) && field.size() > prefix.size();
}

absl::Status CheckField(absl::string_view field, absl::string_view where) {
  if (Fields().contains(std::string(field)) || IsPrefixed(field, "measures.") ||
      IsPrefixed(field, "attributes.")) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      where, ": unknown field \"", field, "\" (", absl::StrJoin(Fields(), ", "),
      ", measures.NAME, attributes.NAME)"));
}

// A number as JSON text would have it: integers without a fraction.
std::string NumberText(double value) {
  if (std::isfinite(value) && value == std::trunc(value) &&
      std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (error != std::errc()) return absl::StrCat(value);
  return std::string(buffer, end);
}

std::optional<std::string> ValueText(const Value& value) {
  switch (value.kind_case()) {
    case Value::kStringValue:
      if (value.string_value().empty()) return std::nullopt;
      return value.string_value();
    case Value::kNumberValue:
      return NumberText(value.number_value());
    case Value::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case Value::kStructValue:
    case Value::kListValue: {
      std::string json;
      if (!google::protobuf::util::MessageToJsonString(value, &json).ok()) {
        return std::nullopt;
      }
      return json;
    }
    default:
      return std::nullopt;  // null
  }
}

absl::StatusOr<Struct> ParseObject(absl::string_view json) {
  Struct object;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &object);
  if (!status.ok()) {
    return absl::InvalidArgumentError(std::string(status.message()));
  }
  return object;
}

RowError Error(std::string field, std::string reason) {
  return RowError{std::move(field), std::move(reason)};
}

// "'value'", cut short for messages.
std::string Quoted(absl::string_view value) {
  if (value.size() > 64) {
    size_t end = 64;
    while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) {
      --end;
    }
    return absl::StrCat("'", value.substr(0, end), "…'");
  }
  return absl::StrCat("'", value, "'");
}

// A JSON object's members in key order: a protobuf map's own order differs
// between two parses, and the first error of a row must be the same each
// time (found by tests/fuzz/import_file_fuzzer.cc).
std::vector<std::pair<std::string, const Value*>> InKeyOrder(
    const Struct& object) {
  std::vector<std::pair<std::string, const Value*>> members;
  for (const auto& [key, value] : object.fields()) {
    members.emplace_back(key, &value);
  }
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return members;
}

}  // namespace

absl::StatusOr<Mapping> ParseMapping(absl::string_view json) {
  absl::StatusOr<Struct> file = ParseObject(json);
  if (!file.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the mapping is not a JSON object: ", file.status().message()));
  }
  Mapping mapping;
  for (const auto& [key, member] : InKeyOrder(*file)) {
    const Value& value = *member;
    if (key == "columns" || key == "constants") {
      if (value.kind_case() != Value::kStructValue) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, ": must be an object of field: text"));
      }
      for (const auto& [field, member_text] :
           InKeyOrder(value.struct_value())) {
        const Value& text = *member_text;
        const std::string where = absl::StrCat(key, ".", field);
        if (absl::Status s = CheckField(field, key); !s.ok()) return s;
        std::optional<std::string> given = ValueText(text);
        if (!given.has_value() ||
            (key == "columns" && text.kind_case() != Value::kStringValue)) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": must be a non-empty string"));
        }
        (key == "columns" ? mapping.columns : mapping.constants)[field] =
            *given;
      }
    } else if (key == "occurred_at_format" || key == "time_zone") {
      if (value.kind_case() != Value::kStringValue) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, ": must be a string"));
      }
      (key == "time_zone" ? mapping.time_zone : mapping.occurred_at_format) =
          value.string_value();
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(key,
                       ": unknown key (columns, constants, occurred_at_format, "
                       "time_zone)"));
    }
  }
  return mapping;
}

namespace {

absl::Status AddSpec(absl::string_view spec, absl::string_view flag,
                     std::map<std::string, std::string>& into) {
  const size_t equals = spec.find('=');
  if (equals == absl::string_view::npos || equals == 0 ||
      equals + 1 == spec.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": \"", spec, "\" is not FIELD=VALUE"));
  }
  const std::string field(spec.substr(0, equals));
  if (absl::Status s = CheckField(field, flag); !s.ok()) return s;
  into[field] = std::string(spec.substr(equals + 1));
  return absl::OkStatus();
}

}  // namespace

absl::Status AddColumn(absl::string_view spec, Mapping& mapping) {
  absl::Status added = AddSpec(spec, "--map", mapping.columns);
  if (added.ok())
    mapping.constants.erase(std::string(spec.substr(0, spec.find('='))));
  return added;
}

absl::Status AddConstant(absl::string_view spec, Mapping& mapping) {
  absl::Status added = AddSpec(spec, "--set", mapping.constants);
  if (added.ok())
    mapping.columns.erase(std::string(spec.substr(0, spec.find('='))));
  return added;
}

std::optional<std::string> CsvRow::Text(const std::string& column) const {
  auto it = index_.find(column);
  if (it == index_.end() || it->second >= fields_.size() ||
      fields_[it->second].empty()) {
    return std::nullopt;
  }
  return fields_[it->second];
}

absl::StatusOr<JsonRow> JsonRow::Parse(absl::string_view line) {
  absl::StatusOr<Struct> object = ParseObject(line);
  if (!object.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a JSON object: ", object.status().message()));
  }
  JsonRow row;
  row.object_ = *std::move(object);
  return row;
}

std::optional<std::string> JsonRow::Text(const std::string& column) const {
  auto it = object_.fields().find(column);
  if (it == object_.fields().end()) return std::nullopt;
  return ValueText(it->second);
}

const Struct* JsonRow::Object(const std::string& column) const {
  auto it = object_.fields().find(column);
  if (it == object_.fields().end() ||
      it->second.kind_case() != Value::kStructValue) {
    return nullptr;
  }
  return &it->second.struct_value();
}

absl::StatusOr<RowMapper> RowMapper::Create(
    const Mapping& mapping,
    const std::optional<std::vector<std::string>>& header,
    std::string id_prefix) {
  RowMapper mapper;
  for (const auto& [field, column] : mapping.columns) {
    if (absl::Status s = CheckField(field, "columns"); !s.ok()) return s;
    if (mapping.constants.contains(field)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": mapped to a column and set to a constant; choose one"));
    }
  }
  for (const auto& [field, value] : mapping.constants) {
    if (absl::Status s = CheckField(field, "constants"); !s.ok()) return s;
  }
  mapper.columns_ = mapping.columns;
  mapper.constants_ = mapping.constants;
  if (!absl::LoadTimeZone(mapping.time_zone, &mapper.time_zone_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "time_zone: unknown time zone \"", mapping.time_zone, "\""));
  }
  mapper.occurred_at_format_ = mapping.occurred_at_format;
  mapper.id_prefix_ = std::move(id_prefix);
  if (!header.has_value()) {
    mapper.by_name_ = true;
    return mapper;
  }

  const std::set<std::string> columns(header->begin(), header->end());
  for (const auto& [field, column] : mapper.columns_) {
    if (!columns.contains(column)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the mapping reads ", field, " from the column \"",
                       column, "\", which the header does not have (it has: ",
                       absl::StrJoin(*header, ", "), ")"));
    }
  }
  auto by_default = [&](const std::string& field, const std::string& column) {
    if (!mapper.columns_.contains(field) &&
        !mapper.constants_.contains(field) && columns.contains(column)) {
      mapper.columns_[field] = column;
    }
  };
  for (const std::string& field : Fields()) by_default(field, field);
  by_default("customer", "customer_hash");
  by_default("event_id", kEventIdColumn);
  for (const std::string& column : *header) {
    if (IsPrefixed(column, "measures.") || IsPrefixed(column, "attributes.")) {
      by_default(column, column);
    }
  }
  return mapper;
}

std::optional<std::string> RowMapper::Value(const Row& row,
                                            const std::string& field) const {
  if (auto it = columns_.find(field); it != columns_.end()) {
    return row.Text(it->second);
  }
  if (auto it = constants_.find(field); it != constants_.end()) {
    return it->second;
  }
  if (!by_name_) return std::nullopt;
  std::optional<std::string> value = row.Text(field);
  if (!value.has_value() && field == "customer") {
    value = row.Text("customer_hash");
  }
  if (!value.has_value() && field == "event_id") {
    value = row.Text(kEventIdColumn);
  }
  return value;
}

std::optional<RowError> RowMapper::ParseTime(
    const std::string& text, polku::v1::TouchpointEvent& event) const {
  absl::Time time;
  std::string ignored;
  bool parsed = false;
  if (!occurred_at_format_.empty()) {
    parsed =
        absl::ParseTime(occurred_at_format_, text, time_zone_, &time, &ignored);
    if (!parsed) {
      return Error("occurred_at", absl::StrCat("occurred_at: ", Quoted(text),
                                               " does not match the format \"",
                                               occurred_at_format_, "\""));
    }
  } else {
    std::string normal = text;
    if (normal.size() > 10 && normal[10] == ' ') normal[10] = 'T';
    parsed = absl::ParseTime(absl::RFC3339_full, normal, &time, &ignored) ||
             absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S", normal, time_zone_, &time,
                             &ignored) ||
             absl::ParseTime("%Y-%m-%d", normal, time_zone_, &time, &ignored);
    if (!parsed) {
      return Error(
          "occurred_at",
          absl::StrCat("occurred_at: ", Quoted(text),
                       " is not an RFC 3339 time such as "
                       "2024-05-01T10:15:00Z (or 2024-05-01 10:15:00, "
                       "2024-05-01); name its format with occurred_at_format "
                       "in the mapping"));
    }
  }
  // ToUnixSeconds rounds toward the past, so the nanos are never negative.
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(time));
  event.mutable_occurred_at()->set_nanos(static_cast<int32_t>(
      (time - absl::FromUnixSeconds(absl::ToUnixSeconds(time))) /
      absl::Nanoseconds(1)));
  return std::nullopt;
}

std::variant<MappedRow, RowError> RowMapper::Map(const Row& row,
                                                 int64_t line) const {
  MappedRow mapped;
  polku::v1::TouchpointEvent& event = mapped.event;
  std::optional<std::string> id = Value(row, "event_id");
  event.set_event_id(id.has_value() ? *id
                                    : absl::StrCat(id_prefix_, ":", line));
  for (const char* field :
       {"touchpoint", "customer", "comment", "language", "journey"}) {
    std::optional<std::string> value = Value(row, field);
    if (!value.has_value()) continue;
    const auto* descriptor = event.GetDescriptor()->FindFieldByName(field);
    event.GetReflection()->SetString(&event, descriptor, *std::move(value));
  }
  if (std::optional<std::string> channel = Value(row, "channel")) {
    mapped.channel = *std::move(channel);
  }
  if (std::optional<std::string> occurred = Value(row, "occurred_at")) {
    if (std::optional<RowError> bad = ParseTime(*occurred, event)) {
      return *std::move(bad);
    }
  }
  for (const char* field : {"csat", "nps", "ces"}) {
    std::optional<std::string> text = Value(row, field);
    if (!text.has_value()) continue;
    int32_t score;
    double number;
    if (!absl::SimpleAtoi(*text, &score)) {
      if (!absl::SimpleAtod(*text, &number) || number != std::trunc(number) ||
          std::fabs(number) > 1e9) {
        return Error(field, absl::StrCat(field, ": ", Quoted(*text),
                                         " is not a whole number"));
      }
      score = static_cast<int32_t>(number);
    }
    const auto* descriptor = event.GetDescriptor()->FindFieldByName(field);
    event.GetReflection()->SetInt32(&event, descriptor, score);
  }

  // measures / attributes as JSON objects, then one column each.
  for (const std::string field : {"measures", "attributes"}) {
    const Struct* object = nullptr;
    absl::StatusOr<Struct> parsed;
    if (auto it = columns_.find(field); it != columns_.end()) {
      object = row.Object(it->second);
    } else if (by_name_ && !constants_.contains(field)) {
      object = row.Object(field);
    }
    if (object == nullptr) {
      std::optional<std::string> text = Value(row, field);
      if (!text.has_value()) continue;
      parsed = ParseObject(*text);
      if (!parsed.ok()) {
        return Error(field, absl::StrCat(field, ": ", Quoted(*text),
                                         " is not a JSON object"));
      }
      object = &*parsed;
    }
    for (const auto& [key, member] : InKeyOrder(*object)) {
      const google::protobuf::Value& value = *member;
      if (field == "measures") {
        double number;
        if (value.kind_case() == google::protobuf::Value::kNumberValue) {
          number = value.number_value();
        } else if (!(value.kind_case() ==
                         google::protobuf::Value::kStringValue &&
                     absl::SimpleAtod(value.string_value(), &number))) {
          return Error(absl::StrCat("measures.", key),
                       absl::StrCat("measures.", key, ": not a number"));
        }
        (*event.mutable_measures())[key] = number;
      } else if (std::optional<std::string> text = ValueText(value)) {
        (*event.mutable_attributes())[key] = *std::move(text);
      }
    }
  }
  for (const auto* names : {&columns_, &constants_}) {
    for (const auto& [field, column] : *names) {
      if (IsPrefixed(field, "measures.")) {
        std::optional<std::string> text = Value(row, field);
        if (!text.has_value()) continue;
        double number;
        if (!absl::SimpleAtod(*text, &number)) {
          return Error(field, absl::StrCat(field, ": ", Quoted(*text),
                                           " is not a number"));
        }
        (*event.mutable_measures())[field.substr(9)] = number;
      } else if (IsPrefixed(field, "attributes.")) {
        std::optional<std::string> text = Value(row, field);
        if (text.has_value()) {
          (*event.mutable_attributes())[field.substr(11)] = *std::move(text);
        }
      }
    }
  }
  return mapped;
}

}  // namespace polku::import
