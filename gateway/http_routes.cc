#include "gateway/http_routes.h"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/stubs/common.h>
#include <google/protobuf/util/field_mask_util.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <httplib.h>

#include <algorithm>
#include <cstddef>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "polku/v1/admin.pb.h"
#include "polku/v1/drivers.pb.h"
#include "polku/v1/themes.pb.h"
#include "polku/v1/cases.pb.h"
#include "polku/v1/feedback.pb.h"
#include "polku/v1/funnels.pb.h"
#include "polku/v1/insight.pb.h"
#include "polku/v1/journey.pb.h"

namespace polku::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// The routes. Keep paths consistent: collections are plural nouns, custom
// methods are `:verb`, server streams are `:watch`.
const std::vector<HttpRoute>& Table() {
  static const auto* routes = new std::vector<HttpRoute>{
      // FeedbackService
      {"POST", "/v1/events", "/polku.v1.FeedbackService/SubmitEvents", "*"},
      {"POST", "/v1/events:stream", "/polku.v1.FeedbackService/StreamEvents",
       "*"},
      {"GET", "/v1/events:watch", "/polku.v1.FeedbackService/WatchEvents", ""},
      {"GET", "/v1/events:export", "/polku.v1.FeedbackService/ExportEvents", "",
       "", /*event_rows=*/true},
      {"POST", "/v1/customers/{customer}:erase",
       "/polku.v1.FeedbackService/EraseCustomer", "*"},
      {"GET", "/v1/erasures/{sequence}/receipt",
       "/polku.v1.FeedbackService/GetErasureReceipt", ""},
      // JourneyService
      {"POST", "/v1/journeys", "/polku.v1.JourneyService/CreateJourney",
       "journey"},
      {"GET", "/v1/journeys", "/polku.v1.JourneyService/ListJourneys", ""},
      {"GET", "/v1/journeys:watch", "/polku.v1.JourneyService/WatchJourneys",
       ""},
      {"GET", "/v1/journeys/{key}", "/polku.v1.JourneyService/GetJourney", ""},
      {"POST", "/v1/journeys/{key}:publish",
       "/polku.v1.JourneyService/PublishJourney", "*"},
      {"POST", "/v1/journeys/{key}:archive",
       "/polku.v1.JourneyService/ArchiveJourney", "*"},
      {"POST", "/v1/journeys/{key}/draft",
       "/polku.v1.JourneyService/CreateDraft", "*"},
      {"PATCH", "/v1/journeys/{key}/draft",
       "/polku.v1.JourneyService/UpdateDraft", "journey", "journey.key={key}"},
      {"GET", "/v1/journeys/{key}/versions",
       "/polku.v1.JourneyService/ListJourneyVersions", ""},
      {"GET", "/v1/journeys/{key}/versions/{version}",
       "/polku.v1.JourneyService/GetJourneyVersion", ""},
      {"GET", "/v1/journeys/{key}:diff",
       "/polku.v1.JourneyService/DiffJourneyVersions", ""},
      {"GET", "/v1/channels", "/polku.v1.JourneyService/ListChannels", ""},
      {"POST", "/v1/channels", "/polku.v1.JourneyService/CreateChannel",
       "channel"},
      // InsightService
      {"GET", "/v1/scorecard", "/polku.v1.InsightService/GetScorecard", ""},
      {"GET", "/v1/scorecard:watch", "/polku.v1.InsightService/WatchScorecard",
       ""},
      {"GET", "/v1/trend", "/polku.v1.InsightService/GetTrend", ""},
      {"GET", "/v1/alerts", "/polku.v1.InsightService/ListAlerts", ""},
      {"GET", "/v1/alerts:watch", "/polku.v1.InsightService/WatchAlerts", ""},
      {"GET", "/v1/consistency", "/polku.v1.InsightService/GetConsistency", ""},
      {"GET", "/v1/journey-map", "/polku.v1.InsightService/GetJourneyMap", ""},
      // DriversService
      {"GET", "/v1/drivers", "/polku.v1.DriversService/GetKeyDrivers", ""},
      // FunnelsService
      {"GET", "/v1/funnel", "/polku.v1.FunnelsService/GetFunnel", ""},
      {"GET", "/v1/paths", "/polku.v1.FunnelsService/GetPaths", ""},
      // ThemesService
      {"GET", "/v1/themes", "/polku.v1.ThemesService/GetThemes", ""},
      {"GET", "/v1/themes/{theme_id}/examples",
       "/polku.v1.ThemesService/ListThemeExamples", ""},
      // CaseService
      {"POST", "/v1/caseRules", "/polku.v1.CaseService/CreateRule", "rule"},
      {"GET", "/v1/caseRules", "/polku.v1.CaseService/ListRules", ""},
      {"POST", "/v1/caseRules:dryRun", "/polku.v1.CaseService/DryRunRule",
       "*"},
      {"PATCH", "/v1/caseRules/{rule_id}", "/polku.v1.CaseService/UpdateRule",
       "rule", "rule.rule_id={rule_id}"},
      {"POST", "/v1/cases", "/polku.v1.CaseService/CreateCase", "*"},
      {"GET", "/v1/cases", "/polku.v1.CaseService/ListCases", ""},
      {"GET", "/v1/cases:watch", "/polku.v1.CaseService/WatchCases", ""},
      {"GET", "/v1/cases:measures", "/polku.v1.CaseService/GetCaseMeasures",
       ""},
      {"GET", "/v1/cases/{case_id}", "/polku.v1.CaseService/GetCase", ""},
      {"PATCH", "/v1/cases/{case_id}", "/polku.v1.CaseService/UpdateCase",
       "case", "case.case_id={case_id}"},
      {"POST", "/v1/cases/{case_id}/comments",
       "/polku.v1.CaseService/AddComment", "*"},
      {"GET", "/v1/cases/{case_id}/auditEntries",
       "/polku.v1.CaseService/ListAuditEntries", ""},
      {"POST", "/v1/customers/{customer}:setContactConsent",
       "/polku.v1.CaseService/SetContactConsent", "*"},
      {"GET", "/v1/businessCalendar",
       "/polku.v1.CaseService/GetBusinessCalendar", ""},
      {"PUT", "/v1/businessCalendar",
       "/polku.v1.CaseService/SetBusinessCalendar", "*"},
      // AdminService
      {"POST", "/v1/tenants", "/polku.v1.AdminService/CreateTenant", "*"},
      {"GET", "/v1/tenants", "/polku.v1.AdminService/ListTenants", ""},
      {"POST", "/v1/tenants/{tenant}/apiKeys",
       "/polku.v1.AdminService/CreateApiKey", "api_key",
       "parent=tenants/{tenant}"},
      {"GET", "/v1/tenants/{tenant}/apiKeys",
       "/polku.v1.AdminService/ListApiKeys", "", "parent=tenants/{tenant}"},
      {"POST", "/v1/tenants/{tenant}/apiKeys/{key_id}:revoke",
       "/polku.v1.AdminService/RevokeApiKey", "*",
       "name=tenants/{tenant}/apiKeys/{key_id}"},
  };
  return *routes;
}

