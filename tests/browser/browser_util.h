// What the browser tests share: running a Node.js check script through the
// shell, and the JSON of the API's answers as protobuf messages.
#ifndef POLKU_TESTS_BROWSER_BROWSER_UTIL_H_
#define POLKU_TESTS_BROWSER_BROWSER_UTIL_H_

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace polku::testing {

// Runs `command` (through sh) with its output captured; the exit code.
inline int RunCommand(const std::string& command, std::string& output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t read;
  while ((read = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    output.append(buffer, read);
  }
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// `text` as one sh word.
inline std::string Quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

inline std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &json).ok());
  return json;
}

// The message in `json`, fields it does not know ignored (a failed parse
// fails the test, naming why).
template <typename Message>
Message FromJson(const std::string& json) {
  Message message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status =
      google::protobuf::util::JsonStringToMessage(json, &message, options);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return message;
}

}  // namespace polku::testing

#endif  // POLKU_TESTS_BROWSER_BROWSER_UTIL_H_
