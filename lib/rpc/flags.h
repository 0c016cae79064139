// Command-line flags with POLKU_* environment fallbacks.
//
// Every flag `--foo_bar` may also be given as the environment variable
// `POLKU_FOO_BAR`; the command line wins. Call first thing in main:
//
//   int main(int argc, char** argv) {
//     polku::rpc::ParseFlags(argc, argv, "polku-feedback: stores touchpoint events");
#ifndef POLKU_LIB_RPC_FLAGS_H_
#define POLKU_LIB_RPC_FLAGS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace polku::rpc {

// Applies the environment, then the command line; exits with a message on
// an invalid value (naming the flag or variable). Returns positional args.
// Calls SetUpProcess (lib/base/process.h) first.
std::vector<std::string> ParseFlags(int argc, char** argv,
                                    absl::string_view usage);

}  // namespace polku::rpc

#endif  // POLKU_LIB_RPC_FLAGS_H_
