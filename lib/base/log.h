// Structured logging: one JSON object per line on stderr, so that log
// collectors parse every field without regular expressions.
//
//   polku::log::Info("request", {{"method", method}, {"code", "OK"},
//                               {"latency_ms", 1.25}});
//
// prints {"ts":"2026-11-22T17:31:42.123Z","level":"info","service":"polku-feedback",
//         "msg":"request","method":"…","code":"OK","latency_ms":1.25}
#ifndef POLKU_LIB_BASE_LOG_H_
#define POLKU_LIB_BASE_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/variant.h"

namespace polku::log {

// A field value: text, integer, real number or boolean.
class Value {
 public:
  Value(absl::string_view v) : v_(std::string(v)) {}
  Value(const std::string& v) : v_(v) {}
  Value(const char* v) : v_(std::string(v)) {}
  Value(int v) : v_(static_cast<int64_t>(v)) {}
  Value(long v) : v_(static_cast<int64_t>(v)) {}
  Value(long long v) : v_(static_cast<int64_t>(v)) {}
  Value(unsigned v) : v_(static_cast<int64_t>(v)) {}
  Value(unsigned long v) : v_(static_cast<int64_t>(v)) {}
  Value(double v) : v_(v) {}
  Value(bool v) : v_(v) {}

  // Appends the JSON encoding of the value to `out`.
  void AppendJson(std::string& out) const;

 private:
  absl::variant<std::string, int64_t, double, bool> v_;
};

struct Field {
  absl::string_view key;
  Value value;
};

// Names the process in every line ("polku-feedback"); call once from main.
void SetServiceName(absl::string_view name);

void Info(absl::string_view msg, std::initializer_list<Field> fields = {});
void Warning(absl::string_view msg, std::initializer_list<Field> fields = {});
void Error(absl::string_view msg, std::initializer_list<Field> fields = {});

// Appends `text` to `out` as a JSON string literal (quotes included).
void AppendJsonString(absl::string_view text, std::string& out);

}  // namespace polku::log

#endif  // POLKU_LIB_BASE_LOG_H_
