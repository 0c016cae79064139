#include "tests/harness/programs.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace polku::testing {

pid_t StartProgram(const std::string& binary,
                   const std::vector<std::string>& args,
                   const std::string& out_path, const std::string& err_path) {
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int out =
        ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err =
        ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int WaitProgram(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  // Polls the child's state: waitpid cannot wait with a timeout.
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      ADD_FAILURE() << "a program ran longer than " << timeout << ": killed";
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return status;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return status;
}

ProgramRun RunProgram(const std::string& binary,
                      const std::vector<std::string>& args,
                      const std::string& output_prefix,
                      absl::Duration timeout) {
  const std::string out = output_prefix + ".out";
  const std::string err = output_prefix + ".err";
  ProgramRun run;
  const pid_t pid = StartProgram(binary, args, out, err);
  if (pid < 0) {
    ADD_FAILURE() << "cannot start " << binary;
    return run;
  }
  const int status = WaitProgram(pid, timeout);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = ReadWholeFile(out);
  run.err = ReadWholeFile(err);
  return run;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

}  // namespace polku::testing
