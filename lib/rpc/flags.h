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
//
// Also sets up what every process shares: in optimised builds (NDEBUG) it
// turns off absl::Mutex deadlock detection, which Debian's abseil, built
// without NDEBUG, leaves on — every lock of every absl::Mutex, gRPC's own
// included, then records lock order in one global graph (4x the cost of an
// uncontended lock pair; a few percent of each process's CPU under load,
// bench/README.md). Debug and sanitizer builds keep it.
std::vector<std::string> ParseFlags(int argc, char** argv,
                                    absl::string_view usage);

}  // namespace polku::rpc

#endif  // POLKU_LIB_RPC_FLAGS_H_
