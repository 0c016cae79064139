// The calling thread's name and CPU priority (Linux).
//
// A name shows in `top -H`, `ps -L`, perf and gdb. A priority lets the one
// thread a service cannot run in parallel (polku-feedback's writer) take a
// core ahead of the work that can wait or spread out:
//
//   writer_ = std::thread([] {
//     NameThisThread("polku-writer");
//     if (absl::Status s = SetThisThreadNice(-10); !s.ok()) log::Warning(…);
//     …
//   });
#ifndef POLKU_LIB_BASE_THREAD_H_
#define POLKU_LIB_BASE_THREAD_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace polku {

// The lowest and highest nice values Linux knows; lower runs first.
inline constexpr int kMinNice = -20;
inline constexpr int kMaxNice = 19;

// INVALID_ARGUMENT naming the range unless kMinNice <= nice <= kMaxNice.
absl::Status CheckNice(int nice);

// Names the calling thread; Linux keeps the first 15 bytes.
void NameThisThread(absl::string_view name);

// Sets the calling thread's nice value, and only that thread's (threads it
// starts later inherit it). CheckNice's error for a value out of range;
// PERMISSION_DENIED for a value below the current one without CAP_SYS_NICE
// (or a high enough RLIMIT_NICE).
absl::Status SetThisThreadNice(int nice);

// The calling thread's nice value (a thread can always read its own, so
// -1 is a nice value, not an error).
int ThisThreadNice();

}  // namespace polku

#endif  // POLKU_LIB_BASE_THREAD_H_
