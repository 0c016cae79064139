#include "gateway/openapi.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gateway/caller_auth.h"
#include "gateway/http_routes.h"
#include "lib/export/event_rows.h"

namespace polku::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

Value Str(absl::string_view text) {
  Value value;
  value.set_string_value(std::string(text));
  return value;
}

Value Num(double number) {
  Value value;
  value.set_number_value(number);
  return value;
}

Value Obj(std::initializer_list<std::pair<const char*, Value>> fields) {
  Value value;
  Struct* object = value.mutable_struct_value();
  for (const auto& [name, field] : fields) {
    (*object->mutable_fields())[name] = field;
  }
  return value;
}

Value Ref(const Descriptor* type) {
  return Obj({{"$ref",
               Str(absl::StrCat("#/components/schemas/", type->full_name()))}});
}

// The name of the components' parameter that documents kActorHeader.
constexpr char kActorParameter[] = "Actor";

// kActorHeader as the gateway takes it (caller_auth.h's ActorOf): the
// person an act_as key acts for, recorded as the actor of what the call
// changes (polku-cases' audit trail).
Value ActorParameter() {
  return Obj(
      {{"name", Str("X-Polku-Actor")},
       {"in", Str("header")},
       {"description",
        Str(absl::StrCat(
            "Who acts: the person a trusted front end (a helpdesk, the "
            "dashboard's server) acts for. Only an API key with the scope "
            "\"act_as\" may send it, else the call is refused with 403 "
            "PERMISSION_DENIED; 1-",
            kMaxActorLength,
            " printable ASCII characters, else 400 INVALID_ARGUMENT. The "
            "changes the call makes (cases, rules, the business calendar) are "
            "audited as \"<person> via <key name> (key <id>)\"; without the "
            "header the key itself is the actor."))},
       {"schema", Obj({{"type", Str("string")},
                       {"minLength", Num(1)},
                       {"maxLength", Num(kMaxActorLength)},
                       {"example", Str("alice@example.com")}})}});
}

class SchemaBuilder {
 public:
  // A schema for a field's value type (not its repetition).
  Value ValueSchema(const FieldDescriptor* field) {
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        if (field->type() == FieldDescriptor::TYPE_BYTES) {
          return Obj({{"type", Str("string")}, {"format", Str("byte")}});
        }
        return Obj({{"type", Str("string")}});
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_UINT32:
        return Obj({{"type", Str("integer")}, {"format", Str("int32")}});
      // proto3 JSON writes 64-bit integers as strings.
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT64:
        return Obj({{"type", Str("string")}, {"format", Str("int64")}});
      case FieldDescriptor::CPPTYPE_DOUBLE:
        return Obj({{"type", Str("number")}, {"format", Str("double")}});
      case FieldDescriptor::CPPTYPE_FLOAT:
        return Obj({{"type", Str("number")}, {"format", Str("float")}});
      case FieldDescriptor::CPPTYPE_BOOL:
        return Obj({{"type", Str("boolean")}});
      case FieldDescriptor::CPPTYPE_ENUM: {
        Value values;
        for (int i = 0; i < field->enum_type()->value_count(); ++i) {
          *values.mutable_list_value()->add_values() =
              Str(field->enum_type()->value(i)->name());
        }
        return Obj({{"type", Str("string")}, {"enum", values}});
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return MessageSchema(field->message_type());
    }
    return Obj({});
  }

  Value FieldSchema(const FieldDescriptor* field) {
    if (field->is_map()) {
      return Obj({{"type", Str("object")},
                  {"additionalProperties",
                   ValueSchema(field->message_type()->map_value())}});
    }
    if (field->is_repeated()) {
      return Obj({{"type", Str("array")}, {"items", ValueSchema(field)}});
    }
    return ValueSchema(field);
  }

