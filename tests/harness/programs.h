// Other programs for cross-process tests: the suite's command-line tools
// (polku-import, polku-export) and anything else a test drives (node), with
// stdout and stderr in files.
//
//   pid_t pid = polku::testing::StartProgram(polku::testing::BinaryPath(
//       "polku-import"), {"--key=…", "rows.csv"}, "run.out", "run.err");
//   …
//   int status = polku::testing::WaitProgram(pid, absl::Seconds(60));
#ifndef POLKU_TESTS_HARNESS_PROGRAMS_H_
#define POLKU_TESTS_HARNESS_PROGRAMS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace polku::testing {

// Starts `binary` (a path) with `args`, stdout and stderr written to the
// files; the child dies with the test process. -1 if it cannot be started.
pid_t StartProgram(const std::string& binary,
                   const std::vector<std::string>& args,
                   const std::string& out_path, const std::string& err_path);

// Waits for `pid`: its wait status. After `timeout` it is killed (SIGKILL)
// and the test fails.
int WaitProgram(pid_t pid, absl::Duration timeout);

// A finished run: exit code (-1 if it did not exit normally) and output.
struct ProgramRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Starts and waits; the files are `output_prefix` + ".out" / ".err".
ProgramRun RunProgram(const std::string& binary,
                      const std::vector<std::string>& args,
                      const std::string& output_prefix, absl::Duration timeout);

// A whole file, "" if it cannot be read.
std::string ReadWholeFile(const std::string& path);

}  // namespace polku::testing

#endif  // POLKU_TESTS_HARNESS_PROGRAMS_H_