// Referencing one message of each API file keeps its descriptors linked in,
// so that the generated pool can find every service.
void LinkApi() {
  static const bool linked = [] {
    (void)v1::SubmitEventsRequest::descriptor();
    (void)v1::GetJourneyRequest::descriptor();
    (void)v1::GetScorecardRequest::descriptor();
    (void)v1::CreateTenantRequest::descriptor();
    (void)v1::GetKeyDriversRequest::descriptor();
    (void)v1::GetFunnelRequest::descriptor();
    (void)v1::GetThemesRequest::descriptor();
    (void)v1::GetCaseRequest::descriptor();
    return true;
  }();
  (void)linked;
}

bool IsVariableChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Fills `text` into the scalar field `field` of `message`.
absl::Status SetScalar(Message& message, const FieldDescriptor* field,
                       const std::string& name, const std::string& text) {
  const Reflection* reflection = message.GetReflection();
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": \"", text, "\" is not ", what));
  };
  // The value's name, its suffix after the enum's prefix, any case:
  // GROUP_BY_STAGE, stage and Stage all work.
  auto enum_value = [&]() -> const google::protobuf::EnumValueDescriptor* {
    std::string upper = absl::AsciiStrToUpper(text);
    const auto* type = field->enum_type();
    for (int i = 0; i < type->value_count(); ++i) {
      const std::string& value = type->value(i)->name();
      if (value == upper || absl::EndsWith(value, "_" + upper)) {
        return type->value(i);
      }
    }
    return nullptr;
  };
  if (field->is_repeated()) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      reflection->AddString(&message, field, text);
      return absl::OkStatus();
    }
    // A repeated enum (ListCases' states): one parameter per value.
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      const auto* value = enum_value();
      if (value == nullptr) {
        return bad(absl::StrCat("a ", field->enum_type()->name()));
      }
      reflection->AddEnumValue(&message, field, value->number());
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": cannot be set from the query string"));
  }
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      reflection->SetString(&message, field, text);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t value;
      if (!absl::SimpleAtoi(text, &value)) return bad("an integer");
      reflection->SetInt32(&message, field, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t value;
      if (!absl::SimpleAtoi(text, &value)) return bad("an integer");
      reflection->SetInt64(&message, field, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t value;
      if (!absl::SimpleAtoi(text, &value)) return bad("an unsigned integer");
      reflection->SetUInt32(&message, field, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t value;
      if (!absl::SimpleAtoi(text, &value)) return bad("an unsigned integer");
      reflection->SetUInt64(&message, field, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double value;
      if (!absl::SimpleAtod(text, &value)) return bad("a number");
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        reflection->SetDouble(&message, field, value);
      } else {
        reflection->SetFloat(&message, field, static_cast<float>(value));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool value;
      if (!absl::SimpleAtob(text, &value)) return bad("true or false");
      reflection->SetBool(&message, field, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value = enum_value();
      if (value == nullptr) {
        return bad(absl::StrCat("a ", field->enum_type()->name()));
      }
      reflection->SetEnumValue(&message, field, value->number());
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      if (field->message_type()->full_name() == "google.protobuf.FieldMask") {
        google::protobuf::FieldMask mask;
        google::protobuf::util::FieldMaskUtil::FromString(text, &mask);
        reflection->MutableMessage(&message, field)->CopyFrom(mask);
        return absl::OkStatus();
      }
      if (field->message_type()->full_name() == "google.protobuf.Timestamp") {
        absl::Time time;
        std::string error;
        // An unencoded "+02:00" arrives as " 02:00" after query decoding.
        if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error) &&
            !absl::ParseTime(absl::RFC3339_full,
                             absl::StrReplaceAll(text, {{" ", "+"}}), &time,
                             &error)) {
          return bad("an RFC 3339 time such as 2024-05-01T00:00:00Z");
        }
        // What a Timestamp can hold (TimeUtil aborts the process beyond it;
        // found by tests/fuzz/http_request_fuzzer.cc).
        const absl::Time first =
            absl::FromCivil(absl::CivilSecond(1, 1, 1), absl::UTCTimeZone());
        const absl::Time last = absl::FromCivil(
            absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone());
        if (time < first || time > last) {
          return bad("a time between the years 1 and 9999");
        }
        google::protobuf::Timestamp stamp =
            google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
                absl::ToUnixMicros(time));
        reflection->MutableMessage(&message, field)->CopyFrom(stamp);
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": cannot be set from the query string"));
    }
  }
  return bad("a supported value");
}