  // A $ref to the message's schema (added to the components), or an inline
  // schema for well-known types with a special JSON form.
  Value MessageSchema(const Descriptor* type) {
    const std::string& name = type->full_name();
    if (name == "google.protobuf.Timestamp") {
      return Obj({{"type", Str("string")}, {"format", Str("date-time")}});
    }
    if (name == "google.protobuf.Duration") {
      return Obj({{"type", Str("string")}, {"example", Str("1.5s")}});
    }
    if (name == "google.protobuf.Struct") return Obj({{"type", Str("object")}});
    if (name == "google.protobuf.Value") return Obj({});
    if (name == "google.protobuf.FieldMask") {
      return Obj({{"type", Str("string")}});
    }
    if (schemas_.count(name) == 0) {
      schemas_[name];  // Placeholder first: recursion ends on cycles.
      Value properties = Obj({});
      for (int i = 0; i < type->field_count(); ++i) {
        const FieldDescriptor* field = type->field(i);
        (*properties.mutable_struct_value()
              ->mutable_fields())[field->json_name()] = FieldSchema(field);
      }
      schemas_[name] =
          Obj({{"type", Str("object")}, {"properties", properties}});
    }
    return Ref(type);
  }

  Value Components() {
    Value schemas = Obj({});
    for (const auto& [name, schema] : schemas_) {
      (*schemas.mutable_struct_value()->mutable_fields())[name] = schema;
    }
    (*schemas.mutable_struct_value()->mutable_fields())["Error"] = Obj(
        {{"type", Str("object")},
         {"properties",
          Obj({{"error",
                Obj({{"type", Str("object")},
                     {"properties",
                      Obj({{"code",
                            Obj({{"type", Str("string")},
                                 {"example", Str("INVALID_ARGUMENT")}})},
                           {"status", Obj({{"type", Str("integer")}})},
                           {"message", Obj({{"type", Str("string")}})},
                           {"field", Obj({{"type", Str("string")},
                                          {"example",
                                           Str("events[1].csat")}})}})}})}})}});
    return Obj({{"schemas", schemas},
                {"parameters", Obj({{kActorParameter, ActorParameter()}})},
                {"securitySchemes",
                 Obj({{"bearerAuth", Obj({{"type", Str("http")},
                                          {"scheme", Str("bearer")}})}})}});
  }

 private:
  std::map<std::string, Value> schemas_;
};

Value Content(const char* media_type, Value schema) {
  return Obj({{media_type, Obj({{"schema", std::move(schema)}})}});
}

// One row of the export format (lib/export/event_rows.h).
Value EventRowSchema() {
  Value properties = Obj({});
  for (const std::string& column : event_rows::Columns()) {
    Value schema = Obj({{"type", Str("string")}});
    if (column == "sequence" || column == "journey_version") {
      schema = Obj({{"type", Str("integer")}});
    } else if (column == "csat" || column == "nps" || column == "ces") {
      schema = Obj({{"type", Str("integer")}, {"nullable", Value()}});
      schema.mutable_struct_value()
          ->mutable_fields()
          ->at("nullable")
          .set_bool_value(true);
    } else if (column == "occurred_at" || column == "received_at") {
      schema = Obj({{"type", Str("string")}, {"format", Str("date-time")}});
    } else if (column == "measures") {
      schema = Obj({{"type", Str("object")},
                    {"additionalProperties", Obj({{"type", Str("number")}})}});
    } else if (column == "attributes") {
      schema = Obj({{"type", Str("object")},
                    {"additionalProperties", Obj({{"type", Str("string")}})}});
    }
    (*properties.mutable_struct_value()->mutable_fields())[column] = schema;
  }
  return Obj({{"type", Str("object")}, {"properties", properties}});
}

