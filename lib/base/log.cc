#include "lib/base/log.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace polku::log {
namespace {

absl::Mutex service_mu;
std::string& ServiceName() {
  static std::string* const name = new std::string("polku");
  return *name;
}

void Emit(absl::string_view level, absl::string_view msg,
          std::initializer_list<Field> fields) {
  std::string line = "{\"ts\":\"";
  line += absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  absl::StrAppend(&line, "\",\"level\":\"", level, "\",\"service\":");
  {
    absl::MutexLock lock(&service_mu);
    AppendJsonString(ServiceName(), line);
  }
  line += ",\"msg\":";
  AppendJsonString(msg, line);
  for (const Field& field : fields) {
    line += ',';
    AppendJsonString(field.key, line);
    line += ':';
    field.value.AppendJson(line);
  }
  line += "}\n";
  // One fwrite per line: lines from several threads never interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void AppendJsonString(absl::string_view text, std::string& out) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void Value::AppendJson(std::string& out) const {
  if (const auto* s = absl::get_if<std::string>(&v_)) {
    AppendJsonString(*s, out);
  } else if (const auto* i = absl::get_if<int64_t>(&v_)) {
    absl::StrAppend(&out, *i);
  } else if (const auto* d = absl::get_if<double>(&v_)) {
    // JSON has no NaN or infinity.
    if (std::isfinite(*d)) {
      absl::StrAppend(&out, *d);
    } else {
      out += "null";
    }
  } else {
    out += absl::get<bool>(v_) ? "true" : "false";
  }
}

void SetServiceName(absl::string_view name) {
  absl::MutexLock lock(&service_mu);
  ServiceName() = std::string(name);
}

void Info(absl::string_view msg, std::initializer_list<Field> fields) {
  Emit("info", msg, fields);
}
void Warning(absl::string_view msg, std::initializer_list<Field> fields) {
  Emit("warning", msg, fields);
}
void Error(absl::string_view msg, std::initializer_list<Field> fields) {
  Emit("error", msg, fields);
}

}  // namespace polku::log