// map<string, string>: one query parameter per entry, `name.<key>=value`.
bool IsStringMap(const FieldDescriptor* field) {
  return field->is_map() &&
         field->message_type()->map_key()->cpp_type() ==
             FieldDescriptor::CPPTYPE_STRING &&
         field->message_type()->map_value()->cpp_type() ==
             FieldDescriptor::CPPTYPE_STRING;
}

bool IsQueryable(const FieldDescriptor* field) {
  if (IsStringMap(field)) return true;
  if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
    return !field->is_repeated() ||
           field->cpp_type() == FieldDescriptor::CPPTYPE_STRING ||
           field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM;
  }
  return field->message_type()->full_name() == "google.protobuf.Timestamp" ||
         field->message_type()->full_name() == "google.protobuf.FieldMask";
}

// (dotted snake_case path, field) for each queryable field, one level of
// nesting deep, of `type`; two for a TimeRange inside it (scope.range.start:
// GetThemes' only range is its scope's).
void CollectQueryable(
    const Descriptor* type, const std::string& prefix, int depth,
    std::vector<std::pair<std::string, const FieldDescriptor*>>& out) {
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    std::string name = prefix + field->name();
    if (IsQueryable(field)) {
      out.emplace_back(name, field);
    } else if (!field->is_repeated() &&
               field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
               (depth == 0 || (depth == 1 && field->message_type()->full_name() ==
                                                 "polku.v1.TimeRange"))) {
      CollectQueryable(field->message_type(), name + ".", depth + 1, out);
    }
  }
}