std::string Build() {
  SchemaBuilder schemas;
  Value paths = Obj({});
  for (const HttpRoute& route : HttpRoutes()) {
    const google::protobuf::MethodDescriptor* method = MethodOf(route);
    if (method == nullptr) continue;
    Value operation = Obj({
        {"operationId", Str(method->name())},
        {"tags", Str(method->service()->name())},
        {"summary",
         Str(absl::StrCat(method->service()->name(), ".", method->name()))},
    });
    Struct& op = *operation.mutable_struct_value();
    Value tags;
    *tags.mutable_list_value()->add_values() = Str(method->service()->name());
    (*op.mutable_fields())["tags"] = tags;

    Value parameters;
    for (const std::string& variable : PathVariables(route.path)) {
      *parameters.mutable_list_value()->add_values() =
          Obj({{"name", Str(variable)},
               {"in", Str("path")},
               {"required", Obj({})},
               {"schema", Obj({{"type", Str("string")}})}});
      parameters.mutable_list_value()
          ->mutable_values()
          ->rbegin()
          ->mutable_struct_value()
          ->mutable_fields()
          ->at("required")
          .set_bool_value(true);
    }
    for (const auto& [name, field] : QueryParameters(route)) {
      if (field->is_map()) {
        // One parameter per entry (see BuildRequest).
        *parameters.mutable_list_value()->add_values() =
            Obj({{"name", Str(absl::StrCat(name, ".NAME"))},
                 {"in", Str("query")},
                 {"description", Str(absl::StrCat("one parameter per entry, ",
                                                  name, ".NAME=VALUE, e.g. ",
                                                  name, ".store_id=hki-01"))},
                 {"schema", Obj({{"type", Str("string")}})}});
        continue;
      }
      *parameters.mutable_list_value()->add_values() =
          Obj({{"name", Str(name)},
               {"in", Str("query")},
               {"schema", schemas.FieldSchema(field)}});
    }
    if (route.event_rows) {
      Value formats;
      *formats.mutable_list_value()->add_values() = Str("ndjson");
      *formats.mutable_list_value()->add_values() = Str("csv");
      *parameters.mutable_list_value()->add_values() = Obj(
          {{"name", Str(kFormatParameter)},
           {"in", Str("query")},
           {"description",
            Str("ndjson (default): one event per line as a JSON object; csv: "
                "RFC 4180 with a header row. The same columns either way.")},
           {"schema", Obj({{"type", Str("string")}, {"enum", formats}})}});
    }
    // Every route takes it (the gateway checks it on every call).
    *parameters.mutable_list_value()->add_values() = Obj(
        {{"$ref", Str(absl::StrCat("#/components/parameters/",
                                   kActorParameter))}});
    (*op.mutable_fields())["parameters"] = parameters;

    absl::string_view body(route.body);
    if (!body.empty()) {
      const Descriptor* type = method->input_type();
      if (body != "*") {
        type = type->FindFieldByName(std::string(body))->message_type();
      }
      Value request = Obj({{"required", Obj({})},
                           {"content", Content(method->client_streaming()
                                                   ? "application/x-ndjson"
                                                   : "application/json",
                                               schemas.MessageSchema(type))}});
      request.mutable_struct_value()
          ->mutable_fields()
          ->at("required")
          .set_bool_value(true);
      (*op.mutable_fields())["requestBody"] = request;
    }
    Value ok = Obj(
        {{"description",
          Str(method->server_streaming()
                  ? "a stream: one JSON message per line; a failure after "
                    "the start ends it with an error line"
                  : "the response message")},
         {"content", Content(method->server_streaming() ? "application/x-ndjson"
                                                        : "application/json",
                             schemas.MessageSchema(method->output_type()))}});
    if (route.event_rows) {
      Value content = Content("application/x-ndjson", EventRowSchema());
      (*content.mutable_struct_value()->mutable_fields())["text/csv"] =
          Obj({{"schema", Obj({{"type", Str("string")}})}});
      ok = Obj({{"description",
                 Str("the events, one per line (after the CSV header); a "
                     "failure after the start ends the answer with a JSON "
                     "error line")},
                {"content", content}});
    }
    Value error =
        Obj({{"description",
              Str("an error; HTTP status mapped from the gRPC code")},
             {"content",
              Content("application/json",
                      Obj({{"$ref", Str("#/components/schemas/Error")}}))}});
    (*op.mutable_fields())["responses"] =
        Obj({{"200", ok}, {"default", error}});

    Struct& path_item =
        *(*paths.mutable_struct_value()->mutable_fields())[route.path]
             .mutable_struct_value();
    (*path_item.mutable_fields())[absl::AsciiStrToLower(route.http_method)] =
        operation;
  }

  Value security;
  *security.mutable_list_value()->add_values() = Obj({{"bearerAuth", Value()}});
  security.mutable_list_value()
      ->mutable_values(0)
      ->mutable_struct_value()
      ->mutable_fields()
      ->at("bearerAuth")
      .mutable_list_value();
  Value document = Obj({
      {"openapi", Str("3.0.3")},
      {"info",
       Obj({{"title", Str("Polku HTTP/JSON API")}, {"version", Str("v1")}})},
      {"paths", paths},
      {"security", security},
      {"components", schemas.Components()},
  });
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(document.struct_value(),
                                                    &json, options);
  return json;
}

}  // namespace

const std::string& OpenApiDocument() {
  static const std::string* document = new std::string(Build());
  return *document;
}

}  // namespace polku::gateway
