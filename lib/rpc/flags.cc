#include "lib/rpc/flags.h"

#include <cstdio>
#include <cstdlib>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lib/base/process.h"

namespace polku::rpc {

std::vector<std::string> ParseFlags(int argc, char** argv, absl::string_view usage) {
  SetUpProcess();
  absl::SetProgramUsageMessage(usage);
  // The environment first, so that the command line overrides it.
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    std::string variable = absl::StrCat("POLKU_", absl::AsciiStrToUpper(name));
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      std::fprintf(stderr, "%s: invalid value '%s' in %s: %s\n", argv[0], value,
                   variable.c_str(), error.c_str());
      std::exit(2);
    }
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  return std::vector<std::string>(positional.begin() + 1, positional.end());
}

}  // namespace polku::rpc