std::string ToCamel(absl::string_view dotted) {
  std::string out;
  bool upper = false;
  for (char c : dotted) {
    if (c == '_') {
      upper = true;
    } else {
      out.push_back(upper ? absl::ascii_toupper(static_cast<unsigned char>(c))
                          : c);
      upper = false;
    }
  }
  return out;
}

// The message holding the field at `dotted` (creating parents).
Message* Parent(Message& root, absl::string_view dotted) {
  Message* message = &root;
  std::vector<absl::string_view> parts = absl::StrSplit(dotted, '.');
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const FieldDescriptor* field =
        message->GetDescriptor()->FindFieldByName(std::string(parts[i]));
    message = message->GetReflection()->MutableMessage(message, field);
  }
  return message;
}

absl::Status ParseJson(absl::string_view json, Message& message,
                       absl::string_view where) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &message,
      options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": not a valid ", message.GetDescriptor()->full_name(),
        " in JSON: ", std::string(parsed.message())));
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<HttpRoute>& HttpRoutes() { return Table(); }

const google::protobuf::MethodDescriptor* MethodOf(const HttpRoute& route) {
  LinkApi();
  // "/polku.v1.JourneyService/GetJourney" →
  // "polku.v1.JourneyService.GetJourney"
  std::string name = std::string(route.rpc).substr(1);
  std::replace(name.begin(), name.end(), '/', '.');
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
      name);
}

std::vector<std::string> PathVariables(absl::string_view path_template) {
  std::vector<std::string> variables;
  size_t at = 0;
  while ((at = path_template.find('{', at)) != absl::string_view::npos) {
    size_t end = path_template.find('}', at);
    variables.emplace_back(path_template.substr(at + 1, end - at - 1));
    at = end;
  }
  return variables;
}

std::string PathRegex(absl::string_view path_template) {
  std::string regex;
  for (size_t i = 0; i < path_template.size(); ++i) {
    char c = path_template[i];
    if (c == '{') {
      regex += "([^/:]+)";
      i = path_template.find('}', i);
    } else if (IsVariableChar(c) || c == '/' || c == '-') {
      regex.push_back(c);
    } else {
      regex.push_back('\\');
      regex.push_back(c);
    }
  }
  return regex;
}

std::vector<std::pair<std::string, const FieldDescriptor*>> QueryParameters(
    const HttpRoute& route) {
  std::vector<std::pair<std::string, const FieldDescriptor*>> params;
  const google::protobuf::MethodDescriptor* method = MethodOf(route);
  absl::string_view body(route.body);
  if (method == nullptr || body == "*") return params;
  std::vector<std::pair<std::string, const FieldDescriptor*>> all;
  CollectQueryable(method->input_type(), "", 0, all);
  // The body's field is not also a query parameter.
  if (!body.empty()) {
    all.erase(std::remove_if(all.begin(), all.end(),
                             [&](const auto& param) {
                               return absl::StartsWith(param.first,
                                                       absl::StrCat(body, "."));
                             }),
              all.end());
  }
  std::vector<std::string> bound = PathVariables(route.path);
  if (route.binding[0] != '\0') {
    absl::string_view binding(route.binding);
    bound = {std::string(binding.substr(0, binding.find('=')))};
  }
  for (auto& [name, field] : all) {
    if (std::find(bound.begin(), bound.end(), name) == bound.end()) {
      params.emplace_back(name, field);
    }
  }
  return params;
}

