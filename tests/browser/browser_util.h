// What the browser tests share: Debian's Chromium (skipped without it),
// where screenshots go, running a Node.js check script through the shell,
// and the JSON of the API's answers as protobuf messages.
#ifndef POLKU_TESTS_BROWSER_BROWSER_UTIL_H_
#define POLKU_TESTS_BROWSER_BROWSER_UTIL_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace polku::testing {

// The browser the check scripts drive through playwright-core (--chromium).
inline constexpr char kChromium[] = "/usr/bin/chromium";

// Whether CI is set: there a browser test must run, never skip.
inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0';
}

// Skips the calling test when kChromium is missing, or fails it under CI,
// so that the browser tests can never silently stop running. A macro, as
// GTEST_SKIP and ASSERT_* return from the test (or SetUp) itself.
#define POLKU_SKIP_WITHOUT_CHROMIUM()                                          \
  do {                                                                         \
    if (!std::filesystem::exists(::polku::testing::kChromium)) {               \
      ASSERT_FALSE(::polku::testing::InCi())                                   \
          << ::polku::testing::kChromium << " is missing (apt-get install "    \
          << "chromium); in CI the browser tests must run";                    \
      GTEST_SKIP() << ::polku::testing::kChromium << " is missing: the "       \
                   << "browser tests need Debian's chromium (scripts/deps.sh " \
                   << "installs it)";                                          \
    }                                                                          \
  } while (false)

// Where a test's screenshots go, created: POLKU_SCREENSHOT_DIR when set (CI
// keeps it as an artifact), else a directory of the test's own under the
// temporary directory, polku-<test>-<pid>.
inline std::filesystem::path ScreenshotDir(absl::string_view test) {
  const char* kept = std::getenv("POLKU_SCREENSHOT_DIR");
  std::filesystem::path dir =
      kept != nullptr && *kept != '\0'
          ? std::filesystem::path(kept)
          : std::filesystem::temp_directory_path() /
                absl::StrCat("polku-", test, "-", ::getpid());
  std::filesystem::create_directories(dir);
  return dir;
}

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
