#include "lib/base/thread.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace polku {

void NameThisThread(absl::string_view name) {
  // pthread_setname_np refuses names over 15 bytes rather than cutting them.
  const std::string kept(name.substr(0, 15));
  pthread_setname_np(pthread_self(), kept.c_str());
}

absl::Status CheckNice(int nice) {
  if (nice < kMinNice || nice > kMaxNice) {
    return absl::InvalidArgumentError(
        absl::StrCat("nice ", nice, " is outside ", kMinNice, "..", kMaxNice));
  }
  return absl::OkStatus();
}

// On Linux, nice is a property of each thread: PRIO_PROCESS with a thread
// id sets that thread alone.
absl::Status SetThisThreadNice(int nice) {
  if (absl::Status valid = CheckNice(nice); !valid.ok()) return valid;
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice) != 0) {
    const int error = errno;
    const std::string message = absl::StrCat(
        "cannot set this thread's nice to ", nice, ": ", std::strerror(error));
    if (error == EACCES || error == EPERM) {
      return absl::PermissionDeniedError(absl::StrCat(
          message, " (a value below the current one needs CAP_SYS_NICE)"));
    }
    return absl::InternalError(message);
  }
  return absl::OkStatus();
}

int ThisThreadNice() {
  return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
}

}  // namespace polku