absl::StatusOr<std::unique_ptr<Message>> BuildRequest(
    const HttpRoute& route, const std::vector<std::string>& path_values,
    absl::string_view body,
    const std::multimap<std::string, std::string>& query) {
  const google::protobuf::MethodDescriptor* method = MethodOf(route);
  if (method == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat(route.rpc, " is not in the linked API"));
  }
  std::unique_ptr<Message> request(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(method->input_type())
          ->New());
  const Descriptor* type = request->GetDescriptor();
  const Reflection* reflection = request->GetReflection();

  // Text fields hold UTF-8, and the path and query may hold any bytes
  // (raw, or percent-decoded): refused here, or the message could not be
  // serialized for the backend (found by tests/fuzz/http_request_fuzzer.cc).
  std::vector<std::string> variables = PathVariables(route.path);
  for (size_t i = 0; i < path_values.size(); ++i) {
    if (!google::protobuf::internal::IsStructurallyValidUTF8(path_values[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          i < variables.size() ? variables[i] : "path", ": not valid UTF-8"));
    }
  }
  for (const auto& [name, text] : query) {
    const bool name_ok =
        google::protobuf::internal::IsStructurallyValidUTF8(name);
    if (!name_ok ||
        !google::protobuf::internal::IsStructurallyValidUTF8(text)) {
      return absl::InvalidArgumentError(absl::StrCat(
          name_ok ? name : "a query parameter's name", ": not valid UTF-8"));
    }
  }

  // The body first: path variables win over anything it says.
  absl::string_view body_field(route.body);
  if (body_field == "*") {
    if (!absl::StripAsciiWhitespace(body).empty()) {
      absl::Status parsed = ParseJson(body, *request, "body");
      if (!parsed.ok()) return parsed;
    }
  } else if (!body_field.empty()) {
    const FieldDescriptor* field =
        type->FindFieldByName(std::string(body_field));
    absl::Status parsed = ParseJson(
        absl::StripAsciiWhitespace(body).empty() ? "{}" : body,
        *reflection->MutableMessage(request.get(), field), body_field);
    if (!parsed.ok()) return parsed;
  }

  if (route.binding[0] != '\0') {
    absl::string_view binding(route.binding);
    size_t eq = binding.find('=');
    std::string value(binding.substr(eq + 1));
    for (size_t i = 0; i < variables.size() && i < path_values.size(); ++i) {
      value = absl::StrReplaceAll(
          value, {{absl::StrCat("{", variables[i], "}"), path_values[i]}});
    }
    absl::string_view path = binding.substr(0, eq);
    Message* parent = Parent(*request, path);
    const FieldDescriptor* field = parent->GetDescriptor()->FindFieldByName(
        std::string(path.substr(path.rfind('.') + 1)));
    parent->GetReflection()->SetString(parent, field, value);
  } else {
    for (size_t i = 0; i < variables.size() && i < path_values.size(); ++i) {
      const FieldDescriptor* field = type->FindFieldByName(variables[i]);
      absl::Status set =
          SetScalar(*request, field, variables[i], path_values[i]);
      if (!set.ok()) return set;
    }
  }

  if (query.empty()) return request;
  if (body_field == "*") {
    return absl::InvalidArgumentError(absl::StrCat(
        query.begin()->first,
        ": this route takes its request in the body, not the query string"));
  }
  std::vector<std::pair<std::string, const FieldDescriptor*>> params =
      QueryParameters(route);
  for (const auto& [given, text] : query) {
    // Exact dotted name (snake_case or lowerCamel), else a unique leaf name
    // (start for range.start) — the shallowest, so that range.start keeps
    // `start` where a scope.range.start is also there. A map entry is the
    // map's name, a dot and the entry's key (attributes.store_id for
    // scope.attributes["store_id"]).
    const std::pair<std::string, const FieldDescriptor*>* match = nullptr;
    int leaf_matches = 0;
    const std::pair<std::string, const FieldDescriptor*>* leaf = nullptr;
    std::string map_key, leaf_map_key;
    ptrdiff_t leaf_depth = std::numeric_limits<ptrdiff_t>::max();
    // Whether `param` is (one of) the shallowest leaf matches so far.
    auto add_leaf = [&](const std::pair<std::string, const FieldDescriptor*>& param) {
      const ptrdiff_t depth = std::count(param.first.begin(), param.first.end(), '.');
      if (depth > leaf_depth) return false;
      if (depth < leaf_depth) leaf_matches = 0;
      leaf_depth = depth;
      ++leaf_matches;
      leaf = &param;
      return true;
    };
    for (const auto& param : params) {
      const FieldDescriptor* field = param.second;
      if (IsStringMap(field)) {
        // The entry's key if `given` names the map `name` ("" for no key).
        // (Captures `given` by name: clang 14 cannot capture a structured
        // binding.)
        auto entry_key = [&given = given](const std::string& name)
            -> absl::optional<std::string> {
          if (given == name) return std::string();
          if (absl::StartsWith(given, name + ".")) {
            return given.substr(name.size() + 1);
          }
          return absl::nullopt;
        };
        for (const std::string& name : {param.first, ToCamel(param.first)}) {
          if (absl::optional<std::string> key = entry_key(name)) {
            match = &param;
            map_key = *key;
          }
        }
        if (match != nullptr) break;
        for (const std::string& name : {field->name(), field->json_name()}) {
          if (absl::optional<std::string> key = entry_key(name)) {
            if (add_leaf(param)) leaf_map_key = *key;
            break;
          }
        }
        continue;
      }
      if (param.first == given || ToCamel(param.first) == given) {
        match = &param;
        break;
      }
      if (field->name() == given || field->json_name() == given) {
        add_leaf(param);
      }
    }
    if (match == nullptr && leaf_matches == 1) {
      match = leaf;
      map_key = leaf_map_key;
    }
    if (match == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(given, ": unknown query parameter"));
    }
    Message* parent = Parent(*request, match->first);
    if (IsStringMap(match->second)) {
      if (map_key.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(given, ": names no entry (", match->second->name(),
                         ".NAME=VALUE)"));
      }
      Message* entry =
          parent->GetReflection()->AddMessage(parent, match->second);
      const Descriptor* entry_type = match->second->message_type();
      entry->GetReflection()->SetString(entry, entry_type->map_key(), map_key);
      entry->GetReflection()->SetString(entry, entry_type->map_value(), text);
      continue;
    }
    absl::Status set = SetScalar(*parent, match->second, given, text);
    if (!set.ok()) return set;
  }
  return request;
}

absl::StatusOr<DecodedCall> DecodeCall(
    const HttpRoute& route, const std::vector<std::string>& path_values,
    absl::string_view target, absl::string_view body) {
  const google::protobuf::MethodDescriptor* method = MethodOf(route);
  if (method == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat(route.rpc, " is not served over HTTP"));
  }
  // Parameters come from the URL only: httplib also folds a form-encoded
  // body (what `curl -d` sends by default) into req.params, but every body
  // here is JSON, whatever its Content-Type says.
  std::multimap<std::string, std::string> query;
  if (size_t mark = target.find('?'); mark != absl::string_view::npos) {
    httplib::detail::parse_query_text(std::string(target.substr(mark + 1)),
                                      query);
  }
  DecodedCall call;
  // `format` belongs to the HTTP answer, not to the request message.
  if (route.event_rows) {
    for (auto it = query.find(kFormatParameter); it != query.end();
         it = query.find(kFormatParameter)) {
      if (!event_rows::ParseFormat(it->second, call.format)) {
        return absl::InvalidArgumentError(absl::StrCat(
            kFormatParameter, ": \"", it->second, "\" is not csv or ndjson"));
      }
      query.erase(it);
    }
  }
  if (!method->client_streaming()) {
    absl::StatusOr<std::unique_ptr<Message>> request =
        BuildRequest(route, path_values, body, query);
    if (!request.ok()) return request.status();
    call.requests.push_back((*request)->SerializeAsString());
    return call;
  }
  // One request message per non-empty line.
  if (!query.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        query.begin()->first, ": this route takes NDJSON in the body"));
  }
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<std::unique_ptr<Message>> request =
        BuildRequest(route, path_values, line, {});
    if (!request.ok()) {
      return absl::Status(request.status().code(),
                          absl::StrCat("line ", line_number, " of the body: ",
                                       request.status().message()));
    }
    call.requests.push_back((*request)->SerializeAsString());
  }
  return call;
}

std::string FieldOf(absl::string_view message) {
  size_t colon = message.find(": ");
  if (colon == absl::string_view::npos || colon == 0) return "";
  absl::string_view candidate = message.substr(0, colon);
  if (!absl::ascii_isalpha(static_cast<unsigned char>(candidate[0]))) {
    return "";
  }
  for (char c : candidate) {
    if (!(IsVariableChar(c) || c == '.' || c == '[' || c == ']')) return "";
  }
  return std::string(candidate);
}

std::string LoggedPath(absl::string_view path) {
  constexpr absl::string_view kCustomers = "/customers/";
  const std::string lower = absl::AsciiStrToLower(path);
  const size_t at = absl::string_view(lower).find(kCustomers);
  if (at == absl::string_view::npos) return std::string(path);
  const size_t start = at + kCustomers.size();
  absl::string_view verb;
  const size_t colon = path.rfind(':');
  if (colon != absl::string_view::npos && colon >= start) {
    verb = path.substr(colon);
    for (char c : verb.substr(1)) {
      if (!absl::ascii_isalpha(static_cast<unsigned char>(c))) verb = "";
    }
    if (verb.size() < 2) verb = "";
  }
  return absl::StrCat(path.substr(0, start), "{customer}", verb);
}

}  // namespace polku::gateway
